"""``bench/run.py --only`` replaces the re-measured sections of BENCHMARKS.md and keeps the rest."""

from __future__ import annotations

from bench.run import merge_sections

REPORT = "# Benchmarks\n\nWritten on D.\n\n## bench_a\n\nA table\n\n## bench_b\n\nB table\n"


def test_only_the_measured_section_changes_and_says_when():
    out = merge_sections(REPORT, ["## bench_b\n\nnew B\n\n_1 s in all._\n"], "2026-01-01 10:00 UTC")
    assert out.startswith("# Benchmarks\n\nWritten on D.\n\n## bench_a\n\nA table\n")
    assert "B table" not in out
    assert "## bench_b\n\n_Measured again on its own (`bench/run.py --only`) on 2026-01-01" in out
    assert out.index("bench_a") < out.index("bench_b")


def test_a_new_module_is_added_at_the_end_and_a_second_merge_does_not_stack_notes():
    once = merge_sections(REPORT, ["## bench_c\n\nC\n"], "T1")
    twice = merge_sections(once, ["## bench_c\n\nC2\n"], "T2")
    assert twice.endswith("## bench_c\n\n_Measured again on its own (`bench/run.py --only`) on "
                          "T2._\n\nC2\n")
    assert twice.count("_Measured again") == 1
