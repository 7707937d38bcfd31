"""A storage fault is not the feeds' fault: a full disk stops the cycle without touching the feeds' schedules,
says so in one line, and the next cycle after the disk is freed stores every page. A read-only database folder
is a one-line error too.

Two ways to fill the database: SQLite's ``PRAGMA max_page_count`` (in-process, anywhere: SQLite answers
"database or disk is full" exactly as on a full disk), and, as root, a real full tmpfs under a real daemon."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.core.config import Settings
from monitor.ingest.pipeline import StorageFault
from monitor.service.app import App
from monitor.store import Store
from monitor.store.engine import create_db_engine, migrate
from tests.conftest import run_cycle
from tests.newsworld import Item, NewsServer, article_page, article_text, rss
from tests.test_faults import one_line_error
from tests.test_process_safety import count, wait_for

PAGES = 12
PAGE_ARTICLES = "SELECT count(*) FROM article WHERE source = 'page'"


def big_world(server: NewsServer, feeds: int = 2) -> list[str]:
    """``feeds`` feeds of PAGES long pages each."""
    urls = []
    for f in range(feeds):
        items = []
        for i in range(PAGES):
            n = f * 100 + i
            server.static(f"/news/{n}", article_page(f"Story {n}", article_text(n, paragraphs=30)))
            items.append(Item(f"Story {n}", server.url(f"/news/{n}"), f"g{n}"))
        server.static(f"/feed{f}.xml", rss(items), "application/rss+xml")
        urls.append(server.url(f"/feed{f}.xml"))
    return urls


def schedules(db: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute(
            "SELECT url, error_count, last_error, next_poll_at, last_polled_at, lease_owner FROM feed ORDER BY url"
        ).fetchall()


class PageLimit:
    """SQLite's max_page_count on every connection of an engine: the database is "full" at ``pages``."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.pages = engine, None
        sa.event.listen(engine, "connect", self._apply)

    def _apply(self, dbapi_connection: Any, _record: Any) -> None:
        if self.pages is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {self.pages}")

    def set(self, pages: int | None) -> None:
        self.pages = pages
        self.engine.dispose()  # pooled connections keep the old limit
        if pages is None:
            with self.engine.connect() as conn:  # back to SQLite's default
                conn.exec_driver_sql("PRAGMA max_page_count = 4294967294")


@pytest.fixture
def sqlite_app(settings: Settings, tmp_path: Path) -> Iterator[tuple[App, PageLimit, Path]]:
    db = tmp_path / "store.db"
    engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)
    limit = PageLimit(engine)
    yield App(settings, Store(engine)), limit, db
    engine.dispose()


def test_a_full_database_stops_the_cycle_and_leaves_the_feeds_schedules_alone(
    sqlite_app: tuple[App, PageLimit, Path], server: NewsServer
) -> None:
    app, limit, db = sqlite_app
    for url in big_world(server):
        app.store.add_feed(url)
    before = schedules(db)
    with closing(sqlite3.connect(db)) as conn:
        used = conn.execute("PRAGMA page_count").fetchone()[0]
    limit.set(used + 3)  # room for a few pages, not for two feeds of long articles

    with pytest.raises(StorageFault) as fault:
        run_cycle(app)
    assert str(fault.value).startswith("storage failed: database or disk is full; the polling cycle stopped")
    assert schedules(db) == before  # no error counted, no back-off, no claim left behind
    assert count(db, "SELECT count(*) FROM fetch_log") == 0

    limit.set(None)  # the disk is freed: the next cycle stores every page
    summary = run_cycle(app)
    assert summary.feeds == 2 and summary.outcomes == {"ok": 2} and summary.errors == []
    assert count(db, PAGE_ARTICLES) == 2 * PAGES
    assert count(db, "SELECT count(DISTINCT url) FROM article_source") == 2 * PAGES
    assert [row[1:3] for row in schedules(db)] == [(0, None)] * 2
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- a real read-only or full file system (a small tmpfs), as root ---------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, unmounted after the test whatever happens (root only)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a real read-only or full file system needs root (mount -t tmpfs); the lock and "
                    "max_page_count tests cover the logic")
    where = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_lock_file_that_cannot_be_opened_is_a_one_line_error(config_file: Path) -> None:
    """Simulated without root: the lock path is a folder (opening it raises OSError, as a read-only mount does)."""
    lock = config_file.parent / "monitor.db.lock"
    lock.mkdir()
    for command in (["poll", "--once"], ["run"]):
        error = one_line_error(command, {"MONITOR_LOG_LEVEL": "ERROR"})
        assert error == f"monitor: error: cannot open the polling lock {lock}: Is a directory (the database's " \
            "folder must be writable by the poller: SQLite writes its journal there too)"


