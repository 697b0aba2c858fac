"""Shared pieces of the benchmarks: the row type, a timer and the markdown table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Row:
    """One measured figure beside what it is compared with (same run)."""

    what: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    limit: float | None = None
    limit_name: str = ""
    target: str = ""


def best_of(fn: Callable[[], object], *, repeat: int = 3) -> float:
    """Best wall time in seconds of ``repeat`` calls (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def memory_bandwidth_gb_s(size_mb: int = 256) -> float:
    """NumPy copy bandwidth in GB/s (read + write), the machine's memory limit for array work."""
    src = np.ones(size_mb * 1024 * 1024 // 8)
    dst = np.empty_like(src)
    seconds = best_of(lambda: np.copyto(dst, src), repeat=5)
    return 2 * src.nbytes / seconds / 1e9


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def table(rows: list[Row]) -> str:
    """Markdown table: value, baseline and limit with the ratios between them."""
    out = ["| measure | value | baseline | value / baseline | machine limit | value / limit "
           "| target |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        vb = f"{r.value / r.baseline:,.2f}x" if r.baseline else ""
        vl = f"{r.value / r.limit:,.2f}x" if r.limit else ""
        base = f"{_fmt(r.baseline)} {r.unit} ({r.baseline_name})" if r.baseline else ""
        lim = f"{_fmt(r.limit)} {r.unit} ({r.limit_name})" if r.limit else ""
        out.append(f"| {r.what} | {_fmt(r.value)} {r.unit} | {base} | {vb} | {lim} | {vl} "
                   f"| {r.target} |")
    return "\n".join(out)
