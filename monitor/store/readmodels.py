"""Read models: the JSON of articles, statements, stories and feeds, and the pieces of text to highlight — one
definition used by the CLI, the JSON API, the Atom feed and the pages."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.core.config import PollSettings
from monitor.dedup.exact import http_url
from monitor.store import Store
from monitor.store.models import Article, Feed, Label
from monitor.store.models import Statement as StatementRow
from monitor.store.query import Node, Term, positive_terms
from monitor.store.views import FeedActivity

SNIPPET_CHARS = 300
_WORD = re.compile(r"[^\W_]+")


def iso(when: datetime | None) -> str | None:
    """The one timestamp format of JSON output: ISO 8601 in UTC, to the second, with "Z"."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def statement_json(st: StatementRow) -> dict[str, Any]:
    """``kind``: "direct" (quoted: show it in quotation marks), "indirect" (a paraphrase: show it without), or
    null for a row stored before kinds were."""
    return {
        "speaker": st.speaker, "role": st.role, "kind": st.kind, "text": st.text, "field": st.field,
        "start": st.start, "end": st.end,
    }


def statement_item_json(st: StatementRow, article: Article) -> dict[str, Any]:
    """A statement with the article it was found in, dated by the article's publication (``date`` null: the
    article is undated — never its fetch time)."""
    return {"article_id": article.id, "title": article.title, "date": iso(article.published), **statement_json(st)}


def quoted(kind: str | None, text: str) -> str:
    """A statement's words as a reader should see them: a direct quote in quotation marks, a paraphrase bare."""
    return text if kind == "indirect" else f"\u201c{text}\u201d"


_WORDS = re.compile(r"\w+")
SAME_STATEMENT = 0.8  # word-set Jaccard at/above which two reports of one speaker are one statement


def statement_entries(rows: list[tuple[StatementRow, Article]]) -> list[dict[str, Any]]:
    """One entry per statement however many articles carry it — the same speaker and nearly the same words
    (word sets overlapping by ``SAME_STATEMENT``) — in the order of ``rows``' first appearance. Each entry is the
    statement's JSON from its earliest dated report, with ``sources`` (every article carrying it: id, title,
    date; earliest first) and ``date`` the first date it appeared (null when no report is dated)."""
    entries: list[dict[str, Any]] = []
    seen: dict[str, list[tuple[set[str], dict[str, Any]]]] = {}
    for st, article in rows:
        item = statement_item_json(st, article)
        words = set(_WORDS.findall(st.text.lower()))
        who = (st.speaker or st.role or "").lower()
        entry = next((e for w, e in seen.get(who, []) if _jaccard(w, words) >= SAME_STATEMENT), None)
        source = {"article_id": article.id, "title": article.title, "date": item["date"]}
        if entry is None:
            entry = {**item, "sources": [source]}
            entries.append(entry)
            seen.setdefault(who, []).append((words, entry))
            continue
        if all(s["article_id"] != article.id for s in entry["sources"]):
            entry["sources"].append(source)
            entry["sources"].sort(key=lambda s: (s["date"] is None, s["date"] or ""))
        first = entry["sources"][0]
        if first["article_id"] == article.id:  # an earlier report: the entry shows its words and date
            entry.update({k: v for k, v in item.items() if k != "sources"})
    return entries


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def web_urls(store: Store, rows: list[Article]) -> dict[str, tuple[str | None, list[str]]]:
    """Each article's link to its source — its own URL, else the first it was seen at — and every URL it was seen
    at, by id; only links to the web (http and https)."""
    seen = store.sightings([a.id for a in rows])
    result = {}
    for a in rows:
        urls = [u for u in dict.fromkeys(http_url(s.url) for s in seen[a.id]) if u]
        result[a.id] = (http_url(a.url) or (urls[0] if urls else None), urls)
    return result


