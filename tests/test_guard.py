"""Hostile input at the HTTP layer: the SSRF guard, decompression bombs, proxies. Every server is on
loopback; a refused address is refused before any connection opens."""

from __future__ import annotations

import gzip
import ipaddress
import json
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import brotli
import pytest

from monitor.core.config import HttpSettings
from monitor.ingest.decoding import BoundedDecoder
from monitor.ingest.fetcher import Blocked, FetchResult, ProtocolError, TooLarge
from monitor.ingest.netguard import AddressPolicy
from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, rss
from tests.test_cli import monitor
from tests.test_fetcher import FAST, run

MB = 1 << 20
ONLY_2 = [ipaddress.ip_network("127.0.0.2/32")]  # the one loopback address a test allows


def fetch(url: str, settings: HttpSettings) -> FetchResult:
    return run(settings, lambda f: f.fetch(url))


@pytest.fixture
def localhost_server() -> Iterator[NewsServer]:
    s = NewsServer("127.0.0.1")
    yield s
    s.close()


# --- the SSRF guard -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "refusal"), [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("::1", "::1 is a loopback address"),
    ("::ffff:127.0.0.1", "::ffff:7f00:1 is a loopback address"),
    ("169.254.169.254", "169.254.169.254 is a link-local address"),
    ("fe80::1", "fe80::1 is a link-local address"),
    ("fd00:ec2::254", "fd00:ec2::254 is a private address"),
    ("10.0.0.1", "10.0.0.1 is a private address"),
    ("172.16.5.4", "172.16.5.4 is a private address"),
    ("192.168.1.1", "192.168.1.1 is a private address"),
    ("::ffff:192.168.1.1", "::ffff:c0a8:101 is a private address"),
    ("100.64.0.1", "100.64.0.1 is a carrier-grade NAT address"),
    ("224.0.0.251", "224.0.0.251 is a multicast address"),
    ("ff02::1", "ff02::1 is a multicast address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),
    ("::", ":: is an unspecified address"),
    ("240.0.0.1", "240.0.0.1 is a reserved address"),
    ("192.0.2.1", "192.0.2.1 is a reserved address"),
    ("2002:7f00:1::", "2002:7f00:1:: is a loopback address"),
    ("93.184.215.14", None),
    ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
])
def test_policy_refuses_every_non_public_address(address: str, refusal: str | None) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) == refusal


def test_allowed_networks_open_what_they_name_and_nothing_else() -> None:
    policy = AddressPolicy([ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("127.0.0.2/32")])
    assert policy.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.1.2.3")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) is None
    assert policy.refusal(ipaddress.ip_address("10.2.0.1")) == "10.2.0.1 is a private address"
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) == "127.0.0.1 is a loopback address"


def test_loopback_is_refused_by_default_before_connecting(server: NewsServer) -> None:
    server.static("/feed", b"<rss/>")
    with pytest.raises(Blocked, match=r"^127\.0\.0\.2 is a loopback address$") as err:
        fetch(server.url("/feed"), HttpSettings(per_host_min_gap=0))
    assert err.value.kind == "blocked"
    assert server.requests == []


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"])
def test_other_spellings_of_loopback_are_judged_by_what_they_resolve_to(
    localhost_server: NewsServer, host: str
) -> None:
    localhost_server.static("/secret", b"secret")
    settings = FAST.model_copy(update={"allowed_networks": ONLY_2})
    with pytest.raises(Blocked, match="is a loopback address"):
        fetch(f"http://{host}:{localhost_server.port}/secret", settings)
    assert localhost_server.requests == []


def test_every_redirect_hop_is_checked(server: NewsServer, server2: NewsServer) -> None:
    server2.static("/secret", b"secret")
    server.route("/go", lambda _: Reply(302, headers={"Location": server2.url("/secret")}))
    with pytest.raises(Blocked, match=r"^127\.0\.0\.3 is a loopback address$"):
        fetch(server.url("/go"), FAST.model_copy(update={"allowed_networks": ONLY_2}))
    assert [r.path for r in server.requests] == ["/go"] and server2.requests == []


def test_allowed_host_is_fetched_with_its_name_kept(server: NewsServer) -> None:
    server.static("/feed", b"<rss/>")
    result = fetch(server.url("/feed"), FAST.model_copy(update={"allowed_networks": ONLY_2}))
    assert result.content == b"<rss/>" and result.url == server.url("/feed")
    assert server.requests[0].headers["host"] == f"127.0.0.2:{server.port}"


def test_allowed_name_connects_to_the_address_it_was_checked_at(localhost_server: NewsServer) -> None:
    localhost_server.static("/feed", b"<rss/>")
    settings = FAST.model_copy(update={"allowed_networks": [ipaddress.ip_network("127.0.0.1/32")]})
    result = fetch(f"http://localhost:{localhost_server.port}/feed", settings)
    assert result.content == b"<rss/>" and result.url == f"http://localhost:{localhost_server.port}/feed"
    assert localhost_server.requests[0].headers["host"] == f"localhost:{localhost_server.port}"


