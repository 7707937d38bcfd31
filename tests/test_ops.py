"""Operations: /healthz and /metrics from a running daemon, JSON logs, health command."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, rss
from tests.test_process_safety import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def polls(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM fetch_log").fetchone()[0])


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def test_daemon_serves_health_and_metrics_and_logs_json(
    config_file: Path, server: NewsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    items = []
    for n in range(3):
        server.static(f"/news/{n}", article_page(f"Story {n}", article_text(n)))
        items.append(Item(f"Story {n}", server.url(f"/news/{n}")))
    server.static("/feed.xml", rss(items), "application/rss+xml")
    server.route("/broken.xml", lambda r: Reply(500))
    monkeypatch.setenv("MONITOR_METRICS_ENABLED", "true")
    monkeypatch.setenv("MONITOR_METRICS_PORT", str(port))
    monkeypatch.setenv("MONITOR_LOG_FORMAT", "json")
    monkeypatch.setenv("MONITOR_LOG_LEVEL", "INFO")
    subprocess.run([sys.executable, "-m", "monitor", "feeds", "add", "--no-check", server.url("/feed.xml"),
                    server.url("/broken.xml")], check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run"], stderr=subprocess.PIPE, text=True)
    db = config_file.parent / "monitor.db"
    try:
        wait_for(lambda: proc.poll() is not None or polls(db) >= 2)
        assert proc.poll() is None, proc.communicate()[1]
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz") is not None, timeout=20)
        health = get(f"http://127.0.0.1:{port}/healthz")
        assert health is not None and health.status_code == 200 and health.text == "ok\n"
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert metrics is not None and metrics.status_code == 200
        text = metrics.text
        assert 'monitor_feed_polls_total{outcome="ok"} 1.0' in text
        assert 'monitor_feed_polls_total{outcome="error"} 1.0' in text
        assert 'monitor_fetch_errors_total{kind="http",target="feed"} 1.0' in text
        assert 'monitor_entries_total{result="new"} 3.0' in text
        assert "monitor_poll_seconds_bucket" in text and "monitor_articles_in_progress 0.0" in text
        missing = get(f"http://127.0.0.1:{port}/nope")
        assert missing is not None and missing.status_code == 404
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    records = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    [started] = [r for r in records if r["message"] == "daemon started"]
    assert started["config"] == str(config_file) and started["database"] == f"sqlite:///{db}"
    polled = [r for r in records if r["message"] == "feed polled"]
    assert polled and all("feed_id" in r and "feed_url" in r for r in polled)
    assert any(r["level"] == "WARNING" and "feed_url" in r for r in records)


def test_health_is_unhealthy_when_heartbeat_is_stale(config_file: Path) -> None:
    heartbeat = config_file.parent / "heartbeat"
    heartbeat.write_text(f"{time.time() - 3600:.3f}\n")
    result = subprocess.run([sys.executable, "-m", "monitor", "health"], capture_output=True, text=True)
    assert result.returncode == 1 and "unhealthy: last heartbeat 36" in result.stderr
    heartbeat.write_text(f"{time.time():.3f}\n")
    result = subprocess.run([sys.executable, "-m", "monitor", "health"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("ok: heartbeat")
