"""Faults around the core: a killed parent, decompression bombs against a whole process, a failing
heartbeat, empty bodies, a corrupt database. Real processes, real loopback servers."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from benchmarks.procwatch import run_watched
from monitor.core.errors import DatabaseError
from monitor.service.app import App
from monitor.service.health import heartbeat_age, write_heartbeat
from monitor.store import Store
from monitor.store.engine import check_sqlite_file, create_db_engine, migrate
from tests.conftest import run_cycle
from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, rss
from tests.test_guard import MB, bomb
from tests.test_ops import free_port, get
from tests.test_pipeline import feed_row, make_due
from tests.test_process_safety import FEEDS, add_feeds, count, slow_world, wait_for


def _processes() -> dict[int, tuple[int, str]]:
    """Every live process: pid → (parent pid, state); zombies count as gone."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        if fields[0] not in (b"Z", b"X"):
            found[int(entry)] = (int(fields[1]), fields[0].decode())
    return found


def descendants(pid: int) -> set[int]:
    procs = _processes()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {p for p, (ppid, _state) in procs.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


@pytest.mark.parametrize("command", [["poll", "--once"], ["run"]])
def test_workers_forkserver_and_resource_tracker_end_when_monitor_is_killed(
    config_file: Path, server: NewsServer, command: list[str]
) -> None:
    slow_world(server, delay=0.3)
    add_feeds(*(server.url(f"/feed{f}.xml") for f in range(FEEDS)))
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *command],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: set[int] = set()
    try:
        # resource tracker, forkserver and the two workers
        wait_for(lambda: len(descendants(proc.pid)) >= 4 and any("/news/" in r.path for r in server.requests))
        tree = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        proc.wait()
        wait_for(lambda: not tree & set(_processes()), timeout=60)
        print(f"{len(tree)} descendants gone {time.monotonic() - killed:.2f}s after SIGKILL")
    finally:
        proc.kill()
        for pid in tree & set(_processes()):
            os.kill(pid, signal.SIGKILL)


def test_decompression_bombs_cost_the_poll_no_memory(config_file: Path, server: NewsServer) -> None:
    """Feeds and pages that decode to 512 MB each, gzip/deflate/brotli and stacked: the poll's peak RSS
    stays far below that, the bombs fail as too_large and the ordinary feed is stored in full."""
    feed_bombs = ["gzip, gzip", "br", "deflate", "br, gzip"]
    for n, encoding in enumerate(feed_bombs):
        body = bomb(encoding)
        server.route(f"/bomb{n}.xml", lambda _, body=body, encoding=encoding: Reply(
            200, body, {"Content-Type": "application/rss+xml", "Content-Encoding": encoding}))
    page_bombs = ["gzip, gzip", "br", "gzip, br"]
    items = []
    for n, encoding in enumerate(page_bombs):
        body = bomb(encoding)
        server.route(f"/news/bomb{n}", lambda _, body=body, encoding=encoding: Reply(
            200, body, {"Content-Type": "text/html", "Content-Encoding": encoding}))
        items.append(Item(f"Bomb {n}", server.url(f"/news/bomb{n}"), f"b{n}", description=article_text(n)[0]))
    server.static("/pages.xml", rss(items), "application/rss+xml")
    fine = []
    for n in range(3):
        server.static(f"/news/{n}", article_page(f"Story {n}", article_text(10 + n)))
        fine.append(Item(f"Story {n}", server.url(f"/news/{n}"), f"g{n}"))
    server.static("/fine.xml", rss(fine), "application/rss+xml")
    urls = [server.url(f"/bomb{n}.xml") for n in range(len(feed_bombs))]
    add_feeds(*urls, server.url("/pages.xml"), server.url("/fine.xml"))

    watched = run_watched([sys.executable, "-m", "monitor", "poll", "--once", "--json"], dict(os.environ), timeout=240)
    assert watched.returncode == 0, watched.stderr
    summary = json.loads(watched.stdout)
    assert summary["articles_new"] == 6  # three ordinary pages, three bomb entries from the feed's text
    assert sorted(e["feed"] for e in summary["errors"]) == sorted(urls)
    assert all(e["error"].startswith("too_large: ") for e in summary["errors"]), summary["errors"]
    print(f"peak RSS: main process {watched.peak_rss_main / MB:.0f} MB, largest worker "
          f"{watched.peak_rss_worker / MB:.0f} MB")
    assert watched.peak_rss_main < 300 * MB


