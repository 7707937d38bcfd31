"""A soak: `monitor run` for minutes on a loopback news world whose feeds keep publishing; its memory, open
files, database and history tables sampled over time.

    python -m benchmarks.soak                    # 3 minutes, 40 feeds
    python -m benchmarks.soak --minutes 30

Every ``--every`` seconds the world publishes one new story on a ``--fraction`` of its feeds (each round one
simulated hour later than the one before: 3 minutes at 3 s a round is 2.5 simulated days). The daemon polls
fast (poll.interval 5 s, min_interval 2 s, tick 1 s) and keeps ``--history-keep`` fetch-history rows per feed,
so the trimming is exercised within minutes. Every story alerts (one immediate subscription, its mail to a
loopback SMTP server) and sent alerts are kept ``--alerts-keep`` seconds (``alerts.keep_sent_days``). Every
``--sample`` seconds: the RSS and open file descriptors of the daemon's process tree (benchmarks.procwatch), the
database's size (file and write-ahead log) per article, and the row counts of the history tables. Prints the
table and whether RSS and descriptors are flat after the warm-up and the history and the sent alerts bounded by
their settings. SQLite; scratch files under benchmarks/.scratch/soak/.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.instances import Db
from benchmarks.load import locked_lines, monitor_process, ok
from benchmarks.procwatch import tree_usage
from benchmarks.run import MB, SCRATCH, Server, log, register_feeds
from benchmarks.startup import CONFIG, ROOT, database_url, monitor_env
from benchmarks.world import World, add_world_arguments
from tests.smtp import SmtpServer

RSS_GROWTH = 0.05  # the median RSS of the last half after warm-up may exceed the first half's by this much
# … and its median of open descriptors by this many (connections and pipes come and go between samples; a leak
# grows without end)
FD_GROWTH = 2
SEND_INTERVAL = 2.0  # seconds between the alert sender's runs
# every story of the world alerts: mail to a loopback SMTP server
ALERTING = """
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from_addr = "monitor@soak.test"