# --- proxies ------------------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[NewsServer]:
    """A stand-in forward proxy: answers absolute-form requests from its own routes and records them."""
    s = NewsServer("127.0.0.4")
    yield s
    s.close()


def test_proxy_from_the_environment_is_used(proxy: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy.static("/feed", b"<rss>via proxy</rss>")
    monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
    result = fetch("http://127.0.0.2:9/feed", FAST)  # nothing listens there: only the proxy can answer
    assert result.content == b"<rss>via proxy</rss>"
    assert proxy.requests[0].headers["host"] == "127.0.0.2:9"


def test_no_proxy_goes_direct(proxy: NewsServer, server: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.static("/feed", b"<rss>direct</rss>")
    monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
    monkeypatch.setenv("NO_PROXY", "127.0.0.2")
    assert fetch(server.url("/feed"), FAST).content == b"<rss>direct</rss>"
    assert proxy.requests == []


def test_proxy_setting_and_the_guard_still_applies_to_what_it_is_asked(proxy: NewsServer) -> None:
    proxy.static("/feed", b"<rss>via proxy</rss>")
    settings = FAST.model_copy(update={"allowed_networks": ONLY_2, "proxy": proxy.url("")})
    assert fetch("http://127.0.0.2:9/feed", settings).content == b"<rss>via proxy</rss>"
    with pytest.raises(Blocked, match=r"^127\.0\.0\.3 is a loopback address$"):
        fetch("http://127.0.0.3:9/feed", settings)
    with pytest.raises(Blocked, match="is a loopback address"):
        fetch("http://localhost:9/feed", settings)
    assert len(proxy.requests) == 1


def test_unsupported_proxy_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.core.errors import ConfigError

    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError, match="only http:// and https:// proxies"):
        fetch("http://127.0.0.2:9/feed", FAST)


# --- decompression bombs ------------------------------------------------------------------------------


def _zeros_compressed(encoding: str, size: int) -> bytes:
    """``size`` zero bytes compressed without ever holding them in memory."""
    chunk = bytes(MB)
    if encoding == "br":
        compressor = brotli.Compressor(quality=5)
        return b"".join(compressor.process(chunk) for _ in range(size // MB)) + compressor.finish()
    wbits = {"gzip": 31, "deflate": 15}[encoding]
    deflater = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(deflater.compress(chunk) for _ in range(size // MB)) + deflater.flush()


def _encode(encoding: str, data: bytes) -> bytes:
    return {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](data)


@cache
def bomb(content_encoding: str, size: int = 512 * MB) -> bytes:
    """A body that decodes to ``size`` zero bytes under ``Content-Encoding: content_encoding``."""
    first, *rest = [e.strip() for e in content_encoding.split(",")]
    body = _zeros_compressed(first, size)
    for encoding in rest:
        body = _encode(encoding, body)
    return body


BOMBS = ["gzip", "gzip, gzip", "br", "deflate", "gzip, br", "br, gzip, deflate"]


@pytest.mark.parametrize("encoding", BOMBS)
def test_bombs_stop_at_the_limit(server: NewsServer, encoding: str) -> None:
    body = bomb(encoding)
    assert len(body) < 600_000
    server.route("/bomb", lambda _: Reply(200, body, {"Content-Encoding": encoding}))
    with pytest.raises(TooLarge, match="exceeds the limit of 50000 bytes"):
        fetch(server.url("/bomb"), FAST)


@pytest.mark.parametrize("encoding", [*BOMBS, "identity", "x-gzip", "gzip, identity"])
def test_stacked_encodings_decode(server: NewsServer, encoding: str) -> None:
    text = b"<p>hello, world</p>" * 2000
    body = text
    for name in [e.strip() for e in encoding.split(",")]:
        body = gzip.compress(body) if name == "x-gzip" else body if name == "identity" else _encode(name, body)
    server.route("/page", lambda _: Reply(200, body, {"Content-Encoding": encoding}))
    assert fetch(server.url("/page"), FAST).content == text


def test_raw_deflate_and_broken_bodies(server: NewsServer) -> None:
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = raw.compress(b"raw deflate") + raw.flush()
    server.route("/raw", lambda _: Reply(200, body, {"Content-Encoding": "deflate"}))
    assert fetch(server.url("/raw"), FAST).content == b"raw deflate"
    server.route("/broken", lambda _: Reply(200, b"not gzip at all", {"Content-Encoding": "gzip"}))
    with pytest.raises(ProtocolError, match="cannot decode the gzip body"):
        fetch(server.url("/broken"), FAST)


def test_decoder_never_yields_more_than_a_step_at_a_time() -> None:
    decoder = BoundedDecoder("gzip, gzip")
    pieces = decoder.feed(bomb("gzip, gzip", 64 * MB))
    sizes = [len(next(pieces)) for _ in range(100)]
    assert max(sizes) <= 64 * 1024


# --- feeds add, OPML import and polling ---------------------------------------------------------------


@pytest.mark.parametrize(("url", "message"), [
    ("http://169.254.169.254/latest/meta-data/", "blocked: 169.254.169.254 is a link-local address"),
    ("http://[fd00:ec2::254]/latest/", "blocked: fd00:ec2::254 is a private address"),
    ("http://10.0.0.1/feed", "blocked: 10.0.0.1 is a private address"),
    ("https://192.168.1.1/feed", "blocked: 192.168.1.1 is a private address"),
    ("http://2130706433/feed", "blocked: 127.0.0.1 is a loopback address"),
    ("http://localhost:8080/feed", "is a loopback address"),
    ("file:///etc/passwd", "not an http(s) URL: 'file:///etc/passwd'"),
    ("javascript:alert(1)", "not an http(s) URL"),
    ("feeds", "not an http(s) URL: 'feeds'"),
])
def test_feeds_add_refuses_what_would_never_be_fetched(config_file: Path, url: str, message: str) -> None:
    result = monitor("feeds", "add", url, check=False, env={"MONITOR_HTTP_ALLOWED_NETWORKS": "127.0.0.2/32"})
    error = result.stderr.strip().splitlines()[-1]  # after the log lines
    assert result.returncode == 2 and error.startswith("monitor: error: ") and message in error
    assert monitor("feeds", "list").stdout == ""


def test_opml_import_refuses_a_file_with_a_bad_url_and_adds_nothing(config_file: Path, tmp_path: Path) -> None:
    opml = tmp_path / "feeds.opml"
    outlines = ["http://127.0.0.2:1/ok.xml", "ftp://example.org/x", "javascript:alert(1)", "file:///etc/passwd",
                "http://169.254.169.254/", "news"]
    for bad in outlines[1:]:
        opml.write_text(f'<opml version="2.0"><head/><body><outline xmlUrl="{outlines[0]}"/>'
                        f'<outline xmlUrl="{bad}"/></body></opml>')
        result = monitor("feeds", "import", str(opml), check=False)
        error = result.stderr.strip().splitlines()[-1]
        assert result.returncode == 2 and error.startswith("monitor: error: ") and bad in error, (bad, error)
    assert monitor("feeds", "list").stdout == ""
    opml.write_text(f'<opml version="2.0"><head/><body><outline xmlUrl="{outlines[0]}"/></body></opml>')
    assert "imported 1 new feed from" in monitor("feeds", "import", str(opml)).stdout


def test_a_feed_cannot_make_the_monitor_read_an_internal_address(
    config_file: Path, server: NewsServer, server2: NewsServer
) -> None:
    """Only 127.0.0.2 (the "outside" news site) is allowed; 127.0.0.3 plays the intranet."""
    env = {"MONITOR_HTTP_ALLOWED_NETWORKS": "127.0.0.2/32", "MONITOR_IMPORT_SEEDS": "false"}
    server2.static("/secret", article_page("Internal only", article_text(7)))
    server.route("/hop", lambda _: Reply(302, headers={"Location": server2.url("/secret")}))
    items = [
        Item("Direct link", server2.url("/secret"), "g1"),
        Item("Redirected link", server.url("/hop"), "g2"),
        Item("Spelled as a number", f"http://2130706433:{server2.port}/secret", "g3"),
    ]
    server.static("/feed.xml", rss(items), "application/rss+xml")
    monitor("feeds", "add", server.url("/feed.xml"), env=env)
    # a feed added while its network was allowed (or whose name now resolves inside) is refused at every poll
    monitor("feeds", "add", "--no-check", server2.url("/feed.xml"),
            env={**env, "MONITOR_HTTP_ALLOWED_NETWORKS": "127.0.0.0/8"})
    out = monitor("poll", "--once", "--json", env=env).stdout
    summary = json.loads(out)
    assert summary["articles_new"] == 3
    blocked = "blocked: 127.0.0.3 is a loopback address"
    assert summary["errors"] == [{"feed": server2.url("/feed.xml"), "error": blocked}]
    assert server2.requests == []
    articles = [json.loads(x) for x in monitor("articles", "list", "--json", env=env).stdout.splitlines()]
    assert {a["source"] for a in articles} == {"feed"}  # the feed's own text, never the internal page's
    assert not any("Internal only" in (a["text"] or "") for a in articles)


def test_garbage_after_the_compressed_stream_is_not_kept(server: NewsServer) -> None:
    body = gzip.compress(b"<rss/>") + bytes(100_000)  # a short body, then more than the limit of anything
    server.route("/tail", lambda _: Reply(200, body, {"Content-Encoding": "gzip"}))
    with pytest.raises(TooLarge):
        fetch(server.url("/tail"), FAST)
    decoder = BoundedDecoder("gzip")
    assert b"".join(decoder.feed(gzip.compress(b"<rss/>"))) == b"<rss/>"
    assert b"".join(decoder.feed(bytes(100_000))) == b""
