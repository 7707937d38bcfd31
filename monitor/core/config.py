"""Settings: a TOML file (``config/monitor.toml``) overridden by ``MONITOR_*`` environment variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, IPvAnyNetwork, ValidationError, field_validator, model_validator

from monitor.core.alert_settings import AlertSettings, SmtpSettings, Subscription, Target
from monitor.core.errors import ConfigError
from monitor.core.section import Section

ENV_PREFIX = "MONITOR_"
# Environment variables with the prefix that are not settings keys.
RESERVED_ENV = {"MONITOR_CONFIG"}
# Settings fields set by the loader, not by the file or the environment.
INTERNAL = {"config_file", "config_dir"}


class PollSettings(Section):
    interval: float = Field(900, gt=0)
    tick: float = Field(30, gt=0)
    backoff_max: float = Field(21600, gt=0)
    max_concurrent_feeds: int = Field(16, ge=1)
    max_concurrent_articles: int = Field(16, ge=1)
    history_keep: int = Field(50, ge=1)
    lease: float = Field(120, gt=0)
    min_interval: float = Field(60, gt=0)
    max_interval: float = Field(86400, gt=0)
    silent_after: float = Field(5, gt=1)


class HttpSettings(Section):
    user_agent: str = "monitor/0.1 (news monitoring)"
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    total_timeout: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(5_000_000, gt=0)
    per_host_concurrency: int = Field(2, ge=1)
    per_host_min_gap: float = Field(0.5, ge=0)
    max_connections: int = Field(100, ge=1)
    allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    proxy: str = ""

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """From the environment (MONITOR_HTTP_ALLOWED_NETWORKS) the list comes comma-separated."""
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("proxy")
    @classmethod
    def _http_proxy(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("only http:// and https:// proxies are supported")
        return value


class ExtractionSettings(Section):
    workers: int = Field(0, ge=0)
    min_text_chars: int = Field(200, ge=0)

    def worker_count(self) -> int:
        """``workers``, or one per CPU core but the one the main process (HTTP, storing) keeps busy."""
        return self.workers or max(1, (os.cpu_count() or 1) - 1)


class TaggingSettings(Section):
    tags_file: str = "tags.toml"
    officials_file: str = "officials.toml"
    model_file: str = "model.json"


class StoriesSettings(Section):
    threshold: float = Field(0.6, gt=0, le=1)
    min_jaccard: float = Field(0.2, ge=0, le=1)
    min_words: int = Field(50, ge=1)


class MetricsSettings(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)


MIN_TOKEN_CHARS = 32
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class WebSettings(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    token: str = ""
    page_size: int = Field(50, ge=1, le=500)
    # More host names the interface answers to (the Host header; a DNS-rebinding page names its own): loopback
    # names, web.host when it is a name or a specific address, and base_url's host are always answered.
    allowed_hosts: tuple[str, ...] = ()
    # The interface's public address (``https://monitor.example.org``): absolute links (Atom, alerts' links to
    # article pages) use it, never the request's Host.
    base_url: str = ""
    # Read-only keys for the Atom feed (``/feed.atom?key=…``) so a feed reader can subscribe when a token guards
    # the pages; each opens nothing else, and removing it revokes it. At least 32 characters each.
    feed_keys: tuple[str, ...] = ()
    session_hours: float = Field(12, gt=0)  # a sign-in lasts this long
    header_timeout: float = Field(10, gt=0)  # seconds for a request's headers; a silent connection closes
    login_attempts: int = Field(5, ge=1)  # failed sign-ins per address per minute before the next are refused

    @field_validator("allowed_hosts", "feed_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """From the environment (MONITOR_WEB_ALLOWED_HOSTS, MONITOR_WEB_FEED_KEYS) the list is comma-separated."""
        return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value

    @field_validator("token")
    @classmethod
    def _long_token(cls, value: str) -> str:
        if value and len(value) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"an access token needs at least {MIN_TOKEN_CHARS} characters (this one has {len(value)}); "
                "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("feed_keys")
    @classmethod
    def _long_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(k) < MIN_TOKEN_CHARS for k in value):
            raise ValueError(f"each feed key needs at least {MIN_TOKEN_CHARS} characters")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http(s) URL, not {value!r}")
        return value.rstrip("/")

    def hosts(self) -> set[str]:
        """Every host name the interface answers to, lower-case."""
        names = {h.lower().strip("[]") for h in (*LOOPBACK_NAMES, *self.allowed_hosts)}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower().strip("[]"))
        if self.base_url:
            names.add((urlsplit(self.base_url).hostname or "").lower())
        return names - {""}


class Settings(Section):
    database_url: str = "sqlite:///data/monitor.db"
    # A file holding the database URL (a Docker secret): keeps the password out of the environment.
    database_url_file: str = ""
    log_format: Literal["plain", "json"] = "plain"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    default_feeds: str = ""
    import_seeds: bool = True
    heartbeat_file: str = "data/heartbeat"
    # This process's name among the instances sharing the database ("" = host:pid).
    instance_name: str = ""
    poll: PollSettings = PollSettings()
    http: HttpSettings = HttpSettings()
    extraction: ExtractionSettings = ExtractionSettings()
    smtp: SmtpSettings = SmtpSettings()
    alerts: AlertSettings = AlertSettings()
    targets: list[Target] = Field(default_factory=list)
    subscriptions: list[Subscription] = Field(default_factory=list)
    tagging: TaggingSettings = TaggingSettings()
    stories: StoriesSettings = StoriesSettings()
    metrics: MetricsSettings = MetricsSettings()
    web: WebSettings = WebSettings()
    # The config file read (None: defaults only) and its directory; relative paths in it resolve against this.
    config_file: Path | None = None
    config_dir: Path = Path(".")

    @model_validator(mode="before")
    @classmethod
    def _url_from_file(cls, data: Any) -> Any:
        """``database_url_file`` replaces ``database_url`` with the file's content."""
        if not isinstance(data, dict) or not data.get("database_url_file"):
            return data
        path = resolve_path(Path(data.get("config_dir", ".")), data["database_url_file"])
        try:
            url = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ValueError(f"database_url_file: cannot read {path}: {reason}") from None
        if not url:
            raise ValueError(f"database_url_file: {path} is empty")
        return {**data, "database_url": url}

    @model_validator(mode="after")
    def _known_targets(self) -> Settings:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate target name(s): {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
        for sub in self.subscriptions:
            unknown = [t for t in sub.targets if t not in names]
            if unknown:
                raise ValueError(f"subscription {sub.name!r}: unknown target(s) {', '.join(unknown)} (see [[targets]])")
        return self

    def target(self, name: str) -> Target | None:
        """The [[targets]] entry of that name."""
        return next((t for t in self.targets if t.name == name), None)

    def resolve(self, path: str) -> Path | None:
        """Resolve a path setting relative to the config file's directory ("" means unset)."""
        return resolve_path(self.config_dir, path) if path else None

    def tagging_file(self, name: str) -> Path | None:
        """A ``[tagging]`` file (``tags_file``, ``officials_file``, ``model_file``) resolved against the config's
        folder; left at its default and absent there, the packaged one (a config holding only ``database_url``
        works anywhere). None when set to ""."""
        value = getattr(self.tagging, name)
        path = self.resolve(value)
        if path is not None and not path.exists() and value == TaggingSettings.model_fields[name].default:
            return packaged_config_dir() / value
        return path


def resolve_path(config_dir: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else config_dir / p


def packaged_config_dir() -> Path:
    """The configuration shipped with the package (``monitor/defaults`` when installed, ``config/`` in a
    checkout): the rules, officials, ministers and model any setting left out falls back to."""
    packaged = Path(__file__).parent.parent / "defaults"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "config"


def default_config_path() -> Path:
    """``./config/monitor.toml`` when present, else the defaults shipped with the package."""
    local = Path("config/monitor.toml")
    return local if local.is_file() else packaged_config_dir() / "monitor.toml"


def _env_keys() -> dict[str, tuple[str, ...]]:
    """Map every MONITOR_* variable name to its key path in the settings."""
    keys: dict[str, tuple[str, ...]] = {}
    for name, field in Settings.model_fields.items():
        if name in INTERNAL:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            for sub in annotation.model_fields:
                keys[f"{ENV_PREFIX}{name}_{sub}".upper()] = (name, sub)
        else:
            keys[f"{ENV_PREFIX}{name}".upper()] = (name,)
    return keys


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (or MONITOR_CONFIG, or the default file) and the environment."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("MONITOR_CONFIG"):
        path = Path(environ["MONITOR_CONFIG"])
    path = path or default_config_path()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None

    env_keys = _env_keys()
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV:
            continue
        key = env_keys.get(var)
        if key is None:
            raise ConfigError(f"unknown setting in environment: {var}")
        target = data
        for part in key[:-1]:
            target = target.setdefault(part, {})
        target[key[-1]] = value

    for key in INTERNAL & data.keys():
        raise ConfigError(f"unknown config key {key!r} in {path}")
    data["config_file"] = path.resolve()
    data["config_dir"] = path.resolve().parent
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if not where:  # a check of the settings as a whole
            raise ConfigError(f"invalid config in {path} or environment: {first['msg']}") from None
        raise ConfigError(f"invalid config key {where!r} in {path} or environment: {first['msg']}") from None
