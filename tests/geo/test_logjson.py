"""JSON-lines logs: one object per line, context fields, and never a sensitive value."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.health import HealthReport, check_static
from geo.logjson import (
    SENSITIVE_WORDS,
    is_sensitive,
    log_context,
    remove_json_logging,
    scrub_text,
    setup_json_logging,
)

NAME = "atalaya.test_logjson"
SECRETS = {"password": "hunter2-PW", "password_hash": "$scrypt$n=16384$abcdef",
           "token": "tok-9f8e7d", "api_secret": "sec-1234", "Cookie": "session=cookie-5678",
           "authorization": "Bearer abc.def.ghi"}


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    handler = setup_json_logging(buf, logger_name=NAME, level="DEBUG")
    yield buf
    remove_json_logging(handler, logger_name=NAME)


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_one_json_object_per_line_with_context(stream):
    log = logging.getLogger(f"{NAME}.jobs")
    with log_context(user="ana", session="s-1"):
        log.info("job %s started", 7, extra={"job_id": 7, "kind": "detect"})
    log.warning("multi\nline message")
    first, second = _lines(stream)
    assert first["message"] == "job 7 started"
    assert (first["level"], first["logger"]) == ("INFO", f"{NAME}.jobs")
    assert (first["job_id"], first["kind"], first["user"], first["session"]) == (
        7, "detect", "ana", "s-1")
    assert first["time"].endswith("+00:00")
    assert "user" not in second  # the context ended with the block
    assert second["message"] == "multi\nline message"
    assert len(stream.getvalue().splitlines()) == 2


def test_exception_is_structured(stream):
    try:
        raise ValueError("bad scene")
    except ValueError:
        logging.getLogger(NAME).exception("detection failed", extra={"scene": "a.tif"})
    (line,) = _lines(stream)
    assert line["exception"]["type"] == "ValueError"
    assert line["exception"]["message"] == "bad scene"
    assert "Traceback" in line["exception"]["traceback"]
    assert line["scene"] == "a.tif"


def test_sensitive_fields_are_dropped_at_any_depth(stream):
    log = logging.getLogger(NAME)
    log.info("sign-in", extra={**SECRETS, "user": "ana",
                               "request": {"headers": {"Set-Cookie": "c-999", "host": "x"},
                                           "form": [{"new_password": "pw-777"}]}})
    with log_context(token="ctx-token-42"):
        log.info("connected to %s", "postgresql+psycopg://app:dbpass-55@db/atalaya")
    log.info("retry with password=inline-pw-1 and token: inline-tok-2 for ana")
    try:
        raise RuntimeError("login failed for ana, secret=exc-secret-3")
    except RuntimeError:
        log.exception("oops")
    out = stream.getvalue()
    for value in [*SECRETS.values(), "c-999", "pw-777", "ctx-token-42", "dbpass-55",
                  "inline-pw-1", "inline-tok-2", "exc-secret-3"]:
        assert value not in out, value
    first = _lines(stream)[0]
    assert first["user"] == "ana"
    assert first["request"] == {"headers": {"host": "x"}, "form": [{}]}
    assert not any(is_sensitive(k) for k in first if k not in ("message",))
    assert "postgresql+psycopg://app:[redacted]@db/atalaya" in out


@settings(max_examples=60, deadline=None)
@given(word=st.sampled_from(SENSITIVE_WORDS), prefix=st.sampled_from(["", "new_", "X-"]),
       value=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=20))
def test_no_sensitive_value_ever_reaches_the_log(word, prefix, value):
    buf = io.StringIO()
    handler = setup_json_logging(buf, logger_name=NAME)
    try:
        value = f"V{value}"
        logging.getLogger(NAME).info("event", extra={f"{prefix}{word}": value,
                                                     "nested": {word.upper(): value}})
        logging.getLogger(NAME).info(f"{word}={value}")
    finally:
        remove_json_logging(handler, logger_name=NAME)
    assert value not in buf.getvalue()


def test_setting_up_twice_does_not_double_lines(stream):
    again = io.StringIO()
    handler = setup_json_logging(again, logger_name=NAME)
    try:
        logging.getLogger(NAME).info("once")
        assert len(again.getvalue().splitlines()) == 1
        assert stream.getvalue() == ""  # the earlier handler was replaced
    finally:
        remove_json_logging(handler, logger_name=NAME)


def test_file_target(tmp_path):
    path = tmp_path / "atalaya.log.jsonl"
    handler = setup_json_logging(path, logger_name=NAME)
    try:
        logging.getLogger(NAME).error("store locked", extra={"check": "store"})
    finally:
        remove_json_logging(handler, logger_name=NAME)
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["check"] == "store"


def test_health_report_log_is_clean_json(stream, tmp_path):
    """The health report's records go through the same handler (the start-up path)."""
    handler = setup_json_logging(stream, logger_name="atalaya.health")
    try:
        items = tuple(check_static(tmp_path / "nowhere"))
        HealthReport(items=items, checked_at=datetime.now(UTC)).log()
    finally:
        remove_json_logging(handler, logger_name="atalaya.health")
    (line,) = _lines(stream)
    assert (line["level"], line["check"]) == ("ERROR", "static")
    assert "install_assets.py" in line["fix"]


def test_scrub_text_leaves_plain_words():
    assert scrub_text("the hash of the manifest is stored") == \
        "the hash of the manifest is stored"
    assert scrub_text('{"token": "abc"}') == '{"token": [redacted]}'
