"""Process-wide settings read from ``ATALAYA_*`` environment variables.

The defaults run fully embedded: data under ``data/`` next to the project, a SQLite store, no
network. Nothing is read at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from geo.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "es", "pt")


@dataclass(frozen=True)
class Settings:
    """Frozen run-time settings.

    Attributes
    ----------
    data_dir
        Folder holding the sample world or the team's data files (``ATALAYA_DATA_DIR``).
    static_dir
        Folder Streamlit serves at ``/app/static/`` (``ATALAYA_STATIC_DIR``); holds the
        front-end assets installed from npm and the offline basemap.
    language
        Default interface language, one of ``en``, ``es``, ``pt`` (``ATALAYA_LANGUAGE``).
    online_tiles
        Whether the online basemap may be offered (``ATALAYA_ONLINE_TILES``, default off).
    """

    data_dir: Path
    static_dir: Path
    language: str = "es"
    online_tiles: bool = False

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ConfigError(
                f"ATALAYA_LANGUAGE={self.language!r} is not supported; "
                f"expected one of {', '.join(LANGUAGES)}"
            )


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; use 1/0, true/false or yes/no")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from the environment (or a given mapping, for tests).

    Relative paths are resolved against the project root, not the current directory, so the
    app behaves the same whatever folder it was started from.
    """
    env = os.environ if environ is None else environ

    def _path(name: str, default: str) -> Path:
        path = Path(env.get(name, default)).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path

    return Settings(
        data_dir=_path("ATALAYA_DATA_DIR", "data"),
        static_dir=_path("ATALAYA_STATIC_DIR", "static"),
        language=env.get("ATALAYA_LANGUAGE", "es").strip().lower(),
        online_tiles=_parse_bool("ATALAYA_ONLINE_TILES", env.get("ATALAYA_ONLINE_TILES", "0")),
    )
