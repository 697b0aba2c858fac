"""Keep the server's log for real errors: one line, not a traceback, for a browser gone mid-send.

Streamlit 1.67 serves its websocket with Starlette 1.10. When a browser goes away while the
server is sending to it (a tab closed or a phone losing its network in the middle of a rerun),
the send fails and Starlette marks the socket closed; the sender task takes that quietly. When
the receiving loop then asks for its next frame, Starlette refuses (``WebSocketDisconnected``,
a ``RuntimeError``), Streamlit takes that ``RuntimeError`` for a text frame and closes the
socket, and the close fails in turn (read in their sources; not reproduced on demand).
Uvicorn logs the whole chain as "Exception in ASGI application" with two tracebacks. Nothing
is lost: Streamlit's ``finally`` disconnects the session as for any other departure. Seen
once in a fresh-clone CI run (2026-12-06) while twenty browser sessions ended at once.

:func:`install` puts :class:`BrowserGoneMidSend` on uvicorn's error logger once per process;
it turns exactly that chain into one warning line and lets every other record through as it is.
"""

from __future__ import annotations

import logging
import threading

#: The logger uvicorn reports a failed ASGI application on.
UVICORN_ERROR_LOGGER = "uvicorn.error"

#: What Starlette says when asked for a frame after the socket was marked closed.
_NOT_CONNECTED = "WebSocket is not connected"
#: What Starlette says when asked to close a socket already marked closed.
_CLOSE_SENT = "once a close message has been sent"

_LOCK = threading.Lock()
_INSTALLED: list[BrowserGoneMidSend] = []


def is_browser_gone_mid_send(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the close-after-a-failed-send chain described in the module.

    Both links must be Starlette's ``WebSocketDisconnected``: the close that failed, raised
    while handling the refused receive. Anything else, including the same class with another
    message, is not this chain.
    """
    if exc is None or type(exc).__name__ != "WebSocketDisconnected":
        return False
    if _CLOSE_SENT not in str(exc):
        return False
    cause = exc.__context__
    return (cause is not None and type(cause).__name__ == "WebSocketDisconnected"
            and _NOT_CONNECTED in str(cause))


class BrowserGoneMidSend(logging.Filter):
    """Rewrite the record of a browser gone mid-send into one warning line; pass the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record; drop the traceback and lower the level of the benign chain."""
        exc = record.exc_info[1] if record.exc_info else None
        if not is_browser_gone_mid_send(exc):
            return True
        record.msg = ("A browser went away while the server was sending to it; "
                      "its session was closed (Streamlit 1.67 on Starlette 1.10 "
                      "reports this as an ASGI error).")
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.levelno = logging.WARNING
        record.levelname = logging.getLevelName(logging.WARNING)
        return True


def install() -> BrowserGoneMidSend:
    """Put the filter on uvicorn's error logger once per process; return the one in place."""
    with _LOCK:
        if not _INSTALLED:
            gone = BrowserGoneMidSend()
            logging.getLogger(UVICORN_ERROR_LOGGER).addFilter(gone)
            _INSTALLED.append(gone)
        return _INSTALLED[0]
