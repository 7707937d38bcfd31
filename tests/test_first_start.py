"""Processes that start at once on a new database take turns at the migration (a daemon and a `monitor stats`,
several instances): none fails with "table … already exists"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_commands_starting_together_on_a_new_sqlite_file_all_succeed(config_file: Path) -> None:
    assert not (config_file.parent / "monitor.db").exists()
    commands = [["stats"], ["feeds", "list"], ["articles", "list"], ["alerts", "list"]] * 2
    procs = [subprocess.Popen([sys.executable, "-m", "monitor", *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for args in commands]
    try:
        results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [code for code, _err in results] == [0] * len(commands), [err for _code, err in results]
