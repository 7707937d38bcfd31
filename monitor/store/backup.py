"""``monitor backup``: a consistent copy of an SQLite database while the daemon writes it (SQLite's online backup
API), and for PostgreSQL the ``pg_dump`` command that does the same."""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.core.errors import DatabaseError, MonitorError
from monitor.store.engine import BUSY_SECONDS, normalise_url, sqlite_file


class BackupError(MonitorError):
    """A backup that could not be made; nothing was written at its destination."""


@dataclass(frozen=True)
class Backup:
    source: Path
    target: Path
    bytes: int


def backup_sqlite(database_url: str, target: Path, force: bool = False) -> Backup:
    """Copy the SQLite database of ``database_url`` to ``target`` with SQLite's online backup API: one read
    transaction over the whole copy, so the copy is the database as it was at one commit, however the daemon
    writes meanwhile (WAL: the daemon's writes are not held up). The copy is written to a temporary file beside
    ``target``, checked (``PRAGMA quick_check``), synced, then renamed into place: ``target`` is either the
    whole backup or untouched. An existing ``target`` is refused unless ``force``."""
    source = sqlite_file(database_url)
    if source is None:
        raise BackupError("`monitor backup` copies SQLite database files; this database is not one")
    if not source.is_file():
        raise BackupError(f"no database file at {source}")
    target = target.expanduser().absolute()
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the backup's file name")
    if target.exists():
        if not force:
            raise BackupError(f"{target} exists: give a new file name, or --force to replace it")
        if target.resolve() == source.resolve() or target.samefile(source):
            raise BackupError(f"{target} is the database itself")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BackupError(f"cannot write in {target.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    temporary = Path(name)
    try:
        os.chmod(temporary, source.stat().st_mode & 0o777)  # readable by whom the database is (a restore copies it)
        _copy(source, temporary)
        _publish(temporary, target, force)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return Backup(source, target, target.stat().st_size)


def _copy(source: Path, temporary: Path) -> None:
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_SECONDS)) as src, \
                closing(sqlite3.connect(temporary)) as dst:
            src.backup(dst)  # all pages in one step: one read transaction, one consistent state
            # the copy keeps the source's WAL mode; a single file (no -wal beside it) is what a backup should be
            dst.execute("PRAGMA journal_mode=DELETE")
            problems = [row[0] for row in dst.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} failed: {_first_line(exc)}; nothing was written") from None
    if problems != ["ok"]:
        raise BackupError(
            f"backup of {source} failed its check ({' '.join(problems[0].split())}): the database is damaged; "
            "nothing was written"
        )
    try:
        with open(temporary, "rb+") as fh:
            os.fsync(fh.fileno())
    except OSError as exc:
        raise BackupError(f"backup of {source} failed: {exc.strerror or exc}; nothing was written") from None


def _publish(temporary: Path, target: Path, force: bool) -> None:
    """Rename the finished copy into place (without --force, never over a file that appeared meanwhile)."""
    try:
        if force:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)  # fails if target exists: no window where another file is replaced
            temporary.unlink()
    except FileExistsError:
        raise BackupError(f"{target} exists: give a new file name, or --force to replace it") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    with suppress(OSError):  # the rename itself survives a crash once the folder is synced
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def pg_dump_command(database_url: str, target: Path) -> str:
    """The ``pg_dump`` command that backs up this PostgreSQL database to ``target`` (custom format, for
    ``pg_restore``), its password shown as ``***``."""
    try:
        url = make_url(normalise_url(database_url))
    except ArgumentError:
        raise DatabaseError("invalid database URL") from None
    libpq = url.set(drivername="postgresql", query={})
    return (f"pg_dump --format=custom --file={shlex.quote(str(target))} "
            f"{shlex.quote(libpq.render_as_string(hide_password=True))}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
