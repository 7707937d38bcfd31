"""The Docker image, built and run for real: rootful podman + runc, a debootstrap Python base.

`.ci/docker-check.sh build` installs what is missing (podman, runc, debootstrap, hadolint), lints the
Dockerfile, makes or reuses the cached base image and builds the image; the tests here run it the way
`docker run` / compose would: version, image settings, `monitor health` with and without a daemon, a
`monitor poll --once` against a feed server on loopback (host networking), and a clean `podman stop`
well inside the default 10 s grace period.

Runs when CI=true (as `.ci/run` does) or DOCKER_CHECK=1; SKIP_DOCKER_CHECK=1 opts out. Skipped with the
reason where it cannot run (not root, not Linux, no apt-get to install podman, no debootstrap). The
variables are deliberately not MONITOR_*: the application rejects unknown MONITOR_* variables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor import __version__
from monitor.core.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "docker-check.sh"
# docker's default grace period before SIGKILL; a clean stop must come well before it
GRACE = 10
STOP_LIMIT = 5.0
# the image as built on the debootstrap base is ~0.5 GB (scipy/numpy for scikit-learn are most of it)
MAX_IMAGE_MB = 800

pytestmark = pytest.mark.timeout(2400)  # cold: apt, debootstrap and a full pip install in the build


def _skip_reason() -> str | None:
    if os.environ.get("SKIP_DOCKER_CHECK") == "1":
        return "SKIP_DOCKER_CHECK=1"
    if os.environ.get("CI") != "true" and os.environ.get("DOCKER_CHECK") != "1":
        return "the image check runs in CI (CI=true) or with DOCKER_CHECK=1 (it builds the image, minutes cold)"
    if not sys.platform.startswith("linux"):
        return "needs Linux (rootful podman)"
    if os.geteuid() != 0:
        return "needs root (rootful podman, debootstrap)"
    if shutil.which("podman") is None and shutil.which("apt-get") is None:
        return "no podman and no apt-get to install it"
    return None


def _run_script(command: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", str(SCRIPT), command, *args], env=env, capture_output=True, text=True, timeout=2000, check=False
    )
    sys.stderr.write(proc.stderr)
    if proc.returncode == 3:
        skips = [line for line in proc.stderr.splitlines() if line.startswith("SKIP:")]
        pytest.skip(skips[-1] if skips else "docker-check.sh: cannot run here")
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT.name} {command} failed (rc={proc.returncode}):\n{proc.stderr[-6000:]}")
    return proc


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


@dataclass
class Podman:
    image: str
    env: dict[str, str]
    names: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def __call__(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        # podman's noise where no systemd runs (it would schedule HEALTHCHECKs with systemd timers)
        proc.stderr = "".join(
            line for line in proc.stderr.splitlines(keepends=True) if "unable to get systemd connection" not in line
        )
        if check and proc.returncode != 0:
            pytest.fail(f"podman {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run(
        self, *cmd: str, volume: str | None = None, env: Sequence[str] = (), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`podman run --rm` of the image with host networking (for the loopback feed server)."""
        return self("run", *self.run_options(volume, env), self.image, *cmd, check=check)

    def run_options(self, volume: str | None, env: Sequence[str]) -> list[str]:
        # no systemd here to schedule the image's HEALTHCHECK; it is run by hand with `podman healthcheck run`
        opts = ["--network", "host", "--health-interval", "disable", "--rm"]
        # nothing may poll the internet: the config's default OPML is not imported
        opts += ["-e", "MONITOR_DEFAULT_FEEDS="]
        # the feed server is on loopback, which the SSRF guard refuses unless allowed
        opts += ["-e", "MONITOR_HTTP_ALLOWED_NETWORKS=127.0.0.1/32"]
        for item in env:
            opts += ["-e", item]
        if volume:
            opts += ["-v", f"{volume}:/data"]
        return opts

    def volume(self) -> str:
        name = f"monitor-ci-{uuid.uuid4().hex[:10]}"
        self("volume", "create", name)
        self.volumes.append(name)
        return name

    def container_name(self) -> str:
        name = f"monitor-ci-{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        return name


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    env = _clean_env()
    _run_script("build", env)
    cache = Path(env.get("DOCKER_CHECK_CACHE", "/var/cache/monitor-ci"))
    settings = dict(line.split("=", 1) for line in (cache / "env").read_text().splitlines() if "=" in line)
    env.update(settings)
    p = Podman(image=settings["DOCKER_CHECK_IMAGE"], env=env)
    yield p
    for name in p.names:
        p("rm", "--force", "--time", "0", name, check=False)
    for vol in p.volumes:
        p("volume", "rm", "--force", vol, check=False)


