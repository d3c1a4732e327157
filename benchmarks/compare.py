"""``python -m benchmarks.compare``: the scripted side-by-side benchmarks (the suite lives in ``benchmarks/scripted/``)."""

import sys

from benchmarks.scripted.compare import main

if __name__ == "__main__":
    sys.exit(main())
