from datetime import UTC, datetime

import pytest

from monitor.ingest.feedparse import FeedParseError, html_to_text, parse_feed
from tests.newsworld import Item, atom, rss

ITEMS = [
    Item("First", "http://a.invalid/1", "g1", "<p>One <b>bold</b></p><p>Two</p>", datetime(2022, 3, 2, 10, tzinfo=UTC)),
    Item("Second", "http://a.invalid/2", None, "plain summary"),
]


def test_rss2() -> None:
    feed = parse_feed(rss(ITEMS, title="Wire"), "http://a.invalid/feed")
    assert feed.title == "Wire" and feed.bozo is None
    first, second = feed.entries
    assert (first.guid, first.link, first.title) == ("g1", "http://a.invalid/1", "First")
    assert first.text == "One bold\n\nTwo"
    assert first.published == datetime(2022, 3, 2, 10, tzinfo=UTC)
    assert second.guid is None and second.text == "plain summary"


def test_atom() -> None:
    feed = parse_feed(atom(ITEMS), "http://a.invalid/atom")
    assert [e.link for e in feed.entries] == ["http://a.invalid/1", "http://a.invalid/2"]
    assert feed.entries[0].published == datetime(2022, 3, 2, 10, tzinfo=UTC)


def test_rss1_rdf() -> None:
    doc = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://a.invalid/"><title>RDF</title>
    <link>http://a.invalid/</link></channel><item rdf:about="http://a.invalid/x"><title>X</title>
    <link>http://a.invalid/x</link><description>Desc</description></item></rdf:RDF>"""
    feed = parse_feed(doc, "http://a.invalid/rdf")
    assert [(e.title, e.link) for e in feed.entries] == [("X", "http://a.invalid/x")]


def test_rss091_relative_links_resolved() -> None:
    doc = b"""<rss version="0.91"><channel><title>Old</title><link>http://a.invalid/</link>
    <item><title>Rel</title><link>/news/1</link></item></channel></rss>"""
    feed = parse_feed(doc, "http://a.invalid/feed.xml")
    assert feed.entries[0].link == "http://a.invalid/news/1"


def test_malformed_feed_is_read_anyway() -> None:
    doc = rss(ITEMS).replace(b"<title>Second</title>", b"<title>Second & Third &nbsp;</title>")
    feed = parse_feed(doc, "http://a.invalid/feed")
    assert feed.bozo
    assert len(feed.entries) == 2


def test_non_utf8_encoding() -> None:
    doc = rss([Item("Війна триває", "http://a.invalid/ua", description="Київ")], encoding="windows-1251")
    feed = parse_feed(doc, "http://a.invalid/feed", "application/rss+xml")
    assert feed.entries[0].title == "Війна триває"
    assert feed.entries[0].text == "Київ"


def test_json_feed() -> None:
    doc = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
      {"id": "1", "url": "/a", "title": "A", "content_html": "<p>Hi</p>", "date_published": "2022-03-01T10:00:00Z"}]}"""
    feed = parse_feed(doc, "http://a.invalid/feed.json")
    entry = feed.entries[0]
    assert (entry.link, entry.text) == ("http://a.invalid/a", "Hi")
    assert entry.published == datetime(2022, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("doc", [b"", b"<html><body>Not a feed</body></html>", b"\x00\xff garbage", b"{nope"])
def test_unreadable_documents_raise_a_clear_error(doc: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(doc, "http://a.invalid/feed")


def test_html_to_text_drops_scripts() -> None:
    assert html_to_text("<p>a</p><script>evil()</script><p>b &amp; c</p>") == "a\n\nb & c"


def test_only_web_links_are_kept_from_entries() -> None:
    items = [Item("Script", "javascript:alert(1)", "g1"), Item("Data", "data:text/html,<b>x</b>", "g2"),
             Item("Web", "https://news.example/a", "g3")]
    for document in (rss(items), atom(items)):
        links = [e.link for e in parse_feed(document, "http://127.0.0.9/feed.xml").entries]
        assert links == [None, None, "https://news.example/a"]
    json_feed = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "javascript:x()"}]}'
    assert [e.link for e in parse_feed(json_feed, "http://127.0.0.9/feed.json").entries] == [None]
