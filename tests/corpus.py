"""A small corpus for the search and web tests: six articles in two feeds, with tags and statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.store import Sighting, Store
from monitor.store.models import Article, ArticleTag, Statement

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CORPUS = {
    # key: (title, text, tags, (speaker, role) of a statement)
    "a1": ("Missiles hit Kyiv overnight", "Russian missiles struck Kyiv. The Defence Secretary said Britain would "
           "send more air defence to Ukraine.", ["ukraine-war", "uk-defence-statement"],
           ("Ben Wallace", "Defence Secretary")),
    "a2": ("Ukraine wins Eurovision", "Ukraine won the Eurovision song contest in Turin on Saturday night.",
           [], None),
    "a3": ("Budget day", "The chancellor's budget raised defence spending; pro-Russian lobbying was criticised.",
           [], None),
    "a4": ("Drone attacks on Odesa", "Drones attacked the port of Odesa. Ukraine's air force shot most down; "
           "the Ministry of Defence said the attack failed.", ["ukraine-war"], (None, "Ministry of Defence")),
    "a5": ("Defence review published", "The strategic defence review sets out plans for the army. Missile "
           "stocks will be rebuilt.", ["uk-defence-statement"], ("John Healey", "Defence Secretary")),
    "a6": ("Café culture in Lviv", "In Lviv the cafés stay open despite the war in Ukraine; naïve hopes fade.",
           ["ukraine-war"], None),
}


def evidence(text: str) -> list[dict[str, object]]:
    """Evidence pointing at the first 'Ukraine' of a text, as the tagger records it."""
    at = text.find("Ukraine")
    return [] if at < 0 else [{"kind": "term", "text": "'Ukraine'", "field": "text", "start": at, "end": at + 7}]


def store_corpus(store: Store) -> dict[str, str]:
    """The corpus stored; article key → id."""
    first, _ = store.add_feed("http://127.0.0.9/first.xml", "First feed")
    second, _ = store.add_feed("http://127.0.0.9/second.xml", "Second feed")
    ids = {}
    for n, (key, (title, text, tags, who)) in enumerate(CORPUS.items()):
        aid = f"{n + 1:016x}"
        feed = first if n < 3 else second
        store.save_article(
            Article(id=aid, content_hash=aid, title=title, text=text, source="feed", tags=tags, feed_id=feed.id,
                    published=T0 + timedelta(hours=n), fetched_at=T0 + timedelta(hours=n)),
            Sighting(feed.id, f"http://127.0.0.9/{key}", None, key),
            tags=[ArticleTag(article_id=aid, tag=t, score=1.0, evidence=evidence(text)) for t in tags],
            statements=[Statement(article_id=aid, speaker=who[0], role=who[1], text="said", start=0, end=4)]
            if who else [],
        )
        ids[key] = aid
    return ids
