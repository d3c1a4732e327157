"""Strip outputs, execution counts and run metadata from notebooks, so the repository keeps them clean.

    python notebooks/strip_outputs.py                 # strip every notebooks/*.ipynb in place
    python notebooks/strip_outputs.py --check         # exit 1 (and list them) if any notebook needs stripping
    python notebooks/strip_outputs.py path/to/x.ipynb # only these files

Standard library only (the notebook JSON is edited directly). Kept: sources, cell ids, cell tags, and the
notebook's kernelspec and language name. Dropped: outputs, execution counts, per-cell run metadata (timings,
collapsed/scrolled state), widget state and the language version details.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NOTEBOOKS_DIR = Path(__file__).resolve().parent
_CELL_METADATA_DROPPED = ("execution", "ExecuteTime", "collapsed", "scrolled")

__all__ = ["NOTEBOOKS_DIR", "main", "strip_notebook", "stripped_text"]


def strip_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """``nb`` (notebook JSON as a dict) with outputs, execution counts and run metadata removed, in place."""
    for cell in nb.get("cells", []):
        metadata = cell.get("metadata", {})
        for key in _CELL_METADATA_DROPPED:
            metadata.pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    metadata = nb.get("metadata", {})
    kept = {key: metadata[key] for key in ("kernelspec",) if key in metadata}
    language = metadata.get("language_info", {}).get("name")
    if language:
        kept["language_info"] = {"name": language}
    nb["metadata"] = kept
    return nb


def stripped_text(text: str) -> str:
    """The stripped notebook as text, formatted as Jupyter writes it (indent 1, sorted keys, non-ASCII kept, final newline)."""
    return json.dumps(strip_notebook(json.loads(text)), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs stripping")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    dirty = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        clean = stripped_text(text)
        if clean != text:
            dirty.append(path)
            if not args.check:
                path.write_text(clean, encoding="utf-8")
    verb = "need stripping" if args.check else "stripped"
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
