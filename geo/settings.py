"""Process-wide settings read from ``ATALAYA_*`` environment variables.

The defaults run fully embedded: data under ``data/`` next to the project, a SQLite store, no
network. Nothing is read at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from geo.auth.oidc import GroupRoles, parse_group_roles
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
    language_fixed
        Whether ``language`` was set for the deployment. When it was not, a session starts in
        its browser's language where it is one of ours (:func:`browser_language`), else in
        ``language``.
    online_tiles
        Whether the online basemap may be offered (``ATALAYA_ONLINE_TILES``, default off).
    dask_scheduler
        Address (``tcp://HOST:PORT``) of the Dask scheduler background jobs run on
        (``ATALAYA_DASK_SCHEDULER``); empty: a local cluster started by the job runner.
    job_workers
        Worker processes of that local cluster (``ATALAYA_JOB_WORKERS``, default 2).
    idle_timeout_min
        Minutes without interaction before signing in again (``ATALAYA_IDLE_TIMEOUT_MIN``,
        default 30).
    session_max_h
        Hours after signing in before signing in again (``ATALAYA_SESSION_MAX_H``, default 12;
        0 for no limit).
    oidc_group_roles
        OIDC group to role pairs, first match wins (``ATALAYA_OIDC_GROUP_ROLES``,
        ``grp-a=analyst,grp-b=field``; empty by default).
    """

    data_dir: Path
    static_dir: Path
    language: str = "es"
    language_fixed: bool = True
    online_tiles: bool = False
    dask_scheduler: str = ""
    job_workers: int = 2
    idle_timeout_min: float = 30.0
    session_max_h: float | None = 12.0
    oidc_group_roles: GroupRoles = ()

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ConfigError(
                f"ATALAYA_LANGUAGE={self.language!r} is not supported; "
                f"expected one of {', '.join(LANGUAGES)}"
            )
        if self.job_workers < 1:
            raise ConfigError(f"ATALAYA_JOB_WORKERS={self.job_workers} must be at least 1")
        if self.dask_scheduler and (problem := scheduler_address_problem(self.dask_scheduler)):
            raise ConfigError(f"ATALAYA_DASK_SCHEDULER: {problem}")


#: A Dask scheduler address: an optional ``tcp://`` or ``tls://``, a host name, IPv4 address
#: or bracketed IPv6 address, and a port (Dask's own parser needs the port).
_SCHEDULER = re.compile(r"(?:(?:tcp|tls)://)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
                        r"|\[[0-9A-Fa-f:.]+\]):(\d{1,5})")


def scheduler_address_problem(address: str) -> str | None:
    """Why ``address`` is not a Dask scheduler address (``tcp://HOST:PORT``); None if it is.

    Checked before connecting, so a typo gets this sentence rather than Dask's traceback.

    Examples
    --------
    >>> scheduler_address_problem("tcp://10.0.0.5:8786") is None
    True
    >>> scheduler_address_problem("tcp://[::1]:8786") is None
    True
    >>> scheduler_address_problem("localhost")
    "'localhost' is not a Dask scheduler address; expected tcp://HOST:PORT, such as tcp://10.0.0.5:8786"
    >>> scheduler_address_problem("tcp://host:70000")
    "'tcp://host:70000' is not a Dask scheduler address; the port must be 1-65535"
    """
    match = _SCHEDULER.fullmatch(address)
    if match is None:
        return (f"{address!r} is not a Dask scheduler address; expected tcp://HOST:PORT, "
                "such as tcp://10.0.0.5:8786")
    if not 1 <= int(match.group(1)) <= 65535:
        return f"{address!r} is not a Dask scheduler address; the port must be 1-65535"
    return None


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; use 1/0, true/false or yes/no")


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None


def _parse_duration(name: str, raw: str, *, zero: bool) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = float("nan")
    if not (0 <= value < float("inf")) or (value == 0 and not zero):
        least = ">= 0 (0: no limit)" if zero else "> 0"
        raise ConfigError(f"{name}={raw!r} is not a usable duration; expected a number {least}")
    return value


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
        language=env.get("ATALAYA_LANGUAGE", "es").strip().lower() or "es",
        language_fixed=bool(env.get("ATALAYA_LANGUAGE", "").strip()),
        online_tiles=_parse_bool("ATALAYA_ONLINE_TILES", env.get("ATALAYA_ONLINE_TILES", "0")),
        dask_scheduler=env.get("ATALAYA_DASK_SCHEDULER", "").strip(),
        job_workers=_parse_int("ATALAYA_JOB_WORKERS", env.get("ATALAYA_JOB_WORKERS", "2")),
        idle_timeout_min=_parse_duration("ATALAYA_IDLE_TIMEOUT_MIN",
                                         env.get("ATALAYA_IDLE_TIMEOUT_MIN", "30"), zero=False),
        session_max_h=_parse_duration("ATALAYA_SESSION_MAX_H",
                                      env.get("ATALAYA_SESSION_MAX_H", "12"), zero=True) or None,
        oidc_group_roles=parse_group_roles(env.get("ATALAYA_OIDC_GROUP_ROLES", "")),
    )


def browser_language(locale: str | None, fallback: str) -> str:
    """Return the interface language for a browser's locale (``pt-BR``), else ``fallback``.

    Examples
    --------
    >>> browser_language("pt-BR", "es"), browser_language("en_GB", "es")
    ('pt', 'en')
    >>> browser_language("fr-FR", "es"), browser_language(None, "es"), browser_language("", "pt")
    ('es', 'es', 'pt')
    """
    primary = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return primary if primary in LANGUAGES else fallback
