"""Database engine (SQLite or PostgreSQL) and schema migrations (Alembic, applied at start).

A database already at the newest revision is the usual case: it is recognised by its ``alembic_version`` row
and the revision ids in the migration files, without loading Alembic (a noticeable part of a command's start).
"""

from __future__ import annotations

import fcntl
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from monitor.core.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# `revision: str = '0008'` and `down_revision: str | None = '0007'` (or `= None`) in a migration file
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(?:'([^']*)'|\"([^\"]*)\"|None)\s*$", re.MULTILINE)
SQLITE_BUSY_TIMEOUT_MS = 15_000
BUSY_SECONDS = SQLITE_BUSY_TIMEOUT_MS / 1000
CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
MIGRATION_LOCK_KEY = 0x6D6F6E69746F72  # "monitor": the PostgreSQL advisory lock held while migrating


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL, absolute (None: PostgreSQL, an in-memory database, an invalid URL)."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().resolve()


def describe(url: str) -> str:
    """The database as logs and ``monitor stats`` show it: password masked, a relative SQLite path made absolute
    (it is relative to the working directory, so a command run elsewhere opens another file)."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    return parsed.render_as_string(hide_password=True)


def create_db_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys, its directory is created."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"invalid database URL: {url!r}") from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create the folder {folder} of the database: {exc.strerror}") from None
        kwargs["connect_args"] = {"timeout": BUSY_SECONDS, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"cannot use database {redact(url)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def check_sqlite_file(engine: Engine) -> bool:
    """Refuse a corrupt SQLite file before anything reads or writes it: SQLite's ``quick_check``, on a
    read-only connection. Raises DatabaseError naming the file and how to recover.

    The check reads the whole file (0.2–0.9 s for 260 MB, cached or not), so its verdict is kept in
    ``<database>.checked`` with the identity, size and modification time of the file and of its write-ahead log
    as they were before it: a command that finds both unchanged since a passed check skips it (True when it
    ran). Anything that writes the file, this monitor or something else, changes them, and the next command
    checks again."""
    path = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return False
    file = Path(path).expanduser()
    state = _file_state(file)
    if state is None:
        return False
    stamp = file.with_name(file.name + ".checked")
    with suppress(OSError):
        if stamp.read_text(encoding="utf-8") == state:
            return False
    try:
        with closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_SECONDS)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", None) not in CORRUPT:
            raise DatabaseError(f"cannot open database file {file}: {exc}") from None
        problems = [str(exc)]
    if problems != ["ok"]:
        stamp.unlink(missing_ok=True)
        first = " ".join(problems[0].split())
        raise DatabaseError(
            f"database file {file} is corrupt ({first}); nothing was written to it. Restore it from a "
            f"backup, or salvage what is readable with `sqlite3 {file} .recover | sqlite3 recovered.db` and point "
            "database_url at the result"
        )
    with suppress(OSError):  # a folder that cannot be written: every command checks
        stamp.write_text(state, encoding="utf-8")
    return True


def _file_state(file: Path) -> str | None:
    """The identity (device, inode), size and modification time of an SQLite file and of its ``-wal`` file (when
    it holds anything); None for a missing or empty file (nothing to check)."""
    try:
        main = file.stat()
    except OSError:
        return None
    if not stat.S_ISREG(main.st_mode) or main.st_size == 0:
        return None
    parts = [f"{main.st_dev}:{main.st_ino}:{main.st_size}:{main.st_mtime_ns}"]
    try:
        wal = file.with_name(file.name + "-wal").stat()
    except OSError:
        wal = None
    # an empty log holds nothing (a read-only connection may create one, the last connection removes it)
    parts.append(f"{wal.st_dev}:{wal.st_ino}:{wal.st_size}:{wal.st_mtime_ns}" if wal and wal.st_size else "-")
    return " ".join(parts) + "\n"


@cache
def head_revision() -> str | None:
    """The newest migration's revision id, read from the files in ``migrations/versions``; None unless the
    migrations form one line (then only Alembic can tell)."""
    revisions: set[str] = set()
    parents: set[str | None] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {m[1]: m[2] or m[3] or None for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8"))}
        if "revision" not in found or "down_revision" not in found:
            return None
        revisions.add(str(found["revision"]))
        parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and len(parents) == len(revisions) else None


def _at_head(connection: sa.Connection) -> bool:
    """Whether the database's schema is at the newest revision (a committed ``alembic_version`` row says so:
    Alembic writes it in the migration's transaction, after the migration's statements)."""
    head = head_revision()
    if head is None or not sa.inspect(connection).has_table("alembic_version"):
        return False
    return list(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()) == [head]


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (an older database upgrades in place); a corrupt SQLite file is
    refused first."""
    check_sqlite_file(engine)
    try:
        if revision == "head":
            with engine.connect() as connection:
                if _at_head(connection):
                    return
        from alembic import command

        config = alembic_config(engine)
        # Processes starting at once on a new database (a daemon and a `monitor stats`, several instances) take
        # turns: the second finds the schema at head and does nothing ("table feed already exists" otherwise).
        with _sqlite_migration_lock(engine), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot open database {redact(str(engine.url))}: {_first_line(exc)}") from None


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on ``<database>.migrate.lock`` while migrating an SQLite file (PostgreSQL uses an
    advisory lock in the migration's transaction)."""
    path = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        yield
        return
    lock = Path(path).expanduser().with_name(Path(path).name + ".migrate.lock")
    try:
        fh = lock.open("a")
    except OSError:  # a folder that cannot be written: SQLite itself says so next, in its own words
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