def articles_json(store: Store, rows: list[Article]) -> list[dict[str, Any]]:
    """The JSON form of articles: metadata, every URL seen, tags with evidence, statements, story."""
    ids = [a.id for a in rows]
    links, details = web_urls(store, rows), store.tag_details(ids)
    statements: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for st, _article in store.statements(ids):
        statements[st.article_id].append(statement_json(st))
    feed_urls = store.feed_urls({a.feed_id for a in rows})
    result = []
    for a in rows:
        url, urls = links[a.id]
        result.append({
            "id": a.id,
            "url": url,
            "urls": urls,
            "canonical_url": a.canonical_url,
            "title": a.title,
            "published": iso(a.published),
            "feed": feed_urls.get(a.feed_id),
            "source": a.source,
            "extraction_method": a.extraction_method,
            "site_name": a.site_name,
            "language": a.language,
            "authors": a.authors,
            "fetched_at": iso(a.fetched_at),
            "story_id": a.story_id or a.id,
            "duplicate_of": a.duplicate_of,
            "tags": a.tags,
            "tag_details": {
                t.tag: {"score": t.score, "evidence": t.evidence} for t in sorted(details[a.id], key=lambda t: t.tag)
            },
            "statements": statements[a.id],
            "text": a.text,
        })
    return result


# --- highlighting ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str = ""
    kind: str = "query"  # how it is shown: "tag-N" (the article's Nth tag), "exclusion", or "query"


def query_spans(text: str, query: Node | None) -> list[Span]:
    """Where the query's full-text terms occur in a text (words compared as the search index does): at each
    word, the first term that starts there."""
    return list(_query_spans(text, query))


def _query_spans(text: str, query: Node | None) -> Iterator[Span]:
    """:func:`query_spans`, found as they are asked for (in the order of the text)."""
    terms = tuple(positive_terms(query))
    if not terms or not text:
        return
    for m in _terms_pattern(terms).finditer(text):
        term = m.lastindex or 1  # the group of the term that matched (group n is terms[n - 1])
        yield Span(m.start(), m.start() + len(m.group(term)), terms[term - 1].value)


@functools.lru_cache(maxsize=256)
def _terms_pattern(terms: tuple[Term, ...]) -> re.Pattern[str]:
    """One pattern finding, at the start of each word, the first of ``terms`` that begins there (a group per
    term, in order; a lookahead, so the matches of different terms may overlap): a phrase's words in order with
    anything but a word between them, the last word whole or, for a prefix, as the start of a word. One pass of
    the regular-expression engine instead of comparing every word of an article with every term in Python."""
    def pattern(term: Term) -> str:
        words = r"[\W_]+".join(re.escape(w) for w in term.words)  # a word: [^\W_]+, as in _WORD
        return "(" + words + (r"[^\W_]*" if term.prefix else "") + r"(?![^\W_]))"

    return re.compile(r"(?<![^\W_])(?=" + "|".join(pattern(t) for t in terms) + ")", re.IGNORECASE)


def evidence_spans(article: dict[str, Any], field: str = "text") -> list[Span]:
    """The places in an article's text (or title) that some tag's evidence or a statement points at, each kind
    of its tag ("tag-N", N the tag's place in ``tag_details``: one colour per tag) or "exclusion" (a phrase that
    counts against a tag). Rejected statement candidates are not evidence; a generic word inside a name
    ("Defence" in "Ministry of Defence") is not highlighted alone."""
    text = (article["title"] or "") if field == "title" else article["text"]
    spans = []
    for i, (tag, detail) in enumerate(article["tag_details"].items()):
        for e in detail["evidence"]:
            kind, start, end = e.get("kind", ""), e.get("start"), e.get("end")
            if e.get("field", "text") != field or start is None or end is None or kind == "rejected":
                continue
            if kind == "term" and _inside_name(text, start, end):
                continue
            shown = "exclusion" if kind == "exclusion" else f"tag-{i}"
            label = f"{tag}: {'counts against: ' if shown == 'exclusion' else ''}{kind} {e.get('text', '')}"
            spans.append(Span(start, end, label.strip(), shown))
    return spans


# A run of capitalised words (with "of", "the", "and", "for" between) that names an institution, a team or an event.
_NAME = re.compile(r"[A-Z][\w'’.-]*(?:\s+(?:(?:of|the|and|for)\s+)*[A-Z][\w'’.-]*)+")
_NAME_HEADS = re.compile(r"\b(?:Ministry|Department|Office|Committee|Council|Agency|Command|Club|Party|League|Cup|"
                         r"University|Institute|Group|Union|Service|Forces|Fund|Bank|Court|Street)\b")


