"""Start-up time of the command line: ``monitor --version``, ``monitor --help`` and ``monitor articles list
--limit 10``, each the median wall time of several runs (after one warm-up run: bytecode compiled, the database
migrated).

    .venv/bin/python -m benchmarks.startup            # against a small database made for it (the seed corpus)
    .venv/bin/python -m benchmarks.startup --runs 9

``benchmarks.run`` prints the same figures against its scratch database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "benchmarks" / "monitor.toml"
_SCRIPT = Path(sys.executable).parent / "monitor"
MONITOR = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "monitor"]
# command → the longest median start-up accepted (seconds)
TARGETS = {"--version": 0.15, "--help": 0.15, "articles list --limit 10": 0.4}


def database_url(db: Path | str) -> str:
    """The database URL of ``db``: an SQLite file's path, or a URL as given (PostgreSQL)."""
    return f"sqlite:///{db}" if isinstance(db, Path) else db


def monitor_env(db: Path | str, **settings: str) -> dict[str, str]:
    """The environment the benchmarks run the monitor in: this checkout's benchmark config, the SQLite file
    ``db`` (or the database URL ``db``), never the default feeds, none of the shell's MONITOR_* variables — and
    not the shell's PYTHONDONTWRITEBYTECODE (set on the development machine): a user's installation keeps the
    bytecode Python writes on the first run, without it every command would compile the monitor's modules again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(MONITOR_CONFIG=str(CONFIG), MONITOR_DEFAULT_FEEDS="", MONITOR_DATABASE_URL=database_url(db), **settings)
    return env


def _wall(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([*MONITOR, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"monitor {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return wall


def measure(env: dict[str, str], runs: int = 5) -> dict[str, float]:
    """Median wall seconds of ``runs`` runs of each command of :data:`TARGETS`, with the environment ``env``
    (:func:`monitor_env`)."""
    figures = {}
    for command in TARGETS:
        args = command.split()
        _wall(args, env)
        figures[command] = round(statistics.median(_wall(args, env) for _ in range(runs)), 3)
    return figures


def report(figures: dict[str, float]) -> None:
    print("start-up, median wall time:")
    for command, seconds in figures.items():
        target = TARGETS[command]
        print(f"   monitor {command}: {seconds:.3f}s; target ≤ {target}s {'PASS' if seconds <= target else 'FAIL'}")


def main() -> None:
    parser = argparse.ArgumentParser(description="start-up time of the monitor command line")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (the median is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="monitor-startup-") as scratch:
        env = monitor_env(Path(scratch) / "monitor.db", MONITOR_HEARTBEAT_FILE=str(Path(scratch) / "heartbeat"))
        _wall(["seed"], env)  # a database at head with a few articles to list
        report(measure(env, args.runs))


if __name__ == "__main__":
    main()
