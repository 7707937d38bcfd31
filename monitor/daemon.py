"""The daemon: APScheduler ticks poll the due feeds and write a heartbeat; SIGTERM/SIGINT stop it."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.app import App, import_default_feeds, open_pipeline
from monitor.pipeline import Pipeline

log = logging.getLogger(__name__)


def write_heartbeat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{time.time():.3f}\n", encoding="utf-8")
    tmp.replace(path)


def heartbeat_age(path: Path) -> float | None:
    """Seconds since the daemon's last tick, or None when it never ticked."""
    try:
        return time.time() - float(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


async def run_daemon(app: App) -> None:
    """Run until SIGTERM or SIGINT; the poll in progress is cancelled, stored articles stay stored."""
    settings = app.settings
    import_default_feeds(app)
    heartbeat = Path(settings.heartbeat_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with open_pipeline(app) as pipeline:
        polling: set[asyncio.Task[None]] = set()

        async def tick() -> None:
            write_heartbeat(heartbeat)
            if polling:  # the previous cycle is still running
                return
            task = asyncio.create_task(_cycle(pipeline))
            polling.add(task)
            task.add_done_callback(polling.discard)

        scheduler = AsyncIOScheduler()
        scheduler.add_job(tick, "interval", seconds=settings.poll.tick, next_run_time=datetime.now(UTC),
                          coalesce=True, max_instances=1, id="tick")
        scheduler.start()
        log.info("daemon started", extra={"tick_seconds": settings.poll.tick, "feeds": app.store.feed_count()})
        await stop.wait()
        log.info("stopping")
        scheduler.shutdown(wait=False)
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
    log.info("daemon stopped")


async def _cycle(pipeline: Pipeline) -> None:
    try:
        summary = await pipeline.run_cycle()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("polling cycle failed")
        return
    if summary.feeds:
        log.info("cycle done", extra=summary.as_dict() | {"errors": len(summary.errors)})