# ---------------------------------------------------------------- a feed server on loopback

ARTICLE_TEXT = (
    "The Ministry of Defence said on Tuesday that British forces would extend the training of Ukrainian "
    "soldiers into next year. The Defence Secretary told Parliament that the programme had trained more "
    "than thirty thousand recruits since it began, and that further air-defence systems would be sent to "
    "Ukraine before the winter. Officials in Kyiv welcomed the announcement and said the new systems "
    "would protect power stations from Russian missile and drone attacks. "
)


def _article_html(n: int) -> bytes:
    paragraphs = "".join(f"<p>{ARTICLE_TEXT} (Report {n}, part {i}.)</p>" for i in range(4))
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Report {n}</title></head>"
        f"<body><header><nav>Home | World</nav></header><article><h1>UK extends training of Ukrainian "
        f"troops, report {n}</h1>{paragraphs}</article><footer>Copyright</footer></body></html>"
    ).encode()


class FeedServer:
    """RSS 2.0 feed with two items and their article pages, on 127.0.0.1 (reached with host networking)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body, ctype = server.route(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.xml"

    def article_url(self, n: int) -> str:
        return f"{self.base}/news/report-{n}.html"

    def route(self, path: str) -> tuple[bytes | None, str]:
        if path == "/feed.xml":
            return self.feed(), "application/rss+xml"
        for n in (1, 2):
            if path == f"/news/report-{n}.html":
                return _article_html(n), "text/html; charset=utf-8"
        return None, "text/plain"

    def feed(self) -> bytes:
        now = datetime.now(UTC)
        items = "".join(
            f"<item><title>UK extends training of Ukrainian troops, report {n}</title>"
            f"<link>{self.article_url(n)}</link><guid>{self.article_url(n)}</guid>"
            f"<pubDate>{format_datetime(now - timedelta(hours=n), usegmt=True)}</pubDate>"
            f"<description>British forces will train Ukrainian soldiers into next year.</description></item>"
            for n in (1, 2)
        )
        return (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Loopback News</title>"
            f"<link>{self.base}/</link><description>test feed</description>{items}</channel></rss>"
        ).encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    s = FeedServer()
    yield s
    s.close()


# ---------------------------------------------------------------- tests


def test_version(podman: Podman) -> None:
    proc = podman.run("monitor", "--version")
    assert __version__ in proc.stdout


def test_image_settings(podman: Podman) -> None:
    info = json.loads(podman("image", "inspect", "--format", "json", podman.image).stdout)[0]
    config = info["Config"]
    assert config.get("User") not in (None, "", "0", "root", "0:0"), "runs as root"
    assert "/data" in config.get("Volumes", {})
    assert config.get("StopSignal") == "SIGTERM"
    assert config["Entrypoint"][0] in ("tini", "/usr/bin/tini", "dumb-init")
    assert config["Cmd"] == ["monitor", "run"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["MONITOR_CONFIG"] == "/app/config/monitor.toml"
    assert env["MONITOR_DATABASE_URL"] == "sqlite:////data/monitor.db"
    health = info.get("Healthcheck") or config.get("Healthcheck") or {}
    assert health.get("Test") == ["CMD", "monitor", "health"], info.get("Healthcheck")
    size_mb = info["Size"] / 1e6
    assert size_mb < MAX_IMAGE_MB, f"image is {size_mb:.0f} MB"
    # small: no compilers, no pip caches, the package installed (not editable) into the venv
    proc = podman.run(
        "sh",
        "-c",
        "id -u; python3 -c 'import monitor; print(monitor.__file__)'; command -v gcc cc g++ make || true; "
        "ls -d /root/.cache/pip /tmp/wheels 2>/dev/null || true; test -f /app/config/monitor.toml && echo config",
    )
    lines = proc.stdout.split()
    assert lines[0] != "0", "runs as root"
    assert lines[1].startswith("/opt/venv/lib/") and "site-packages/monitor" in lines[1], proc.stdout
    assert lines[2:] == ["config"], f"compilers, caches or no config in the image: {proc.stdout}"


CONFIG_FILES_CHECK = """
import sys
from pydantic import BaseModel
from monitor.core.config import load_settings
s = load_settings()
paths = {"default_feeds": s.default_feeds}
for name, value in s:
    if isinstance(value, BaseModel):
        paths.update({f"{name}.{k}": v for k, v in value if k.endswith("_file") and isinstance(v, str)})
