"""``python -m benchmarks.scale``: the backends side by side (the suites live in ``benchmarks/scaling/``)."""

import sys

from benchmarks.scaling.bench import main

if __name__ == "__main__":
    sys.exit(main())
