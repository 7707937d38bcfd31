"""Prometheus metrics of the daemon (served by ``monitor.service.ops`` when enabled)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

FEED_POLLS = Counter(
    "monitor_feed_polls", "Feed polls by outcome (ok, not_modified, unchanged, error, gone).", ["outcome"],
    registry=REGISTRY,
)
FETCH_ERRORS = Counter(
    "monitor_fetch_errors",
    "Failed feed and page fetches by kind (timeout, connect, blocked, http, too_large, empty, parse …).",
    ["target", "kind"], registry=REGISTRY,
)
ENTRIES = Counter(
    "monitor_entries", "Feed entries by result: new (stored), duplicate (same text stored), seen, empty.",
    ["result"], registry=REGISTRY,
)
TAGS_GIVEN = Counter("monitor_tags_given", "Tags given to newly stored articles.", ["tag"], registry=REGISTRY)
ALERTS = Counter(
    "monitor_alerts", "Alert deliveries by target (email, or a [[targets]] name) and result (sent, failed, retry).",
    ["target", "result"], registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "monitor_poll_seconds", "Wall time of one feed poll, including its new articles.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=REGISTRY,
)
FEEDS_DUE = Gauge(
    "monitor_feeds_due", "Feeds this instance claimed (due, not polled by another) in its last cycle.",
    registry=REGISTRY,
)
FEEDS_SILENT = Gauge(
    "monitor_feeds_silent", "Feeds that answer but had no new entry for poll.silent_after times their usual gap.",
    registry=REGISTRY,
)
ARTICLES_IN_PROGRESS = Gauge(
    "monitor_articles_in_progress", "Article pages being fetched or extracted now.", registry=REGISTRY
)
ALERTS_PENDING = Gauge("monitor_alerts_pending", "Alerts waiting to be delivered.", registry=REGISTRY)
LAST_TICK = Gauge("monitor_last_tick_timestamp_seconds", "Time of the last scheduler tick.", registry=REGISTRY)
INSTANCE = Gauge(
    "monitor_instance_info", "1, labelled with this instance's identity (instance_name or host:pid).", ["id"],
    registry=REGISTRY,
)
