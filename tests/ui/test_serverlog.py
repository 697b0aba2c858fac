"""A browser gone mid-send is one warning line in the server log, not a traceback (serverlog)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import KeptRecords, in_own_thread, kept_records
from ui import serverlog


async def _gone_mid_send() -> BaseException:
    """Drive a real Starlette websocket the way Streamlit's endpoint does when the send fails.

    The browser's last frame is waiting; the send of the reply fails (the transport is gone);
    the receiving loop then asks for a frame and, refused with a ``RuntimeError``, closes.
    """
    inbox: list[dict[str, Any]] = [{"type": "websocket.connect"},
                                   {"type": "websocket.receive", "bytes": b"rerun"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    accepted: list[bool] = []

    async def send(message: dict[str, Any]) -> None:
        if accepted:
            raise OSError("the browser went away")  # uvicorn's ClientDisconnected is an OSError
        accepted.append(True)

    socket = WebSocket({"type": "websocket", "path": "/_stcore/stream", "headers": []},
                       receive, send)  # type: ignore[arg-type]
    await socket.accept()
    assert await socket.receive_bytes() == b"rerun"
    with pytest.raises(WebSocketDisconnect):  # the sender task takes this quietly
        await socket.send_bytes(b"reply")
    try:
        try:
            await socket.receive_bytes()
        except RuntimeError:  # Streamlit 1.67: "a text frame"; it closes the socket
            await socket.close()
    except RuntimeError as exc:
        return exc
    raise AssertionError("Starlette no longer refuses a receive after a failed send")


@pytest.fixture
def chain() -> BaseException:
    exc: BaseException = in_own_thread(lambda: asyncio.run(_gone_mid_send()))
    return exc


@pytest.fixture
def uvicorn_log() -> Iterator[KeptRecords]:
    gone = serverlog.install()
    assert serverlog.install() is gone  # once per process
    assert logging.getLogger(serverlog.UVICORN_ERROR_LOGGER).filters.count(gone) == 1
    with kept_records(serverlog.UVICORN_ERROR_LOGGER) as kept:
        yield kept


def _log(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        logging.getLogger(serverlog.UVICORN_ERROR_LOGGER).exception(
            "Exception in ASGI application\n")


def test_the_chain_of_a_browser_gone_mid_send_is_recognised(chain: BaseException) -> None:
    assert serverlog.is_browser_gone_mid_send(chain)
    assert not serverlog.is_browser_gone_mid_send(chain.__context__)  # half of it
    assert not serverlog.is_browser_gone_mid_send(None)
    assert not serverlog.is_browser_gone_mid_send(RuntimeError(str(chain)))


def test_it_is_one_warning_line_in_the_log(chain: BaseException,
                                           uvicorn_log: KeptRecords) -> None:
    _log(chain)
    [record] = uvicorn_log.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "browser went away" in record.getMessage()
    assert "Traceback" not in uvicorn_log.text


def test_any_other_error_keeps_its_traceback(uvicorn_log: KeptRecords) -> None:
    try:
        raise ValueError("a real fault in the app")
    except ValueError as fault:
        try:
            raise RuntimeError("Cannot call \"send\" once a close message has been sent.") \
                from fault
        except RuntimeError as other:
            _log(other)
    [record] = uvicorn_log.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "Traceback" in uvicorn_log.text
    assert "a real fault in the app" in uvicorn_log.text
