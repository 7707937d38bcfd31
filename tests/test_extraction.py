"""Article extraction: main text without boilerplate, metadata, encodings, bad input, process pools."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from trafilatura.utils import load_html

import monitor.ingest.extraction
from monitor.ingest.extraction import Extracted, _paragraph_chars, extract_article

STORY = [
    "Defence ministers from twelve countries met in Brussels on Tuesday to agree a new package of air-defence "
    "systems, ammunition and training for Ukrainian forces ahead of the winter.",
    "The package, worth about two billion euros, includes short-range missiles, radar units and spare parts for "
    "artillery that has been in near-constant use along the eastern front since the spring.",
    "Officials said the first deliveries would arrive within weeks, although several governments still had to "
    "approve the spending in their parliaments before contracts could be signed with manufacturers.",
    "Analysts noted that stockpiles in several donor countries were now running low, and that industry would "
    "need firm orders over several years before it invested in new production lines.",
]
BOILERPLATE = [
    "Subscribe to our newsletter",
    "Most read: Ten cheap flights for the half-term holiday",
    "Great article, totally agree with every word",
    "Win a luxury cruise today",
    "trackingPixel",
    "Cookie settings",
]


def article_page(head: str = "", html_attrs: str = ' lang="en-GB"') -> str:
    """A realistic news page: navigation, related links, ads, scripts and comments around the story."""
    story = "\n".join(f"<p>{paragraph}</p>" for paragraph in STORY)
    return f"""<!DOCTYPE html>
<html{html_attrs}>
<head>
  <meta charset="utf-8">
  <title>Allies agree new air-defence package for Ukraine | Daily Example</title>
  {head}
  <script>var trackingPixel = "https://ads.example.net/px.gif"; window.dataLayer = [];</script>
  <style>.ad {{ display: block; }}</style>
</head>
<body>
  <header>
    <nav><ul>
      <li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/uk">UK</a></li>
      <li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
    </ul></nav>
    <div class="cookie-banner">Cookie settings <button>Accept all</button></div>
  </header>
  <main>
    <article>
      <h1>Allies agree new air-defence package for Ukraine</h1>
      <div class="byline">By <a href="/authors/jane-smith" rel="author">Jane Smith</a></div>
      <div class="article-body">
        {story}
        <div class="ad advert"><a href="https://ads.example.net/click">Win a luxury cruise today</a></div>
      </div>
    </article>
    <aside class="related">
      <h2>Related stories</h2>
      <ul>
        <li><a href="/a1">Most read: Ten cheap flights for the half-term holiday</a></li>
        <li><a href="/a2">Celebrity chef opens a new restaurant in Leeds</a></li>
        <li><a href="/a3">Football: late goal seals the derby</a></li>
      </ul>
    </aside>
    <section id="comments" class="comments">
      <h2>Comments</h2>
      <div class="comment"><p>Great article, totally agree with every word, thanks for writing it.</p></div>
      <div class="comment"><p>This is nonsense and the author should be ashamed of this piece.</p></div>
    </section>
  </main>
  <footer>
    <div class="newsletter"><a href="/newsletter">Subscribe to our newsletter</a></div>
    <p>&copy; 2024 Daily Example Ltd. All rights reserved.</p>
  </footer>
  <script>document.write("<div>trackingPixel</div>");</script>