def test_polling_a_database_on_a_read_only_mount_is_a_one_line_error(config_file: Path, small_disk: Path) -> None:
    """A real read-only file system: a tmpfs remounted read-only once the database is made."""
    env = {"MONITOR_DATABASE_URL": f"sqlite:///{small_disk / 'monitor.db'}", "MONITOR_LOG_LEVEL": "ERROR"}
    made = subprocess.run([sys.executable, "-m", "monitor", "feeds", "list"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    for command in (["poll", "--once"], ["run"]):
        error = one_line_error(command, env)
        assert error.startswith(f"monitor: error: cannot open the polling lock {small_disk}/monitor.db.lock: "
                                "Read-only file system"), error


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` to ``leave`` bytes of free space with a padding file."""
    pad = disk / "padding"
    free = shutil.disk_usage(disk).free
    with pad.open("wb") as fh:
        fh.truncate(0)
    fd = os.open(pad, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, max(free - leave, 0))
    finally:
        os.close(fd)
    return pad


def test_a_full_disk_under_the_daemon_is_one_log_line_then_polling_resumes(
    config_file: Path, server: NewsServer, small_disk: Path
) -> None:
    db = small_disk / "monitor.db"
    env = {**os.environ, "MONITOR_DATABASE_URL": f"sqlite:///{db}", "MONITOR_IMPORT_SEEDS": "false",
           "MONITOR_LOG_LEVEL": "INFO"}
    urls = big_world(server)
    added = subprocess.run([sys.executable, "-m", "monitor", "feeds", "add", "--no-check", *urls], env=env,
                           capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = schedules(db)
    pad = fill(small_disk, leave=48 * 1024)

    # poll --once: one line, no traceback, the feeds untouched
    poll = subprocess.run([sys.executable, "-m", "monitor", "poll", "--once"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert poll.returncode == 2 and "Traceback" not in poll.stderr, poll.stderr
    assert poll.stderr.strip().splitlines()[-1].startswith(
        "monitor: error: storage failed: database or disk is full; the polling cycle stopped"), poll.stderr
    # the schedules as they were; the claims may stay (nothing could be written): the next poller clears them
    assert [row[:5] for row in schedules(db)] == [row[:5] for row in before]
    print(poll.stderr)

    log = config_file.parent / "daemon.log"
    with log.open("w") as stderr:
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=stderr)
    try:
        wait_for(lambda: "storage failed: database or disk is full" in log.read_text(), timeout=120)
        first_fault = datetime.now()
        wait_for(lambda: (datetime.now() - first_fault).total_seconds() > 3, timeout=10)  # several ticks
        assert [row[1:3] for row in schedules(db)] == [(0, None)] * 2  # never blamed on the feeds
        pad.unlink()  # the disk is freed: the next tick polls again and stores every page
        wait_for(lambda: count(db, PAGE_ARTICLES) == 2 * PAGES, timeout=180)
        wait_for(lambda: "storage works again: polling resumed" in log.read_text(), timeout=60)
    finally:
        daemon.terminate()
        daemon.wait(timeout=120)
    text = log.read_text()
    assert daemon.returncode == 0, text
    assert "Traceback" not in text, text
    assert text.count("storage failed: database or disk is full") == 1, text
    assert "feed poll failed" not in text, text
    assert count(db, "SELECT count(DISTINCT url) FROM article_source") == 2 * PAGES
    assert [row[1:3] for row in schedules(db)] == [(0, None)] * 2
