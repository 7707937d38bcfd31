"""The server-rendered pages: overview, articles and search, article, statements, stories, feeds, sign-in."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from monitor.dedup.exact import http_url
from monitor.store.query import Node
from monitor.store.readmodels import (
    articles_json,
    evidence_spans,
    feed_json,
    query_spans,
    quoted,
    segments,
    snippet,
    statement_entries,
    stories_json,
    story_json,
)
from monitor.store.search import ArticleFilter, Order
from monitor.web import charts
from monitor.web.context import SOURCES, Web, article_filter, parse_date, query_of, web
from monitor.web.security import COOKIE, Attempts, Sessions, token_matches

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["quoted"] = quoted
CHART_DAYS = 30
CHART_SERIES = 6
STATEMENTS_SHOWN = 500  # the newest, on the timeline page


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _rows(w: Web, found: list[Any], query: Node | None) -> list[tuple[dict[str, Any], list[tuple[str, str | None]]]]:
    """Articles as JSON with their snippet cut into highlighted pieces."""
    rows = []
    for item in articles_json(w.store, found):
        text, spans = snippet(item["text"], query)
        rows.append((item, segments(text, spans)))
    return rows


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, w: Annotated[Web, Depends(web)]) -> HTMLResponse:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    counts, undated = w.views.tags_per_day(datetime.combine(first, datetime.min.time(), UTC))
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    names = sorted({tag for _day, tag in counts})
    chart = charts.stacked_bars(
        "Tagged articles per day", [d.strftime("%d %b") for d in days],
        {name: [counts[(d, name)] for d in days] for name in names},
    )
    tagged = [a for a in w.search.find(ArticleFilter(), limit=40).articles if a.tags][:10]
    return render(request, "index.html", chart=chart, days=CHART_DAYS, undated=undated, rows=_rows(w, tagged, None))


@router.get("/articles", response_class=HTMLResponse)
def articles_page(
    request: Request,
    w: Annotated[Web, Depends(web)],
    q: str | None = None,
    tag: str | None = None,
    feed: str | None = None,
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    order: Order = Order.NEWEST,
    cursor: str | None = None,
) -> HTMLResponse:
    params = {"q": q, "tag": tag, "feed": feed, "since": since, "until": until, "source": source,
              "order": order.value}
    wanted = w.checked(article_filter(q, tag, feed, since, until, None, source))
    page = w.search.find(wanted, limit=w.settings.web.page_size, cursor=cursor, order=order)
    given = {k: v for k, v in params.items() if v}
    next_url = f"/articles?{urlencode({**given, 'cursor': page.next})}" if page.next else None
    return render(
        request, "articles.html", q=q, params=params, rows=_rows(w, page.articles, wanted.query), next_url=next_url,
        tags=w.views.tag_names(), feeds=w.store.feeds(), sources=SOURCES,
        atom_query=urlencode({k: v for k, v in given.items() if k in ("q", "tag", "feed", "source")}),
    )


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(
    request: Request, article_id: str, w: Annotated[Web, Depends(web)], q: str | None = None, labelled: bool = False
) -> HTMLResponse:
    article = w.store.article(article_id)
    if article is None:
        raise HTTPException(404, f"no article with id {article_id}")
    item = articles_json(w.store, [article])[0]
    query = query_of(q)
    seen = w.store.sightings([article.id])[article.id]
    feed_urls = w.store.feed_urls({s.feed_id for s in seen})
    sightings = [
        {"url": http_url(s.url), "shown": s.url, "feed": feed_urls.get(s.feed_id),
         "seen_at": f"{s.seen_at:%Y-%m-%d %H:%M}"}
        for s in seen
    ]
    title = item["title"] or "(untitled)"
    return render(
        request, "article.html", a=item, q=q, labelled=labelled, sightings=sightings,
        labels=w.store.article_labels(article_id),
        title_pieces=segments(title, evidence_spans(item, "title") + query_spans(title, query)),
        text_pieces=segments(item["text"], evidence_spans(item) + query_spans(item["text"], query)),
        missing=[t for t in sorted(w.defined_tags) if t not in item["tags"]],
    )


@router.post("/articles/{article_id}/labels")
def label_article(
    article_id: str, w: Annotated[Web, Depends(web)], tag: Annotated[str, Form()], value: Annotated[int, Form()]
) -> Response:
    """Relevance feedback: value 0 = the tag is wrong, 1 = the tag was missed."""
    if value not in (0, 1):
        raise HTTPException(400, "value: 0 (wrong tag) or 1 (missed tag)")
    if w.store.article(article_id) is None:
        raise HTTPException(404, f"no article with id {article_id}")
    if tag.strip() not in w.defined_tags:
        raise HTTPException(400, f"tag: one of {', '.join(sorted(w.defined_tags))}, not {tag.strip()!r}")
    w.store.add_label(article_id, tag.strip(), value)
    return RedirectResponse(f"/articles/{article_id}?labelled=1", status_code=303)


@router.get("/statements", response_class=HTMLResponse)
def statements_page(
    request: Request,
    w: Annotated[Web, Depends(web)],
    speaker: str | None = None,
    role: str | None = None,
    since: str | None = None,
    until: str | None = None,
    q: str | None = None,
    group: str = "speaker",
) -> HTMLResponse:
    if group not in ("speaker", "role"):
        raise HTTPException(400, "group: speaker or role")
    rows = w.views.statements(
        speaker=speaker, role=role, since=parse_date(since, "since"), until=parse_date(until, "until"),
        query=query_of(q), limit=STATEMENTS_SHOWN,
    )
    items = statement_entries(rows)  # one entry per statement, with every article carrying it
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in sorted(items, key=lambda i: (i["date"] is None, i["date"] or "")):  # a timeline; undated last
        grouped[item[group] or item["role"] or "unknown"].append(item)
    busiest = [name for name, _n in Counter({k: len(v) for k, v in grouped.items()}).most_common(CHART_SERIES)]
    months = _months([date.fromisoformat(i["date"][:10]) for i in items if i["date"]])
    per_month = {
        name: [sum(1 for i in grouped[name] if (i["date"] or "")[:7] == m) for m in months] for name in busiest
    }
    chart = charts.lines(f"Statements per {group} per month", months, per_month)
    params = {"speaker": speaker, "role": role, "since": since, "until": until}
    groups = sorted(grouped.items(), key=lambda kv: (kv[1][0]["date"] is None, kv[1][0]["date"] or ""))
    return render(request, "statements.html", params=params, q=q, group=group, chart=chart, groups=groups)


def _months(days: list[date]) -> list[str]:
    if not days:
        return []
    first, last = min(days), max(days)
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


@router.get("/stories", response_class=HTMLResponse)
def stories_page(request: Request, w: Annotated[Web, Depends(web)]) -> HTMLResponse:
    stories = [
        {"id": s["story_id"], "size": s["size"], "latest": s["latest"][:16].replace("T", " "), "title": s["title"]}
        for s in stories_json(w.store, min_size=2, limit=100)
    ]
    return render(request, "stories.html", stories=stories)


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, story_id: str, w: Annotated[Web, Depends(web)]) -> HTMLResponse:
    story = story_json(w.store, story_id)
    if story is None:
        raise HTTPException(404, f"no story with id {story_id}")
    for c in story["copies"]:
        c["lag"] = _duration(c["lag_seconds"])
    return render(request, "story.html", story=story)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "first"
    minutes = seconds / 60
    if minutes < 90:
        return f"+{minutes:.0f} min"
    hours = minutes / 60
    return f"+{hours:.1f} h" if hours < 48 else f"+{hours / 24:.1f} days"


@router.get("/feeds", response_class=HTMLResponse)
def feeds_page(request: Request, w: Annotated[Web, Depends(web)]) -> HTMLResponse:
    activity, now = w.views.feed_activity(), datetime.now(UTC)
    feeds = [feed_json(f, activity.get(f.id or 0), w.settings.poll, now) for f in w.store.feeds()]
    return render(
        request, "feeds.html", feeds=feeds, failing=sum(1 for f in feeds if f["error_count"]),
        silent=sum(1 for f in feeds if f["silent"]), disabled=sum(1 for f in feeds if not f["enabled"]),
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html")


@router.post("/login")
def login(request: Request, w: Annotated[Web, Depends(web)], token: Annotated[str, Form()]) -> Response:
    """Sign in: a server-side session whose random id is the cookie (never the token itself). Failed attempts
    are logged; past ``web.login_attempts`` a minute from one address, the next are refused unchecked."""
    client = request.client.host if request.client else "unknown"
    attempts: Attempts = request.app.state.attempts
    if attempts.blocked(client):
        log.warning("sign-in refused: too many failed attempts", extra={"client": client})
        return render(request, "login.html", status=429, error="Too many failed attempts: wait a minute.")
    if not w.settings.web.token or not token_matches(token, w.settings.web.token):
        attempts.failed(client)
        log.warning("sign-in failed: wrong access token", extra={"client": client})
        return render(request, "login.html", status=401, error="That is not the access token.")
    sessions: Sessions = request.app.state.sessions
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, sessions.start(), max_age=int(sessions.seconds), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https" or w.settings.web.base_url.startswith("https:"))
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    sessions: Sessions = request.app.state.sessions
    sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