@pytest.mark.parametrize(("body", "error"), [
    (b"", "empty: HTTP 200 with an empty body"),
    (b"  \r\n", "empty: HTTP 200 with an empty body"),
    (b"<html><body><p>Moved to our new site</p></body></html>", "parse: not a feed"),
])
def test_an_empty_or_non_feed_body_is_an_error_every_time(
    app: App, server: NewsServer, body: bytes, error: str
) -> None:
    server.route("/feed.xml", lambda _: Reply(200, body, {"Content-Type": "text/html"}))
    app.store.add_feed(server.url("/feed.xml"))
    for polls in (1, 2, 3):
        summary = run_cycle(app)
        assert summary.outcomes == {"error": 1} and summary.errors[0][1].startswith(error)
        feed = feed_row(app.store, server.url("/feed.xml"))
        assert feed.error_count == polls and (feed.last_error or "").startswith(error)
        make_due(app.store)


def test_daemon_polls_on_when_its_heartbeat_cannot_be_written(config_file: Path, server: NewsServer) -> None:
    blocker = config_file.parent / "not-a-directory"
    blocker.write_text("")
    port = free_port()
    env = {**os.environ, "MONITOR_HEARTBEAT_FILE": str(blocker / "heartbeat"), "MONITOR_IMPORT_SEEDS": "false",
           "MONITOR_POLL_INTERVAL": "1", "MONITOR_METRICS_ENABLED": "true", "MONITOR_METRICS_PORT": str(port)}
    items = [Item(f"Story {n}", server.url(f"/news/{n}"), f"g{n}") for n in (1, 2)]
    for n in (1, 2):
        server.static(f"/news/{n}", article_page(f"Story {n}", article_text(n)))
    feed = server.static("/feed.xml", rss(items[:1]), "application/rss+xml")
    add_feeds(server.url("/feed.xml"))
    log = config_file.parent / "daemon.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, stderr=stderr)
    try:
        db = config_file.parent / "monitor.db"
        wait_for(lambda: count(db, "SELECT count(*) FROM article WHERE source = 'page'") == 1)
        feed.set(rss(items))  # a later tick polls again and finds it
        wait_for(lambda: count(db, "SELECT count(*) FROM article WHERE source = 'page'") == 2)
        health = subprocess.run([sys.executable, "-m", "monitor", "health"], env=env, capture_output=True, text=True)
        healthz = get(f"http://127.0.0.1:{port}/healthz")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert proc.returncode == 0
    text = log.read_text()
    assert text.count("cannot write the heartbeat") == 1 and "Traceback" not in text, text
    assert health.returncode == 1 and "no heartbeat at" in health.stderr
    assert healthz is not None and healthz.status_code == 503 and "cannot write the heartbeat" in healthz.text


def test_writers_sharing_a_heartbeat_do_not_trip_over_each_other(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"

    def beat() -> None:
        for _ in range(300):
            write_heartbeat(path)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(beat) for _ in range(4)]:
            future.result()
    assert heartbeat_age(path) is not None and [p.name for p in tmp_path.iterdir()] == ["heartbeat"]


def test_a_corrupt_sqlite_file_is_refused_and_never_written(config_file: Path, server: NewsServer) -> None:
    db = config_file.parent / "monitor.db"
    add_feeds(server.url("/feed.xml"))
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # 8 KiB of noise over pages of the article table's b-tree (noise in an overflow page of a long text, or
        # in an index's blob, is only data to SQLite: its checks read the structure)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'article' AND pagetype = 'leaf'")]
    with db.open("r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * page_size)
        fh.write(random.Random(13).randbytes(8192))
    # the damage is real
    with closing(sqlite3.connect(db)) as conn, pytest.raises(sqlite3.DatabaseError, match="malformed"):
        conn.execute("PRAGMA quick_check").fetchall()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (["stats"], ["articles", "list"], ["feeds", "add", server.url("/other.xml")], ["poll", "--once"],
                 ["health"]):
        result = subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True)
        lines = result.stderr.strip().splitlines()
        # health answers 0 or 1 only (Docker's HEALTHCHECK reserves 2), as "unhealthy: <the reason>"
        code, prefix = (1, "unhealthy: ") if args == ["health"] else (2, "monitor: error: ")
        assert result.returncode == code and len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith(f"{prefix}database file {db} is corrupt") and ".recover" in lines[0]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert server.requests == []


