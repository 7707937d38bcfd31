"""A deterministic news world: sites on loopback hosts, their feeds, and article pages of realistic shape.

``World(seed, ...)`` decides everything from the seed: the same arguments give byte-identical feeds and pages
in every process (the server renders them, the benchmark renders them again for the bare-extraction baseline).

* ``hosts`` sites, site ``h`` on ``127.0.0.{h+2}`` (past 254 sites, on 127.0.1.x …: ``host_address``); each has
  its own chrome (name, sections, scripts, ads).
* ``feeds`` feeds spread round-robin over the sites, ``entries`` items each, drawn from their site's pages:
  section feeds of one site share articles, so one page is listed by several feeds.
* Some stories are syndicated: the same text (with a short agency line, so a near-copy rather than an exact
  copy) is published on another site under another URL.
* Pages are 20–150 KB: navigation, breadcrumbs, the story, related links, comments, inline scripts (JSON
  state, trackers) and ads around the article.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

_WORDS = [
    'the', 'of', 'and', 'to', 'in', 'a', 'for', 'on', 'that', 'with', 'as', 'by', 'from', 'at', 'is', 'was',
    'said', 'were', 'has', 'have', 'will', 'would', 'officials', 'forces', 'military', 'ministry', 'defence',
    'ukraine', 'ukrainian', 'russia', 'russian', 'kyiv', 'moscow', 'kharkiv', 'odesa', 'donetsk', 'luhansk',
    'zaporizhzhia', 'kherson', 'crimea', 'front', 'line', 'troops', 'drone', 'drones', 'missile', 'missiles',
    'strike', 'strikes', 'attack', 'shelling', 'artillery', 'brigade', 'battalion', 'counteroffensive',
    'offensive', 'village', 'town', 'city', 'region', 'regional', 'governor', 'president', 'minister',
    'spokesperson', 'statement', 'briefing', 'intelligence', 'update', 'british', 'uk', 'london', 'secretary',
    'nato', 'allies', 'aid', 'package', 'weapons', 'ammunition', 'tanks', 'air', 'defence', 'systems',
    'sanctions', 'talks', 'ceasefire', 'negotiations', 'civilians', 'killed', 'wounded', 'injured',
    'evacuated', 'power', 'grid', 'energy', 'infrastructure', 'overnight', 'morning', 'evening', 'week',
    'month', 'year', 'according', 'to', 'reported', 'confirmed', 'denied', 'claimed', 'independent',
    'verification', 'satellite', 'images', 'show', 'damage', 'residential', 'buildings', 'hospital', 'school',
    'bridge', 'port', 'grain', 'exports', 'shipping', 'black', 'sea', 'fleet', 'naval', 'vessel', 'warship',
    'submarine', 'general', 'staff', 'commander', 'chief', 'army', 'soldiers', 'volunteers', 'mobilisation',
    'recruitment', 'border', 'crossing', 'refugees', 'humanitarian', 'corridor', 'supplies', 'winter',
    'heating', 'electricity', 'water', 'repairs', 'crews', 'emergency', 'services', 'rescue', 'rubble',
    'survivors', 'mayor', 'council', 'parliament', 'vote', 'bill', 'law', 'economy', 'inflation', 'budget',
    'funding', 'reconstruction', 'investment', 'billion', 'million', 'pounds', 'dollars', 'euros', 'analysts',
    'experts', 'warned', 'expected', 'could', 'may', 'might', 'must', 'should', 'also', 'however',
    'meanwhile', 'earlier', 'later', 'after', 'before', 'during', 'while', 'despite', 'amid', 'following',
    'since', 'until', 'across', 'near', 'southern', 'eastern', 'northern', 'western', 'central', 'positions',
    'advance', 'retreat', 'captured', 'liberated', 'occupied', 'control', 'held', 'defended',
    'reinforcements', 'logistics', 'depot', 'fuel', 'rail', 'line', 'convoy', 'vehicles', 'equipment',
    'losses',
]
_FIRST_NAMES = ("Alex", "Maria", "Tom", "Olena", "James", "Priya", "Dan", "Sofia", "Mark", "Hannah")
_LAST_NAMES = ("Morgan", "Kovalenko", "Reid", "Shah", "Fletcher", "Novak")
_SECTIONS = ("World", "Europe", "UK", "Politics", "Defence", "Business", "Opinion", "Science", "Sport", "Culture")
BASE_DATE = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)


def add_world_arguments(parser: argparse.ArgumentParser, feeds: int, hosts: int, entries: int, pages: int) -> None:
    """The options that shape a world (``--seed --feeds --hosts --entries --pages``) with these defaults."""
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--feeds", type=int, default=feeds)
    parser.add_argument("--hosts", type=int, default=hosts)
    parser.add_argument("--entries", type=int, default=entries)
    parser.add_argument("--pages", type=int, default=pages)


def host_address(h: int) -> str:
    """Site ``h``'s loopback address: 127.0.0.2 … 127.0.0.255, then 127.0.1.1 … 127.0.1.254, 127.0.2.1 …"""
    if h < 254:
        return f"127.0.0.{h + 2}"
    block, n = divmod(h - 254, 254)
    return f"127.0.{block + 1}.{n + 1}"