[[subscriptions]]
name = "soak"
recipients = ["desk@soak.test"]
tags = ["ukraine-war"]
"""


@dataclass
class Sample:
    t: float
    round: int
    articles: int
    fetch_log: int
    polls_max: int  # fetch-history rows of the feed with the most
    alerts: int
    old_sent: int  # sent alerts older than the benchmark keeps them (plus two runs of the sender)
    processes: int
    rss: int
    fds: int
    db_bytes: int

    def row(self) -> str:
        per_article = self.db_bytes / self.articles / 1024 if self.articles else 0.0
        return (f"{self.t:7.0f} {self.round:6d} {self.articles:8d} {self.fetch_log:9d} {self.polls_max:8d} "
                f"{self.alerts:6d} {self.old_sent:4d} {self.processes:5d} {self.rss / MB:8.1f} {self.fds:5d} "
                f"{self.db_bytes / MB:8.1f} {per_article:8.1f}")


HEADER = ("    t s  round articles fetch_log max/feed alerts old. procs   RSS MB   FDs    db MB  KB/art.")


def take(db: Path, counts: Db, pid: int, started: float, round_: int, keep: float) -> Sample:
    processes, rss, fds = tree_usage(pid)
    old = (datetime.now(UTC) - timedelta(seconds=keep + 2 * SEND_INTERVAL)).strftime("%Y-%m-%d %H:%M:%S")
    size = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())
    return Sample(
        t=time.monotonic() - started, round=round_, articles=counts.one("SELECT count(*) FROM article"),
        fetch_log=counts.one("SELECT count(*) FROM fetch_log"),
        polls_max=counts.one("SELECT max(n) FROM (SELECT count(*) AS n FROM fetch_log GROUP BY feed_id) AS per"),
        alerts=counts.one("SELECT count(*) FROM alert"), processes=processes, rss=rss, fds=fds, db_bytes=size,
        old_sent=counts.one(f"SELECT count(*) FROM alert WHERE status = 'sent' AND sent_at < '{old}'"),
    )


def judge(samples: list[Sample], warmup: float, keep: int, mails: int) -> None:
    after = [s for s in samples if s.t >= warmup]
    print(f"\nafter the warm-up (the first {warmup:.0f} s), {len(after)} samples:")
    if len(after) < 4:
        print("   too few samples after the warm-up to judge (run longer: --minutes)")
    else:
        first, last = after[: len(after) // 2], after[len(after) // 2 :]
        rss_a, rss_b = statistics.median(s.rss for s in first), statistics.median(s.rss for s in last)
        growth = rss_b / rss_a - 1
        print(f"   RSS: median {rss_a / MB:.1f} MB in the first half, {rss_b / MB:.1f} MB in the second "
              f"({growth:+.1%}); flat if ≤ {RSS_GROWTH:+.0%} [{ok(growth <= RSS_GROWTH)}]")
        fd_a, fd_b = statistics.median(s.fds for s in first), statistics.median(s.fds for s in last)
        low, high = min(s.fds for s in after), max(s.fds for s in after)
        print(f"   open descriptors: median {fd_a:g} in the first half, {fd_b:g} in the second (range {low}–{high}); "
              f"flat if the median grows by ≤ {FD_GROWTH} [{ok(fd_b <= fd_a + FD_GROWTH)}]")
    end = samples[-1]
    feeds_bound = end.polls_max <= keep
    print(f"   fetch_log: at most {end.polls_max} rows per feed at the end ({end.fetch_log} in all); "
          f"poll.history_keep = {keep} [{ok(feeds_bound)}]")
    print(f"   alert: {end.alerts} rows at the end (at most {max(s.alerts for s in samples)}), {mails} mails received; "
          f"sent alerts older than alerts.keep_sent_days: {end.old_sent} at the end, at most "
          f"{max(s.old_sent for s in samples)} (the one a subscription keeps) [{ok(end.old_sent <= 1)}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3)
    add_world_arguments(parser, feeds=40, hosts=4, entries=10, pages=200)
    parser.add_argument("--every", type=float, default=3, help="seconds between rounds of new stories")
    parser.add_argument("--fraction", type=float, default=0.25, help="feeds given a new story each round")
    parser.add_argument("--sample", type=float, default=5, help="seconds between samples")
    parser.add_argument("--warmup", type=float, help="seconds not judged (default: a third of the run)")
    parser.add_argument("--history-keep", type=int, default=10, help="poll.history_keep of the daemon")
    parser.add_argument("--alerts-keep", type=float, default=30, help="seconds sent alerts are kept")
    parser.add_argument("--scratch", type=Path, default=SCRATCH / "soak", help="its scratch folder (emptied)")
    args = parser.parse_args()
    duration = args.minutes * 60
    warmup = duration / 3 if args.warmup is None else args.warmup
    folder = args.scratch
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = folder / "soak.db"
    spec = {"feeds": args.feeds, "hosts": args.hosts, "entries": args.entries, "pages": args.pages}
    server, mail = Server(args.seed, spec), SmtpServer()
    config = folder / "monitor.toml"
    config.write_text(CONFIG.read_text() + ALERTING.format(port=mail.port))
    samples: list[Sample] = []
    daemon_log = folder / "daemon.log"
    try:
        log(server.banner)
        world = World(args.seed, port=server.port, **spec)
        register_feeds(db, [world.feed_url(f) for f in range(world.n_feeds)])
        env = monitor_env(db, MONITOR_HEARTBEAT_FILE=str(folder / "heartbeat"), MONITOR_POLL_INTERVAL="5",
                          MONITOR_POLL_MIN_INTERVAL="2", MONITOR_POLL_TICK="1",
                          MONITOR_POLL_HISTORY_KEEP=str(args.history_keep),
                          MONITOR_ALERTS_SEND_INTERVAL=str(SEND_INTERVAL),
                          MONITOR_ALERTS_KEEP_SENT_DAYS=str(args.alerts_keep / 86400),
                          # the config is a copy elsewhere: its relative paths, absolute
                          **{f"MONITOR_TAGGING_{key.upper()}": str(ROOT / "config" / name) for key, name in
                             (("tags_file", "tags.toml"), ("officials_file", "officials.toml"),
                              ("model_file", "model.json"))})
        env["MONITOR_CONFIG"] = str(config)  # the benchmark's config with the alerting above
        counts = Db(database_url(db))
        try:
            with monitor_process(["run"], env, daemon_log) as daemon:
                started = time.monotonic()
                log(f"soak of {duration:.0f}s: {args.feeds} feeds, a round every {args.every:g}s")
                print(HEADER, flush=True)
                round_, next_round, next_sample = 0, started, started
                while (now := time.monotonic()) < started + duration:
                    if daemon.poll() is not None:
                        raise SystemExit(f"monitor run ended ({daemon.returncode}): see {daemon_log}")
                    if now >= next_round:
                        round_ += 1
                        server.get(f"/__change?fraction={args.fraction}&round={round_}")
                        next_round += args.every
                    if now >= next_sample:
                        samples.append(take(db, counts, daemon.pid, started, round_, args.alerts_keep))
                        print(samples[-1].row(), flush=True)
                        next_sample += args.sample
                    time.sleep(max(0.0, min(next_round, next_sample) - time.monotonic()))
                samples.append(take(db, counts, daemon.pid, started, round_, args.alerts_keep))
                print(samples[-1].row(), flush=True)
        finally:
            counts.close()
    finally:
        server.close()
        mail.stop()
    print(f"world: {spec}, seed {args.seed}; {round_} rounds ({round_} simulated hours); SQLite; log {daemon_log}")
    judge(samples, warmup, args.history_keep, len(mail.messages))
    locked = locked_lines(daemon_log)
    print(f"   'database is locked' in the daemon's log: {locked} [{ok(locked == 0)}]")


if __name__ == "__main__":
    main()
