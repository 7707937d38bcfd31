"""Shared fixtures: loopback news servers, an isolated config, SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from monitor.core.config import Settings, load_settings
from monitor.ingest.fetcher import Fetcher
from monitor.ingest.pipeline import CycleSummary, Pipeline
from monitor.service.app import App
from monitor.store import Store
from monitor.store.engine import create_db_engine, migrate
from tests.newsworld import NewsServer

if TYPE_CHECKING:
    from tests.smtp import SmtpServer

PG_ENV = "TEST_POSTGRES_URL"
PG_URL = os.environ.get(PG_ENV)
PG_SKIP = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"

TEST_CONFIG = """
database_url = "sqlite:///{db}"
default_feeds = ""
heartbeat_file = "{heartbeat}"
log_level = "DEBUG"

[poll]
interval = 600
tick = 0.5
backoff_max = 3600

[http]
connect_timeout = 2.0
read_timeout = 2.0
total_timeout = 4.0
max_body_bytes = 300000
per_host_concurrency = 4
per_host_min_gap = 0.0
# the test servers listen on loopback, which the SSRF guard refuses unless allowed
allowed_networks = ["127.0.0.0/8"]

[extraction]
workers = 2

[tagging]
tags_file = "{config_dir}/tags.toml"
officials_file = "{config_dir}/officials.toml"
model_file = "{config_dir}/model.json"
"""
PROXY_ENV = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MONITOR_* or proxy variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("MONITOR_") or name.lower() in PROXY_ENV:
            monkeypatch.delenv(name)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        TEST_CONFIG.format(db=tmp_path / "monitor.db", heartbeat=tmp_path / "heartbeat", config_dir=CONFIG_DIR)
    )
    monkeypatch.setenv("MONITOR_CONFIG", str(path))
    return path


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file)


@pytest.fixture
def mail() -> Iterator[SmtpServer]:
    """An SMTP server on loopback that keeps the messages it accepts."""
    from tests.smtp import SmtpServer

    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def server() -> Iterator[NewsServer]:
    s = NewsServer("127.0.0.2")
    yield s
    s.close()


@pytest.fixture
def server2() -> Iterator[NewsServer]:
    s = NewsServer("127.0.0.3")
    yield s
    s.close()


def _reset_postgres(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend (PostgreSQL only where TEST_POSTGRES_URL is set)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if not PG_URL:
        pytest.skip(PG_SKIP)
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    engine = create_db_engine(db_url)
    migrate(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def app(settings: Settings, store: Store) -> App:
    return App(settings, store)


def run_cycle(app: App) -> CycleSummary:
    """One polling cycle in-process (extraction on threads, to keep tests quick)."""

    async def go() -> CycleSummary:
        fetcher = Fetcher(app.settings.http)
        with ThreadPoolExecutor(2) as workers:
            pipeline = Pipeline(app.settings, app.store, fetcher, workers)
            try:
                return await pipeline.run_cycle()
            finally:
                pipeline.close()
                await fetcher.aclose()

    return asyncio.run(go())
