"""What instances sharing a PostgreSQL database divide besides the feeds: article pages (each fetched once) and
each host's request budget (``http.per_host_min_gap`` and ``http.per_host_concurrency`` for all of them together).

A single instance on SQLite never calls these (``StoreBase.shared``): its fetcher keeps the budgets in memory and
nobody else fetches its pages."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from monitor.store.base import StoreBase
from monitor.store.models import HostBudget, HostSlot, PageClaim, utcnow

# the database's clock, in seconds since the epoch: one clock for every machine
_DB_NOW = sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Float)
SLOT_RETRY = 0.05  # seconds before asking again for a host whose every slot is taken


def page_key(canonical_url: str) -> str:
    """A page's claim key: its canonical URL hashed (any length of URL, one size of key)."""
    return hashlib.sha256(canonical_url.encode()).hexdigest()


class ClaimStore(StoreBase):
    """Page claims and shared host budgets (PostgreSQL only)."""

    # --- page claims ---------------------------------------------------------------------------------------

    def claim_pages(self, owner: str, keys: Sequence[str], lease_seconds: float) -> set[str]:
        """Claim the pages ``keys`` (``page_key``) for ``owner`` until ``lease_seconds`` from now; returns the
        keys it holds now: the free ones, the expired ones and its own. One statement for the batch, keys in
        order (two instances claiming overlapping batches lock rows in the same order: no deadlock)."""
        if not keys:
            return set()
        now = utcnow()
        rows = [{"key": k, "owner": owner, "expires_at": now + timedelta(seconds=lease_seconds)}
                for k in sorted(set(keys))]
        table = PageClaim.__table__
        statement = insert(table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"owner": statement.excluded.owner, "expires_at": statement.excluded.expires_at},
            where=sa.or_(table.c.expires_at <= now, table.c.owner == owner),
        ).returning(table.c.key)
        with self._write() as s:
            return set(s.connection().execute(statement).scalars())

    def release_pages(self, owner: str, keys: Sequence[str]) -> None:
        """Give up ``owner``'s claims on ``keys`` (their pages are stored, or failed)."""
        if not keys:
            return
        table = PageClaim.__table__
        with self._write() as s:
            s.connection().execute(sa.delete(table).where(table.c.owner == owner, table.c.key.in_(set(keys))))

    def renew_page_claims(self, owner: str, lease_seconds: float) -> int:
        """Extend every claim ``owner`` holds (its pages are still being fetched); returns how many."""
        table = PageClaim.__table__
        with self._write() as s:
            result = s.connection().execute(
                sa.update(table).where(table.c.owner == owner)
                .values(expires_at=utcnow() + timedelta(seconds=lease_seconds))
            )
            return result.rowcount

    def release_page_claims(self, owner: str) -> None:
        """Give up every claim of ``owner`` (it stops), and clear the expired claims instances that died left."""
        table = PageClaim.__table__
        with self._write() as s:
            s.connection().execute(sa.delete(table).where(sa.or_(table.c.owner == owner,
                                                                 table.c.expires_at <= utcnow())))

    # --- host budgets --------------------------------------------------------------------------------------

    def take_host_slot(self, host: str, owner: str, gap: float, limit: int, lease_seconds: float) -> str | float:
        """A request to ``host`` may start now: a token for its slot (give it back with ``give_host_slot``), the
        host's next start moved ``gap`` seconds on. Else the seconds to wait before asking again: until the
        next start, or (every slot taken) a short while.

        The host's row is locked for the transaction (an upsert), so the instances asking for one host take
        turns; times are the database's clock. A slot whose instance died lapses after ``lease_seconds``."""
        budget, slot = HostBudget.__table__, HostSlot.__table__
        lock = insert(budget).values(host=host, next_start=0.0)
        lock = lock.on_conflict_do_update(index_elements=["host"], set_={"host": lock.excluded.host})
        with self._write() as s:
            conn = s.connection()
            next_start = conn.execute(lock.returning(budget.c.next_start)).scalar_one()
            now = conn.execute(sa.select(_DB_NOW)).scalar_one()
            if next_start > now:
                return next_start - now
            conn.execute(sa.delete(slot).where(slot.c.host == host, slot.c.expires_at <= now))
            in_flight = conn.execute(sa.select(sa.func.count()).where(slot.c.host == host)).scalar_one()
            if in_flight >= limit:
                return SLOT_RETRY
            token = uuid.uuid4().hex
            conn.execute(sa.insert(slot).values(token=token, host=host, owner=owner,
                                                expires_at=now + lease_seconds))
            conn.execute(sa.update(budget).where(budget.c.host == host).values(next_start=now + gap))
            return token

    def push_host_start(self, host: str, gap: float) -> None:
        """A request to ``host`` left late (long after its slot was given): the next start is ``gap`` from now at
        the earliest, so the host sees the gap whatever delayed this one."""
        budget = HostBudget.__table__
        with self._write() as s:
            s.connection().execute(sa.update(budget).where(budget.c.host == host).values(
                next_start=sa.func.greatest(budget.c.next_start, _DB_NOW + gap)
            ))

    def give_host_slot(self, token: str) -> None:
        """The request of ``token`` ended: its slot is free for any instance."""
        slot = HostSlot.__table__
        with self._write() as s:
            s.connection().execute(sa.delete(slot).where(slot.c.token == token))

