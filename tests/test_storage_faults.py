"""A database folder where the poller cannot open its lock file is a one-line error, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_faults import one_line_error


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, unmounted after the test whatever happens (root only)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a real read-only or full file system needs root (mount -t tmpfs)")
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
