"""Refuse files larger than a limit (the pre-commit large-file check, without a download)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Print every named file over ``--max-kb`` and return 1 if there is any."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-kb", type=int, default=1000)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args(argv)
    big = [f for f in args.files if Path(f).is_file() and Path(f).stat().st_size > args.max_kb
           * 1024]
    for f in big:
        print(f"{f}: {Path(f).stat().st_size // 1024} KB is over {args.max_kb} KB", file=sys.stderr)
    return 1 if big else 0


if __name__ == "__main__":
    sys.exit(main())
