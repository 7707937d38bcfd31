"""The daemon: APScheduler ticks poll the due feeds and write a heartbeat; SIGTERM/SIGINT stop it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.alerts.sender import schedule_alert_jobs
from monitor.core.logs import Outage
from monitor.core.metrics import INSTANCE, LAST_TICK
from monitor.ingest.pipeline import Pipeline, StorageFault
from monitor.service.app import App, import_default_feeds, open_pipeline
from monitor.service.health import health_problems, write_heartbeat
from monitor.service.ops import serve_ops
from monitor.store import storage_fault
from monitor.store.engine import describe
from monitor.store.instance import instance_id, log_instance
from monitor.web.serve import embedded_web

log = logging.getLogger(__name__)


async def run_daemon(app: App) -> None:
    """Run until SIGTERM or SIGINT; the poll in progress is cancelled, stored articles stay stored."""
    settings = app.settings
    me, host = instance_id(settings), socket.gethostname()
    log_instance(me)
    INSTANCE.labels(me).set(1)
    import_default_feeds(app)
    heartbeat = Path(settings.heartbeat_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # The web interface (when [web] enabled) starts first, so a refused bind stops the daemon before polling.
    async with embedded_web(settings, app.store), open_pipeline(app) as pipeline:
        polling: set[asyncio.Task[None]] = set()

        heartbeat_error: list[str] = []  # why the last heartbeat could not be written (empty when it was)
        storage = Outage(log, "storage failed: %s; polling stopped, the feeds' schedules untouched; every tick tries "
                         "again", "storage works again: polling resumed")
        network = Outage(log, "the network looks unreachable: %s", "the network answers again: feeds reached")

        async def tick() -> None:
            try:
                write_heartbeat(heartbeat)
            except OSError as exc:  # polling goes on; health checks report it
                if not heartbeat_error:
                    log.error("cannot write the heartbeat (%s); polling goes on, health checks will fail", exc)
                heartbeat_error[:] = [f"cannot write the heartbeat {heartbeat}: {exc.strerror or exc}"]
            else:
                if heartbeat_error:
                    log.info("heartbeat written again")
                heartbeat_error.clear()
            LAST_TICK.set_to_current_time()
            try:  # the instances sharing the database see each other in `monitor stats`
                await asyncio.to_thread(app.store.heartbeat, me, host, os.getpid())
            except asyncio.CancelledError:  # the daemon stops: the scheduler's shutdown cancels a running tick
                return
            except Exception as exc:
                if (reason := storage_fault(exc)) is None:
                    log.exception("heartbeat not stored")
                else:
                    storage.failed(reason, "heartbeat")
            else:
                storage.worked("heartbeat")
            if polling:  # the previous cycle is still running
                return
            task = asyncio.create_task(_cycle(pipeline, storage, network))
            polling.add(task)
            task.add_done_callback(polling.discard)

        scheduler = AsyncIOScheduler()
        scheduler.add_job(tick, "interval", seconds=settings.poll.tick, next_run_time=datetime.now(UTC),
                          coalesce=True, max_instances=1, id="tick")
        schedule_alert_jobs(scheduler, app.store, app.settings, storage)
        scheduler.start()
        ops = None
        if settings.metrics.enabled:
            ops = await serve_ops(
                settings.metrics.host, settings.metrics.port,
                lambda: "; ".join(heartbeat_error + health_problems(settings, app.store)[1]) or None,
            )
        log.info("daemon started", extra={
            "config": str(settings.config_file or "(defaults)"), "database": describe(settings.database_url),
            "tick_seconds": settings.poll.tick, "feeds": app.store.feed_count(),
        })
        await stop.wait()
        log.info("stopping")
        scheduler.shutdown(wait=False)
        if ops is not None:
            ops.close()
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
    try:
        app.store.remove_instance(me)
    except Exception as exc:
        why = "instance not removed from the database; it drops out of `monitor stats` when its heartbeat is old"
        if (reason := storage_fault(exc)) is None:
            log.exception(why)
        else:
            log.error("%s (%s)", why, reason)
    log.info("daemon stopped")


async def _cycle(pipeline: Pipeline, storage: Outage, network: Outage) -> None:
    try:
        summary = await pipeline.run_cycle()
    except asyncio.CancelledError:
        raise
    except StorageFault as exc:  # not the feeds' fault: the next tick runs the cycle again
        storage.failed(exc.reason, "polling")
        return
    except Exception:
        log.exception("polling cycle failed")
        return
    storage.worked("polling")
    if summary.feeds:
        log.info("cycle done", extra=summary.as_dict() | {"errors": len(summary.errors)})
        if (why := summary.unreachable()) is not None:
            network.failed(why)
        else:
            network.worked()
