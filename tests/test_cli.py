"""The command line, run as a user runs it: a real process, a real database, a loopback server."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.ingest.seeds import packaged_seed_dir
from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, rss
from tests.test_alerts_daemon import WAR_PAGE

SEED_IDS = sorted(p.stem.split("_")[1] for p in packaged_seed_dir().glob("*.txt"))


def monitor(
    *args: str, check: bool = True, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def serve_world(server: NewsServer, feeds: int = 2, per_feed: int = 3) -> list[str]:
    urls = []
    for f in range(feeds):
        items = []
        for i in range(per_feed):
            n = f * 100 + i
            server.static(f"/news/{n}", article_page(f"Story {n}", article_text(n)))
            items.append(Item(f"Story {n}", server.url(f"/news/{n}"), f"g{n}"))
        server.static(f"/feed{f}.xml", rss(items), "application/rss+xml")
        urls.append(server.url(f"/feed{f}.xml"))
    return urls


def test_version() -> None:
    assert monitor("--version").stdout.startswith("monitor, version ")


def test_poll_once_and_articles(config_file: Path, server: NewsServer) -> None:
    urls = serve_world(server)
    server.route("/missing.xml", lambda r: Reply(404))
    monitor("feeds", "add", *urls)
    monitor("feeds", "add", "--no-check", server.url("/missing.xml"))

    out = monitor("poll", "--once").stdout

    assert "polled 3 feeds" in out and "6 new" in out
    assert f"error: {server.url('/missing.xml')}: http: HTTP 404" in out
    lines = [json.loads(line) for line in monitor("articles", "list", "--json").stdout.splitlines()]
    assert len(lines) == 9  # six articles and the three seeds
    story = next(a for a in lines if a["title"] == "Story 101")
    for key in ("id", "url", "urls", "title", "published", "feed", "source", "text", "tags"):
        assert key in story
    assert story["urls"] == [server.url("/news/101")] and story["feed"] == urls[1] and story["source"] == "page"
    assert sorted(a["id"] for a in lines if a["source"] == "seed") == SEED_IDS

    limited = monitor("articles", "list", "--feed", urls[0], "--limit", "2", "--json").stdout.splitlines()
    assert len(limited) == 2
    assert monitor("articles", "list", "--since", "2999-01-01").stdout == ""
    shown = monitor("articles", "show", story["id"]).stdout
    assert "Story 101" in shown and server.url("/news/101") in shown

    stats = monitor("stats").stdout
    assert "feeds: 3 (3 enabled, 1 failing)" in stats and "articles: 9" in stats
    assert "HTTP 404" in monitor("feeds", "list").stdout


def test_feed_management(config_file: Path, tmp_path: Path) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="Group">'
        '<outline text="A &amp; B" xmlUrl="http://127.0.0.2:1/a.xml"/></outline>'
        '<outline text="C" xmlUrl="http://127.0.0.2:1/c.xml"/></body></opml>'
    )
    assert "imported 2 new feeds" in monitor("feeds", "import", str(opml)).stdout
    assert "already present" in monitor("feeds", "add", "http://127.0.0.2:1/a.xml").stdout
    listed = [json.loads(x) for x in monitor("feeds", "list", "--json").stdout.splitlines()]
    assert [f["url"] for f in listed] == ["http://127.0.0.2:1/a.xml", "http://127.0.0.2:1/c.xml"]
    assert listed[0]["title"] == "A & B"
    exported = monitor("feeds", "export").stdout
    assert 'xmlUrl="http://127.0.0.2:1/c.xml"' in exported and "A &amp; B" in exported
    monitor("feeds", "remove", "http://127.0.0.2:1/a.xml")
    assert "a.xml" not in monitor("feeds", "list").stdout


def test_seed_export_round_trip(config_file: Path, server: NewsServer, tmp_path: Path) -> None:
    monitor("feeds", "add", *serve_world(server, feeds=1))
    monitor("poll", "--once")
    out = tmp_path / "export"
    assert "exported 6 articles" in monitor("export", str(out)).stdout
    files = sorted(p.name for p in out.glob("*.txt"))
    assert [f.split("_")[1][:-4] for f in files[:3]] == [
        p.stem.split("_")[1] for p in sorted(packaged_seed_dir().glob("*.txt"))
    ]
    assert [f[:3] for f in files] == ["000", "001", "002", "003", "004", "005"]
    for seed in packaged_seed_dir().glob("*.txt"):
        assert (out / seed.name).read_bytes() == seed.read_bytes()
    index = [json.loads(x) for x in (out / "index.jsonl").read_text().splitlines()]
    assert [i["file"] for i in index] == files

    fresh = {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "MONITOR_IMPORT_SEEDS": "false"}
    first = monitor("seed", str(out), env=fresh).stdout
    assert "imported 6 articles, 0 already present" in first and "added 1 feed the articles were seen in" in first
    assert "imported 0 articles, 6 already present" in monitor("seed", str(out), env=fresh).stdout
    again = tmp_path / "again"
    monitor("export", str(again), env=fresh)
    for name in files:
        assert (again / name).read_bytes() == (out / name).read_bytes()

    # the metadata round-trips: title, URLs, dates, feed, source, and so the tags and statements
    def listed(env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
        rows = monitor("articles", "list", "--json", "--limit", "100", env=env).stdout.splitlines()
        return {a["id"]: a for a in map(json.loads, rows)}

    before, after = listed(), listed(fresh)
    assert before.keys() == after.keys()
    for article_id, a in before.items():
        for key in ("title", "url", "urls", "canonical_url", "published", "feed", "source", "fetched_at", "tags",
                    "statements"):
            assert after[article_id][key] == a[key], (article_id, key)
    assert {a["source"] for a in after.values()} == {"seed", "page"}


def test_export_replaces_an_earlier_export_and_refuses_other_folders(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    monitor("export", str(out))
    stale = out / "003_00000000000000ff.txt"
    stale.write_text("an article deleted since the last export")
    assert "exported 3 articles" in monitor("export", str(out)).stdout
    assert not stale.exists() and len(list(out.glob("*.txt"))) == 3

    (out / "notes.md").write_text("mine")
    (out / "1_short.txt").write_text("misnamed")
    seeded = monitor("seed", str(out)).stdout
    assert "skipped 2 files not named NNN_<16 hex digits>.txt: 1_short.txt, notes.md" in seeded
    refused = monitor("export", str(out), check=False)
    assert refused.returncode == 2 and "not an earlier export (1_short.txt, notes.md)" in refused.stderr
    assert (out / "notes.md").read_text() == "mine"

    corpus = tmp_path / "corpus"  # seed files without an export's index: perhaps the only copy, never replaced
    corpus.mkdir()
    (corpus / "000_00000000000000aa.txt").write_text("a hand-made seed")
    refused = monitor("export", str(corpus), check=False)
    assert refused.returncode == 2 and "not an earlier export (000_00000000000000aa.txt)" in refused.stderr
    assert (corpus / "000_00000000000000aa.txt").is_file()

    for target in (out / "notes.md", out / "notes.md" / "below"):
        failed = monitor("export", str(target), check=False)
        assert failed.returncode == 2 and last_line(failed.stderr).startswith("monitor: error: "), failed.stderr
        assert "Traceback" not in failed.stderr


@pytest.mark.parametrize(("kind", "truth", "message"), [
    ("extraction", None, "ground-truth.json not found"),
    ("stories", "{not json", "not valid JSON"),
    ("extraction", '{"a": {"url": "http://x/"}}', "entry 'a' needs string \"articleBody\" and \"url\""),
    ("stories", '{"a": {"url": "http://x/", "articleBody": "b"}}', "entry 'a' has no page"),
    ("extraction", "{}", "needs a non-empty object"),
])
def test_eval_input_errors_are_one_line(tmp_path: Path, kind: str, truth: str | None, message: str) -> None:
    if truth is not None:
        (tmp_path / "ground-truth.json").write_text(truth)
    result = monitor("eval", kind, str(tmp_path), check=False)
    assert result.returncode == 2 and last_line(result.stderr).startswith("monitor: error: "), result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["feeds", "add", "ftp://x"], {}, "monitor: error: not an http(s) URL: 'ftp://x'"),
        (["stats"], {"MONITOR_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, "monitor: error:"),
        (["stats"], {"MONITOR_POLL_TICKS": "3"}, "monitor: error: unknown setting in environment: MONITOR_POLL_TICKS"),
        (["stats"], {"MONITOR_DATABASE_URL": "nonsense"}, "monitor: error: invalid database URL"),
        (["articles", "show", "0000000000000000"], {}, "monitor: error: no article with id 0000000000000000"),
        (["articles", "list", "--since", "soonish"], {}, "monitor: error: --since: not a date: 'soonish'"),
        (["poll"], {}, "monitor: error: `monitor poll` needs --once"),
        (["feeds", "add"], {}, "monitor: error: Missing argument 'URLS...' (see `monitor feeds add --help`)"),
        (["stats", "--bogus"], {}, "monitor: error: No such option '--bogus' (see `monitor stats --help`)"),
        (["alerts", "list", "--pending", "--failed"], {}, "monitor: error: --pending and --failed exclude each other"),
        (["articles", "list", "--tag", "nosuchtag"], {}, "monitor: error: unknown tag 'nosuchtag' (known: "),
        (["articles", "list", "--feed", "http://127.0.0.2:1/x.xml"], {}, "monitor: error: no such feed"),
        (["feeds", "remove", "http://127.0.0.2:1/x.xml"], {}, "monitor: error: no such feed"),
        (["stats"], {"MONITOR_DATABASE_URL_FILE": "/nonexistent/db_url"}, "monitor: error: invalid config in"),
    ],
)
def test_errors_are_one_clear_line(config_file: Path, args: list[str], env: dict[str, str], message: str) -> None:
    result = monitor(*args, check=False, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_health_without_daemon_is_unhealthy(config_file: Path) -> None:
    result = monitor("health", check=False)
    assert result.returncode == 1 and "no heartbeat" in result.stderr


def test_statements_shown_once_with_their_speaker(config_file: Path) -> None:
    for article_id in SEED_IDS:
        shown = monitor("articles", "show", article_id).stdout
        assert "by None" not in shown and "statement by" not in shown
        [item] = [json.loads(x) for x in monitor("articles", "list", "--json").stdout.splitlines() if article_id in x]
        for detail in item["tag_details"].values():
            assert not [e for e in detail["evidence"] if "speaker" in e]  # no plain copy beside the scored one
            quoted = [e["text"] for e in detail["evidence"] if e["kind"] == "statement"]
            assert len(quoted) == len(set(quoted))
        for st in item["statements"]:
            label = f"{st['speaker']} ({st['role']})" if st["speaker"] and st["role"] else st["speaker"] or st["role"]
            assert shown.count(f"{label}: {st['text']}") == 1


@pytest.mark.parametrize(
    "env",
    [{"MONITOR_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, {"MONITOR_POLL_TICKS": "3"}],
)
def test_health_is_1_when_the_database_or_config_cannot_be_opened(config_file: Path, env: dict[str, str]) -> None:
    result = monitor("health", check=False, env=env)
    assert result.returncode == 1 and result.stderr.startswith("unhealthy: "), result.stderr
    assert "Traceback" not in result.stderr


def test_poll_once_stops_cleanly_on_sigterm(config_file: Path, server: NewsServer) -> None:
    release = threading.Event()
    server.route("/hangs.xml", lambda r: (release.wait(120), Reply(200, b"<rss/>"))[1])
    monitor("feeds", "add", "--no-check", server.url("/hangs.xml"))
    timeouts = {"MONITOR_HTTP_READ_TIMEOUT": "300", "MONITOR_HTTP_TOTAL_TIMEOUT": "300"}  # only the signal ends it
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "poll", "--once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **timeouts},
    )
    try:
        deadline = time.monotonic() + 90
        while not server.hits("/hangs.xml") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.hits("/hangs.xml"), "the poll never reached the feed"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=90)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "poll stopped by a signal" in err
    assert "Traceback" not in err and "leaked" not in err


def test_feeds_add_checks_the_url_and_finds_a_page_s_feed(config_file: Path, server: NewsServer) -> None:
    server.static("/feed.xml", rss([Item("One", server.url("/news/1"), "g1")]), "application/rss+xml")
    server.static("/home", '<html><head><title>Home</title><link rel="alternate" type="application/rss+xml" '
                  'href="/feed.xml"></head><body><p>News</p></body></html>')
    server.static("/plain", "<html><head><title>No feed here</title></head><body><p>Hi</p></body></html>")
    server.route("/gone.xml", lambda r: Reply(404))

    added = monitor("feeds", "add", server.url("/home")).stdout
    assert f"added: {server.url('/feed.xml')} (" in added and f"the feed of {server.url('/home')}" in added
    assert "1 entry" in added
    assert "already present" in monitor("feeds", "add", server.url("/./feed.xml#top")).stdout
    for path, message in (("/plain", "is not a feed"), ("/gone.xml", "HTTP 404")):
        refused = monitor("feeds", "add", server.url(path), check=False)
        assert refused.returncode == 2 and last_line(refused.stderr).startswith("monitor: error: "), refused.stderr
        assert message in refused.stderr and "nothing added" in refused.stderr
    assert "added without a check" in monitor("feeds", "add", "--no-check", server.url("/plain")).stdout
    listed = [json.loads(x)["url"] for x in monitor("feeds", "list", "--json").stdout.splitlines()]
    assert listed == [server.url("/feed.xml"), server.url("/plain")]


def test_opml_import_explains_what_it_skips_and_export_keeps_folders(config_file: Path, tmp_path: Path) -> None:
    rss_file = tmp_path / "feed.xml"
    rss_file.write_bytes(rss([Item("One", "http://127.0.0.2:1/1", "g1")]))
    refused = monitor("feeds", "import", str(rss_file), check=False)
    assert refused.returncode == 2 and "is not an OPML file (its root element is <rss>)" in refused.stderr
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="War desk">'
        '<outline text="A" xmlUrl="http://127.0.0.2:1/a.xml" htmlUrl="http://127.0.0.2:1/"/></outline>'
        '<outline text="B" xmlUrl="http://127.0.0.2:1/b.xml"/><outline text="a note"/></body></opml>'
    )
    out = monitor("feeds", "import", str(opml)).stdout
    assert "imported 2 new feeds" in out and "1 outline without an xmlUrl (not a feed) skipped" in out
    exported = monitor("feeds", "export").stdout
    assert '<outline text="War desk" title="War desk">' in exported
    assert 'xmlUrl="http://127.0.0.2:1/a.xml" htmlUrl="http://127.0.0.2:1/"/>' in exported
    again = tmp_path / "again.opml"
    again.write_text(exported)
    fresh = {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    monitor("feeds", "import", str(again), env=fresh)
    assert monitor("feeds", "export", env=fresh).stdout == exported


ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_empty_results_say_so_and_poll_says_what_is_next(config_file: Path, server: NewsServer) -> None:
    empty = {"MONITOR_IMPORT_SEEDS": "false"}
    listed = monitor("feeds", "list", env=empty)
    assert listed.stdout == "" and "no feeds yet: add one with `monitor feeds add URL`" in listed.stderr
    assert "no feeds yet" in monitor("poll", "--once", env=empty).stdout
    alerts = monitor("alerts", "list", env=empty)
    assert alerts.stdout == "" and f"no subscriptions are configured ([[subscriptions]] in {config_file})" in (
        alerts.stderr)
    assert "no articles match" in monitor("articles", "list", "--since", "2999-01-01", env=empty).stderr
    assert "no statements match" in monitor("statements", "list", env=empty).stderr

    monitor("feeds", "add", *serve_world(server, feeds=1), env=empty)
    assert "polled 1 feed in" in monitor("poll", "--once", env=empty).stdout
    again = monitor("poll", "--once", env=empty).stdout
    due = json.loads(monitor("feeds", "list", "--json", env=empty).stdout)["next_poll_at"]
    assert again.startswith("nothing due: the next feed is due at ") and due[:16].replace("T", " ") in again


def test_poll_once_says_that_it_leaves_alerts_to_the_sender(config_file: Path, server: NewsServer) -> None:
    config_file.write_text(config_file.read_text() + (
        '\n[[subscriptions]]\nname = "war"\nrecipients = ["desk@example.org"]\ntags = ["ukraine-war"]\n'
    ))
    server.static("/news/1", article_page("Russian strikes on Kyiv", WAR_PAGE))
    server.static("/feed.xml", rss([Item("Russian strikes on Kyiv", server.url("/news/1"), "g1")]),
                  "application/rss+xml")
    monitor("feeds", "add", server.url("/feed.xml"))
    out = monitor("poll", "--once").stdout
    assert "alerts: 1 pending, not sent by `poll --once`: `monitor alerts send` sends them" in out
    assert json.loads(monitor("poll", "--once", "--json").stdout)["alerts_pending"] == 1


def test_stats_names_the_config_and_the_database(config_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(config_file.read_text().replace(str(tmp_path / "monitor.db"), "relative/other.db"))
    work = tmp_path / "work"
    work.mkdir()
    out = monitor("stats", "--config", str(other), cwd=work).stdout  # --config after the subcommand
    assert f"config: {other}" in out and f"database: sqlite:///{work / 'relative' / 'other.db'}" in out
    assert (work / "relative" / "other.db").is_file()
    stats = json.loads(monitor("--config", str(other), "stats", "--json", cwd=work).stdout)
    assert stats["config"] == str(other) and stats["articles"] == 3 and stats["feeds"] == 0

    url_file = tmp_path / "db_url"
    url_file.write_text("postgresql+psycopg://monitor:s3cret@127.0.0.1:1/none\n")
    result = monitor("health", env={"MONITOR_DATABASE_URL_FILE": str(url_file)}, check=False)
    assert result.returncode == 1 and "127.0.0.1" in result.stderr and "s3cret" not in result.stderr


def test_json_everywhere_with_one_timestamp_format(config_file: Path, server: NewsServer) -> None:
    [feed_url] = serve_world(server, feeds=1, per_feed=2)
    monitor("feeds", "add", feed_url)
    monitor("poll", "--once")
    article = json.loads(monitor("articles", "list", "--json", "--limit", "1").stdout)
    shown = json.loads(monitor("articles", "show", article["id"], "--json").stdout)
    assert shown == article and ISO_Z.match(shown["fetched_at"])
    feed = json.loads(monitor("feeds", "show", feed_url, "--json").stdout)
    assert list(feed)[:3] == ["url", "title", "site_url"] and "body_hash" not in feed and "etag" not in feed
    assert ISO_Z.match(feed["last_polled_at"]) and ISO_Z.match(feed["history"][0]["started_at"])
    assert "body_hash" not in monitor("feeds", "show", feed_url).stdout
    stats = json.loads(monitor("stats", "--json").stdout)
    assert ISO_Z.match(stats["last_poll"]) and stats["articles"] == 5
    explained = json.loads(monitor("tags", "explain", SEED_IDS[0], "--json").stdout)
    assert {d["tag"] for d in explained["decisions"]} >= {"ukraine-war", "uk-defence-statement"}
    story = json.loads(monitor("stories", "list", "--json", "--limit", "1", "--min-size", "1").stdout)
    assert ISO_Z.match(story["latest"])
    assert monitor("alerts", "list", "--json").stdout == ""

    two = monitor("articles", "list", "--limit", "2")
    assert len(two.stdout.splitlines()) == 2 and "(first 2 shown; --limit N for more" in two.stderr
    assert len(monitor("articles", "list", "--limit", "0").stdout.splitlines()) == 5
    assert "default: 50" in " ".join(monitor("articles", "list", "--help").stdout.split())
    for since in ("2d", "yesterday", "3 days ago"):  # one seed is dated 2022-10 by its text: not since then
        assert len(monitor("articles", "list", "--since", since).stdout.splitlines()) == 4
    stories = monitor("stories", "list", "--min-size", "1").stdout
    assert "None" not in stories and "1 article " in stories and "1 copies" not in stories
    assert "1 article " not in monitor("stories", "list", check=False).stdout  # by default: stories with copies


def test_feeds_remove_takes_several_urls(config_file: Path) -> None:
    urls = [f"http://127.0.0.2:1/{n}.xml" for n in range(3)]
    monitor("feeds", "add", "--no-check", *urls)
    out = monitor("feeds", "remove", urls[0], urls[2] + "#x").stdout
    assert out.splitlines() == [f"removed: {urls[0]}", f"removed: {urls[2]}"]
    assert [json.loads(x)["url"] for x in monitor("feeds", "list", "--json").stdout.splitlines()] == [urls[1]]


def test_long_commands_show_progress_on_a_terminal_and_a_count_in_the_log(config_file: Path) -> None:
    logged = monitor("retag")
    assert "monitor.core.progress: progress what=articles done=3 total=3" in logged.stderr
    assert "%|" not in logged.stderr  # no bar in a log

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    seen = b""
    try:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "retag"], stdout=subprocess.PIPE,
                                stderr=terminal, text=True)
        os.close(terminal)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # read while it runs: a closed terminal's unread output is lost
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:  # the command ended and closed the terminal
                    break
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "retagged 3 articles" in out
    assert b"0/3 [" in seen and b" articles/s]" in seen and b"%|" in seen  # tqdm's bar, cleared at the end


def test_feeds_enable_disable_set_and_silent_feeds(config_file: Path, server: NewsServer) -> None:
    gone = server.route("/gone.xml", lambda _r: Reply(410))
    monitor("feeds", "add", "--no-check", gone)
    monitor("poll", "--once")
    assert "disabled: 410 Gone" in monitor("feeds", "list").stdout
    server.static("/gone.xml", rss([]), "application/rss+xml")  # the publisher brought it back
    assert monitor("feeds", "enable", gone).stdout.startswith(f"enabled: {gone} (was disabled: 410 Gone")
    assert "polled 1 feed" in monitor("poll", "--once").stdout
    history = json.loads(monitor("feeds", "show", gone, "--json").stdout)["history"]
    assert [h["outcome"] for h in history] == ["ok", "gone"], "history kept"

    assert monitor("feeds", "disable", gone).stdout == f"disabled: {gone}\n"
    assert "disabled by `monitor feeds disable`" in monitor("feeds", "list").stdout
    assert "every feed is disabled" in monitor("poll", "--once").stdout
    monitor("feeds", "enable", gone)

    assert monitor("feeds", "set", gone, "--interval", "300").stdout == f"{gone}: every 5m (set by `feeds set`)\n"
    [row] = [json.loads(line) for line in monitor("feeds", "list", "--json").stdout.splitlines()]
    assert row["interval_set"] == 300 and row["interval"] == 300 and row["silent"] is False
    polled = datetime.fromisoformat(row["last_polled_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(row["next_poll_at"].replace("Z", "+00:00")) == polled + timedelta(seconds=300)
    too_fast = monitor("feeds", "set", gone, "--interval", "5", check=False)
    assert too_fast.returncode != 0 and "between poll.min_interval (60) and poll.max_interval" in too_fast.stderr
    assert "rhythm is not known yet" in monitor("feeds", "set", gone, "--interval", "0").stdout

    # a feed that answers but has had no new entry for many times its usual gap is flagged
    with sqlite3.connect(config_file.parent / "monitor.db") as conn:
        conn.execute("UPDATE feed SET entry_gap = 3600, last_new_entry_at = datetime('now', '-2 days')")
    assert "silent: no new entry for 2d (usually every 1h)" in monitor("feeds", "list").stdout
    assert f"silent: {gone}: answers, but no new entry since" in monitor("stats").stdout
    assert json.loads(monitor("stats", "--json").stdout)["feeds_silent"] == [gone]
    assert "every 1d (new entries usually every 1h)" in monitor("feeds", "show", gone).stdout
