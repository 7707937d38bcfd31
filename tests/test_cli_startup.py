"""Commands load only what they use: `--version` and `--help` import none of the service's heavy modules."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from monitor.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "trafilatura", "numpy", "lxml", "httpx", "alembic", "pydantic", "feedparser")
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
