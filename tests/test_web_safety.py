"""The read surface is safe and says what it answers: hosts, origins, sign-in sessions, bounded queries, one
contract for errors (the OpenAPI document included), HEAD, and the security headers on every answer."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from monitor.core.config import Settings, load_settings
from monitor.core.errors import ConfigError
from monitor.store import Sighting, Store
from monitor.store.models import Article
from monitor.web.app import create_app
from monitor.web.security import COOKIE, CSP
from tests.corpus import T0, store_corpus

TOKEN = "a-long-enough-access-token-for-tests-0123"
SITE = "http://127.0.0.1:8080"
DEEP = "(" * 330 + "kyiv" + ")" * 330


def client_for(settings: Settings, store: Store, *, origin: bool = True, **web: object) -> TestClient:
    settings = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(create_app(settings, store), base_url=SITE, headers={"Origin": SITE} if origin else {})


@pytest.fixture
def corpus(store: Store) -> dict[str, str]:
    return store_corpus(store)


@pytest.fixture
def client(settings: Settings, store: Store, corpus: dict[str, str]) -> TestClient:
    return client_for(settings, store)


def test_a_foreign_host_is_refused_and_base_url_names_the_public_one(settings: Settings, store: Store) -> None:
    client = client_for(settings, store)
    rebound = client.get("/api/v1/articles", headers={"Host": "attacker.example"})
    assert rebound.status_code == 400 and "allowed_hosts" in rebound.json()["error"]
    assert rebound.headers["Content-Security-Policy"] == CSP
    assert client.get("/", headers={"Host": "localhost:8080"}).status_code == 200
    public = client_for(settings, store, base_url="https://monitor.example.org")
    assert public.get("/api/v1/feeds", headers={"Host": "monitor.example.org"}).status_code == 200


def test_a_state_change_needs_this_sites_origin_or_referer(settings: Settings, store: Store,
                                                           corpus: dict[str, str]) -> None:
    client = client_for(settings, store, origin=False)
    form = {"tag": "ukraine-war", "value": "1"}
    assert client.post(f"/articles/{corpus['a2']}/labels", data=form).status_code == 403
    referred = client.post(f"/articles/{corpus['a2']}/labels", data=form, follow_redirects=False,
                           headers={"Referer": f"{SITE}/articles/{corpus['a2']}"})
    assert referred.status_code == 303
    assert client.post(f"/articles/{corpus['a2']}/labels", data=form,
                       headers={"Origin": "null"}).status_code == 403


def test_labels_only_for_defined_tags(client: TestClient, corpus: dict[str, str]) -> None:
    refused = client.post(f"/articles/{corpus['a2']}/labels", data={"tag": "no-such-tag", "value": "1"})
    assert refused.status_code == 400 and "ukraine-war" in refused.text


def test_a_short_token_is_refused_at_start(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_WEB_TOKEN", "x")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings(config_file)
    monkeypatch.setenv("MONITOR_WEB_TOKEN", TOKEN)
    assert load_settings(config_file).web.token == TOKEN


def test_sign_in_is_a_session_not_the_token_and_sign_out_ends_it(settings: Settings, store: Store) -> None:
    client = client_for(settings, store, token=TOKEN)
    signed = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert signed.status_code == 303
    cookie, session = signed.headers["set-cookie"], client.cookies.get(COOKIE)
    assert session and TOKEN not in cookie and "HttpOnly" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # served over plain http here
    assert client.get("/articles", follow_redirects=False).status_code == 200
    assert client.post("/logout", follow_redirects=False).status_code == 303
    assert client.get("/articles", follow_redirects=False).headers["location"] == "/login"
    client.cookies.set(COOKIE, session)  # the old id, replayed
    assert client.get("/articles", follow_redirects=False).headers["location"] == "/login"
    behind_tls = client_for(settings, store, token=TOKEN, base_url="https://monitor.example.org")
    assert "Secure" in behind_tls.post("/login", data={"token": TOKEN}, follow_redirects=False).headers["set-cookie"]


def test_failed_sign_ins_are_logged_and_then_refused(settings: Settings, store: Store,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(settings, store, token=TOKEN, login_attempts=3)
    with caplog.at_level(logging.WARNING, logger="monitor.web.pages"):
        assert [client.post("/login", data={"token": "guess"}).status_code for _ in range(3)] == [401] * 3
        assert client.post("/login", data={"token": TOKEN}).status_code == 429  # even the right one, for now
    assert sum("sign-in failed" in r.getMessage() for r in caplog.records) == 3
    assert any("too many failed attempts" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path", ["/api/v1/articles", "/articles", "/feed.atom", "/statements", "/api/v1/statements"])
def test_deep_or_empty_queries_are_a_400_with_headers(client: TestClient, path: str) -> None:
    for q in (DEEP, "^"):
        response = client.get(path, params={"q": q})
        assert response.status_code == 400, (q[:5], response.text[:200])
        assert response.headers["Content-Security-Policy"] == CSP


def test_a_deep_query_in_the_cli_is_one_line(config_file: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "monitor", "articles", "list", "--query", DEEP],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("monitor: error: the query nests too deeply")


def test_an_internal_error_is_a_500_with_the_security_headers(settings: Settings, store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "feeds", broken)
    client = TestClient(create_app(settings, store), base_url=SITE, raise_server_exceptions=False)
    response = client.get("/api/v1/feeds")
    assert response.status_code == 500 and response.json() == {"error": "internal error (logged)"}
    assert response.headers["Content-Security-Policy"] == CSP and response.headers["X-Frame-Options"] == "DENY"


def test_head_answers_every_get(client: TestClient, corpus: dict[str, str]) -> None:
    for path in ("/", "/articles", "/statements", "/stories", "/feeds", "/feed.atom", "/api/v1/articles",
                 f"/api/v1/articles/{corpus['a1']}", "/api/v1/stories", "/api/v1/feeds"):
        head, get = client.head(path), client.get(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize(("params", "message"), [
    ({"tag": "no-such-tag"}, "unknown tag 'no-such-tag'"),
    ({"feed": "http://127.0.0.9/none.xml"}, "no feed"),
    ({"story": "ffffffffffffffff"}, "no story"),
])
def test_unknown_tag_feed_or_story_is_a_400_not_an_empty_list(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    for path in ("/api/v1/articles", "/feed.atom" if "story" not in params else "/api/v1/articles"):
        response = client.get(path, params=params)
        assert response.status_code == 400 and message in response.json()["error"]


def test_relative_dates_read_as_in_the_cli(client: TestClient) -> None:
    assert client.get("/api/v1/articles", params={"since": "yesterday"}).status_code == 200
    assert client.get("/api/v1/statements", params={"since": "3 days ago"}).status_code == 200


def test_stories_list(client: TestClient) -> None:
    items = client.get("/api/v1/stories", params={"min_size": 1}).json()["items"]
    assert items and {"story_id", "size", "latest", "title"} <= set(items[0])
    assert client.get("/api/v1/stories", params={"min_size": 0}).status_code == 400


def test_the_openapi_document_says_what_the_api_answers(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert '"422"' not in str(doc).replace("'", '"')
    for path, operations in doc["paths"].items():
        operation = operations["get"]
        params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        if not params:
            continue
        assert "400" in operation["responses"], path
        numeric = [n for n, p in params.items() if "integer" in str(p["schema"])]
        if numeric and "{" not in path:
            answer = client.get(path, params={numeric[0]: "not-a-number"})
            assert str(answer.status_code) in operation["responses"], (path, answer.status_code)
            assert set(answer.json()) == set(doc["components"]["schemas"]["Error"]["properties"])


def test_only_web_links_are_rendered_and_the_atom_feed_links_the_source(
    settings: Settings, store: Store, corpus: dict[str, str]
) -> None:
    feed = store.feeds()[0]
    hostile = Article(id="00000000000000aa", content_hash="00000000000000aa", title="Ukraine hostile links",
                      text="Ukraine text", source="feed", url="javascript:alert(1)", feed_id=feed.id,
                      fetched_at=T0, tags=["ukraine-war"])
    store.save_article(hostile, Sighting(feed.id, "data:text/html,<script>alert(1)</script>", None, "g1"))
    client = client_for(settings, store, base_url="https://monitor.example.org")
    for path in ("/articles/00000000000000aa", "/articles", "/stories/00000000000000aa", "/feed.atom",
                 "/api/v1/articles/00000000000000aa"):
        page = client.get(path, headers={"Host": "monitor.example.org"}).text
        assert 'href="javascript:' not in page and 'href="data:' not in page, path
        assert '"url": "javascript' not in page.replace("'", '"'), path
    atom = feedparser.parse(client.get("/feed.atom", headers={"Host": "monitor.example.org"}).content)
    assert not atom.bozo and atom.feed.id.startswith("https://monitor.example.org/")
    entry = next(e for e in atom.entries if e.title == "Missiles hit Kyiv overnight")
    rels = [(link.rel, link.href) for link in entry.links]
    assert [r for r, _ in rels].count("alternate") == 1
    assert entry.link == "http://127.0.0.9/a1"  # a feed reader follows the source
    assert ("related", f"https://monitor.example.org/articles/{corpus['a1']}") in rels


def test_a_feed_key_opens_the_atom_feed_only(settings: Settings, store: Store, corpus: dict[str, str]) -> None:
    key = "k" * 40
    client = client_for(settings, store, token=TOKEN, feed_keys=(key,))
    assert client.get("/feed.atom").status_code == 401
    opened = client.get("/feed.atom", params={"key": key, "tag": "ukraine-war"})
    assert opened.status_code == 200 and key not in opened.text
    assert client.get("/api/v1/articles", params={"key": key}).status_code == 401
    assert client.get("/articles", params={"key": key}, follow_redirects=False).status_code == 303
    assert client.get("/feed.atom", params={"key": "k" * 39 + "x"}).status_code == 401


def test_titles_are_isolated_where_shown(settings: Settings, store: Store, corpus: dict[str, str]) -> None:
    rlo = "\u202eKyiv news\u200b"
    store.save_article(Article(id="00000000000000bb", content_hash="00000000000000bb", title=rlo, text="Ukraine",
                               source="feed", fetched_at=T0, tags=["ukraine-war"]), None)
    client = client_for(settings, store)
    for path in ("/articles", "/articles/00000000000000bb", "/stories/00000000000000bb"):
        page = client.get(path).text
        assert f"<bdi>{rlo}</bdi>" in page, path


def test_a_storys_original_is_its_earliest_publication_and_a_url_seen_again_is_no_copy(
    settings: Settings, store: Store
) -> None:
    first, _ = store.add_feed("http://127.0.0.9/wire.xml", "Wire")
    second, _ = store.add_feed("http://127.0.0.9/other.xml", "Other")
    published = T0.replace(hour=9, minute=10)
    wire = Article(id="00000000000000d1", content_hash="00000000000000d1", title="Wire copy", text="Kyiv",
                   source="page", published=published, fetched_at=T0.replace(hour=9, minute=20),
                   url="http://127.0.0.9/wire/1", canonical_url="http://127.0.0.9/wire/1")
    early = Article(id="00000000000000d2", content_hash="00000000000000d2", title="Early piece", text="Kyiv!",
                    source="page", published=T0.replace(hour=6, minute=30), fetched_at=T0.replace(hour=11),
                    url="http://127.0.0.9/early/2", canonical_url="http://127.0.0.9/early/2")
    store.save_article(wire, Sighting(first.id, wire.url or "", wire.canonical_url, None))
    store.add_sighting(wire.id, Sighting(second.id, wire.url or "", wire.canonical_url, None))  # the same URL again
    store.save_article(early, Sighting(second.id, early.url or "", early.canonical_url, None))
    with store.engine.begin() as conn:  # joined as the near-duplicate matcher would (fetch order: wire first)
        conn.execute(sa.text("UPDATE article SET story_id = :w, duplicate_of = :w WHERE id = :e"),
                     {"w": wire.id, "e": early.id})
    story = client_for(settings, store).get(f"/api/v1/stories/{wire.id}").json()
    assert story["original"] == early.id
    assert [(c["article_id"], c["kind"], c["lag_seconds"]) for c in story["copies"]] == [
        (early.id, "original", 0.0), (wire.id, "rewritten", 160 * 60.0),
    ]
    assert story["copies"][1]["seen_in"] == ["http://127.0.0.9/other.xml"]
    assert story["copies"][0]["appeared_basis"] == "published"


def test_evidence_reads_as_evidence_and_a_label_given_is_shown_again(
    settings: Settings, store: Store, corpus: dict[str, str]
) -> None:
    from monitor.store.readmodels import evidence_spans

    text = "The Ministry of Defence said Kyiv was hit. Shakhtar Donetsk won the Champions League game."
    article = {"title": "", "text": text, "tag_details": {
        "ukraine-war": {"evidence": [
            {"kind": "term", "field": "text", "start": 29, "end": 33, "text": "'Kyiv'"},
            {"kind": "exclusion", "field": "text", "start": 68, "end": 84, "text": "'Champions League': sport"},
        ]},
        "uk-defence-statement": {"evidence": [
            {"kind": "term", "field": "text", "start": 16, "end": 23, "text": "'Defence'"},  # inside a name
            {"kind": "statement", "field": "text", "start": 4, "end": 41, "text": "Ministry of Defence"},
            {"kind": "rejected", "field": "text", "start": 44, "end": 60, "text": "not ours"},
        ]},
    }}
    spans = {(text[s.start:s.end], s.kind) for s in evidence_spans(article)}
    assert spans == {("Kyiv", "tag-0"), ("Champions League", "exclusion"),
                     ("Ministry of Defence said Kyiv was hit", "tag-1")}
    client = client_for(settings, store)
    posted = client.post(f"/articles/{corpus['a1']}/labels", data={"tag": "ukraine-war", "value": "0"})
    assert posted.status_code == 200, posted.text[:300]
    page = client.get(f"/articles/{corpus['a1']}").text  # coming back later
    assert "you marked it wrong on" in page and 'class="tag tag-0"' in page and 'mark class="tag-0"' in page


def test_silent_and_half_sent_connections_are_closed(config_file: Path, settings: Settings) -> None:
    import socket
    import time

    from tests.test_instances import stop
    from tests.test_ops import free_port
    from tests.test_process_safety import wait_for

    port = free_port()
    env = {**os.environ, "MONITOR_WEB_HEADER_TIMEOUT": "1", "MONITOR_IMPORT_SEEDS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "web", "--port", str(port)], env=env,
                            stderr=subprocess.DEVNULL)
    try:
        def answers() -> bool:
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=2) is not None
            except OSError:
                return proc.poll() is not None

        wait_for(answers, timeout=60)
        assert proc.poll() is None
        for payload in (b"", b"GET /api/v1/feeds HTTP/1.1\r\nHost: 127.0.0.1"):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(payload)
                s.settimeout(60)  # generous: the server closes it after its 1 s deadline
                started = time.monotonic()
                assert s.recv(100) == b""  # closed, no answer
                assert time.monotonic() - started < 30
        with socket.create_connection(("127.0.0.1", port)) as s:  # a whole request is answered as ever
            s.sendall(b"GET /api/v1/feeds HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            s.settimeout(60)
            assert s.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        stop(proc)
