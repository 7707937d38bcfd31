"""Several instances: refused on one SQLite file; on one PostgreSQL they divide the work (real processes, loopback
servers counting every request), and the feeds of an instance killed with SIGKILL are taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.instances import run_fleet, run_takeover
from tests.conftest import PG_SKIP, PG_URL
from tests.newsworld import NewsServer, Reply
from tests.test_process_safety import FEEDS, PER_FEED, add_feeds, count, slow_world, wait_for


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120)


def start(config_file: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """A `monitor` process logging to a file (a full pipe would block its DEBUG logging)."""
    log = (config_file.parent / f"{args[0]}-{len(os.listdir(config_file.parent))}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, **env})
    log.close()
    return proc


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def test_second_poller_on_one_sqlite_file_is_refused(config_file: Path, server: NewsServer) -> None:
    db = config_file.parent / "monitor.db"
    slow_world(server, delay=0.3)
    add_feeds(*(server.url(f"/feed{f}.xml") for f in range(FEEDS)))
    lock = config_file.parent / "monitor.db.lock"
    # a poll killed mid-cycle leaves its claims on the feeds; the lock ends with it
    poll = start(config_file, "poll", "--once")
    try:
        wait_for(lambda: any(r.path.startswith("/news/") for r in server.requests))
    finally:
        stop(poll, signal.SIGKILL)
    assert count(db, "SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL") > 0
    daemon = start(config_file, "run")
    try:
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(daemon.pid))
        for args in (("poll", "--once"), ("run",)):
            refused = monitor(*args)
            assert refused.returncode == 2, refused.stderr
            assert refused.stderr.count("\n") == 1, refused.stderr
            assert refused.stderr.startswith(f"monitor: error: another monitor process (pid {daemon.pid}) is polling")
        assert monitor("feeds", "list").returncode == 0, "commands that do not poll are not refused"
        # the sole poller of the file cleared the dead poll's claims: every feed is polled, every article stored
        wait_for(lambda: count(db, "SELECT count(*) FROM article WHERE source = 'page'") == FEEDS * PER_FEED
                 and count(db, "SELECT count(*) FROM feed WHERE last_polled_at IS NULL") == 0, timeout=240)
    finally:
        stop(daemon)
    assert daemon.returncode == 0


def test_poll_one_feed_now_resets_its_back_off(config_file: Path, server: NewsServer) -> None:
    slow_world(server, delay=0.0)
    url = server.url("/feed0.xml")
    add_feeds(url)
    working = server.routes["/feed0.xml"]
    server.route("/feed0.xml", lambda _r: Reply(503, b"down"))
    assert monitor("poll", "--once").returncode == 0
    [feed] = [json.loads(line) for line in monitor("feeds", "list", "--json").stdout.splitlines()]
    assert feed["error_count"] == 1, "backing off"
    server.routes["/feed0.xml"] = working
    polls = len(server.hits("/feed0.xml"))
    nothing = json.loads(monitor("poll", "--once", "--json", "--feed", url).stdout)
    assert nothing["feeds"] == 0 and len(server.hits("/feed0.xml")) == polls, "not due"
    forced = monitor("poll", "--once", "--json", "--feed", url, "--now")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["outcomes"] == {"ok": 1} and len(server.hits("/feed0.xml")) == polls + 1
    [feed] = [json.loads(line) for line in monitor("feeds", "list", "--json").stdout.splitlines()]
    assert feed["error_count"] == 0 and feed["last_error"] is None
    unknown = monitor("poll", "--once", "--feed", server.url("/nope.xml"), "--now")
    assert unknown.returncode == 2 and unknown.stderr.startswith("monitor: error: no such feed")
    bare = monitor("poll", "--once", "--now")
    assert bare.returncode == 2 and "--now needs --feed" in bare.stderr


needs_pg = pytest.mark.skipif(not PG_URL, reason=PG_SKIP)


@needs_pg
@pytest.mark.timeout(900)
@pytest.mark.parametrize("count", [2, 3])
def test_instances_divide_the_work(tmp_path: Path, count: int) -> None:
    assert PG_URL
    figures = run_fleet(PG_URL, tmp_path, count)
    print(figures.line())
    assert set(figures.page_requests.values()) == {1}, "every page fetched once"
    assert set(figures.feed_requests.values()) == {1}, "every feed fetched once"
    assert set(figures.polls_per_feed.values()) == {1}, "no feed polled twice within one interval"
    assert figures.articles == figures.sightings == figures.pages, "nothing lost or doubled"
    assert sum(figures.pollers.values()) == len(figures.feed_requests)
    assert sum(1 for n in figures.pollers.values() if n) >= 2, f"the work was shared: {figures.pollers}"


@needs_pg
@pytest.mark.timeout(900)
def test_feeds_of_a_killed_instance_are_taken_over_after_the_lease(tmp_path: Path) -> None:
    assert PG_URL
    lease = 4.0
    result = run_takeover(PG_URL, tmp_path, lease=lease)
    print(result.line())
    assert result.victim_feeds, "the kill came too late to test anything"
    # the claims expire after the lease; the survivor's next tick (0.5 s) takes them (generous on a loaded machine)
    assert result.first_taken <= lease + 30
    assert result.articles == result.sightings == result.pages, "nothing lost or doubled"
    assert set(result.polls_per_feed.values()) == {1}


def test_stats_lists_live_instances(config_file: Path, server: NewsServer) -> None:
    daemon = start(config_file, "run", MONITOR_INSTANCE_NAME="alpha")
    try:
        wait_for(lambda: "instance: alpha" in monitor("stats").stdout)
        [instance] = json.loads(monitor("stats", "--json").stdout)["instances"]
        assert instance["id"] == "alpha" and instance["pid"] == daemon.pid
    finally:
        stop(daemon)
    assert any("instance=alpha" in log.read_text() for log in config_file.parent.glob("run-*.log"))
    assert json.loads(monitor("stats", "--json").stdout)["instances"] == [], "a clean stop removes it"
