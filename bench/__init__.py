"""Benchmarks: one script per area; ``bench/run.py`` writes BENCHMARKS.md."""