def test_a_passed_check_is_kept_until_the_file_or_its_log_changes(tmp_path: Path) -> None:
    """The quick_check reads the whole file: its verdict is kept beside the database and trusted while the file
    and its write-ahead log are as they were; any write (ours or another program's) brings the check back."""
    db = tmp_path / "monitor.db"
    engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)  # a new file: nothing to check before, created by the migration
    assert check_sqlite_file(engine) is True and (tmp_path / "monitor.db.checked").is_file()
    assert check_sqlite_file(engine) is False  # unchanged: the verdict stands
    Store(engine).set_state("probe", "1")  # a write lands in the log
    assert check_sqlite_file(engine) is True and check_sqlite_file(engine) is False
    engine.dispose()  # the last connection checkpoints the log into the file and removes it
    assert check_sqlite_file(engine) is True and check_sqlite_file(engine) is False
    with closing(sqlite3.connect(db)) as conn:  # another program: same size, new content
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'feed' AND pagetype = 'leaf'")]
    with db.open("r+b") as fh:
        fh.seek((pages[0] - 1) * page_size)
        fh.write(random.Random(7).randbytes(page_size))
    with pytest.raises(DatabaseError, match="is corrupt"):
        check_sqlite_file(engine)
    assert not (tmp_path / "monitor.db.checked").exists()
    with pytest.raises(DatabaseError, match="is corrupt"):  # and it stays refused
        check_sqlite_file(engine)


def test_a_file_that_is_not_a_database_is_refused(config_file: Path) -> None:
    db = config_file.parent / "monitor.db"
    db.write_bytes(b"this is not an SQLite database, it is a note left by someone\n" * 100)
    result = subprocess.run([sys.executable, "-m", "monitor", "stats"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith(f"monitor: error: database file {db} is corrupt")


def test_two_processes_setting_a_new_state_key_at_once_do_not_collide(db_url: str) -> None:
    """Two `poll --once` on one new database both record the first `last_poll` at the end of their cycle."""
    stores = [Store(create_db_engine(db_url)) for _ in range(2)]
    migrate(stores[0].engine)
    barrier = threading.Barrier(2)

    def set_keys(store: Store) -> None:
        for n in range(30):
            barrier.wait(timeout=60)
            store.set_state(f"key{n}", str(n))

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(set_keys, store) for store in stores]:
            future.result()
    assert [stores[1].get_state(f"key{n}") for n in range(30)] == [str(n) for n in range(30)]
    for store in stores:
        store.engine.dispose()


def one_line_error(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("monitor: error: "), result.stderr
    return lines[0]


def test_setup_mistakes_are_one_line_errors(config_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[tags.x\n")
    quiet = {"MONITOR_LOG_LEVEL": "ERROR"}
    assert f"cannot create the folder {blocker}" in one_line_error(
        ["stats"], {"MONITOR_DATABASE_URL": f"sqlite:///{blocker}/sub/monitor.db"})
    assert "tagging config" in one_line_error(["poll", "--once"], {"MONITOR_TAGGING_TAGS_FILE": "/nonexistent.toml"})
    assert "tagging config" in one_line_error(["stats"], {"MONITOR_TAGGING_OFFICIALS_FILE": str(bad_toml)})
    # (a config that sets no tagging file falls back to the packaged ones: tests/test_config.py)
    assert "tagging config" in one_line_error(["poll", "--once"], {"MONITOR_TAGGING_MODEL_FILE": "/nonexistent.json"})
    assert str(blocker) in one_line_error(["export", str(blocker)], quiet)
    assert "/proc/version/out" in one_line_error(["export", "/proc/version/out"], quiet)


def test_an_existing_database_with_broken_tag_rules_refuses_to_poll(config_file: Path, server: NewsServer) -> None:
    server.static("/feed.xml", rss([]), "application/rss+xml")
    add_feeds(server.url("/feed.xml"))
    error = one_line_error(["poll", "--once"], {"MONITOR_TAGGING_TAGS_FILE": "/nonexistent.toml"})
    assert "/nonexistent.toml" in error and server.requests == []


def test_a_subscription_naming_an_unknown_tag_is_refused(config_file: Path) -> None:
    config_file.write_text(config_file.read_text() + '\n[[subscriptions]]\nname = "war"\n'
                           'recipients = ["analyst@example.org"]\ntags = ["ukraine-war", "ukriane-war"]\n')
    error = one_line_error(["stats"], {"MONITOR_LOG_LEVEL": "ERROR"})
    assert "subscription 'war' names unknown tag(s) ukriane-war" in error and "ukraine-war" in error


def test_a_cycle_where_no_feed_can_be_reached_says_the_network_looks_unreachable(
    app: App, server: NewsServer
) -> None:
    closed = [f"http://127.0.0.1:{free_port()}/feed{n}.xml" for n in range(2)]  # nothing listens there
    for url in closed:
        app.store.add_feed(url)
    summary = run_cycle(app)
    assert summary.feeds == 2 and summary.outcomes["error"] == 2
    why = summary.unreachable()
    assert why is not None and "failed to resolve or connect" in why and summary.as_dict()["network_unreachable"]
    server.static("/feed.xml", rss([]), "application/rss+xml")  # one feed that answers: the feeds' own errors
    app.store.add_feed(server.url("/feed.xml"))
    make_due(app.store)
    assert run_cycle(app).unreachable() is None
