"""Liveness: the daemon writes a heartbeat on every scheduler tick; health = recent heartbeat + database answers."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.store import Store

HEALTH_MIN_AGE = 60.0


def write_heartbeat(path: Path) -> None:
    """Replace the heartbeat atomically, through a temporary file of this writer's own (two daemons sharing
    the path must not trip over one another's). Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o644)  # `monitor health` may run as another user
            fh.write(f"{time.time():.3f}\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def heartbeat_age(path: Path) -> float | None:
    """Seconds since the daemon's last tick, or None when it never ticked."""
    try:
        return time.time() - float(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def health_problems(settings: Settings, store: Store) -> tuple[float | None, list[str]]:
    """The heartbeat's age and what is wrong (nothing when healthy)."""
    max_age = max(3 * settings.poll.tick, HEALTH_MIN_AGE)
    age = heartbeat_age(Path(settings.heartbeat_file))
    problems = []
    if age is None:
        problems.append(f"no heartbeat at {settings.heartbeat_file} (is `monitor run` running?)")
    elif age > max_age:
        problems.append(f"last heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")
    try:
        store.ping()
    except MonitorError as exc:
        problems.append(str(exc))
    return age, problems
