"""Tags, statements and near-duplicate stories through the pipeline, the store and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.ingest.processor import Options
from monitor.ingest.seeds import import_corpus, packaged_seed_dir, read_text
from monitor.service.app import App
from tests.conftest import run_cycle
from tests.newsworld import Item, NewsServer, article_page, article_text, rss
from tests.test_cli import monitor

WAR_STORY = [
    "Russian missiles struck Kyiv and Kharkiv overnight, damaging power stations as the invasion of Ukraine "
    "entered its eighth month, Ukrainian officials said.",
    "Defence Secretary Ben Wallace said: \\u201cThese strikes on civilians are the acts of a regime that is "
    "losing the war on the battlefield. The UK will send more air defence missiles to Ukraine.\\u201d",
    "The Ministry of Defence said in its latest intelligence update that Russian forces were running short of "
    "precision-guided munitions and relied on Iranian drones.",
    "Ukrainian air defences shot down most of the incoming cruise missiles, the general staff in Kyiv said, "
    "while repair crews worked through the night to restore electricity to the capital.",
]
WAR_STORY = [p.encode().decode("unicode_escape") for p in WAR_STORY]


def wire_copy(paragraphs: list[str]) -> list[str]:
    """A syndicated copy: new intro sentence, light edits, extra sign-off."""
    edited = [p.replace("said", "says", 1) for p in paragraphs]
    return ["(PA) Updated at 10:42.", *edited, "Additional reporting by the newsroom."]


def test_war_story_is_tagged_with_statements(app: App, server: NewsServer) -> None:
    server.static("/war", article_page("Russian strikes hit Kyiv power stations", WAR_STORY))
    server.static("/feed.xml", rss([Item("Russian strikes hit Kyiv power stations", server.url("/war"))]),
                  "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    article = app.store.articles()[0]
    assert sorted(article.tags) == ["uk-defence-statement", "ukraine-war"]
    details = {t.tag: t for t in app.store.tag_details([article.id])[article.id]}
    assert details["ukraine-war"].score > 0 and details["ukraine-war"].evidence
    speakers = {(st.speaker, st.role) for st, _a in app.store.statements([article.id])}
    assert ("Ben Wallace", "Defence Secretary") in speakers
    st = next(st for st, _a in app.store.statements([article.id]) if st.speaker == "Ben Wallace")
    assert article.text[st.start : st.end] == st.text


def test_near_copies_join_one_story(app: App, server: NewsServer, server2: NewsServer) -> None:
    original = article_text(1, paragraphs=8)
    server.static("/orig", article_page("Original", original))
    server2.static("/copy", article_page("Re-headlined copy", wire_copy(original)))
    server2.static("/other", article_page("Other", article_text(2, paragraphs=8)))
    server.static("/a.xml", rss([Item("Original", server.url("/orig"))]), "application/rss+xml")
    app.store.add_feed(server.url("/a.xml"))
    run_cycle(app)
    items = [Item("Copy", server2.url("/copy")), Item("Other", server2.url("/other"))]
    server2.static("/b.xml", rss(items), "application/rss+xml")
    app.store.add_feed(server2.url("/b.xml"))
    run_cycle(app)

    by_title = {a.title: a for a in app.store.articles()}
    orig, copy, other = by_title["Original"], by_title["Copy"], by_title["Other"]
    assert copy.id != orig.id  # stored: another source
    assert (copy.story_id, copy.duplicate_of) == (orig.id, orig.id)
    assert (orig.story_id, orig.duplicate_of) == (orig.id, None)
    assert (other.story_id, other.duplicate_of) == (other.id, None)
    assert [(sid, n) for sid, n, _t in app.store.stories(min_size=2)] == [(orig.id, 2)]


def test_seed_text_wrapped_in_another_sites_page_joins_the_seed_story(app: App, server: NewsServer) -> None:
    options = Options.from_settings(app.settings)
    import_corpus(app.store, packaged_seed_dir(), options)
    seed = sorted(packaged_seed_dir().glob("000_*.txt"))[0]
    seed_id = seed.stem.split("_")[1]
    paragraphs = [p for p in read_text(seed).split("\n") if p.strip()]
    wrapped = ["Sign up to our morning briefing for the day's top stories.", *paragraphs[1:],
               "Read more: the latest from our correspondents in the region."]
    server.static("/itv", article_page("Putin changing tactics, says Wallace", wrapped))
    server.static("/feed.xml", rss([Item("Putin changing tactics", server.url("/itv"))]), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    copy = next(a for a in app.store.articles() if a.source == "page")
    assert copy.id != seed_id
    assert (copy.story_id, copy.duplicate_of) == (seed_id, seed_id)


def test_short_feed_summaries_sharing_boilerplate_stay_apart(app: App, server: NewsServer) -> None:
    tail = " Sign up for our newsletter to get the latest news from the region every morning."
    items = [
        Item(f"Brief {n}", f"http://127.0.0.9:1/brief/{n}", f"b{n}", f"Short item number {n} about topic {n}.{tail}")
        for n in range(3)
    ]
    server.static("/feed.xml", rss(items), "application/rss+xml")
    app.store.add_feed(server.url("/feed.xml"))
    run_cycle(app)
    briefs = [a for a in app.store.articles() if a.source == "feed"]
    assert len(briefs) == 3
    assert all(a.story_id == a.id and a.duplicate_of is None and a.minhash is None for a in briefs)


def jsonl(*args: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in monitor(*args).stdout.splitlines()]


def test_cli_tags_statements_stories_retag(config_file: Path, server: NewsServer) -> None:
    original = article_text(5, paragraphs=8)
    server.static("/war", article_page("Russian strikes hit Kyiv power stations", WAR_STORY))
    server.static("/orig", article_page("Original", original))
    server.static("/copy", article_page("Copy", wire_copy(original)))
    items = [Item("War", server.url("/war")), Item("Original", server.url("/orig"))]
    server.static("/feed.xml", rss(items), "application/rss+xml")
    server.static("/feed2.xml", rss([Item("Copy", server.url("/copy"))]), "application/rss+xml")
    monitor("feeds", "add", server.url("/feed.xml"))
    monitor("poll", "--once")
    monitor("feeds", "add", server.url("/feed2.xml"))
    monitor("poll", "--once")

    tagged = jsonl("articles", "list", "--tag", "uk-defence-statement", "--json")
    war = next(a for a in tagged if a["title"] == "War")
    assert len(tagged) == 4  # the war story and the three seeds
    assert set(war["tags"]) == {"ukraine-war", "uk-defence-statement"}
    assert set(war["tag_details"]) == {"ukraine-war", "uk-defence-statement"}
    assert any(s["speaker"] == "Ben Wallace" for s in war["statements"])
    every = jsonl("articles", "list", "--json")
    assert all("story_id" in a and "duplicate_of" in a for a in every)
    copy = next(a for a in every if a["title"] == "Copy")
    orig = next(a for a in every if a["title"] == "Original")
    assert copy["duplicate_of"] == orig["id"] == copy["story_id"]

    explained = monitor("tags", "explain", war["id"]).stdout
    assert "ukraine-war: GIVEN" in explained and "uk-defence-statement: GIVEN" in explained
    assert "NOT GIVEN" in monitor("tags", "explain", orig["id"]).stdout
    listed = jsonl("statements", "list", "--speaker", "wallace", "--json")
    assert listed and all(s["speaker"] == "Ben Wallace" for s in listed)
    stories = jsonl("stories", "list", "--min-size", "2", "--json")
    assert [(s["story_id"], s["size"]) for s in stories] == [(orig["id"], 2)]
    assert copy["id"] in monitor("articles", "show", orig["id"]).stdout
    assert "retagged 6 articles, 0 with different tags" in monitor("retag").stdout