missing = [f"{k} -> {s.resolve(v)}" for k, v in paths.items() if v and not s.resolve(v).is_file()]
print("; ".join(missing) or "ok")
sys.exit(1 if missing else 0)
"""


def test_packaged_config_is_complete(podman: Podman) -> None:
    """`docker run monitor` as is: the image's config loads and every file it names is in the image."""
    proc = podman(
        "run", "--rm", "--health-interval", "disable", podman.image, "python3", "-c", CONFIG_FILES_CHECK, check=False
    )
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        pytest.fail(f"the image's config names files it does not have: {proc.stdout}{proc.stderr[-3000:]}")


def test_health_without_daemon_fails_with_reason(podman: Podman) -> None:
    proc = podman.run("monitor", "health", volume=podman.volume(), check=False)
    assert proc.returncode != 0
    assert "heartbeat" in proc.stderr, proc.stderr


def test_poll_once_against_loopback_feed(podman: Podman, feed_server: FeedServer) -> None:
    data = podman.volume()
    podman.run("monitor", "feeds", "add", feed_server.feed_url, volume=data)
    proc = podman.run("monitor", "poll", "--once", volume=data)
    assert "polled 1 feed in" in proc.stdout, proc.stdout + proc.stderr
    assert "2 new" in proc.stdout, proc.stdout + proc.stderr
    assert "/feed.xml" in feed_server.requests
    assert {"/news/report-1.html", "/news/report-2.html"} <= set(feed_server.requests), feed_server.requests
    # the state is in the volume: a new container sees the stored articles
    listing = podman.run("monitor", "articles", "list", "--json", "--feed", feed_server.feed_url, volume=data)
    articles = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    assert sorted(a["url"] for a in articles) == [feed_server.article_url(1), feed_server.article_url(2)]
    assert all("Ministry of Defence" in (a["text"] or "") for a in articles), articles


