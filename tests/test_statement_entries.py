"""Statements as readers see them: dated by their article's publication, a paraphrase without quotation marks,
one entry for one statement however many articles carry it (API, CLI and page share the read model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from monitor.core.config import load_settings
from monitor.store import Sighting, Store
from monitor.store.engine import create_db_engine, migrate
from monitor.store.models import Article, Statement
from monitor.store.readmodels import quoted, statement_entries
from monitor.web.app import create_app

WORDS = "We will not be deterred from supporting Ukraine for as long as it takes"


def article(n: int, published: datetime | None, title: str) -> Article:
    aid = f"{n:016x}"
    return Article(id=aid, content_hash=aid, title=title, text=f"{title}. {WORDS}.", source="feed",
                   published=published, fetched_at=datetime(2026, 12, 1, n, tzinfo=UTC))


def statement(aid: str, text: str, kind: str, speaker: str | None = "John Healey") -> Statement:
    return Statement(article_id=aid, speaker=speaker, role="Defence Secretary" if speaker else "Ministry of Defence",
                     text=text, kind=kind, start=0, end=len(text))


def fill(store: Store) -> None:
    feed, _ = store.add_feed("http://127.0.0.9/feed.xml", "Feed")
    rows = [
        # the same quote in two outlets (one with a word more), and a later paraphrase by the same minister
        (article(1, datetime(2022, 3, 2, 9, tzinfo=UTC), "Wire copy"), [statement("0" * 15 + "1", WORDS, "direct")]),
        (article(2, datetime(2022, 3, 1, 6, 30, tzinfo=UTC), "First report"),
         [statement("0" * 15 + "2", WORDS + " now", "direct")]),
        (article(3, datetime(2022, 4, 5, tzinfo=UTC), "Later"),
         [statement("0" * 15 + "3", "more air defence systems would be sent within weeks", "indirect")]),
        (article(4, None, "Undated"), [statement("0" * 15 + "4", "the ministry is monitoring the ship", "indirect",
                                                 speaker=None)]),
    ]
    for a, statements in rows:
        store.save_article(a, Sighting(feed.id, f"http://127.0.0.9/{a.id}", None, a.id), statements=statements)


def test_one_statement_in_two_articles_is_one_entry_with_both_sources_and_its_first_date(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    store = Store(engine)
    fill(store)
    entries = statement_entries(store.statements())
    assert [(e["speaker"], e["kind"], e["date"]) for e in entries] == [
        ("John Healey", "indirect", "2022-04-05T00:00:00Z"),
        ("John Healey", "direct", "2022-03-01T06:30:00Z"),  # the first report's date, not the wire copy's
        (None, "indirect", None),  # undated: never the fetch time, listed last
    ]
    assert [s["title"] for s in entries[1]["sources"]] == ["First report", "Wire copy"]
    assert entries[1]["text"] == WORDS + " now" and entries[1]["article_id"] == "0" * 15 + "2"
    assert quoted("direct", "x") == "\u201cx\u201d" and quoted("indirect", "x") == "x"


def test_api_page_and_cli_show_kind_date_and_sources(config_file: Path) -> None:
    settings = load_settings(config_file)
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine)
    fill(store)
    client = TestClient(create_app(settings, store), base_url="http://127.0.0.1")
    items = client.get("/api/v1/statements").json()["items"]
    assert len(items) == 3 and [len(i["sources"]) for i in items] == [1, 2, 1]
    assert items[2]["date"] is None
    page = client.get("/statements").text
    assert "\u201cWe will not be deterred" in page  # a direct quote in quotation marks
    assert "more air defence systems would be sent within weeks" in page
    assert "\u201cmore air defence" not in page  # a paraphrase without them
    assert "undated" in page and "2026-12" not in page  # no fetch date anywhere
    assert page.count('href="/articles/0000000000000002"') == 1 and 'href="/articles/0000000000000001"' in page
    env = {"MONITOR_CONFIG": str(config_file), "MONITOR_IMPORT_SEEDS": "false"}
    listed = subprocess.run([sys.executable, "-m", "monitor", "statements", "list"], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=120)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("2022-04-05  John Healey (Defence Secretary): more air defence systems")
    assert lines[1].startswith("2022-03-01  John Healey (Defence Secretary): \u201cWe will not be deterred")
    assert lines[1].endswith("[0000000000000002, 0000000000000001]")
    assert lines[2].startswith("undated     Ministry of Defence: the ministry is monitoring the ship")
    as_json = subprocess.run([sys.executable, "-m", "monitor", "statements", "list", "--json"], capture_output=True,
                             text=True, env={**os.environ, **env}, timeout=120)
    assert [json.loads(line)["kind"] for line in as_json.stdout.splitlines()] == ["indirect", "direct", "indirect"]
