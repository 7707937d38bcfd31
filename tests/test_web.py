"""The web interface and JSON API against the real ASGI app and a real database (SQLite, and PostgreSQL where its
URL is set); `monitor web`, `monitor run` with [web] and `monitor labels export` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from monitor.core.config import Settings
from monitor.store import Sighting, Store
from monitor.store.models import Article, ArticleTag
from monitor.web.app import create_app
from monitor.web.security import CSP, WebError, check_bind
from tests.corpus import T0, store_corpus
from tests.test_ops import free_port
from tests.test_process_safety import wait_for

TOKEN = "s3cret-token-of-at-least-32-characters"


def client_for(settings: Settings, store: Store, **web: object) -> TestClient:
    settings = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    # a browser sends its page's Origin with a form (state-changing requests without one are refused)
    return TestClient(create_app(settings, store), base_url="http://127.0.0.1:8080",
                      headers={"Origin": "http://127.0.0.1:8080"})


@pytest.fixture
def corpus(store: Store) -> dict[str, str]:
    return store_corpus(store)


@pytest.fixture
def client(settings: Settings, store: Store, corpus: dict[str, str]) -> Iterator[TestClient]:
    with client_for(settings, store) as c:
        yield c


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_articles_api_filters_searches_and_pages(client: TestClient, corpus: dict[str, str]) -> None:
    newest = ids(client.get("/api/v1/articles"))
    assert newest == [corpus[k] for k in ("a6", "a5", "a4", "a3", "a2", "a1")]
    assert set(ids(client.get("/api/v1/articles", params={"q": "ukraine -eurovision"}))) == {
        corpus["a1"], corpus["a4"], corpus["a6"]
    }
    assert ids(client.get("/api/v1/articles", params={"q": "ukraine", "tag": "uk-defence-statement"})) == [corpus["a1"]]
    assert ids(client.get("/api/v1/articles", params={"feed": "http://127.0.0.9/first.xml", "since": "2026-03-01T01:00",
                                                        "until": "2026-03-01T02:00"})) == [corpus["a2"]]
    assert ids(client.get("/api/v1/articles", params={"q": "ukraine", "order": "relevance"}))[0] == corpus["a2"]
    assert ids(client.get("/api/v1/articles", params={"story": corpus["a3"]})) == [corpus["a3"]]
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/articles", params={"limit": 4, **({"cursor": cursor} if cursor else {})}).json()
        seen += [i["id"] for i in page["items"]]
        if not (cursor := page["next"]):
            break
    assert seen == newest


def test_an_article_item_is_the_cli_json_with_the_text_cut_to_a_highlighted_snippet(
    client: TestClient, store: Store, corpus: dict[str, str]
) -> None:
    from monitor.store.readmodels import articles_json

    full = client.get("/api/v1/articles", params={"q": "kyiv", "full": 1}).json()["items"]
    assert full == articles_json(store, [store.article(corpus["a1"])])  # type: ignore[list-item]
    assert client.get(f"/api/v1/articles/{corpus['a1']}").json() == full[0]
    short = client.get("/api/v1/articles", params={"q": "kyiv"}).json()["items"][0]
    assert {k: v for k, v in short.items() if k not in ("text", "highlights")} == {
        k: v for k, v in full[0].items() if k != "text"
    }
    assert [short["text"][a:b] for a, b in short["highlights"]] == ["Kyiv"]


@pytest.mark.parametrize(("query", "shown"), [
    ("kyiv", ["KYIV", "Kyiv"]),  # case as the index compares it
    ('"air defence"', ["air-defence", "Air\nDefence"]),  # a phrase's words with anything but a word between
    ("sanction*", ["sanctions", "Sanction"]),  # a prefix: the start of a word, the whole word shown
    ("defence", ["defence", "Defence", "defence"]),  # never inside a word; "_" separates words, as in the index
    ('air OR "air defence"', ["air", "air", "Air"]),  # at each word the first term that starts there
    ('"air defence" OR air', ["air-defence", "air", "Air\nDefence"]),
])
def test_search_terms_are_found_as_whole_words_in_the_order_of_the_text(query: str, shown: list[str]) -> None:
    from monitor.store.query import parse_query
    from monitor.store.readmodels import query_spans, snippet

    text = "KYIV: air-defence, sanctions; Kyiv_x defenceless air Air\nDefence. Sanction x_defence"
    spans = query_spans(text, parse_query(query))
    assert [text[s.start : s.end] for s in spans] == shown
    cut, inside = snippet("filler " * 100 + text, parse_query(query), chars=60)  # around the first match
    assert cut.startswith("…") and [cut[s.start : s.end] for s in inside] == shown[: len(inside)] and inside


@pytest.mark.parametrize(("path", "params", "status", "message"), [
    ("/api/v1/articles", {"q": '"unclosed'}, 400, "unbalanced quote"),
    ("/api/v1/articles", {"q": "kyiv OR"}, 400, "OR needs a term"),
    ("/api/v1/articles", {"since": "soonish"}, 400, "since: not a date"),
    ("/api/v1/articles", {"limit": "0"}, 400, "limit"),
    ("/api/v1/articles", {"limit": "100000"}, 400, "limit"),
    ("/api/v1/articles", {"limit": "ten"}, 400, "limit"),
    ("/api/v1/articles", {"order": "random"}, 400, "order"),
    ("/api/v1/articles", {"cursor": "not-a-cursor"}, 400, "invalid cursor"),
    ("/api/v1/articles", {"source": "tv"}, 400, "source"),
    ("/api/v1/articles/ffffffffffffffff", {}, 404, "no article"),
    ("/api/v1/stories/ffffffffffffffff", {}, 404, "no story"),
    ("/api/v1/statements", {"until": "2026-13-01"}, 400, "until: not a date"),
    ("/feed.atom", {"q": "-only"}, 400, "only excludes"),
    ("/api/v1/nothing", {}, 404, "Not Found"),
    ("/api/v1/articles", {"tag": "ukraine\x00war"}, 400, "NUL"),
    ("/api/v1/statements", {"speaker": "\x00"}, 400, "NUL"),
])
def test_bad_parameters_are_a_4xx_with_a_message(
    client: TestClient, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_a_bad_parameter_on_a_page_is_a_page_with_the_message(client: TestClient) -> None:
    response = client.get("/articles", params={"q": "(kyiv"})
    assert response.status_code == 400 and "unbalanced &#39;(&#39;" in response.text


def test_statements_api_by_speaker_role_and_query(client: TestClient, corpus: dict[str, str]) -> None:
    def speakers(**params: str) -> list[tuple[str | None, str | None]]:
        response = client.get("/api/v1/statements", params=params)
        assert response.status_code == 200, response.text
        return [(i["speaker"], i["role"]) for i in response.json()["items"]]

    assert speakers() == [("John Healey", "Defence Secretary"), (None, "Ministry of Defence"),
                          ("Ben Wallace", "Defence Secretary")]
    assert speakers(role="defence secretary") == [("John Healey", "Defence Secretary"),
                                                  ("Ben Wallace", "Defence Secretary")]
    assert speakers(speaker="wallace") == [("Ben Wallace", "Defence Secretary")]
    assert speakers(q="odesa") == [(None, "Ministry of Defence")]
    item = client.get("/api/v1/statements", params={"speaker": "healey"}).json()["items"][0]
    assert item["article_id"] == corpus["a5"] and item["title"] == "Defence review published"


def test_story_api_shows_who_was_first_the_lag_and_verbatim_or_rewritten(
    settings: Settings, store: Store, corpus: dict[str, str]
) -> None:
    original = corpus["a1"]
    store.add_sighting(original, Sighting(None, "http://127.0.0.9/wire/a1", None, None))  # the same text elsewhere
    rewritten = Article(id="00000000000000c1", content_hash="00000000000000c1", title="Kyiv hit by missiles",
                        text="Missiles struck Kyiv overnight, officials said.", source="page",
                        fetched_at=T0 + timedelta(hours=9))
    store.save_article(rewritten, Sighting(None, "http://127.0.0.9/other/c1", None, None))
    with store.engine.begin() as conn:  # joined to the story as the near-duplicate matcher would
        join = "UPDATE article SET story_id = :o, duplicate_of = :o WHERE id = '00000000000000c1'"
        conn.execute(sa.text(join), {"o": original})
    with client_for(settings, store) as client:
        story = client.get(f"/api/v1/stories/{original}").json()
        page = client.get(f"/stories/{original}")
    kinds = [(c["article_id"], c["kind"]) for c in story["copies"]]
    assert kinds[0] == (original, "original") and story["copies"][0]["lag_seconds"] == 0
    assert ("00000000000000c1", "rewritten") in kinds and (original, "verbatim") in kinds
    assert story["size"] == 2
    assert all(c["lag_seconds"] >= 0 for c in story["copies"])
    assert page.status_code == 200 and "rewritten" in page.text and "verbatim" in page.text


def test_feeds_api_reports_health(client: TestClient, store: Store) -> None:
    feeds = client.get("/api/v1/feeds").json()["items"]
    assert [f["url"] for f in feeds] == ["http://127.0.0.9/first.xml", "http://127.0.0.9/second.xml"]
    first = feeds[0]
    for key in ("last_polled_at", "last_success_at", "error_count", "last_error", "backoff_seconds", "next_poll_at",
                "articles", "last_article_at", "silent"):
        assert key in first
    assert first["articles"] == 3 and first["error_count"] == 0
    page = client.get("/feeds")
    assert page.status_code == 200 and "First feed" in page.text


def test_atom_feed_of_a_search(client: TestClient, corpus: dict[str, str]) -> None:
    response = client.get("/feed.atom", params={"q": "ukraine", "tag": "ukraine-war"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["Café culture in Lviv", "Drone attacks on Odesa",
                                                 "Missiles hit Kyiv overnight"]
    assert parsed.entries[0].tags[0].term == "ukraine-war"


def test_pages_render_and_escape_what_articles_contain(settings: Settings, store: Store) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    store.save_article(Article(id="00000000000000ee", content_hash="00000000000000ee", title=hostile,
                               text=f"Ukraine {hostile} text", source="feed", fetched_at=T0), None)
    with client_for(settings, store) as client:
        for path in ("/", "/articles", "/articles?q=ukraine", "/articles/00000000000000ee", "/statements",
                     "/stories", "/feeds", "/login"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == CSP
            assert "<script" not in response.text and "<img" not in response.text, path
        assert "&lt;script&gt;" in client.get("/articles/00000000000000ee").text
    assert "script-src" not in CSP and "default-src 'none'" in CSP  # no script may run, inline or not


def test_article_page_highlights_evidence_and_search_terms(client: TestClient, corpus: dict[str, str]) -> None:
    page = client.get(f"/articles/{corpus['a1']}", params={"q": "kyiv"}).text
    assert "ukraine-war: term &#39;Ukraine&#39;\">Ukraine</mark>" in page  # hover: which tag, which evidence
    assert '<mark class="query" title="kyiv">Kyiv</mark>' in page
    assert "Ben Wallace" in page and "http://127.0.0.9/a1" in page and f"/stories/{corpus['a1']}" in page


def test_statements_page_timeline_by_office(client: TestClient) -> None:
    page = client.get("/statements", params={"group": "role", "role": "defence secretary"}).text
    timeline = page[page.index('id="timeline"'):]
    assert timeline.index("Ben Wallace") < timeline.index("John Healey")  # every Defence Secretary in turn
    assert "<svg" in page and "Statements per role per month" in page


def test_a_token_guards_everything_and_is_compared_as_a_whole(
    settings: Settings, store: Store, corpus: dict[str, str]
) -> None:
    with client_for(settings, store, token=TOKEN) as client:
        assert client.get("/api/v1/articles").status_code == 401
        assert client.get("/api/v1/articles", headers={"Authorization": "Bearer s3cret"}).status_code == 401
        assert client.get("/api/v1/articles", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
        assert client.get("/api/v1/articles", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.get("/feed.atom").status_code == 401
        page = client.get("/articles", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        label = client.post(f"/articles/{corpus['a2']}/labels", data={"tag": "ukraine-war", "value": "1"},
                            follow_redirects=False)
        assert label.status_code == 303 and label.headers["location"] == "/login"
        assert client.post("/login", data={"token": "wrong"}).status_code == 401
        assert client.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
        assert client.get("/articles").status_code == 200  # the cookie set by signing in
        label = client.post(f"/articles/{corpus['a2']}/labels", data={"tag": "ukraine-war", "value": "1"},
                            follow_redirects=False)
        assert label.status_code == 303


def test_a_cross_site_form_cannot_record_a_label(client: TestClient, corpus: dict[str, str]) -> None:
    refused = client.post(f"/articles/{corpus['a2']}/labels", data={"tag": "ukraine-war", "value": "1"},
                          headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    for bad in ({"tag": "ukraine-war", "value": "2"}, {"tag": " ", "value": "1"}, {"value": "1"}):
        assert client.post(f"/articles/{corpus['a2']}/labels", data=bad).status_code == 400
    assert client.post("/articles/ffffffffffffffff/labels", data={"tag": "x", "value": "1"}).status_code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.org"])
def test_binding_beyond_loopback_needs_a_token(host: str) -> None:
    with pytest.raises(WebError, match="needs an access token"):
        check_bind(host, "")
    check_bind(host, TOKEN)
    for loopback in ("127.0.0.1", "127.0.0.5", "::1", "localhost"):
        check_bind(loopback, "")


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_monitor_web_refuses_a_public_address_without_a_token(config_file: Path) -> None:
    result = monitor("web", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("monitor: error: refusing to serve the web interface")


def test_cli_query_and_labels_export(config_file: Path, settings: Settings) -> None:
    from monitor.service.app import open_app

    found = monitor("articles", "list", "--json", "--query", "putin")
    assert found.returncode == 0, found.stderr
    lines = [json.loads(line) for line in found.stdout.splitlines()]
    assert lines and all("putin" in (a["text"] + (a["title"] or "")).lower() for a in lines)
    app = open_app(settings)
    with client_for(settings, app.store) as client:
        assert client.get("/api/v1/articles", params={"q": "putin", "full": 1}).json()["items"] == lines
        for value in ("0", "1"):  # the analyst changes their mind: the latest label counts
            client.post(f"/articles/{lines[0]['id']}/labels", data={"tag": "uk-defence-statement", "value": value})
    bad = monitor("articles", "list", "--query", '"unclosed')
    assert bad.returncode == 2 and bad.stderr.startswith("monitor: error: unbalanced quote")
    exported = monitor("labels", "export")
    assert exported.returncode == 0, exported.stderr
    items = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(items) == 1
    item = items[0]
    assert item["id"] == lines[0]["id"] and item["labels"] == {"uk-defence-statement": 1}
    for key in ("source_set", "title", "text", "published", "url", "speakers", "confidence", "note"):
        assert key in item
    assert item["speakers"] and all(set(s) == {"name", "role"} for s in item["speakers"])


def test_monitor_run_serves_the_interface_when_enabled(config_file: Path) -> None:
    port = free_port()
    env = {"MONITOR_WEB_ENABLED": "true", "MONITOR_WEB_PORT": str(port)}
    log = config_file.parent / "daemon.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run"], stderr=err,
                                env={**os.environ, **env})
    try:
        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/feeds", timeout=2).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None

        wait_for(answers, timeout=60)
        assert proc.poll() is None, log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()


def test_front_page_chart_counts_tagged_articles_per_day(store: Store, corpus: dict[str, str]) -> None:
    from monitor.store.views import Views

    counts, undated = Views(store.engine).tags_per_day(T0 - timedelta(days=1))
    day = T0.date()
    assert counts == {(day, "ukraine-war"): 3, (day, "uk-defence-statement"): 2} and undated == 0
    assert Views(store.engine).tags_per_day(T0 + timedelta(days=1)) == ({}, 0)
    store.save_article(Article(id="00000000000000f1", content_hash="00000000000000f1", title="Undated",
                               text="Kyiv", source="seed", tags=["ukraine-war"], fetched_at=T0), None,
                       tags=[ArticleTag(article_id="00000000000000f1", tag="ukraine-war", score=1.0, evidence=[])])
    counts, undated = Views(store.engine).tags_per_day(T0 - timedelta(days=1))
    assert counts[(day, "ukraine-war")] == 3 and undated == 1  # not charted on its fetch day


def test_a_feed_silent_for_longer_than_usual_is_flagged() -> None:
    from monitor.core.config import PollSettings
    from monitor.store.models import Feed
    from monitor.store.readmodels import feed_json
    from monitor.store.views import FeedActivity

    poll = PollSettings()  # silent after 5 usual gaps
    hourly = FeedActivity(sightings=49, first=T0, last=T0 + timedelta(hours=48))
    feed = Feed(id=1, url="http://127.0.0.9/f.xml", entry_gap=3600.0, last_new_entry_at=T0 + timedelta(hours=48))
    assert feed_json(feed, hourly, poll, T0 + timedelta(hours=52))["silent"] is False  # quiet 4 h < 5 h
    late = feed_json(feed, hourly, poll, T0 + timedelta(hours=54))
    assert late["silent"] is True and late["articles"] == 49 and late["backoff_seconds"] == 0
    failing = Feed(id=2, url="http://127.0.0.9/g.xml", error_count=2, last_error="HTTP 500", entry_gap=3600.0,
                   last_new_entry_at=T0)
    shown = feed_json(failing, None, poll, T0 + timedelta(days=3))
    assert shown["silent"] is False and shown["error_count"] == 2  # a failing feed is shown as failing
    assert shown["backoff_seconds"] == failing.retry_delay(poll, T0 + timedelta(days=3)) > 0
    assert feed_json(Feed(id=3, url="http://127.0.0.9/h.xml"), None, poll, T0)["silent"] is False  # rhythm unknown
