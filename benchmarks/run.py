"""The benchmark harness: a local news world at scale, ``monitor poll --once`` against it, figures printed.

    .venv/bin/python -m benchmarks.run            # full run (1,000 feeds, 10,000 pages; ~14 minutes)
    .venv/bin/python -m benchmarks.run --quick    # small run: the 200-feed world alone (~3 minutes)

Every run ingests, cold, the 200-feed world (200 feeds × 20 entries, 3,000 pages of which the feeds list 2,219)
as well as its own world, and prints the figures of both beside their targets.

All traffic stays on loopback (127.0.0.1 … 127.0.0.{hosts+1}); the monitor runs with benchmarks/monitor.toml,
a scratch SQLite database under benchmarks/.scratch/ and MONITOR_DEFAULT_FEEDS="" (never the default feeds).
Results are printed and written to benchmarks/.scratch/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import startup
from benchmarks.procwatch import Watched, run_watched
from benchmarks.scale import Synth, seed, time_store
from benchmarks.startup import database_url, monitor_env
from benchmarks.world import World

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / "benchmarks" / ".scratch"
PYTHON = sys.executable
MB = 1024 * 1024
# The 200-feed world of issue 16: 4,000 entries, 2,219 distinct pages listed.
SMALL_WORLD = {"feeds": 200, "hosts": 8, "entries": 20, "pages": 3000}
# Miniflux 2.0.43's cold ingest of the 200-feed world on this machine (issue 16: 21–22 s): not measured here.
MINIFLUX_COLD_S = 21.5

TARGETS = {
    "ratio": 1.2,  # cold-ingest articles/s over bare single-process trafilatura (two cores allow up to 2.0)
    "cpu_ms_per_page": 9.0,  # CPU of the whole process tree per stored page, cold ingest
    "peak_pss_tree_mb_small": 150,  # the whole process tree's memory, cold ingest of the 200-feed world …
    "peak_pss_tree_mb_full": 250,  # … and of the full world
    "miniflux_speedup": 1.5,  # cold ingest of the 200-feed world against Miniflux's (MINIFLUX_COLD_S)
    "warm_wall_s_per_1000_feeds": 2.0,
    "peak_rss_mb_20k": 250,
    "rss_growth_2k_20k": 0.10,
    "store_cost_growth": 1.5,
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the server -------------------------------------------------------------------------------------------


class Server:
    def __init__(self, seed: int, spec: dict[str, int], *options: str):
        cmd = [PYTHON, "-m", "benchmarks.server", "--seed", str(seed),
               *(f"--{k}={spec[k]}" for k in ("feeds", "hosts", "entries", "pages")), *options]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("READY"):
            raise SystemExit(f"news-world server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.banner = line.strip()

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=60) as resp:
            return json.loads(resp.read())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- the monitor ------------------------------------------------------------------------------------------


def open_store(db: Path | str):
    """The store of the SQLite file ``db`` (or of the database URL ``db``), migrated."""
    from monitor.store import Store
    from monitor.store.engine import create_db_engine, migrate

    engine = create_db_engine(database_url(db))
    migrate(engine)
    return Store(engine)


def register_feeds(db: Path | str, urls: list[str]) -> None:
    from monitor.store.models import Feed

    store = open_store(db)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        if urls:
                conn.execute(sa.insert(Feed.__table__), [
                {"url": u, "enabled": True, "next_poll_at": now, "error_count": 0, "created_at": now} for u in urls
            ])
    store.engine.dispose()


def make_due(db: Path) -> None:
    from monitor.store.models import Feed

    store = open_store(db)
    with store.engine.begin() as conn:
        conn.execute(sa.update(Feed.__table__).values(next_poll_at=datetime(2000, 1, 1, tzinfo=UTC)))
    store.engine.dispose()


def poll(db: Path, server: Server, label: str) -> tuple[Watched, dict[str, Any], dict[str, Any]]:
    """``monitor poll --once --json`` watched; returns it, its summary and the server's side of it."""
    server.get("/__reset")
    before = server.get("/__stats")["cpu"]
    log(f"{label}: monitor poll --once")
    watched = run_watched([PYTHON, "-m", "monitor", "poll", "--once", "--json"], monitor_env(db))
    stats = server.get("/__stats")
    if watched.returncode != 0:
        raise SystemExit(f"monitor poll failed ({watched.returncode}):\n{watched.stderr[-3000:]}")
    summary = json.loads(watched.stdout.strip().splitlines()[-1])
    server_side = {"cpu": stats["cpu"] - before, "counts": stats["counts"]}
    warnings = [line for line in watched.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    if warnings:
        log(f"{label}: {len(warnings)} warning lines, e.g. {warnings[0][:200]}")
    return watched, summary, server_side


def run_figures(w: Watched) -> dict[str, Any]:
    return {
        "wall_s": round(w.wall, 2), "cpu_s": round(w.cpu, 2), "cpu_main_s": round(w.cpu_main, 2),
        "cpu_sampled_s": round(w.cpu_sampled, 2), "cpu_reaped_s": round(w.cpu_reaped, 2),
        "peak_rss_main_mb": round(w.peak_rss_main / MB, 1), "peak_rss_worker_mb": round(w.peak_rss_worker / MB, 1),
        "peak_rss_tree_mb": round(w.peak_rss_tree / MB, 1), "peak_pss_tree_mb": round(w.peak_pss_tree / MB, 1),
        "processes": w.processes,
    }


# --- extraction quality and the bare baseline ---------------------------------------------------------------

_TOKENS = re.compile(r"\w+")


def quality(db: Path, world: World) -> dict[str, Any]:
    """Extracted text against the generator's story text: token recall and precision; syndicated copies
    joined to their original's story."""
    from monitor.store.models import Article, ArticleSource

    by_url = {world.page_url(i): i for i in range(len(world.pages))}
    store = open_store(db)
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(ArticleSource.__table__.c.url, Article.__table__.c.text, Article.__table__.c.source,
                      Article.__table__.c.story_id, Article.__table__.c.id)
            .join(Article.__table__, Article.__table__.c.id == ArticleSource.__table__.c.article_id)
        ).all()
    store.engine.dispose()
    recall, precision, sources = [], [], Counter()
    story_of_page: dict[int, str] = {}
    seen_articles = set()
    for url, text, source, story_id, aid in rows:
        i = by_url.get(url)
        if i is None:
            continue
        story_of_page[i] = story_id or aid
        if aid in seen_articles:
            continue
        seen_articles.add(aid)
        sources[source] += 1
        truth = Counter(_TOKENS.findall(" ".join(world.story_paragraphs(world.pages[i].story)).lower()))
        got = Counter(_TOKENS.findall(text.lower()))
        common = sum((truth & got).values())
        recall.append(common / max(1, sum(truth.values())))
        precision.append(common / max(1, sum(got.values())))
    originals = {(p.story, p.host): p.index for p in world.pages if p.syndicated_from is None}
    synd = [  # syndicated copies stored along with their original (not every page is listed in a feed)
        (p.index, originals[(p.story, p.syndicated_from)]) for p in world.pages
        if p.syndicated_from is not None and p.index in story_of_page
        and originals.get((p.story, p.syndicated_from)) in story_of_page
    ]
    joined = sum(1 for copy, original in synd if story_of_page[copy] == story_of_page[original])
    return {
        "articles": len(seen_articles), "by_source": dict(sources),
        "token_recall_mean": round(statistics.fmean(recall), 4) if recall else None,
        "token_recall_min": round(min(recall), 4) if recall else None,
        "token_precision_mean": round(statistics.fmean(precision), 4) if precision else None,
        "token_precision_min": round(min(precision), 4) if precision else None,
        "syndicated_pages": len(synd), "syndicated_joined_to_original_story": joined,
    }


