"""The store's base: the engine, reading sessions and the one writer, service state and the instances."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, col, select

from monitor.core.config import StoriesSettings
from monitor.core.errors import DatabaseError
from monitor.store.models import (
    Article,
    Instance,
    ServiceState,
    utcnow,
)

if TYPE_CHECKING:
    from monitor.dedup.neardup import NearDupConfig
    from monitor.store.alerts import Outbox

ArticleHook = Callable[["Outbox", Article], None]


def storage_fault(exc: BaseException) -> str | None:
    """Why the database cannot be written or reached, when that is what ``exc`` says — a full disk, an I/O
    error, a read-only file, a lock held too long, a lost connection: the storage's fault, not the data's — as
    one line; None for any other error (a constraint violated by one item, a bug)."""
    if isinstance(exc, DatabaseError):
        return str(exc)
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return (str(exc.orig or exc).strip().splitlines() or [type(exc.orig).__name__])[0]
    return None


class StoreBase:
    """What every entity's store shares: the engine, reading sessions, the one writer (``_write``), the service
    state and the instances' rows. ``article_hooks`` run inside the transaction that stores a new article (e.g.
    to queue alerts); ``stories`` is how near a copy must be to join a story."""

    def __init__(self, engine: Engine, stories: StoriesSettings | None = None):
        self.engine = engine
        self.story_settings = stories or StoriesSettings()
        self.article_hooks: list[ArticleHook] = []
        self._writer = threading.RLock()

    @cached_property
    def neardup(self) -> NearDupConfig:
        """The near-duplicate check of ``stories``, made at the first story lookup (it loads numpy)."""
        from monitor.dedup.neardup import NearDupConfig

        return NearDupConfig.of(self.story_settings)

    @property
    def shared(self) -> bool:
        """Other instances may poll from this database too (PostgreSQL): they divide feeds, pages and host budgets
        through it. An SQLite file has one poller (a lock file refuses a second)."""
        return self.engine.dialect.name != "sqlite"

    def session(self) -> Session:
        """A session for reading (nothing written through it is committed)."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """The one way anything writes (Datasette's ``execute_write_fn``): one transaction, committed when the
        block ends, rolled back when it raises. This process's writers — the pipeline's database thread, the
        alert sender, the web layer — take turns here; SQLite has a single writer anyway, and waiting here
        costs no lock timeout."""
        with self._writer, Session(self.engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseError(f"database does not answer: {str(exc.orig).strip().splitlines()[0]}") from None

    # --- service state -------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(ServiceState, key)
            return row.value if row else None

    def set_state(self, key: str, value: str) -> None:
        """Insert or update in one statement: two processes setting a new key at once must not collide."""
        if self.engine.dialect.name == "sqlite":  # the other dialect's module is not loaded
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        row = {"key": key, "value": value, "updated_at": utcnow()}
        statement = insert(ServiceState).values(row).on_conflict_do_update(index_elements=["key"], set_=row)
        with self._write() as s:
            s.execute(statement)

    # --- instances (a row per running process sharing the database) ---------------------------------

    def heartbeat(self, instance_id: str, host: str, pid: int) -> None:
        """Record that this instance is alive (one row per instance: heartbeats of several never collide)."""
        with self._write() as s:
            row = s.get(Instance, instance_id) or Instance(id=instance_id, host=host, pid=pid)
            row.host, row.pid, row.heartbeat_at = host, pid, utcnow()
            s.add(row)

    def remove_instance(self, instance_id: str) -> None:
        with self._write() as s:
            row = s.get(Instance, instance_id)
            if row is not None:
                s.delete(row)

    def instances(self) -> list[Instance]:
        """Every instance that sent a heartbeat and did not stop cleanly, most recent heartbeat first."""
        with self.session() as s:
            return list(s.exec(select(Instance).order_by(col(Instance.heartbeat_at).desc(), col(Instance.id))))

