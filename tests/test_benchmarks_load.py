"""The load and soak benchmarks run end to end in a tiny configuration and print their figures (no timings
are asserted: the figures of so small a run mean nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench(name: str, scratch: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--scratch", str(scratch),
                             "--feeds", "4", "--hosts", "2", "--entries", "3", "--pages", "20", *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_load_prints_latency_errors_and_ingest_rates(tmp_path: Path) -> None:
    out = bench("load", tmp_path, "--requests", "10", "--timeout", "120")
    assert "readers off:" in out and "readers on :" in out and "slowdown with readers:" in out
    assert "search p95:" in out and "errors:" in out and "'database is locked' in either log:" in out


def test_soak_prints_its_table_and_verdicts(tmp_path: Path) -> None:
    out = bench("soak", tmp_path, "--minutes", "0.3", "--every", "1", "--sample", "2", "--warmup", "4")
    assert "RSS MB" in out and "fetch_log: at most" in out and "RSS: median" in out
    assert "'database is locked' in the daemon's log:" in out
    assert "sent alerts older than alerts.keep_sent_days:" in out and "mails received" in out
