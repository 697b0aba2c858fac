"""The command lines' help reads plain: no reStructuredText markup from their docstrings."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["geo.detect.__main__", "geo.evaluate", "geo.train",
                                    "geo.users", "geo.export.__main__"])
def test_help_has_no_rst_markup(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(module).main
    try:
        code = main(["--help"])
    except SystemExit as stop:  # argparse's own exit (geo.users returns the code instead)
        code = stop.code
    assert code == 0
    text = capsys.readouterr().out
    assert "python -m " in text
    assert "`" not in text, text
    assert "\n::\n" not in text, text
