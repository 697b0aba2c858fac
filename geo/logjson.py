"""Structured logs: one JSON object per line, with context, and no secrets.

:func:`setup_json_logging` puts a handler on the ``atalaya`` logger (or another) that writes
JSON lines: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``process``,
``thread``, ``exception`` (type, message, traceback) when there is one, and every context
field: those passed as ``extra={...}`` and those bound with :func:`log_context` (user, session,
job...). A :class:`RedactingFilter` runs first and **drops** every field whose name says it is
sensitive (:data:`SENSITIVE_WORDS`: password, hash, token, secret, cookie...), at any depth,
and masks ``password=...``-style pairs and the password of URLs in the text; the formatter
masks the text again, tracebacks included. Nothing is configured at import time.

Examples
--------
>>> import io, json, logging
>>> buf = io.StringIO()
>>> handler = setup_json_logging(buf, logger_name="atalaya.example")
>>> logging.getLogger("atalaya.example").warning("login of %s", "ana",
...     extra={"user": "ana", "password": "hunter2"})
>>> record = json.loads(buf.getvalue())
>>> record["message"], record["user"], "password" in record
('login of ana', 'ana', False)
>>> remove_json_logging(handler, logger_name="atalaya.example")
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from geo.message import Message

__all__ = [
    "SENSITIVE_WORDS",
    "JsonLinesFormatter",
    "RedactingFilter",
    "is_sensitive",
    "log_context",
    "redact",
    "remove_json_logging",
    "scrub_message",
    "scrub_text",
    "setup_json_logging",
]

#: A field whose name contains one of these (any case) is never logged.
SENSITIVE_WORDS: tuple[str, ...] = (
    "password", "passwd", "pwd", "hash", "token", "secret", "cookie", "authorization",
    "api_key", "apikey", "credential", "private_key", "session_key",
)
MASK = "[redacted]"
# Attributes every LogRecord has: everything else on a record is a context field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
_WORDS = "|".join(map(re.escape, SENSITIVE_WORDS))
# key=value, key: value, "key": "value" - the value up to a separator
_PAIR = re.compile(rf"""(?ix)
    (["']?[\w-]*(?:{_WORDS})[\w-]*["']?\s*[=:]\s*)   # the key and its = or :
    (?:"[^"]*"|'[^']*'|[^\s,;&}}\]]+)                 # the value
""")
_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)")
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "atalaya_log_context", default=MappingProxyType({}))


def is_sensitive(key: str) -> bool:
    """Tell whether a field name names a secret.

    Examples
    --------
    >>> is_sensitive("password_hash"), is_sensitive("Set-Cookie"), is_sensitive("job_id")
    (True, True, False)
    """
    folded = key.lower().replace("-", "_")
    return any(word in folded for word in SENSITIVE_WORDS)


def scrub_text(text: str) -> str:
    """Mask secrets written inside text: ``password=...`` pairs and URL passwords.

    Examples
    --------
    >>> scrub_text("login failed: password=hunter2 user=ana")
    'login failed: password=[redacted] user=ana'
    >>> scrub_text("postgresql+psycopg://app:s3cret@db/atalaya")
    'postgresql+psycopg://app:[redacted]@db/atalaya'
    """
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
    return _PAIR.sub(rf"\g<1>{MASK}", text)


def scrub_message(text: str) -> str:
    """Mask secrets in a message, keeping a :class:`~geo.message.Message` one (its values).

    Examples
    --------
    >>> from geo.message import Message
    >>> m = scrub_message(Message("cannot open {url}", url="postgresql://a:s3cret@db/x"))
    >>> m, m.template
    ('cannot open postgresql://a:[redacted]@db/x', 'cannot open {url}')
    """
    if isinstance(text, Message):
        return Message(text.template, **{k: scrub_message(v) if isinstance(v, str) else v
                                         for k, v in text.values.items()})
    return scrub_text(text)


def redact(value: Any) -> Any:
    """Return ``value`` with sensitive keys dropped from every mapping, at any depth."""
    if isinstance(value, Mapping):
        return {str(k): redact(v) for k, v in value.items() if not is_sensitive(str(k))}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (in this thread or task).

    Examples
    --------
    >>> with log_context(user="ana", session="s1"):
    ...     pass
    """
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class RedactingFilter(logging.Filter):
    """Drop sensitive context fields from a record and mask secrets in its message.

    It never refuses a record; it changes it in place, before any handler formats it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Clean the record; always keep it."""
        for key in [k for k in vars(record) if k not in _RECORD_ATTRS]:
            if is_sensitive(key):
                delattr(record, key)
            else:
                setattr(record, key, redact(getattr(record, key)))
        if isinstance(record.args, Mapping):
            record.args = redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        return True


class JsonLinesFormatter(logging.Formatter):
    """Format a record as one line of JSON (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line (no newline inside)."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "message": scrub_text(record.getMessage()),
            "process": record.process, "thread": record.threadName,
        }
        context = {**_context.get(), **{k: v for k, v in vars(record).items()
                                         if k not in _RECORD_ATTRS}}
        out.update(redact(context))
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            out["exception"] = {
                "type": exc_type.__name__, "message": scrub_text(str(exc)),
                "traceback": scrub_text("".join(traceback.format_exception(exc_type, exc, tb)))}
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_json_logging(target: IO[str] | str | Path | None = None, *, level: int | str = "INFO",
                       logger_name: str = "atalaya") -> logging.Handler:
    """Write the records of ``logger_name`` (and its children) as JSON lines to ``target``.

    Parameters
    ----------
    target
        A text stream, a file path (appended to, UTF-8), or None for standard error.
    level
        Lowest level written.
    logger_name
        The logger to attach to (``""`` for the root logger).

    Returns
    -------
    logging.Handler
        The handler (remove it with :func:`remove_json_logging`). Calling this again with the
        same logger replaces the earlier handler, so a script that reruns (Streamlit) does not
        write every line twice.
    """
    logger = logging.getLogger(logger_name)
    for old in [h for h in logger.handlers if isinstance(h.formatter, JsonLinesFormatter)]:
        remove_json_logging(old, logger_name=logger_name)
    handler: logging.Handler
    if target is None or not isinstance(target, str | Path):
        handler = logging.StreamHandler(target or sys.stderr)
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonLinesFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def remove_json_logging(handler: logging.Handler, *, logger_name: str = "atalaya") -> None:
    """Detach and close a handler made by :func:`setup_json_logging`."""
    logging.getLogger(logger_name).removeHandler(handler)
    handler.close()
