"""The polite-at-scale simulation runs end to end in a tiny configuration on PostgreSQL: no page asked for twice,
no host's spacing broken (its timings mean nothing at this size and are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_SKIP, PG_URL

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not PG_URL, reason=PG_SKIP)
@pytest.mark.timeout(900)
def test_polite_scale_prints_its_figures_for_one_and_two_instances() -> None:
    assert PG_URL
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "benchmarks.polite_scale", "--postgres", PG_URL,
                             "--feeds", "12", "--hosts", "3", "--entries", "3", "--pages", "15", "--instances", "1,2",
                             "--gap", "0.1", "--timeout", "600"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=800)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    print(out)
    for count in (1, 2):
        assert f"{count} instance(s): every one of 12 feeds polled once" in out
    assert out.count(", 0 asked for twice") == 2
    assert out.count(" 0 host(s) below the gap") == 2
    assert "the day in the database:" in out and "article_source" in out
