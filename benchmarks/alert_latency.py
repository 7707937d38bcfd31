"""Alert latency: time from a matching article appearing in a feed to its mail arriving, with a real daemon.

    .venv/bin/python -m benchmarks.alert_latency --samples 3                       # the default settings
    .venv/bin/python -m benchmarks.alert_latency --interval 1 --tick 0.5 --send-interval 0.5 --samples 5

Each sample publishes the article at a random moment of the poll interval (so the mean is the expected wait)
on a loopback feed server; mail goes to a loopback SMTP server. Nothing leaves 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.newsworld import Item, NewsServer, article_page, rss
from tests.smtp import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY = [
    "village", "bridge", "council", "harvest", "railway", "river", "market", "school", "winter", "report",
    "station", "factory", "museum", "convoy", "regiment", "depot", "harbour", "airfield", "ministry", "budget",
    "election", "engineer", "surgeon", "teacher", "farmer",
]
WAR_PAGE = [
    "Russian forces launched a wave of missile and drone strikes on Kyiv overnight, hitting energy "
    "infrastructure across the Ukrainian capital, officials said.",
    'Defence Secretary Ben Wallace said: "Russia\'s deliberate attacks on civilians in Kyiv are war crimes, and '
    'the United Kingdom will send more air defence systems to Ukraine."',
    "Ukraine's air force said air defences shot down most of the Russian cruise missiles, but several struck "
    "power stations, leaving parts of the city without electricity as the invasion went on.",
]


def wait(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, help="poll.interval (default: the shipped config's)")
    parser.add_argument("--tick", type=float, help="poll.tick")
    parser.add_argument("--send-interval", type=float, help="alerts.send_interval")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    folder = Path(tempfile.mkdtemp(prefix="monitor-latency-"))
    config = folder / "monitor.toml"
    config.write_text(
        f'database_url = "sqlite:///{folder / "monitor.db"}"\ndefault_feeds = ""\nimport_seeds = false\n'
        f'heartbeat_file = "{folder / "heartbeat"}"\n[http]\nallowed_networks = ["127.0.0.2/32"]\n'
        f'[tagging]\ntags_file = "{ROOT / "config/tags.toml"}"\n'
        f'officials_file = "{ROOT / "config/officials.toml"}"\n[[subscriptions]]\nname = "war"\n'
        'recipients = ["analyst@example.org"]\ntags = ["ukraine-war", "uk-defence-statement"]\n'
    )
    server, mail = NewsServer("127.0.0.2"), SmtpServer()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {"MONITOR_CONFIG": str(config), "MONITOR_SMTP_HOST": "127.0.0.1", "MONITOR_SMTP_PORT": str(mail.port),
            "MONITOR_SMTP_SECURITY": "none", "MONITOR_LOG_LEVEL": "WARNING"}
    for name, value in (("POLL_INTERVAL", args.interval), ("POLL_TICK", args.tick),
                        ("ALERTS_SEND_INTERVAL", args.send_interval)):
        if value is not None:
            env[f"MONITOR_{name}"] = str(value)
    from monitor.core.config import load_settings

    settings = load_settings(config, env)
    interval = settings.poll.interval
    print(f"poll.interval {interval:g}s, poll.tick {settings.poll.tick:g}s, "
          f"alerts.send_interval {settings.alerts.send_interval:g}s; {args.samples} samples", flush=True)

    items: list[Item] = []
    feed = server.static("/feed.xml", rss(items), "application/rss+xml")
    subprocess.run([sys.executable, "-m", "monitor", "feeds", "add", server.url("/feed.xml")],
                   check=True, capture_output=True, env=env, cwd=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, cwd=ROOT,
                            stderr=(folder / "daemon.log").open("w"))
    latencies = []
    try:
        if not wait(lambda: server.hits("/feed.xml"), 120):
            raise SystemExit("the daemon never polled the feed")
        for n in range(args.samples):
            polls = len(server.hits("/feed.xml"))
            wait(lambda polls=polls: len(server.hits("/feed.xml")) > polls, interval + 2 * settings.poll.tick + 5)
            time.sleep(rng.uniform(0, interval))  # the article appears at a random moment of the interval
            # each sample is a story of its own: a near-copy would be "one story, one alert"
            local = [" ".join(rng.choice(VOCABULARY) for _ in range(80)) + "." for _ in range(3)]
            server.static(f"/news/{n}", article_page(f"Russian strikes on Kyiv, part {n}", WAR_PAGE + local))
            items.insert(0, Item(f"Russian strikes on Kyiv, part {n}", server.url(f"/news/{n}"), f"g{n}"))
            appeared = time.monotonic()
            feed.set(rss(items))
            limit = interval + settings.poll.tick + settings.alerts.send_interval + 60
            if not wait(lambda n=n: len(mail.messages) > n, limit):
                raise SystemExit(f"no mail within {limit:.0f}s; see {folder / 'daemon.log'}")
            latencies.append(time.monotonic() - appeared)
            print(f"sample {n + 1}: {latencies[-1]:.2f}s", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        server.close()
        mail.stop()
    print(f"feed update to mail: mean {statistics.mean(latencies):.2f}s, min {min(latencies):.2f}s, "
          f"max {max(latencies):.2f}s over {len(latencies)} samples")


if __name__ == "__main__":
    main()