@dataclass(frozen=True)
class Page:
    index: int
    host: int
    path: str
    story: int
    title: str
    published: datetime
    syndicated_from: int | None  # host of the original when this is a syndicated copy


class World:
    """Feeds and pages of the news world. ``port`` is the same on every host."""

    def __init__(
        self, seed: int = 1, feeds: int = 100, hosts: int = 8, entries: int = 20, pages: int = 300,
        syndication: float = 0.15, port: int = 0,
    ):
        self.seed, self.n_feeds, self.hosts, self.entries, self.port = seed, feeds, hosts, entries, port
        rng = random.Random(seed)
        self.pages: list[Page] = []
        per_host: list[list[int]] = [[] for _ in range(hosts)]
        story = 0
        while len(self.pages) < pages:
            host = len(self.pages) % hosts
            published = BASE_DATE - timedelta(minutes=7 * len(self.pages))
            title = self._title(random.Random(f"{seed}:title:{story}"))
            self._add(per_host, host, story, title, published, None)
            if rng.random() < syndication and len(self.pages) < pages:
                other = (host + 1 + rng.randrange(hosts - 1)) % hosts if hosts > 1 else host
                self._add(per_host, other, story, title, published + timedelta(minutes=20), host)
            story += 1
        self.stories = story
        self.per_host = per_host
        # feed f on host f % hosts lists ``entries`` of its host's pages, newest first
        self.feed_items: list[list[int]] = []
        for f in range(feeds):
            host_pages = per_host[f % hosts]
            frng = random.Random(f"{seed}:feed:{f}")
            chosen = frng.sample(host_pages, min(entries, len(host_pages)))
            self.feed_items.append(sorted(chosen, key=lambda i: self.pages[i].published, reverse=True))
        self.feed_version = [0] * feeds

    def _add(self, per_host: list[list[int]], host: int, story: int, title: str, published: datetime,
             syndicated_from: int | None) -> None:
        index = len(self.pages)
        section = _SECTIONS[story % len(_SECTIONS)].lower()
        slug = "-".join(title.lower().split()[:6])
        path = f"/{section}/{published:%Y/%m/%d}/{slug}-{index}"
        self.pages.append(Page(index, host, path, story, title, published, syndicated_from))
        per_host[host].append(index)

    # --- URLs ------------------------------------------------------------------------------------------

    def base(self, host: int) -> str:
        return f"http://{host_address(host)}:{self.port}"

    def feed_path(self, f: int) -> str:
        return f"/feeds/{f}.xml" if f % 5 else f"/feeds/{f}.atom"

    def feed_url(self, f: int) -> str:
        return self.base(f % self.hosts) + self.feed_path(f)

    def page_url(self, i: int) -> str:
        page = self.pages[i]
        return self.base(page.host) + page.path

    # --- text ------------------------------------------------------------------------------------------

    @staticmethod
    def _sentence(rng: random.Random, lo: int = 8, hi: int = 26) -> str:
        words = rng.choices(_WORDS, k=rng.randint(lo, hi))
        return " ".join(words).capitalize() + "."

    def _title(self, rng: random.Random) -> str:
        return " ".join(rng.choices(_WORDS, k=rng.randint(6, 12))).capitalize()

    def story_paragraphs(self, story: int) -> list[str]:
        rng = random.Random(f"{self.seed}:story:{story}")
        return [
            " ".join(self._sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(5, 18))
        ]

    def summary(self, i: int) -> str:
        return self.story_paragraphs(self.pages[i].story)[0][:280]

    # --- documents -------------------------------------------------------------------------------------

    def page_html(self, i: int) -> bytes:
        page = self.pages[i]
        rng = random.Random(f"{self.seed}:page:{i}")
        site = f"Site {page.host} News"
        byline = f"{_FIRST_NAMES[page.story % 10]} {_LAST_NAMES[page.story % 6]}"
        target = int(20_000 * (7.5 ** rng.random()))  # 20–150 KB, log-uniform
        paragraphs = self.story_paragraphs(page.story)
        if page.syndicated_from is not None:
            paragraphs = [f"This story was first published by Site {page.syndicated_from} News.", *paragraphs]
        nav = "".join(
            f'<li class="nav-item"><a href="/{s.lower()}/{k}">{s} {k}</a></li>'
            for s in _SECTIONS for k in range(rng.randint(3, 9))
        )
        crumbs = f'<ol class="crumbs"><li><a href="/">Home</a></li><li><a href="/{page.path.split("/")[1]}">' \
                 f'{page.path.split("/")[1].title()}</a></li></ol>'
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        figure = (
            f'<figure><img src="/img/{i}.jpg" alt="{escape(page.title)}"><figcaption>'
            f"{escape(self._sentence(rng, 6, 12))} Photo: Agency</figcaption></figure>"
        )
        related = "".join(
            f'<li><a href="/related/{i}/{k}"><h3>{escape(self._title(rng))}</h3><p>{escape(self._sentence(rng))}'
            f"</p></a></li>" for k in range(rng.randint(8, 20))
        )
        ads = [
            f'<div class="ad ad-slot-{k}" data-ad="{rng.getrandbits(64):x}"><span>Advertisement</span>'
            f'<a href="https://ads.invalid/c/{rng.getrandbits(48):x}">Sponsored: {escape(self._sentence(rng, 4, 9))}'
            f"</a></div>" for k in range(4)
        ]
        head = (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(page.title)} | {site}"
            f"</title><meta name='viewport' content='width=device-width'>"
            f"<meta property='og:title' content='{escape(page.title)}'><meta property='og:site_name' "
            f"content='{site}'><meta name='author' content='{byline}'>"
            f"<meta property='article:published_time' content='{page.published.isoformat()}'>"
            f"<link rel='canonical' href='{self.page_url(i)}'><link rel='stylesheet' href='/static/site.css'>"
            f"<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}"
            f"gtag('config','G-{page.host:04d}');</script></head><body>"
            f"<header><a class='logo' href='/'>{site}</a><nav><ul>{nav}</ul></nav>{ads[0]}</header>"
        )
        article = (
            f"<main>{crumbs}<article><h1>{escape(page.title)}</h1><p class='byline'>By {byline}"
            f"</p><time datetime='{page.published.isoformat()}'>{page.published:%d %B %Y}</time>{figure}"
            f"<div class='story-body'>{body[: len(body) // 2]}{ads[1]}{body[len(body) // 2 :]}</div>"
            f"<div class='share'><a href='#'>Share</a><a href='#'>Tweet</a><a href='#'>Email</a></div></article>"
            f"<aside><h2>Related stories</h2><ul>{related}</ul>{ads[2]}</aside>"
        )
        tail = f"{ads[3]}<footer><ul>{nav}</ul><p>Copyright {site}</p></footer></body></html>"
        parts = [head, article]
        size = len(head) + len(article) + len(tail)
        comments = []
        while size < target * 0.7:
            c = (
                f"<div class='comment'><p class='who'>user{rng.getrandbits(20)}</p><p>"
                f"{escape(' '.join(self._sentence(rng) for _ in range(rng.randint(1, 3))))}</p></div>"
            )
            comments.append(c)
            size += len(c)
        comment_block = "".join(comments)
        parts.append(f"<section class='comments'><h2>Comments ({len(comments)})</h2>{comment_block}</section></main>")
        state = []
        while size < target:
            chunk = f'{{"id":{rng.getrandbits(32)},"slot":"{rng.getrandbits(64):x}","w":{rng.randint(1, 999)}}},'
            state.append(chunk)
            size += len(chunk)
        parts.append(f"<script>window.__STATE__=[{''.join(state)}{{}}];</script>")
        parts.append(tail)
        return "".join(parts).encode()

    def feed_document(self, f: int) -> bytes:
        items = self.feed_items[f]
        host = f % self.hosts
        title = f"Site {host} News — {_SECTIONS[f % len(_SECTIONS)]} feed {f}"
        if self.feed_path(f).endswith(".atom"):
            entries = "".join(
                f"<entry><title>{escape(self.pages[i].title)}</title><link rel='alternate' "
                f"href='{self.page_url(i)}'/><id>{self.page_url(i)}</id>"
                f"<updated>{self.pages[i].published.isoformat()}</updated>"
                f"<summary>{escape(self.summary(i))}</summary></entry>"
                for i in items
            )
            return (
                f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                f"<title>{escape(title)}</title><id>{self.feed_url(f)}</id><link href='{self.base(host)}/'/>"
                f"<updated>{BASE_DATE.isoformat()}</updated>{entries}</feed>"
            ).encode()
        entries = "".join(
            f"<item><title>{escape(self.pages[i].title)}</title><link>{self.page_url(i)}</link>"
            f"<guid isPermaLink='true'>{self.page_url(i)}</guid><description>{escape(self.summary(i))}"
            f"</description><pubDate>{format_datetime(self.pages[i].published)}</pubDate></item>"
            for i in items
        )
        return (
            f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{escape(title)}</title>"
            f"<link>{self.base(host)}/</link><description>{escape(title)}</description>{entries}</channel></rss>"
        ).encode()

    def change_feeds(self, fraction: float, round_: int) -> list[int]:
        """Publish one new story on a deterministic ``fraction`` of the feeds; returns the changed feeds."""
        rng = random.Random(f"{self.seed}:change:{round_}")
        changed = sorted(rng.sample(range(self.n_feeds), round(fraction * self.n_feeds)))
        for f in changed:
            host = f % self.hosts
            published = BASE_DATE + timedelta(hours=round_, minutes=len(self.pages) % 60)
            title = self._title(random.Random(f"{self.seed}:title:{self.stories}"))
            self._add(self.per_host, host, self.stories, title, published, None)
            self.stories += 1
            self.feed_items[f] = [len(self.pages) - 1, *self.feed_items[f][:-1]]
            self.feed_version[f] += 1
        return changed
