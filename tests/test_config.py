from pathlib import Path

import pytest

from monitor.core.config import load_settings, packaged_config_dir
from monitor.core.errors import ConfigError
from monitor.core.section import Section


def test_environment_overrides_file(config_file: Path) -> None:
    settings = load_settings(config_file, {"MONITOR_POLL_INTERVAL": "42", "MONITOR_HTTP_USER_AGENT": "ua/1"})
    assert settings.poll.interval == 42
    assert settings.http.user_agent == "ua/1"
    assert settings.http.per_host_min_gap == 0.0  # from the file


def test_monitor_config_variable_selects_file(config_file: Path) -> None:
    settings = load_settings(None, {"MONITOR_CONFIG": str(config_file)})
    assert settings.poll.tick == 0.5


def test_shipped_config_is_valid_and_documented() -> None:
    path = Path(__file__).parent.parent / "config" / "monitor.toml"
    settings = load_settings(path, {})
    assert settings.database_url.startswith("sqlite:///")
    lines = path.read_text().splitlines()
    sections = [name for name, value in settings if isinstance(value, Section)]
    assert {"poll", "http", "extraction", "tagging", "stories", "metrics", "smtp", "alerts"} <= set(sections)
    for section in sections:
        start = lines.index(f"[{section}]")
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        for key in type(getattr(settings, section)).model_fields:
            if (section, key) == ("smtp", "password"):  # never written in the file: environment or password_file
                continue
            line = next((i for i in range(start, end) if lines[i].startswith(f"{key} =")), None)
            assert line is not None, f"{section}.{key} is missing from the shipped config"
            assert lines[line - 1].startswith("#"), f"{section}.{key} lacks a comment"


def test_unknown_environment_key_is_an_error(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="MONITOR_POLL_INTERVALL"):
        load_settings(config_file, {"MONITOR_POLL_INTERVALL": "5"})


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[http]\nuser_agnet = 'x'\n")
    with pytest.raises(ConfigError, match=r"http\.user_agnet"):
        load_settings(path, {})


def test_invalid_value_names_the_key(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"poll\.interval"):
        load_settings(config_file, {"MONITOR_POLL_INTERVAL": "soon"})


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("database_url = \n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(bad, {})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", {})


def test_a_config_holding_only_the_database_falls_back_to_the_packaged_rules(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "monitor.toml").write_text(f'database_url = "sqlite:///{tmp_path / "m.db"}"\ndefault_feeds = ""\n')
    env = {**os.environ, "MONITOR_CONFIG": str(folder / "monitor.toml")}
    listed = subprocess.run([sys.executable, "-m", "monitor", "articles", "list", "--tag", "uk-defence-statement"],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 3  # the seeds, tagged by the packaged rules, officials and model
    settings = load_settings(folder / "monitor.toml")
    assert settings.tagging_file("tags_file") == packaged_config_dir() / "tags.toml"
    (folder / "tags.toml").write_text("")  # one of its own is used when it has one
    assert settings.tagging_file("tags_file") == folder / "tags.toml"
