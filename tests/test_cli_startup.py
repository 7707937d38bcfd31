"""Commands load only what they use: `--version` and `--help` import none of the service's heavy modules, and
the commands that read the database neither the tagger, the pipeline, the HTTP client nor Alembic."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from monitor.cli import COMMANDS, cli
from monitor.core.config import Settings
from monitor.service.app import open_app

HEAVY = ("sqlalchemy", "trafilatura", "numpy", "lxml", "httpx", "alembic", "pydantic", "feedparser")
# What reading the database does without: extraction, near-duplicate signatures, the tagger and its model, the
# pipeline, the alert sender and its mail templates, migrations (the database is at head), URL cleaning, the HTTP
# client, the scheduler.
NOT_FOR_READING = (
    "trafilatura", "lxml", "numpy", "datasketch", "sklearn", "alembic", "courlan", "httpx", "apscheduler",
    "monitor.ingest.processor", "monitor.tagging", "monitor.ingest.pipeline", "monitor.alerts.sender",
    "monitor.ingest.fetcher", "jinja2",
)
PROBE = """
import sys
sys.argv = ["monitor", *{args!r}]
from monitor.cli import main
try:
    main()
except SystemExit:
    pass
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_import_nothing_heavy(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_every_listed_command_loads_under_its_name() -> None:
    ctx = click.Context(cli)
    for name, (_module, _attribute, help_line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, name
        assert help_line and len(help_line) <= 100
        assert any(p.name == "config" for p in command.params), name  # --config after the subcommand too
    assert cli.get_command(ctx, "no-such-command") is None


@pytest.mark.parametrize("args", [
    ["articles", "list", "--limit", "10"], ["articles", "list", "--json"], ["stories", "list"], ["feeds", "list"],
    ["statements", "list"], ["alerts", "list"],
])
def test_reading_commands_load_neither_the_tagger_nor_the_pipeline(settings: Settings, args: list[str]) -> None:
    open_app(settings)  # the first start (migrations, the seed corpus, tagged) is over
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=NOT_FOR_READING)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    *output, loaded = result.stdout.strip().splitlines()
    assert loaded == "[]"
    if args[0] == "articles":  # they did read: the seed articles are listed
        assert len(output) == 3, result.stdout
