"""``python -m benchmarks.run``: one of the GEPA paper's tasks with real or scripted LMs (the suite lives in
``benchmarks/paper/``)."""

import sys

from benchmarks.paper.run import main

if __name__ == "__main__":
    sys.exit(main())
