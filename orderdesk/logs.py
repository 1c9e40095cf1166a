"""The log lines (CONTRACT §1 `LOG_FORMAT`, `LOG_LEVEL`): one line per event, as text or as JSON
(python-json-logger), carrying the request id, order reference, MessageSid or outbound message id
the line is about (core/logcontext.py), with phone numbers masked but for their last 3 digits."""
from __future__ import annotations

import logging
import os

from pythonjsonlogger.json import JsonFormatter

from core.logcontext import FIELDS, ContextFilter
from core.phones import mask_in
from core.settings import Settings

# Other people's loggers say what we need at WARNING; below it, Twilio's client alone writes every
# request's headers, hundreds of lines a minute under load.
THIRD_PARTY = ("aiohttp", "asyncio", "sqlalchemy", "alembic", "apscheduler", "twilio", "urllib3")


class TextLines(logging.Formatter):
    """`time LEVEL logger: message [request_id=… reference=…]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = mask_in(record.message)
        line = super().formatMessage(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name))
        return f"{line} [{context}]" if context else line

    def formatException(self, exc_info) -> str:
        return mask_in(super().formatException(exc_info))


class JsonLines(JsonFormatter):
    """`{"time": …, "level": …, "logger": …, "message": …, "request_id": …, …}` on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["message"] = mask_in(str(log_data.get("message", "")))

    def formatException(self, exc_info) -> str:
        return mask_in(super().formatException(exc_info))


def configure(settings: Settings) -> None:
    """Send every log line to stderr in the shop's format: JSON by default where `DYNO` is set
    (Heroku), else text."""
    kind = settings.log_format or ("json" if os.environ.get("DYNO") else "text")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if kind == "json" else TextLines())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    debug = settings.log_level == "debug"
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    # Even then, SQLAlchemy shows its statements but not the rows they return (customers' data).
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if debug else logging.WARNING)
