"""Time the sample-event generator at 1e5 and 1e6 events; print markdown table rows.

Usage: ``python bench/bench_sample.py [--sizes 100000 1000000]``. The GeoParquet write
(the CLI's events step) is timed too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.sample.events import generate_events


def bench(n: int, out_dir: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    events = generate_events(n=n, rng=np.random.default_rng(7))
    generated = time.perf_counter() - t0
    t0 = time.perf_counter()
    events.to_parquet(out_dir / f"events_{n}.parquet", index=False, compression="zstd")
    return generated, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print("| benchmark | events | generate (s) | events/s | write parquet (s) |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            gen, write = bench(n, Path(tmp))
            print(f"| sample events | {n:,} | {gen:.2f} | {n / gen:,.0f} | {write:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
