"""End to end: `monitor run` polls a feed on loopback, tags a new article and mails the alert."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.newsworld import Item, NewsServer, article_page, rss
from tests.smtp import SmtpServer
from tests.test_process_safety import wait_for

WAR_PAGE = [
    "Russian forces launched a wave of missile and drone strikes on Kyiv overnight, hitting energy "
    "infrastructure and residential buildings across the Ukrainian capital, officials said on Tuesday.",
    "Ukraine's air force said air defences shot down most of the Russian cruise missiles, but several struck "
    "power stations, leaving parts of the city without electricity as the invasion entered its second week.",
    'Defence Secretary Ben Wallace said: "Russia\'s deliberate attacks on civilians in Kyiv are war crimes, and '
    'the United Kingdom will send more anti-tank weapons and air defence systems to Ukraine."',
    "The Ministry of Defence in London said British military aid to the Ukrainian armed forces would be "
    "stepped up, and that further sanctions against Moscow were being prepared with allies.",
    "Emergency crews in Kyiv worked through the night to pull residents from the rubble of a bombed apartment "
    "block, and the mayor urged people to stay in shelters while the Russian shelling continued.",
]
QUIET_PAGE = [f"Paragraph {i}: the village fete raised money for the church roof, with cakes, a tombola and a "
              "dog show judged by the local vet, who praised the turnout despite the rain." for i in range(5)]


def test_daemon_mails_a_new_matching_article(config_file: Path, server: NewsServer) -> None:
    mail = SmtpServer()
    config_file.write_text(
        config_file.read_text() + '\n[[subscriptions]]\nname = "war"\nrecipients = ["analyst@example.org"]\n'
        'tags = ["ukraine-war", "uk-defence-statement"]\n'
    )
    env = {
        **os.environ, "MONITOR_IMPORT_SEEDS": "false", "MONITOR_POLL_INTERVAL": "1",
        "MONITOR_ALERTS_SEND_INTERVAL": "0.5", "MONITOR_SMTP_HOST": "127.0.0.1", "MONITOR_SMTP_PORT": str(mail.port),
        "MONITOR_SMTP_SECURITY": "none",
    }
    published = datetime(2022, 3, 8, 9, 0, tzinfo=UTC)
    items = [Item("Village fete raises record sum", server.url("/news/1"), "g1", published=published)]
    server.static("/news/1", article_page("Village fete raises record sum", QUIET_PAGE))
    server.static("/news/2", article_page("Russian strikes on Kyiv; UK to send more weapons", WAR_PAGE))
    feed = server.static("/feed.xml", rss(items), "application/rss+xml")
    subprocess.run([sys.executable, "-m", "monitor", "feeds", "add", server.url("/feed.xml")],
                   check=True, capture_output=True, env=env)
    log = config_file.parent / "daemon.log"  # a file, not a pipe: a full pipe would block the DEBUG logging
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run"], stderr=log.open("w"), env=env)
    try:
        wait_for(lambda: server.hits("/news/1"))
        time.sleep(1.0)  # the quiet article is stored and mails nothing
        assert not mail.messages
        items.append(Item("Russian strikes on Kyiv; UK to send more weapons", server.url("/news/2"), "g2",
                          published=published))
        appeared = time.monotonic()
        feed.set(rss(items))
        wait_for(lambda: mail.messages, timeout=30)
        latency = time.monotonic() - appeared
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        mail.stop()
    [msg] = mail.messages
    assert str(msg["Subject"]).strip() == (
        "[ukraine-war, uk-defence-statement] Russian strikes on Kyiv; UK to send more weapons"
    )
    assert proc.returncode == 0 and "Traceback" not in log.read_text()
    print(f"feed update to mail: {latency:.2f}s (poll interval 1s, tick 0.5s, send interval 0.5s)")
    assert latency < 10