def test_daemon_healthy_then_stops_cleanly(podman: Podman, feed_server: FeedServer) -> None:
    data = podman.volume()
    podman.run("monitor", "feeds", "add", feed_server.feed_url, volume=data)
    name = podman.container_name()
    opts = [o for o in podman.run_options(data, ["MONITOR_POLL_TICK=1"]) if o != "--rm"]
    podman("run", "-d", "--name", name, *opts, podman.image)  # the image's own CMD: monitor run

    deadline = time.monotonic() + 90
    health = podman("exec", name, "monitor", "health", check=False)
    while health.returncode != 0 and time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        assert state == "running", f"daemon exited: {podman('logs', name, check=False).stderr[-3000:]}"
        time.sleep(1)
        health = podman("exec", name, "monitor", "health", check=False)
    assert health.returncode == 0, health.stderr + podman("logs", name, check=False).stderr[-3000:]
    assert health.stdout.startswith("ok"), health.stdout
    # the image's HEALTHCHECK itself
    hc = podman("healthcheck", "run", name, check=False)
    assert hc.returncode == 0, hc.stdout + hc.stderr
    # the daemon polled the loopback feed
    while "/news/report-2.html" not in feed_server.requests and time.monotonic() < deadline:
        time.sleep(0.5)
    if "/news/report-2.html" not in feed_server.requests:
        logs = podman("logs", name, check=False)
        pytest.fail(f"the daemon fetched {feed_server.requests[:10]}...\n{(logs.stdout + logs.stderr)[-4000:]}")

    t0 = time.monotonic()
    podman("stop", "--time", str(GRACE), name, timeout=GRACE + 30)
    elapsed = time.monotonic() - t0
    state = json.loads(podman("inspect", name).stdout)[0]["State"]
    logs = podman("logs", name, check=False)
    assert elapsed < STOP_LIMIT, f"podman stop took {elapsed:.1f}s (SIGKILL after {GRACE}s)"
    assert state["ExitCode"] == 0, f"exit code {state['ExitCode']}\n{logs.stderr[-3000:]}"
    assert "daemon stopped" in logs.stdout + logs.stderr, logs.stderr[-3000:]
    print(f"podman stop: {elapsed:.2f}s, exit code {state['ExitCode']}")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    admin = os.environ.get("DOCKER_CHECK_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"monitor_docker_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {admin}: {exc}")
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_poll_once_with_postgresql(podman: Podman, feed_server: FeedServer, postgres_url: str) -> None:
    """The image's psycopg (binary) against a real PostgreSQL, as in docker-compose.yml."""
    db = [f"MONITOR_DATABASE_URL={postgres_url}"]
    podman.run("monitor", "feeds", "add", feed_server.feed_url, volume=podman.volume(), env=db)
    proc = podman.run("monitor", "poll", "--once", volume=podman.volume(), env=db)
    assert "polled 1 feed in" in proc.stdout and "2 new" in proc.stdout, proc.stdout + proc.stderr
    listing = podman.run("monitor", "articles", "list", "--json", "--feed", feed_server.feed_url, env=db)
    assert len([line for line in listing.stdout.splitlines() if line.strip()]) == 2, listing.stdout


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    config: dict[str, Any] = json.loads(_run_script("compose", _clean_env()).stdout)
    return config


PROD_ENV = {"SMTP_HOST": "relay.example.org", "SMTP_FROM": "alerts@example.org", "SMTP_USERNAME": "alerts"}


@pytest.fixture(scope="module")
def compose_prod() -> dict[str, Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    config: dict[str, Any] = json.loads(
        _run_script("compose", _clean_env() | PROD_ENV, "docker-compose.prod.yml").stdout
    )
    return config


def test_compose_file(compose: dict[str, Any]) -> None:
    services = compose["services"]
    monitor, postgres = services["monitor"], services["postgres"]
    assert monitor["build"]["context"] == str(ROOT)
    assert monitor["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert monitor["environment"]["MONITOR_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert any(str(v).endswith(":/data") or ":/data:" in str(v) for v in monitor["volumes"]), monitor
    assert not monitor.get("secrets")  # a trial needs no secret files
    assert "mailpit" not in monitor.get("depends_on", {})  # Mailpit is optional
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert services["mailpit"]["profiles"] == ["mail"]
    assert any("1025" in str(p) for p in services["mailpit"]["ports"])
    assert {"monitor-data", "postgres-data"} <= set(compose["volumes"])


def _settings_from(service: dict[str, Any], files: dict[str, Path]) -> Settings:
    """The settings the monitor container would load from a compose service's environment (secrets as files)."""
    env = {"MONITOR_CONFIG": str(ROOT / "config" / "monitor.toml"), "MONITOR_HEARTBEAT_FILE": "/data/heartbeat"}
    for key, value in service["environment"].items():
        secret = str(value).removeprefix("/run/secrets/")
        env[key] = str(files[secret]) if secret in files else str(value)
    return load_settings(environ=env)


def test_compose_environment_is_accepted_by_settings(compose: dict[str, Any]) -> None:
    """Every MONITOR_* variable compose (and the image) sets must be a setting the application knows."""
    settings = _settings_from(compose["services"]["monitor"], {})
    assert settings.database_url == compose["services"]["monitor"]["environment"]["MONITOR_DATABASE_URL"]
    assert settings.smtp.host == "mailpit" and settings.smtp.port == 1025 and not settings.smtp.password_file


def test_compose_prod_takes_passwords_from_secrets(compose_prod: dict[str, Any], tmp_path: Path) -> None:
    monitor, postgres = compose_prod["services"]["monitor"], compose_prod["services"]["postgres"]
    assert sorted(s["source"] if isinstance(s, dict) else s for s in monitor["secrets"]) == [
        "database_url", "smtp_password"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert not postgres["environment"]["POSTGRES_PASSWORD"]
    assert monitor["environment"]["MONITOR_DATABASE_URL"] == ""  # no password in the environment
    files = {"database_url": tmp_path / "database_url", "smtp_password": tmp_path / "smtp_password"}
    files["database_url"].write_text("postgresql+psycopg://monitor:s3cret@postgres:5432/monitor")
    files["smtp_password"].write_text("relay-password")
    settings = _settings_from(monitor, files)
    assert settings.database_url == "postgresql+psycopg://monitor:s3cret@postgres:5432/monitor"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == ("relay.example.org", 587, "starttls")
    assert settings.smtp.password_file == str(files["smtp_password"])


def test_compose_web_service_needs_its_token(compose: dict[str, Any]) -> None:
    """The web service's settings are known ones; it listens beyond loopback, so it starts only with a token."""
    from monitor.web.security import WebError, check_bind

    web = compose["services"]["web"]
    env = {k: str(v) for k, v in web["environment"].items()} | {
        "MONITOR_CONFIG": str(ROOT / "config" / "monitor.toml")
    }
    settings = load_settings(environ=env)
    assert settings.web.host == "0.0.0.0" and settings.web.port == 8080
    assert any(str(p.get("host_ip", p) if isinstance(p, dict) else p).startswith("127.0.0.1") for p in web["ports"])
    with pytest.raises(WebError):
        check_bind(settings.web.host, settings.web.token)  # no MONITOR_WEB_TOKEN in the environment: refused
    check_bind(settings.web.host, "a-token")
