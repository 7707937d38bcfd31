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
SLOT_RETRY = 0.02  # seconds before asking again for a host whose every slot is taken, or whose last start is leaving


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

    def renew_claims(self, owner: str, lease_seconds: float) -> None:
        """Extend every claim ``owner`` holds, on pages and host slots (its requests are still running)."""
        pages, slots = PageClaim.__table__, HostSlot.__table__
        with self._write() as s:
            conn = s.connection()
            conn.execute(sa.update(pages).where(pages.c.owner == owner)
                         .values(expires_at=utcnow() + timedelta(seconds=lease_seconds)))
            conn.execute(sa.update(slots).where(slots.c.owner == owner).values(expires_at=_DB_NOW + lease_seconds))

    def release_claims(self, owner: str) -> None:
        """Give up every claim of ``owner`` on pages and host slots (it stops), and clear the expired page claims
        instances that died left."""
        pages, slots = PageClaim.__table__, HostSlot.__table__
        with self._write() as s:
            conn = s.connection()
            conn.execute(sa.delete(pages).where(sa.or_(pages.c.owner == owner, pages.c.expires_at <= utcnow())))
            conn.execute(sa.delete(slots).where(slots.c.owner == owner))

    # --- host budgets --------------------------------------------------------------------------------------

    def take_host_slot(self, host: str, owner: str, gap: float, limit: int, lease_seconds: float) -> str | float:
        """A request to ``host`` may start now: a token for its slot (``sent_on_host_slot`` once its headers left,
        ``give_host_slot`` when it ended). Else the seconds to wait before asking again: until the next start,
        or a short while when every slot is taken or the start given last has not left yet (the gap counts from
        when it leaves: a request delayed between its start and the wire does not bring the next one closer).

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
            in_flight, unsent = conn.execute(
                sa.select(sa.func.count(), sa.func.count().filter(slot.c.sent.is_(False))).where(slot.c.host == host)
            ).one()
            if unsent or in_flight >= limit:
                return SLOT_RETRY
            token = uuid.uuid4().hex
            conn.execute(sa.insert(slot).values(token=token, host=host, owner=owner, sent=False,
                                                expires_at=now + lease_seconds))
            conn.execute(sa.update(budget).where(budget.c.host == host).values(next_start=now + gap))
            return token

    def sent_on_host_slot(self, token: str, host: str, gap: float) -> None:
        """The headers of ``token``'s request left: the host's next start is ``gap`` from now (at the earliest)."""
        slot = HostSlot.__table__
        with self._write() as s:
            conn = s.connection()
            conn.execute(sa.update(slot).where(slot.c.token == token).values(sent=True))
            self._push_next_start(conn, host, gap)

    def give_host_slot(self, token: str, host: str, gap: float | None) -> None:
        """The request of ``token`` ended: its slot is free for any instance. ``gap``: its headers had left, and
        the host's next start is at least ``gap`` from now (whether or not ``sent_on_host_slot`` came first)."""
        slot = HostSlot.__table__
        with self._write() as s:
            conn = s.connection()
            conn.execute(sa.delete(slot).where(slot.c.token == token))
            if gap is not None:
                self._push_next_start(conn, host, gap)

    @staticmethod
    def _push_next_start(conn: sa.Connection, host: str, gap: float) -> None:
        budget = HostBudget.__table__
        conn.execute(sa.update(budget).where(budget.c.host == host).values(
            next_start=sa.func.greatest(budget.c.next_start, _DB_NOW + gap)
        ))
