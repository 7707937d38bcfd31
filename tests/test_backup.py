"""`monitor backup`: a consistent copy taken while the daemon writes, restored and polled on from."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tests.newsworld import NewsServer
from tests.test_faults import one_line_error
from tests.test_process_safety import FEEDS, PER_FEED, add_feeds, count, slow_world, wait_for

PAGES = "SELECT count(*) FROM article WHERE source = 'page'"


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_backup_during_ingest_restores_and_polling_goes_on_from_it(config_file: Path, server: NewsServer) -> None:
    db, backup, restored = (config_file.parent / name for name in ("monitor.db", "backup.db", "restored/monitor.db"))
    slow_world(server, delay=1.0)  # 40 pages, 4 at a time: the daemon writes for about 10 s
    add_feeds(*(server.url(f"/feed{f}.xml") for f in range(FEEDS)))
    log = config_file.parent / "daemon.log"
    with log.open("w") as stderr:
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run"], stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_for(lambda: count(db, PAGES) >= 5, timeout=120)
        result = monitor("backup", str(backup))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"backed up {db} to {backup} (")
        in_backup = count(backup, PAGES)
        assert 5 <= in_backup < FEEDS * PER_FEED, "the backup came too late to test anything"
        wait_for(lambda: count(db, PAGES) > in_backup, timeout=120)  # the daemon wrote on meanwhile
    finally:
        daemon.terminate()
        daemon.wait(timeout=120)
    assert daemon.returncode == 0, log.read_text()
    assert [p.name for p in backup.parent.iterdir() if p.name.startswith(".backup.db")] == []  # no temporary left
    assert integrity(backup) == "ok"

    restored.parent.mkdir()
    shutil.copyfile(backup, restored)
    env = {"MONITOR_DATABASE_URL": f"sqlite:///{restored}"}
    stats = monitor("stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    reported = json.loads(stats.stdout)
    assert reported["database"] == f"sqlite:///{restored}"
    assert reported["feeds"] == FEEDS and reported["articles"] == count(backup, "SELECT count(*) FROM article")
    assert reported["articles_by_source"]["page"] == in_backup
    assert integrity(restored) == "ok"

    # polling goes on from the restored state: the polls the backup caught unfinished are done again, nothing twice
    poll = monitor("poll", "--once", "--json", env=env)
    assert poll.returncode == 0, poll.stderr
    assert count(restored, PAGES) == FEEDS * PER_FEED
    assert count(restored, "SELECT count(*) FROM article_source") == FEEDS * PER_FEED
    assert count(restored, "SELECT count(DISTINCT url) FROM article_source") == FEEDS * PER_FEED
    assert integrity(restored) == "ok"


def test_backup_refuses_to_overwrite_without_force_and_errors_are_one_line(config_file: Path, tmp_path: Path) -> None:
    assert monitor("stats").returncode == 0  # the database exists
    db, target = tmp_path / "monitor.db", tmp_path / "copy.db"
    target.write_text("an older backup")
    error = one_line_error(["backup", str(target)], {"MONITOR_LOG_LEVEL": "ERROR"})
    assert error == f"monitor: error: {target} exists: give a new file name, or --force to replace it"
    assert target.read_text() == "an older backup"
    result = monitor("backup", "--force", str(target))
    assert result.returncode == 0, result.stderr
    assert integrity(target) == "ok" and count(target, "SELECT count(*) FROM article") == 3  # the seed corpus
    assert "is the database itself" in one_line_error(["backup", "--force", str(db)], {})
    assert "No such file or directory" in one_line_error(["backup", str(tmp_path / "missing" / "copy.db")], {})
    missing = {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    assert one_line_error(["backup", str(tmp_path / "x.db")], missing) == \
        f"monitor: error: no database file at {tmp_path / 'none.db'}"
    assert sorted(p.name for p in tmp_path.iterdir() if "copy" in p.name or p.name.startswith(".")) == ["copy.db"]


def test_backup_of_postgresql_prints_the_pg_dump_command_without_the_password(config_file: Path) -> None:
    env = {"MONITOR_DATABASE_URL": "postgresql://monitor:s3cret@db.internal:5433/news", "MONITOR_LOG_LEVEL": "ERROR"}
    result = monitor("backup", "/backups/news.dump", env=env)
    assert result.returncode == 2
    assert result.stdout == "pg_dump --format=custom --file=/backups/news.dump 'postgresql://monitor:***@db.internal:5433/news'\n"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("monitor: error: `monitor backup` copies SQLite files") \
        and "pg_restore" in lines[0]
    assert "s3cret" not in result.stdout + result.stderr
