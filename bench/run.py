"""Run every ``bench/bench_*.py`` in one process and write their tables to BENCHMARKS.md.

Each benchmark module has ``run(quick: bool) -> list[Row]``; a row states a measured figure,
the obvious baseline measured in the same run, and the machine's limit measured in the same run,
so the ratios mean something on whatever machine ran them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Row, table  # noqa: E402


def merge_sections(existing: str, sections: list[str], when: str) -> str:
    r"""Put re-measured ``## name`` sections in place of theirs in an existing report.

    Each replaced section says when it was measured; sections not re-measured are kept as they
    were, and new ones are added at the end.

    Examples
    --------
    >>> old = "# B\n\n## a\n\nold a\n\n## b\n\nold b\n"
    >>> print(merge_sections(old, ["## b\n\nnew b\n"], "T"))
    # B
    <BLANKLINE>
    ## a
    <BLANKLINE>
    old a
    <BLANKLINE>
    ## b
    <BLANKLINE>
    _Measured again on its own (`bench/run.py --only`) on T._
    <BLANKLINE>
    new b
    <BLANKLINE>
    """
    head, *parts = re.split(r"(?m)^(?=## )", existing)
    found = {p.split("\n", 1)[0][3:].strip(): p for p in parts}
    for section in sections:
        title, body = section.split("\n", 1)
        name = title[3:].strip()
        found[name] = (f"{title}\n\n_Measured again on its own (`bench/run.py --only`) on "
                       f"{when}._\n{body}")
    return head + "\n".join(p.rstrip("\n") + "\n" for p in found.values())


def main() -> None:
    """Parse arguments, run the benchmarks, write the markdown file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="BENCHMARKS.md")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument("--only", default="", help="comma-separated module names (bench_sample,...)")
    args = ap.parse_args()
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    sections = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        doc = (module.__doc__ or "").strip()  # what it measures, kept when it fails
        start = time.perf_counter()
        try:
            rows: list[Row] = module.run(quick=args.quick)
        except Exception as err:  # one broken benchmark must not lose the others
            took = time.perf_counter() - start
            sections.append(f"## {name}\n\n{doc}\n\n**Failed** after {took:.1f} s: "
                            f"`{type(err).__name__}: {str(err).splitlines()[0][:200]}`\n")
            print(f"{name}: FAILED ({err!r})", file=sys.stderr)
            continue
        took = time.perf_counter() - start
        sections.append(f"## {name}\n\n{doc}\n\n{table(rows)}\n\n_{took:.1f} s in all._\n")
        print(f"{name}: {len(rows)} rows in {took:.1f} s", file=sys.stderr)
    out = Path(args.out)
    if args.only and out.is_file():  # re-measured sections replace theirs, the others stay
        text = merge_sections(out.read_text(encoding="utf-8"), sections,
                              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    else:
        head = (
            "# Benchmarks\n\nWritten by `make bench` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}. Every ratio compares figures measured in this "
            "same run.\n"
        )
        text = head + "\n" + "\n".join(sections)
    out.write_text(text, encoding="utf-8")
    print(Path(args.out).read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
