"""The daemon survives PostgreSQL connections dropped mid-cycle (pg_terminate_backend): the cycle stops, the
next tick polls on with new connections, nothing is stored twice, one log line per outage."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.store.engine import create_db_engine
from tests.conftest import PG_SKIP, PG_URL, _reset_postgres
from tests.newsworld import NewsServer
from tests.test_process_safety import FEEDS, PER_FEED, slow_world, wait_for

TERMINATE = sa.text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
def pg() -> Iterator[sa.Engine]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    _reset_postgres(PG_URL)
    engine = create_db_engine(PG_URL)
    yield engine
    engine.dispose()


def scalar(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def pages(engine: sa.Engine) -> int:
    try:
        return scalar(engine, "SELECT count(*) FROM article WHERE source = 'page'")
    except sa.exc.ProgrammingError:  # the daemon has not made the schema yet
        return 0


def add_slow_feeds(server: NewsServer, env: dict[str, str], delay: float) -> None:
    """The slow world's feeds added to the database ``env`` names (its pages answer after ``delay`` seconds)."""
    slow_world(server, delay=delay)
    added = subprocess.run(
        [sys.executable, "-m", "monitor", "feeds", "add", "--no-check",
         *(server.url(f"/feed{f}.xml") for f in range(FEEDS))],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert added.returncode == 0, added.stderr


def wait_all_stored(pg: sa.Engine) -> None:
    """Until every page of the slow world is stored and every feed polled."""
    wait_for(lambda: pages(pg) == FEEDS * PER_FEED, timeout=240)
    wait_for(lambda: scalar(pg, "SELECT count(*) FROM feed WHERE last_polled_at IS NOT NULL") == FEEDS,
             timeout=120)


def test_the_daemon_survives_connections_terminated_mid_cycle(
    config_file: Path, server: NewsServer, pg: sa.Engine
) -> None:
    assert PG_URL
    env = {**os.environ, "MONITOR_DATABASE_URL": PG_URL, "MONITOR_LOG_LEVEL": "INFO"}
    add_slow_feeds(server, env, delay=0.5)
    log = config_file.parent / "daemon.log"
    terminated = []
    with log.open("w") as stderr:
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=stderr)
    try:
        for stored in (5, 15, 25):  # three outages while the daemon stores pages
            wait_for(lambda stored=stored: pages(pg) >= stored, timeout=180)
            with pg.connect() as conn:
                terminated.append(conn.execute(TERMINATE).scalar_one())
        wait_all_stored(pg)
        # a cycle stopped by an outage is followed by one that ends well, which says so
        wait_for(lambda: log.read_text().count("storage failed: ") == log.read_text().count("storage works again"),
                 timeout=120)
    finally:
        daemon.terminate()
        daemon.wait(timeout=120)
    text = log.read_text()
    assert daemon.returncode == 0, text
    print(f"connections terminated: {terminated}")
    print("\n".join(line for line in text.splitlines() if "storage" in line))
    assert sum(terminated) >= 3  # the daemon's connections were there to terminate
    assert "Traceback" not in text, text
    failed, recovered = text.count("storage failed: "), text.count("storage works again")
    assert failed <= len(terminated) and recovered == failed, text  # at most one line per outage, each recovered
    # nothing stored twice, nothing blamed on the feeds
    assert pages(pg) == FEEDS * PER_FEED
    assert scalar(pg, "SELECT count(*) FROM article_source") == FEEDS * PER_FEED
    assert scalar(pg, "SELECT count(DISTINCT url) FROM article_source") == FEEDS * PER_FEED
    assert scalar(pg, "SELECT count(*) FROM feed WHERE error_count > 0 OR last_error IS NOT NULL") == 0
