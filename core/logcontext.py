"""What a log line is about, carried by the task doing the work: the request id, and the order
reference, MessageSid or outbound message id where there is one. `bound(...)` sets them for a
block; the logging set-up (orderdesk/logs.py) copies them onto every record made inside it."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("request_id", "reference", "message_sid", "outbound_id")
_context: ContextVar[dict[str, object]] = ContextVar("log_context", default={})


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Add `fields` (names from FIELDS; None ones are skipped) to the log context of this block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, object]:
    return _context.get()


class ContextFilter(logging.Filter):
    """Puts the bound fields on each record, where formatters find them (never over a field the
    call gave itself with `extra=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
