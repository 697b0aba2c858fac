"""Test catalogues: write a small .po file, and list the templates ``make messages`` extracts."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[1]


def write_catalogue(locale_dir: Path, translations: dict[str, str] | dict[object, object],
                    language: str = "es") -> Path:
    """Write ``locale_dir/<language>/LC_MESSAGES/atalaya.po`` holding only ``translations``.

    A message of two forms is a (singular, plural) key with a tuple of the language's forms.
    """
    catalog = Catalog(locale=language)
    for msgid, msgstr in translations.items():
        catalog.add(msgid, msgstr, flags=("python-brace-format",))  # type: ignore[arg-type]
    po = locale_dir / language / "LC_MESSAGES" / "atalaya.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    with po.open("wb") as fh:
        write_po(fh, catalog)
    return locale_dir


@cache
def extracted(modules: tuple[str, ...]) -> frozenset[str]:
    """Return the templates ``make messages`` extracts (keyword ``Message``) from ``modules``."""
    return frozenset(msg if isinstance(msg, str) else msg[0] for module in modules
                     for _l, msg, _c, _x in extract_from_file(
                         "python", ROOT / module,
                         keywords={"Message": None, "plural": (1, 2)}))
