"""Faults around the core: a killed parent, decompression bombs against a whole process, a failing
heartbeat, empty bodies, a corrupt database. Real processes, real loopback servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.newsworld import NewsServer
from tests.test_process_safety import FEEDS, add_feeds, slow_world, wait_for


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
