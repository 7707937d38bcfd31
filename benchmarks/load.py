"""Reads while ingesting: `monitor run` ingests a loopback news world while `monitor web`, on the same database,
answers a steady, bounded stream of reads (searches, article pages, statements, the Atom feed).

    python -m benchmarks.load                                  # 200 feeds, SQLite, 20 requests/s
    python -m benchmarks.load --rounds 2                       # readers off, on, off, on
    python -m benchmarks.load --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench   # SCHEMA DROPPED

Each round ingests the world cold onto an empty database twice: once without readers, once with them (the
web process started before the daemon and warmed up by one unmeasured request of each kind; the reads from the
first stored article until every feed is polled, at most ``--requests``). Prints the reads' p50/p95/p99
latency by kind, their errors (any non-200 answer or failed request) and the lines saying "database is locked"
in either process's log, and the ingest rate (pages stored per second, from the first stored article until
every feed was polled) with and without the readers, beside the targets. Scratch files under
benchmarks/.scratch/load/; every process started is stopped.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.instances import Db, reset_database, wait_for
from benchmarks.procwatch import tree_cpu
from benchmarks.run import SCRATCH, SMALL_WORLD, Server, log, register_feeds
from benchmarks.startup import MONITOR, ROOT, database_url, monitor_env
from benchmarks.world import World, add_world_arguments

TARGETS = {"errors": 0, "locked": 0, "search_p95_ms": 100, "ingest_slowdown": 0.20}
SEARCHES = ("ukraine", "drone strike", '"air defence"', "minister OR secretary", "kyiv -moscow", "sanction*",
            "title:attack", "grain exports")
LOCKED = "database is locked"


@contextmanager
def monitor_process(args: list[str], env: dict[str, str], logfile: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``monitor ARGS`` with its output in ``logfile``; stopped (SIGTERM, then SIGKILL) however the block ends."""
    with logfile.open("wb") as out:
        proc = subprocess.Popen([*MONITOR, *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """:func:`benchmarks.instances.wait_for` polling every 0.25 s, ending the benchmark when it times out."""
    try:
        return wait_for(condition, timeout, step=0.25)
    except AssertionError:
        raise SystemExit(f"{what}: not within {timeout:.0f}s") from None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Reads:
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0  # from the first request's start to the last one's end

    @property
    def sent(self) -> int:
        return sum(map(len, self.latency_ms.values())) + sum(self.errors.values())

    def lines(self) -> list[str]:
        out = []
        for kind, values in sorted(self.latency_ms.items()):
            out.append(f"   {kind:<10} {len(values):5d} ok, {self.errors.get(kind, 0)} errors; latency ms p50 "
                       f"{percentile(values, 50):7.1f}  p95 {percentile(values, 95):7.1f}  "
                       f"p99 {percentile(values, 99):7.1f}  max {max(values):7.1f}")
        return out


def read_loop(base: str, rate: float, limit: int, stop: threading.Event, reads: Reads) -> None:
    """At most ``limit`` GETs, one every 1/``rate`` s on one connection (a late one starts at once), until
    ``stop``: searches half of them, then article pages (ids from the searches), statements and the Atom feed."""
    kinds = itertools.cycle(["search", "article", "search", "statements", "search", "article", "search", "atom"])
    ids: list[str] = []
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=10) as client:
        for n in range(limit):
            if stop.is_set():
                break
            delay = started + n / rate - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            kind = next(kinds)
            if kind == "article" and not ids:
                kind = "search"
            path = {"search": f"/api/v1/articles?q={SEARCHES[n % len(SEARCHES)]}",
                    "article": f"/articles/{ids[n % len(ids)] if ids else ''}",
                    "statements": "/statements", "atom": "/feed.atom"}[kind]
            t0 = time.perf_counter()
            try:
                resp = client.get(path)
                ms = 1000 * (time.perf_counter() - t0)
                ok = resp.status_code == 200
                if ok and kind == "search":
                    ids.extend(item["id"] for item in resp.json()["items"][:5] if item["id"] not in ids)
                    del ids[:-200]
                problem = "" if ok else f"{path}: {resp.status_code} {resp.text[:120]!r}"
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                ms, problem = 1000 * (time.perf_counter() - t0), f"{path}: {type(exc).__name__} {exc}"
            if problem:
                reads.errors[kind] += 1
                if len(reads.error_examples) < 5:
                    reads.error_examples.append(problem)
            else:
                reads.latency_ms[kind].append(ms)
        reads.seconds = time.monotonic() - started


def locked_lines(*logs: Path) -> int:
    return sum(p.read_text(errors="replace").count(LOCKED) for p in logs if p.exists())


@dataclass
class Ingest:
    readers: bool
    articles: int
    seconds: float  # first stored article → every feed polled
    reads: Reads | None
    locked: int
    warnings: int
    cpu_daemon: float  # CPU seconds of the daemon's process tree over ``seconds``
    cpu_web: float  # of the web process (0 without readers)

    @property
    def rate(self) -> float:
        return self.articles / self.seconds if self.seconds > 0 else 0.0


def ingest(world_urls: list[str], db: Path | str, folder: Path, readers: bool, rate: float, requests: int,
           timeout: float) -> Ingest:
    """One cold ingest of ``world_urls`` onto the empty database ``db``, with or without readers."""
    if isinstance(db, Path):
        for suffix in ("", "-wal", "-shm", ".checked"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        reset_database(db)
    register_feeds(db, world_urls)
    env = monitor_env(db, MONITOR_HEARTBEAT_FILE=str(folder / "heartbeat"))
    tag = "on" if readers else "off"
    daemon_log, web_log = folder / f"daemon-readers-{tag}.log", folder / f"web-readers-{tag}.log"
    counts = Db(database_url(db))
    reads, stop = Reads(), threading.Event()
    try:
        with web_process(readers, env, web_log) as (base, web), monitor_process(["run"], env, daemon_log) as daemon:
            log(f"ingest of {len(world_urls)} feeds, readers {tag}")
            first = wait_until(lambda: daemon.poll() is not None or counts.one("SELECT count(*) FROM article") > 0,
                               timeout, "first stored article")
            if daemon.poll() is not None:
                raise SystemExit(f"monitor run ended ({daemon.returncode}): see {daemon_log}")
            web_cpu = (lambda: tree_cpu(web)) if web else (lambda: 0.0)
            cpu_before = tree_cpu(daemon.pid), web_cpu()
            client = threading.Thread(target=read_loop, args=(base, rate, requests, stop, reads), daemon=True)
            if base:
                client.start()
            try:
                done = wait_until(lambda: counts.one("SELECT count(*) FROM fetch_log") >= len(world_urls),
                                  timeout, "every feed polled")
                cpu_daemon, cpu_web = tree_cpu(daemon.pid) - cpu_before[0], web_cpu() - cpu_before[1]
            finally:
                stop.set()
                if base:
                    client.join(30)
            articles = counts.one("SELECT count(*) FROM article")
    finally:
        counts.close()
    text = "".join(p.read_text(errors="replace") for p in (daemon_log, web_log) if p.exists())
    return Ingest(readers, articles, done - first, reads if readers else None, locked_lines(daemon_log, web_log),
                  sum(1 for line in text.splitlines() if "WARNING" in line or "ERROR" in line), cpu_daemon, cpu_web)


@contextmanager
def web_process(readers: bool, env: dict[str, str], logfile: Path) -> Iterator[tuple[str, int]]:
    """``monitor web`` on a free loopback port when ``readers`` (yields its base URL, once it answers, and its
    pid); else ("", 0)."""
    if not readers:
        yield "", 0
        return
    port = free_port()
    with monitor_process(["web", "--host", "127.0.0.1", "--port", str(port)], env, logfile) as proc:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"monitor web ended ({proc.returncode}): see {logfile}")
            try:
                return httpx.get(f"{base}/api/v1/articles?limit=1", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 60, "monitor web answering")
        for path in ("/statements", "/feed.atom", f"/api/v1/articles?q={SEARCHES[0]}"):  # warm-up, not measured
            httpx.get(base + path, timeout=10)
        yield base, proc.pid


def ok(flag: bool) -> str:
    return "PASS" if flag else "FAIL"


def report(runs: list[Ingest], sqlite: bool, rate: float) -> None:
    off = [r for r in runs if not r.readers]
    on = [r for r in runs if r.readers]
    print("\ningest (pages stored per second, first stored article → every feed polled):")
    for r in runs:
        print(f"   readers {'on ' if r.readers else 'off'}: {r.articles} articles in {r.seconds:.1f}s = "
              f"{r.rate:.1f}/s; 'database is locked' lines {r.locked}; warning/error log lines {r.warnings}")
        print(f"      CPU meanwhile: daemon {r.cpu_daemon:.1f}s ({r.cpu_daemon / r.seconds:.2f} cores), "
              f"web {r.cpu_web:.1f}s ({r.cpu_web / r.seconds:.2f} cores) of the machine's {os.cpu_count()}")
    rate_off = sum(r.rate for r in off) / len(off)
    rate_on = sum(r.rate for r in on) / len(on)
    slowdown = 1 - rate_on / rate_off if rate_off else 0.0
    print(f"   slowdown with readers: {slowdown:+.1%}; target ≤ {TARGETS['ingest_slowdown']:.0%} "
          f"[{ok(slowdown <= TARGETS['ingest_slowdown'])}]")
    reads = Reads()
    for r in on:
        assert r.reads is not None
        for kind, values in r.reads.latency_ms.items():
            reads.latency_ms[kind].extend(values)
        for kind, n in r.reads.errors.items():
            reads.errors[kind] += n
        reads.error_examples.extend(r.reads.error_examples)
        reads.seconds += r.reads.seconds
    achieved = reads.sent / reads.seconds if reads.seconds else 0.0
    print(f"\nreads while ingesting: {reads.sent} requests in {reads.seconds:.0f}s, {achieved:.1f}/s of the "
          f"{rate:g}/s asked (one connection, one request at a time: a slow answer delays the next)")
    for line in reads.lines():
        print(line)
    for example in reads.error_examples[:5]:
        print(f"   e.g. {example}")
    errors = sum(reads.errors.values())
    locked = sum(r.locked for r in runs)
    p95 = percentile(reads.latency_ms.get("search", []), 95)
    print(f"   errors: {errors}; target {TARGETS['errors']} [{ok(errors == 0)}]")
    print(f"   'database is locked' in either log: {locked}; target 0 [{ok(locked == 0)}]")
    verdict = ok(p95 <= TARGETS["search_p95_ms"]) if sqlite and rate >= 20 else "n/a (target is for SQLite, 20/s)"
    print(f"   search p95: {p95:.1f} ms; target ≤ {TARGETS['search_p95_ms']} ms at 20 req/s on SQLite [{verdict}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_arguments(parser, **SMALL_WORLD)
    parser.add_argument("--rate", type=float, default=20, help="read requests per second")
    parser.add_argument("--requests", type=int, default=1200, help="most read requests per ingest")
    parser.add_argument("--rounds", type=int, default=1, help="pairs of ingests (readers off, then on)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds an ingest may take")
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of SQLite; ITS PUBLIC SCHEMA IS DROPPED")
    parser.add_argument("--scratch", type=Path, default=SCRATCH / "load", help="its scratch folder (emptied)")
    args = parser.parse_args()
    if args.rate <= 0 or args.requests < 1:
        parser.error("--rate and --requests must be positive")
    folder = args.scratch
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db: Path | str = args.postgres or folder / "load.db"
    spec = {"feeds": args.feeds, "hosts": args.hosts, "entries": args.entries, "pages": args.pages}
    server = Server(args.seed, spec)
    try:
        log(server.banner)
        world = World(args.seed, port=server.port, **spec)
        urls = [world.feed_url(f) for f in range(world.n_feeds)]
        runs = [ingest(urls, db, folder, readers, args.rate, args.requests, args.timeout)
                for _ in range(args.rounds) for readers in (False, True)]
    finally:
        server.close()
    print(f"world: {spec}, seed {args.seed}; database: {'PostgreSQL' if args.postgres else 'SQLite'}; "
          f"logs in {folder}")
    report(runs, not args.postgres, args.rate)


if __name__ == "__main__":
    sys.exit(main())
