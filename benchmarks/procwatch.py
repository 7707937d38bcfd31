"""Run a command and watch its process tree through /proc: wall time, CPU time (it and every descendant),
peak RSS of the main process, of each worker and of the tree as a whole, and the peak PSS of the tree.

RSS counts a page shared by several processes (the interpreter, modules a forkserver loaded before forking
its workers) once in each of them; PSS (``/proc/PID/smaps_rollup``) divides it among them, so the tree's PSS
is what the processes together really hold. Reading it costs the kernel ~1 ms per 100 MB process (it walks the
page tables, holding the process's memory map), so it is read every ``PSS_EVERY``-th sample only: read at every
one it took ~6% of a core from the processes measured."""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PSS_EVERY = 4  # samples


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, RSS bytes) of a live process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    ppid, utime, stime, rss = int(fields[1]), int(fields[11]), int(fields[12]), int(fields[21])
    return ppid, (utime + stime) / TICK, rss * PAGE


def tree_pids(root: int) -> set[int]:
    """``root`` and its descendants, through /proc/PID/task/TID/children (cheaper than scanning /proc)."""
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return tree


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by the live processes of the tree of ``root``."""
    return sum(st[1] for pid in tree_pids(root) if (st := _stat(pid)) is not None)


def tree_usage(root: int) -> tuple[int, int, int]:
    """(processes, summed RSS bytes, summed open file descriptors) of the live tree of ``root``, now."""
    processes = rss = fds = 0
    for pid in tree_pids(root):
        st = _stat(pid)
        if st is None:
            continue
        processes += 1
        rss += st[2]
        with contextlib.suppress(OSError):
            fds += len(os.listdir(f"/proc/{pid}/fd"))
    return processes, rss, fds


def _pss(pid: int) -> int:
    """Proportional set size of a live process, bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Watched:
    returncode: int
    wall: float
    cpu: float  # seconds, the whole tree (max of rusage and /proc sampling)
    cpu_sampled: float  # sum over the tree of the last /proc reading of each process
    cpu_reaped: float  # rusage of the child and the descendants reaped in its tree
    cpu_main: float
    peak_rss_main: int  # bytes (VmHWM)
    peak_rss_worker: int  # largest VmHWM among descendants
    peak_rss_tree: int  # largest sampled sum over the tree
    peak_pss_tree: int  # largest sampled sum of PSS over the tree
    processes: int
    stdout: str
    stderr: str


def run_watched(cmd: list[str], env: dict[str, str], interval: float = 0.05, timeout: float = 1800) -> Watched:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cpu: dict[int, float] = {}
    hwm: dict[int, int] = {}
    peak_tree = peak_pss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_pss
        for tick in itertools.count():
            if done.is_set():
                break
            stats: dict[int, tuple[float, int]] = {}
            tree = tree_pids(proc.pid)
            for pid in tree:
                st = _stat(pid)
                if st:
                    stats[pid] = (st[1], st[2])
            total = total_pss = 0
            for pid in tree:
                if pid in stats:
                    cpu[pid] = max(cpu.get(pid, 0.0), stats[pid][0])
                    total += stats[pid][1]
                    total_pss += _pss(pid) if tick % PSS_EVERY == 0 else 0
                    hwm[pid] = max(hwm.get(pid, 0), _hwm(pid))
            peak_tree = max(peak_tree, total)
            peak_pss = max(peak_pss, total_pss)
            done.wait(interval)

    watcher = threading.Thread(target=sample, daemon=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    watcher.start()
    out, err = proc.communicate(timeout=timeout)  # waits: the child's rusage joins RUSAGE_CHILDREN
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done.set()
    watcher.join()
    reaped = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    workers = [v for p, v in hwm.items() if p != proc.pid]
    return Watched(
        returncode=proc.returncode, wall=wall, cpu=max(sum(cpu.values()), reaped), cpu_sampled=sum(cpu.values()),
        cpu_reaped=reaped, cpu_main=cpu.get(proc.pid, 0.0), peak_rss_main=hwm.get(proc.pid, 0),
        peak_rss_worker=max(workers, default=0), peak_rss_tree=peak_tree, peak_pss_tree=peak_pss, processes=len(hwm),
        stdout=out, stderr=err,
    )
