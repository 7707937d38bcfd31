"""The daemon survives PostgreSQL becoming unreachable for a while: it reaches the database through a loopback
TCP proxy (tests/tcpproxy.py) that twice drops every connection mid-cycle and resets new ones until it is
brought back. The daemon reconnects, the interrupted cycle is retried, nothing is stored twice or lost, the feeds
are not blamed, and each outage is one log line when it starts and one when it ends — no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.newsworld import NewsServer
from tests.tcpproxy import TcpProxy
from tests.test_pg_reconnect import add_slow_feeds, pages, pg, scalar, wait_all_stored  # noqa: F401 (pg)
from tests.test_process_safety import FEEDS, PER_FEED, wait_for

OUTAGES = (5, 20)  # pages stored when the database goes away
REFUSED_WHILE_DOWN = 20  # connection attempts reset before it comes back: the daemon kept trying


@pytest.fixture
def proxy(pg: sa.Engine) -> Iterator[TcpProxy]:  # noqa: F811
    url = sa.make_url(PG_URL or "")
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


def test_the_daemon_waits_out_an_unreachable_database_and_loses_nothing(
    config_file: Path, server: NewsServer, pg: sa.Engine, proxy: TcpProxy  # noqa: F811
) -> None:
    via_proxy = sa.make_url(PG_URL or "").set(host=proxy.host, port=proxy.port)
    env = {**os.environ, "MONITOR_DATABASE_URL": via_proxy.render_as_string(hide_password=False),
           "MONITOR_LOG_LEVEL": "INFO"}
    add_slow_feeds(server, env, delay=0.3)
    log = config_file.parent / "daemon.log"
    with log.open("w") as stderr:
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=stderr)
    try:
        for n, stored in enumerate(OUTAGES, 1):
            wait_for(lambda stored=stored: pages(pg) >= stored, timeout=180)
            proxy.down()
            refused = proxy.refused
            wait_for(lambda n=n: log.read_text().count("storage failed: ") >= n, timeout=120)
            wait_for(lambda refused=refused: proxy.refused >= refused + REFUSED_WHILE_DOWN, timeout=120)
            proxy.up()
            wait_for(lambda n=n: log.read_text().count("storage works again") >= n, timeout=120)
        wait_all_stored(pg)
    finally:
        daemon.terminate()
        daemon.wait(timeout=120)
    text = log.read_text()
    assert daemon.returncode == 0, text
    said = [line for line in text.splitlines() if line.split()[1:2] != ["INFO"] or "again" in line]
    print("\n".join(said))
    assert "Traceback" not in text, text
    # one line as each outage starts, one as it ends
    assert text.count("storage failed: ") == text.count("storage works again") == len(OUTAGES), text
    assert len([line for line in said if line.split()[1:2] in (["WARNING"], ["ERROR"])]) == len(OUTAGES), said
    # nothing stored twice, nothing lost, nothing blamed on the feeds
    assert pages(pg) == FEEDS * PER_FEED
    assert scalar(pg, "SELECT count(*) FROM article_source") == FEEDS * PER_FEED
    assert scalar(pg, "SELECT count(DISTINCT url) FROM article_source") == FEEDS * PER_FEED
    assert scalar(pg, "SELECT count(*) FROM feed WHERE error_count > 0 OR last_error IS NOT NULL") == 0
