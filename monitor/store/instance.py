"""This process among the instances sharing a database: its identity, and on SQLite the lock that makes it the
only one (SQLite is the one-machine default; several instances need PostgreSQL)."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from pathlib import Path

from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.store.engine import sqlite_file

_held: dict[Path, int] = {}  # lock file → open descriptor, kept for the life of the process


class InstanceLockError(MonitorError):
    """Another process polls the same SQLite database, or its lock file cannot be opened."""


def instance_id(settings: Settings) -> str:
    """The configured ``instance_name``, else host:pid — distinct for every process on every machine."""
    return settings.instance_name or f"{socket.gethostname()}:{os.getpid()}"


def sqlite_lock_path(database_url: str) -> Path | None:
    """The lock file next to an SQLite database file (None: PostgreSQL or an in-memory database)."""
    path = sqlite_file(database_url)
    return None if path is None else path.with_name(path.name + ".lock")


def hold_polling_lock(settings: Settings) -> bool:
    """On SQLite, hold an exclusive lock for the rest of the process's life (released by the OS when it ends,
    however it ends); refused with the holder's pid when another daemon or ``poll --once`` holds it. True when
    this process is the database's sole poller (SQLite), False when instances share it (PostgreSQL)."""
    path = sqlite_lock_path(settings.database_url)
    if path is None:
        return False
    if path in _held:
        return True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InstanceLockError(
            f"cannot open the polling lock {path}: {exc.strerror or exc} (the database's folder must be writable "
            "by the poller: SQLite writes its journal there too)"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise InstanceLockError(
            f"another monitor process (pid {holder}) is polling {path.with_suffix('')}: SQLite allows one "
            "`monitor run` or `poll --once` at a time (use PostgreSQL to run several instances)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[path] = fd
    return True


class InstanceFilter(logging.Filter):
    """Adds ``instance=…`` to every log record of this process."""

    def __init__(self, instance: str):
        super().__init__()
        self.instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.instance = self.instance
        return True


def log_instance(instance: str) -> None:
    """Name this instance in every log line from now on."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, InstanceFilter) for f in handler.filters):
            handler.addFilter(InstanceFilter(instance))