def _inside_name(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is part of a longer institutional name around it (and not the whole of it)."""
    for m in _NAME.finditer(text, max(0, start - 80), min(len(text), end + 80)):
        if m.start() <= start and end <= m.end() and (m.start(), m.end()) != (start, end):
            return bool(_NAME_HEADS.search(m.group()))
    return False


def segments(text: str, spans: list[Span]) -> list[tuple[str, str | None, str]]:
    """The text cut into (piece, label, kind) triples, label None outside every span; overlapping spans are
    merged (the first span's kind shows; every label is kept)."""
    merged: list[list[Any]] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(0, span.start), min(len(text), span.end)
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if span.label and span.label not in merged[-1][2]:
                merged[-1][2].append(span.label)
        else:
            merged.append([start, end, [span.label] if span.label else [], span.kind])
    result: list[tuple[str, str | None, str]] = []
    pos = 0
    for start, end, labels, kind in merged:
        if start > pos:
            result.append((text[pos:start], None, ""))
        result.append((text[start:end], "; ".join(labels), kind))
        pos = end
    if pos < len(text):
        result.append((text[pos:], None, ""))
    return result


def snippet(text: str, query: Node | None, chars: int = SNIPPET_CHARS) -> tuple[str, list[Span]]:
    """A part of the text around the query's first match (the start when none), with the matches in it as
    offsets into the snippet. The text is searched no further than the snippet's end."""
    found = _query_spans(text, query)
    if len(text) <= chars:
        return text, list(found)
    first = next(found, None)
    start = max(0, first.start - chars // 4) if first else 0
    start = text.rfind(" ", 0, start) + 1 if start else 0
    end = min(len(text), start + chars)
    cut = text[start:end]
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    inside = []
    for s in itertools.chain([first] if first else [], found):
        if s.start >= end:
            break
        if s.end <= end:
            inside.append(Span(s.start + shift, s.end + shift, s.label, s.kind))
    return prefix + cut + suffix, inside


def article_summary_json(item: dict[str, Any], query: Node | None) -> dict[str, Any]:
    """An article's JSON with the text cut to a snippet around the query's matches, and those matches
    (``highlights``: [start, end] offsets into the snippet)."""
    text, spans = snippet(item["text"], query)
    return {**item, "text": text, "highlights": [[s.start, s.end] for s in spans]}


# --- stories and feeds ----------------------------------------------------------------------------------


def stories_json(
    store: Store, min_size: int = 2, since: datetime | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Stories with at least ``min_size`` articles, most recently active first: id, size, latest article, title."""
    rows = store.stories(since=since, min_size=min_size, limit=limit)
    members = store.story_members([sid for sid, _n, _t in rows])
    return [
        {"story_id": sid, "size": n, "latest": iso(latest), "title": members[sid][0].title if members[sid] else None}
        for sid, n, latest in rows
    ]


def story_json(store: Store, story_id: str) -> dict[str, Any] | None:
    """One story's copies across outlets, first published first: when and where each appeared (its publication
    time, else when it was first seen: ``appeared_basis`` says which), its lag behind the first, and whether it
    is the original (the earliest), a verbatim copy (the same text at another URL) or rewritten (a near-copy:
    another article, with its estimated similarity to the original). One URL seen again — in another feed, or
    in the same one twice — is a sighting of its copy (``seen_in``), not a copy of itself."""
    members = store.story_members([story_id])[story_id]
    if not members:
        return None
    seen = store.sightings([a.id for a in members])
    feed_urls = store.feed_urls({a.feed_id for a in members} | {s.feed_id for rows in seen.values() for s in rows})
    copies = []
    for a in members:
        places: dict[str, list[Any]] = {}  # one copy per URL (canonical form): its sightings, oldest first
        for place in seen[a.id]:
            places.setdefault(place.canonical_url or place.url, []).append(place)
        own = (a.canonical_url or a.url) if (a.canonical_url or a.url) in places else next(iter(places), None)
        for key, found in places.items() or [(None, [])]:
            first_seen = found[0].seen_at if found else a.fetched_at
            is_own = key == own
            published = a.published if is_own else None
            copies.append({
                "article_id": a.id,
                "title": a.title,
                "site_name": a.site_name,
                "url": http_url(found[0].url if found else a.url),
                "feed": feed_urls.get(found[0].feed_id) if found else feed_urls.get(a.feed_id),
                "seen_in": [u for u in dict.fromkeys(feed_urls.get(p.feed_id) for p in found[1:]) if u],
                "published": iso(published),
                "appeared": published or first_seen,
                "appeared_basis": "published" if published else "first seen",
                "kind": "rewritten" if is_own else "verbatim",
                "copies": a.duplicate_of if is_own else a.id,
                "_article": a,
            })
    copies.sort(key=lambda c: (c["appeared"], c["kind"] != "rewritten", c["article_id"]))
    first = copies[0]
    original = first["_article"]
    first["kind"], first["copies"], start = "original", None, first["appeared"]
    for c in copies:
        a = c.pop("_article")
        c["similarity"] = None if c is first else (1.0 if a.id == original.id else _similarity(a, original))
        c["lag_seconds"] = (c["appeared"] - start).total_seconds()
        c["appeared"] = iso(c["appeared"])
    return {"story_id": story_id, "title": original.title, "original": original.id, "size": len(members),
            "copies": copies}


def _similarity(a: Article, original: Article | None) -> float | None:
    if original is None or a.minhash is None or original.minhash is None:
        return None
    from monitor.dedup.neardup import Signature, similarity  # numpy: only for the stories that have copies

    return round(similarity(Signature.from_bytes(a.minhash), Signature.from_bytes(original.minhash)), 3)


def feed_json(feed: Feed, activity: FeedActivity | None, poll: PollSettings, now: datetime) -> dict[str, Any]:
    """A feed's health: last poll and success, errors, back-off, next poll, and whether it has been silent —
    answering, but no new entry for ``poll.silent_after`` times its usual gap (:meth:`Feed.is_silent`, the rule
    of ``feeds list`` and ``stats`` too)."""
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "enabled": feed.enabled,
        "disabled_reason": feed.disabled_reason,
        "last_polled_at": iso(feed.last_polled_at),
        "last_success_at": iso(feed.last_success_at),
        "error_count": feed.error_count,
        "last_error": feed.last_error,
        "backoff_seconds": feed.retry_delay(poll, now) if feed.error_count else 0,
        "next_poll_at": iso(feed.next_poll_at) if feed.enabled else None,
        "articles": activity.sightings if activity else 0,
        "last_article_at": iso(activity.last) if activity else None,
        "silent": feed.is_silent(poll, now),
    }


# --- labels -----------------------------------------------------------------------------------------------

LABEL_SOURCE_SET = "monitor-feedback"
STATEMENT_TAG = "uk-defence-statement"


def labelled_items(store: Store, labels: list[tuple[Label, Article]]) -> list[dict[str, Any]]:
    """Analysts' labels as items of the shared evaluation format (one per article, the latest label of each tag
    wins): ``labels`` holds only the tags an analyst judged; ``speakers`` are the statements the monitor found,
    unless the analyst said the statement tag is wrong."""
    judged: dict[str, dict[str, int]] = {}
    articles: dict[str, Article] = {}
    for label, article in labels:
        judged.setdefault(article.id, {})[label.tag] = label.value
        articles[article.id] = article
    found = store.statements(list(articles))
    items = []
    for aid, tags in judged.items():
        a = articles[aid]
        speakers = [] if tags.get(STATEMENT_TAG) == 0 else list({
            (st.speaker, st.role): {"name": st.speaker, "role": st.role} for st, _a in found if st.article_id == aid
        }.values())
        items.append({
            "id": a.id, "source_set": LABEL_SOURCE_SET, "title": a.title, "text": a.text,
            "published": iso(a.published or a.fetched_at), "url": a.url, "labels": tags,
            "speakers": speakers, "confidence": "high",
            "note": "analyst feedback in the monitor's web interface; speakers as the monitor found them",
        })
    return items
