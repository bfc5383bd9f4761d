"""Structured logs: JSON lines carrying the request id (accepted from ``X-Request-ID`` or generated), and
never a post's text, an identifier, an author or a key: only ids, routes, statuses and timings are logged.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    pass

#: The logger of the one access line per request (written by ``service.observability``).
ACCESS_LOGGER = "carescreen.access"


REQUEST_ID_HEADER = b"x-request-id"


_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


#: The request being handled (set by the middleware; copied into threads by ``run_in_threadpool`` and
#: ``asyncio.to_thread``). A micro-batch's worker thread carries its requests' ids, comma-separated.
request_id_var: ContextVar[str | None] = ContextVar("carescreen_request_id", default=None)


def accepted_request_id(raw: bytes | None) -> str:
    """The caller's ``X-Request-ID`` when it is 1-64 characters of ``[A-Za-z0-9._-]``, else a new uuid4 hex
    (a caller cannot put arbitrary text, or a post, into our logs through it)."""
    if raw is not None and _VALID_REQUEST_ID.fullmatch(raw):
        return raw.decode("ascii")
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


def bind_request_ids(ids: Sequence[str | None]) -> None:
    """Mark the current context (a micro-batch's worker thread) as handling these requests."""
    request_id_var.set(",".join(dict.fromkeys(i for i in ids if i)) or None)


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``None`` outside a request). Attach it to the handler, so records
    from every logger get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: level, logger, message, request_id, time, and any ``extra`` fields."""
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601, UTC
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI-coloured copy of the message
    )


def text_formatter() -> logging.Formatter:
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (like logging's last resort), not the one at start-up."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr


def log_handler(log_format: Literal["json", "text"], stream: Any = None) -> logging.Handler:
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(json_formatter() if log_format == "json" else text_formatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(log_format: Literal["json", "text"], *, level: int, access: bool = True) -> None:
    """The process's logging for ``carescreen serve``: one handler on the root logger in ``log_format``,
    uvicorn's loggers routed through it (its own access log is off; ours is ``carescreen.access``)."""
    root = logging.getLogger()
    for h in list(root.handlers):  # basicConfig's plain stream handler, or ours from an earlier call
        if type(h) in (logging.StreamHandler, _StderrHandler):
            root.removeHandler(h)
    root.addHandler(log_handler(log_format))
    root.setLevel(level)
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO if access else logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
