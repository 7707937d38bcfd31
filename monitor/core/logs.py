"""Logging to stderr, one line per event: plain ``key=value`` or JSON."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# ...and uvicorn's terminal-coloured copy of its message
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and v is not None}


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += f" {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "apprise", "apscheduler", "trafilatura", "htmldate", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class Outage:
    """One log line when something the daemon does on every tick starts failing for a storage fault, one when it
    works again — not a traceback every tick while a disk is full. Several parts may share an outage (the
    heartbeat's row and the polling cycle both lose an unreachable database): it starts with the first part that
    fails and ends when every part that failed has worked again, one line each."""

    def __init__(self, log: logging.Logger, failing: str, recovered: str):
        self.log, self.failing, self.recovered = log, failing, recovered
        self.failing_parts: set[str] = set()

    def failed(self, reason: str, part: str = "") -> None:
        if not self.failing_parts:
            self.log.error(self.failing, reason)
        self.failing_parts.add(part)

    def worked(self, part: str = "") -> None:
        if part in self.failing_parts:
            self.failing_parts.remove(part)
            if not self.failing_parts:
                self.log.info(self.recovered)