</body>
</html>"""


def test_only_the_story_comes_out() -> None:
    result = extract_article(article_page(), "https://news.example.com/world/air-defence")
    assert result is not None
    for paragraph in STORY:
        assert paragraph in result.text
    for junk in BOILERPLATE:
        assert junk not in result.text
    assert "Related stories" not in result.text
    assert "Allies agree" not in result.text.splitlines()[0]  # the title is a field, not the first line
    assert result.method == "trafilatura"


LONG_COMMENT = " ".join(["I have followed this conflict for years and I think the package comes far too late."] * 6)


def test_long_comments_do_not_trigger_readability(monkeypatch: pytest.MonkeyPatch) -> None:
    """Comment, related-link and footer paragraphs are not article text for the coverage check."""
    comments = "".join(f'<div class="comment"><p>{LONG_COMMENT}</p></div>' for _ in range(8))
    related = "".join(f"<li><p>{LONG_COMMENT}</p></li>" for _ in range(3))
    page = article_page().replace(
        "</main>",
        f'<section class="comments-list">{comments}</section><div id="related-links"><ul>{related}</ul></div></main>',
    )

    def not_called(*_: object) -> str:
        raise AssertionError("readability should not run")

    monkeypatch.setattr(monitor.ingest.extraction, "_readability_text", not_called)
    result = extract_article(page, "https://news.example.com/world/allies-air-defence")
    assert result is not None
    assert result.method == "trafilatura"
    assert "package comes far too late" not in result.text


def test_layout_wrappers_keep_their_paragraphs() -> None:
    """A page-wide ``<form>`` or a ``<body class="has-sidebar">`` does not hide the story from the check."""
    story = "".join(f"<p>{paragraph}</p>" for paragraph in STORY)
    page = f'<html><body class="has-sidebar"><form id="aspnetForm"><h1>Title</h1>{story}</form></body></html>'
    assert _paragraph_chars(load_html(page)) == sum(len(paragraph) for paragraph in STORY)


def test_metadata_from_meta_tags() -> None:
    head = """
  <meta property="og:site_name" content="Daily Example">
  <meta property="og:title" content="Allies agree new air-defence package for Ukraine">
  <meta name="author" content="Jane Smith">
  <meta property="article:published_time" content="2024-03-05T14:30:00+02:00">
  <link rel="canonical" href="https://news.example.com/world/air-defence">"""
    result = extract_article(article_page(head), "https://news.example.com/world/air-defence?utm_source=rss")
    assert result is not None
    assert result.title == "Allies agree new air-defence package for Ukraine"
    assert result.authors == ["Jane Smith"]
    assert result.published == datetime(2024, 3, 5, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    assert result.language == "en"
    assert result.site_name == "Daily Example"
    assert result.canonical_url == "https://news.example.com/world/air-defence"


def test_metadata_from_json_ld_with_several_authors() -> None:
    head = """
  <script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
    "headline": "Allies agree new air-defence package for Ukraine",
    "datePublished": "2024-03-05T09:15:00Z",
    "author": [{"@type": "Person", "name": "Jane Smith"}, {"@type": "Person", "name": "Tom Brown"}],
    "publisher": {"@type": "Organization", "name": "Daily Example"}}</script>"""
    result = extract_article(article_page(head), "https://news.example.com/a")
    assert result is not None
    assert result.authors == ["Jane Smith", "Tom Brown"]
    assert result.published == datetime(2024, 3, 5, 9, 15, tzinfo=UTC)
    assert result.site_name == "Daily Example"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("2024-03-05T14:30:00", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),  # no zone → UTC
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),  # date only → midnight UTC
    ],
)
def test_published_without_zone_is_utc(content: str, expected: datetime) -> None:
    head = f'<meta property="article:published_time" content="{content}">'
    result = extract_article(article_page(head), "https://news.example.com/a")
    assert result is not None
    assert result.published == expected
    assert result.published.tzinfo is not None


def test_canonical_from_og_url_when_no_link() -> None:
    head = '<meta property="og:url" content="https://news.example.com/world/air-defence">'
    result = extract_article(article_page(head), "https://m.example.com/x?id=1")
    assert result is not None
    assert result.canonical_url == "https://news.example.com/world/air-defence"


def test_relative_canonical_made_absolute() -> None:
    head = '<link rel="canonical" href="/world/air-defence">'
    result = extract_article(article_page(head), "https://news.example.com/amp/air-defence?x=1")
    assert result is not None
    assert result.canonical_url == "https://news.example.com/world/air-defence"


def test_no_canonical_and_no_language() -> None:
    result = extract_article(article_page(html_attrs=""), "https://news.example.com/a")
    assert result is not None
    assert result.canonical_url is None
    assert result.language is None


def test_language_from_content_language_meta() -> None:
    head = '<meta http-equiv="Content-Language" content="uk-UA">'
    result = extract_article(article_page(head, html_attrs=""), None)
    assert result is not None
    assert result.language == "uk"


RUSSIAN = [
    "Министры обороны двенадцати стран во вторник встретились в Брюсселе и согласовали новый пакет помощи "
    "Украине: системы противовоздушной обороны, боеприпасы и обучение военных.",
    "По словам чиновников, первые поставки начнутся уже через несколько недель, хотя парламенты ряда "
    "государств ещё должны одобрить расходы, прежде чем будут подписаны контракты с производителями.",
    "Аналитики отмечают, что запасы во многих странах-донорах на исходе, и промышленности нужны твёрдые "
    "заказы на несколько лет вперёд, чтобы вкладывать средства в новые производственные линии.",
]


@pytest.mark.parametrize(
    "meta",
    ['<meta charset="windows-1251">', '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'],
)
def test_windows_1251_bytes_with_meta_charset(meta: str) -> None:
    paragraphs = "".join(f"<p>{p}</p>" for p in RUSSIAN)
    page = (
        f'<html lang="ru"><head>{meta}<title>Пакет помощи</title></head>'
        f"<body><nav><a href='/'>Главная</a></nav><article><h1>Пакет помощи</h1>{paragraphs}</article></body></html>"
    )
    result = extract_article(page.encode("windows-1251"), "https://ru.example.com/news/1")
    assert result is not None
    for paragraph in RUSSIAN:
        assert paragraph in result.text
    assert result.language == "ru"


def test_iso_8859_1_label_decodes_as_windows_1252() -> None:
    """As in browsers (WHATWG): bytes 0x80-0x9F of a page labelled ISO-8859-1 are windows-1252 (’, €)."""
    story = (
        "Le ministre de la Défense a annoncé mercredi l'envoi de matériel supplémentaire, "
        "précisant que les livraisons de 40 M€ débuteraient « dès que possible » après l’accord du Parlement. "
    ) * 3
    page = (
        '<html lang="fr"><head><meta charset="iso-8859-1"><title>Défense</title></head>'
        f"<body><article><p>{story}</p><p>{story}</p></article></body></html>"
    )
    result = extract_article(page.encode("windows-1252"), "https://fr.example.com/a")
    assert result is not None
    assert "Le ministre de la Défense a annoncé mercredi" in result.text
    assert "40 M€ débuteraient « dès que possible » après l’accord" in result.text


def test_utf8_bytes_are_decoded() -> None:
    result = extract_article(article_page().encode("utf-8"), "https://news.example.com/a")
    assert result is not None
    assert STORY[0] in result.text


@pytest.mark.parametrize(
    "page",
    [
        "",
        b"",
        "   ",
        "just some words, not a page",
        b"\x00\x01\x02\xff\xfe\x00garbage\x89PNG\r\n",
        "<html><body></body></html>",
        "<html><body><nav><a href='/'>Home</a></nav></body></html>",
        "<<<>>><!-- <div <p </html",
        '{"json": "not html", "items": [1, 2, 3]}',
    ],
)
def test_garbage_or_empty_gives_none(page: str | bytes) -> None:
    assert extract_article(page, "https://example.com/") is None


def test_too_many_elements_gives_none_quickly() -> None:
    page = "<html><body><ul>" + "<li><a href='/x'>link</a> text</li>" * 20_000 + "</ul></body></html>"
    assert extract_article(page, "https://example.com/") is None


def test_result_is_picklable() -> None:
    result = extract_article(article_page('<meta name="author" content="Jane Smith">'), "https://news.example.com/a")
    assert result is not None
    assert pickle.loads(pickle.dumps(result)) == result


def test_works_through_a_process_pool() -> None:
    pages = [article_page(), b"not html at all"]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(extract_article, pages, ["https://news.example.com/a", None]))
    assert isinstance(results[0], Extracted)
    assert STORY[0] in results[0].text
    assert results[1] is None


def test_byline_found_in_the_page_body_unless_the_feed_named_the_authors() -> None:
    page = article_page()  # no author metadata: only the byline link in the body
    found = extract_article(page, "https://news.example.com/a")
    assert found is not None and found.authors == ["Jane Smith"]
    skipped = extract_article(page, "https://news.example.com/a", find_author=False)
    assert skipped is not None and skipped.authors == [] and skipped.text == found.text