def bare_baseline(world: World, pages: list[int]) -> dict[str, Any]:
    """The same pages through ``trafilatura.bare_extraction`` in this one process (decoded, monitor's options)."""
    import trafilatura

    docs = [(world.page_html(i).decode("utf-8"), world.page_url(i)) for i in pages]
    kw = dict(fast=True, favor_precision=True, include_comments=False, with_metadata=True)
    trafilatura.bare_extraction(docs[0][0], url=docs[0][1], **kw)  # warm-up: imports, caches
    t0, c0 = time.perf_counter(), time.process_time()
    for html, url in docs:
        trafilatura.bare_extraction(html, url=url, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sample = docs[: max(1, len(docs) // 5)]
    t1 = time.perf_counter()
    for html, url in sample:
        trafilatura.bare_extraction(html, url=url)
    default_wall = time.perf_counter() - t1
    return {
        "pages": len(docs), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "articles_per_s": round(len(docs) / wall, 1),
        "default_options_articles_per_s": round(len(sample) / default_wall, 1),
        "mean_html_kb": round(sum(len(h) for h, _ in docs) / len(docs) / 1024, 1),
    }


# --- the run ---------------------------------------------------------------------------------------------------


def cold_ingest(server: Server, world: World, db: Path) -> dict[str, Any]:
    """A cold ingest of every feed of ``world`` onto the empty database ``db``; the quality of what it stored,
    and the same pages through bare trafilatura in one process (its ratio to the ingest)."""
    register_feeds(db, [world.feed_url(f) for f in range(world.n_feeds)])
    w, s, srv = poll(db, server, f"cold ingest of {world.n_feeds} feeds")
    pages_fetched = srv["counts"].get("page_200", 0)
    cold = {
        **run_figures(w), "cycle_s": s["seconds"], "summary": {k: v for k, v in s.items() if k != "errors"},
        "errors": len(s["errors"]), "pages_fetched": pages_fetched,
        "articles_per_s": round(pages_fetched / w.wall, 1),
        "articles_per_s_cycle": round(pages_fetched / s["seconds"], 1),
        "cpu_ms_per_article": round(1000 * w.cpu / max(1, pages_fetched), 1),
        "server": srv,
    }
    log("extraction quality")
    quality_figures = quality(db, world)
    listed = sorted({i for items in world.feed_items for i in items})
    log(f"bare trafilatura.bare_extraction over {len(listed)} pages")
    bare = bare_baseline(world, listed)
    return {
        "cold": cold, "quality": quality_figures, "bare": bare,
        "ratio": round(cold["articles_per_s"] / bare["articles_per_s"], 2),
        "ratio_cycle": round(cold["articles_per_s_cycle"] / bare["articles_per_s"], 2),
    }


def world_figures(seed: int, spec: dict[str, int], server: Server) -> tuple[World, dict[str, Any]]:
    world = World(seed, spec["feeds"], spec["hosts"], spec["entries"], spec["pages"], port=server.port)
    listed = {i for items in world.feed_items for i in items}
    return world, {"seed": seed, **spec, "listed_pages": len(listed),
                   "feed_entries": sum(map(len, world.feed_items)), "server": server.banner}


def main() -> None:
    parser = argparse.ArgumentParser(description="monitor benchmarks on a loopback news world")
    parser.add_argument("--quick", action="store_true", help="the 200-feed world alone (about 3 minutes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--feeds", type=int)
    parser.add_argument("--hosts", type=int)
    parser.add_argument("--entries", type=int)
    parser.add_argument("--pages", type=int)
    parser.add_argument("--sizes", help="store sizes for the store-cost figures, e.g. 1000,2000,10000,20000,100000")
    parser.add_argument("--scale-feeds", type=int, help="feeds ingested onto the 2k/20k stores (RSS figures)")
    parser.add_argument("--warm-repeats", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated: small,cold,warm,change,scale")
    args = parser.parse_args()
    quick = args.quick
    args.feeds = args.feeds or (SMALL_WORLD["feeds"] if quick else 1000)
    args.hosts = args.hosts or SMALL_WORLD["hosts"]
    args.entries = args.entries or SMALL_WORLD["entries"]
    # about 2 feed entries per distinct page: some stories in several feeds, most in one or two
    args.pages = args.pages or (SMALL_WORLD["pages"] if quick else 10000)
    default_sizes = "1000,2000,20000" if quick else "1000,2000,10000,20000,100000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    args.scale_feeds = args.scale_feeds or (20 if quick else 100)
    skip = set(filter(None, args.skip.split(",")))
    spec = {k: getattr(args, k) for k in SMALL_WORLD}

    if SCRATCH.exists():
        shutil.rmtree(SCRATCH)
    SCRATCH.mkdir(parents=True)
    results: dict[str, Any] = {
        "machine": {
            "nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "mem_total_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
            "loadavg_at_start": os.getloadavg(),
        },
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    started = time.perf_counter()
    # (0) the 200-feed world, cold, on a server of its own (unless it is this run's world)
    if spec != SMALL_WORLD and "small" not in skip:
        log(f"starting the 200-feed world's server: {SMALL_WORLD}")
        small_server = Server(args.seed, SMALL_WORLD)
        try:
            log(small_server.banner)
            small_world, results["small_world"] = world_figures(args.seed, SMALL_WORLD, small_server)
            results["small"] = cold_ingest(small_server, small_world, SCRATCH / "small.db")
        finally:
            small_server.close()
    log(f"starting the news-world server: {spec}")
    server = Server(args.seed, spec)
    try:
        log(server.banner)
        world, results["world"] = world_figures(args.seed, spec, server)
        db = SCRATCH / "cold.db"

        # process overhead: a poll with nothing due (imports, migration check, no pool)
        make_not_due = SCRATCH / "empty.db"
        register_feeds(make_not_due, [])
        w0, _s0, _ = poll(make_not_due, server, "empty poll (start-up cost)")
        results["startup"] = run_figures(w0)
        results["cli_startup"] = startup.measure(monitor_env(make_not_due))

        # (1) cold ingest, its quality and (2) the bare cost of the same pages, in one process, same run
        if "cold" not in skip:
            results.update(cold_ingest(server, world, db))

        # (3) warm cycles over unchanged feeds
        if "warm" not in skip and "cold" not in skip:
            warm = []
            for r in range(args.warm_repeats):
                make_due(db)
                w3, s3, srv3 = poll(db, server, f"warm cycle {r + 1}")
                counts = srv3["counts"]
                warm.append({
                    **run_figures(w3), "cycle_s": s3["seconds"], "outcomes": s3["outcomes"],
                    "cpu_ms_per_feed": round(1000 * (w3.cpu - w0.cpu) / args.feeds, 2),
                    "bodies_downloaded": counts.get("feed_200", 0) + counts.get("page_200", 0),
                    "responses": counts, "server_cpu_s": round(srv3["cpu"], 2),
                })
            results["warm"] = warm
            if "change" not in skip:
                changed = server.get("/__change?fraction=0.1&round=1")
                make_due(db)
                w4, s4, srv4 = poll(db, server, "cycle with 10% of the feeds changed")
                results["changed"] = {
                    **run_figures(w4), "cycle_s": s4["seconds"], "changed_feeds": changed["changed"],
                    "new_pages": changed["new_pages"], "articles_new": s4["articles_new"],
                    "entries_seen": s4["entries_seen"], "responses": srv4["counts"],
                }

        # (4) store size: per-article store cost, and the ingesting process on 2k / 20k stores
        if "scale" not in skip:
            results["scale"] = scale_figures(args, sizes, world, server)
    finally:
        server.close()
    results["total_s"] = round(time.perf_counter() - started, 1)
    (SCRATCH / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report(results)


def scale_figures(args: argparse.Namespace, sizes: list[int], world: World, server: Server) -> dict[str, Any]:
    from monitor.dedup.neardup import NearDupConfig

    config = NearDupConfig()
    db = SCRATCH / "scale.db"
    store = open_store(db)
    store.neardup = config
    synth = Synth(args.seed, config)
    costs, seeding, copies = [], {}, {}
    have = 0
    for size in sorted(set(sizes) | {2000, 20000}):
        log(f"seeding the store to {size} synthetic articles")
        seeding[size] = round(seed(store.engine, synth, have, size), 1)
        have = size
        if size in sizes:
            costs.append(asdict(time_store(store, synth, size, count=200)))
            log(f"store cost at {size}: {costs[-1]}")
        if size in (2000, 20000):
            store.engine.dispose()
            copies[size] = SCRATCH / f"store{size}.db"
            shutil.copy(db, copies[size])
    store.engine.dispose()
    scale_urls = [world.feed_url(f) for f in range(0, args.feeds, max(1, args.feeds // args.scale_feeds))]
    ingest = {}
    for size, path in copies.items():
        register_feeds(path, scale_urls[: args.scale_feeds])
        w, s, srv = poll(path, server, f"ingest of {args.scale_feeds} feeds onto a {size}-article store")
        pages = srv["counts"].get("page_200", 0)
        ingest[size] = {**run_figures(w), "cycle_s": s["seconds"], "pages_fetched": pages,
                        "articles_new": s["articles_new"], "cpu_ms_per_article": round(1000 * w.cpu / max(1, pages), 1)}
    return {"store_cost": costs, "seeding_s": seeding, "ingest": ingest}


def ok(good: bool) -> str:
    return "PASS" if good else "FAIL"


def print_cold(part: dict[str, Any]) -> None:
    """A cold ingest's figures, its bare baseline and the extraction quality."""
    c, b, q = part["cold"], part["bare"], part["quality"]
    print(f"   cold ingest: {c['wall_s']}s wall (cycle {c['cycle_s']}s), {c['cpu_s']}s CPU "
          f"(main {c['cpu_main_s']}s), {c['pages_fetched']} pages → {c['articles_per_s']} articles/s "
          f"({c['cpu_ms_per_article']} CPU ms/page); new {c['summary']['articles_new']}, duplicates "
          f"{c['summary']['articles_duplicate']}, seen {c['summary']['entries_seen']}, errors {c['errors']}; "
          f"server CPU {c['server']['cpu']:.1f}s")
    print(f"   peak memory: tree {c['peak_rss_tree_mb']} MB RSS, {c['peak_pss_tree_mb']} MB PSS "
          f"({c['processes']} processes); main {c['peak_rss_main_mb']} MB, largest worker "
          f"{c['peak_rss_worker_mb']} MB RSS")
    print(f"   bare trafilatura.bare_extraction, one process: {b['articles_per_s']} articles/s "
          f"({b['pages']} pages, mean {b['mean_html_kb']} KB; default options {b['default_options_articles_per_s']}/s)"
          f" → ratio {part['ratio']} (cycle only: {part['ratio_cycle']})")
    print(f"   extraction quality: {q['articles']} articles {q['by_source']}, token recall mean "
          f"{q['token_recall_mean']} (min {q['token_recall_min']}), precision mean {q['token_precision_mean']} "
          f"(min {q['token_precision_min']}); syndicated copies joined to the original's story: "
          f"{q['syndicated_joined_to_original_story']}/{q['syndicated_pages']}")


def world_name(world: dict[str, Any]) -> str:
    if all(world[k] == v for k, v in SMALL_WORLD.items()):
        return "200-feed world"
    return "full world" if world["feeds"] == 1000 and world["pages"] == 10000 else f"{world['feeds']}-feed world"


def print_targets(r: dict[str, Any]) -> None:
    """The cold-ingest targets of the 200-feed world and the full world, side by side."""
    columns = [(world_name(r["small_world"]), r["small"])] if "small" in r else []
    columns += [(world_name(r["world"]), r)] if "cold" in r else []
    if not columns:
        return
    pss_target = {"200-feed world": TARGETS["peak_pss_tree_mb_small"], "full world": TARGETS["peak_pss_tree_mb_full"]}

    def judged(value: float, good: bool | None) -> str:
        return f"{value} {ok(good)}" if good is not None else str(value)

    rows = [
        ("tree peak PSS, MB", [judged(p["cold"]["peak_pss_tree_mb"], p["cold"]["peak_pss_tree_mb"] <= pss_target[n]
                                      if n in pss_target else None) for n, p in columns],
         f"≤ {pss_target['200-feed world']} (200 feeds), ≤ {pss_target['full world']} (full)"),
        ("tree peak RSS, MB", [str(p["cold"]["peak_rss_tree_mb"]) for _, p in columns], ""),
        ("CPU ms per stored page", [judged(p["cold"]["cpu_ms_per_article"],
                                           p["cold"]["cpu_ms_per_article"] <= TARGETS["cpu_ms_per_page"])
                                    for _, p in columns], f"≤ {TARGETS['cpu_ms_per_page']}"),
        ("cold-ingest wall, s", [str(p["cold"]["wall_s"]) for _, p in columns], ""),
        ("ratio to bare trafilatura", [judged(p["ratio"], p["ratio"] >= TARGETS["ratio"]) for _, p in columns],
         f"≥ {TARGETS['ratio']}"),
    ]
    print("\ncold-ingest targets (issue 16):")
    width = max(len(label) for label, _, _ in rows)
    print(f"   {'':{width}}" + "".join(f"{name:>20}" for name, _ in columns) + "   target")
    for label, values, target in rows:
        print(f"   {label:{width}}" + "".join(f"{v:>20}" for v in values) + f"   {target}")
    for name, part in columns:
        if name == "200-feed world":
            speedup = MINIFLUX_COLD_S / part["cold"]["wall_s"]
            print(f"   200-feed world against Miniflux 2.0.43's {MINIFLUX_COLD_S}s (issue 16's measurement on this "
                  f"machine, not this run's): ×{speedup:.2f}; target ≥ ×{TARGETS['miniflux_speedup']} "
                  f"[{ok(speedup >= TARGETS['miniflux_speedup'])}]")


def report(r: dict[str, Any]) -> None:

    m = r["machine"]
    print(f"\n== monitor benchmarks ({r['started']}, {r['total_s']}s) ==")
    print(f"machine: {m['nproc']} cores, {m['mem_total_gb']} GB, Python {m['python']}, load at start "
          f"{', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}")
    wd = r["world"]
    print(f"world: {wd['feeds']} feeds on {wd['hosts']} hosts, {wd['entries']} entries each "
          f"({wd['feed_entries']} entries, {wd['listed_pages']} distinct pages listed), seed {wd['seed']}")
    s = r["startup"]
    print(f"start-up (poll with nothing due): {s['wall_s']}s wall, {s['cpu_s']}s CPU")
    startup.report(r["cli_startup"])
    if "small" in r:
        sw = r["small_world"]
        print(f"\n0. the 200-feed world: {sw['feeds']} feeds on {sw['hosts']} hosts, {sw['entries']} entries each "
              f"({sw['feed_entries']} entries, {sw['listed_pages']} distinct pages listed)")
        print_cold(r["small"])
    if "cold" in r:
        print("\n1. the world above, cold")
        print_cold(r)
    if "warm" in r:
        walls = [w["cycle_s"] for w in r["warm"]]
        per1000 = statistics.median(walls) * 1000 / wd["feeds"]
        for i, w in enumerate(r["warm"]):
            print(f"3. warm cycle {i + 1}: cycle {w['cycle_s']}s (process {w['wall_s']}s), {w['cpu_ms_per_feed']} CPU "
                  f"ms/feed (start-up subtracted), bodies downloaded {w['bodies_downloaded']}, server CPU "
                  f"{w['server_cpu_s']}s, {w['outcomes']}")
        print(f"   warm cycle per 1,000 feeds (median): {per1000:.2f}s; target ≤ "
              f"{TARGETS['warm_wall_s_per_1000_feeds']} [{ok(per1000 <= TARGETS['warm_wall_s_per_1000_feeds'])}]")
    if "changed" in r:
        ch = r["changed"]
        print(f"   cycle with {ch['changed_feeds']} feeds changed: cycle {ch['cycle_s']}s, {ch['cpu_s']}s CPU, "
              f"{ch['articles_new']} new articles ({ch['new_pages']} new pages), responses {ch['responses']}")
    if "scale" in r:
        sc = r["scale"]
        ing = sc["ingest"]
        for size in sorted(ing, key=int):
            i = ing[size]
            print(f"   ingest onto a {int(size):,}-article store: main {i['peak_rss_main_mb']} MB, worker "
                  f"{i['peak_rss_worker_mb']} MB, tree {i['peak_rss_tree_mb']} MB (PSS {i['peak_pss_tree_mb']} MB); "
                  f"{i['wall_s']}s wall, "
                  f"{i['cpu_ms_per_article']} CPU ms/article ({i['pages_fetched']} pages)")
        if 2000 in ing and 20000 in ing:
            a, z = ing[2000], ing[20000]
            growth = z["peak_rss_main_mb"] / a["peak_rss_main_mb"] - 1
            tree_growth = z["peak_rss_tree_mb"] / a["peak_rss_tree_mb"] - 1
            print(f"   peak RSS at 20k: main {z['peak_rss_main_mb']} MB, tree {z['peak_rss_tree_mb']} MB; target ≤ "
                  f"{TARGETS['peak_rss_mb_20k']} MB (main) [{ok(z['peak_rss_main_mb'] <= TARGETS['peak_rss_mb_20k'])}]")
            print(f"   RSS growth 2k → 20k: main {growth:+.1%}, tree {tree_growth:+.1%}; target ≤ "
                  f"{TARGETS['rss_growth_2k_20k']:.0%} [{ok(growth <= TARGETS['rss_growth_2k_20k'])}]")
        costs = {c["size"]: c for c in sc["store_cost"]}
        for size, c in sorted(costs.items()):
            print(f"   Store.save_article at {size:,} stored: median {c['save_ms_median']:.2f} ms, mean "
                  f"{c['save_ms_mean']:.2f} ms, p90 {c['save_ms_p90']:.2f} ms (joined a story: {c['joined']}/200); "
                  f"find_seen median {c['find_seen_ms_median']:.3f} ms")
        for lo, hi in ((2000, 20000), (1000, 10000), (1000, 100000)):
            if lo in costs and hi in costs:
                g = costs[hi]["save_ms_median"] / costs[lo]["save_ms_median"]
                print(f"   save_article cost {lo:,} → {hi:,}: ×{g:.2f}; target ≤ ×{TARGETS['store_cost_growth']} "
                      f"[{ok(g <= TARGETS['store_cost_growth'])}]")
        print(f"   (seeding, s per step: {sc['seeding_s']})")
    print_targets(r)
    print(f"\nresults: {SCRATCH / 'results.json'}")


if __name__ == "__main__":
    main()
