"""Command line: ``monitor run``, ``monitor poll --once``, feeds, articles, seed/export, stats, health, alerts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from monitor import __version__
from monitor.cli.alerts import alerts
from monitor.cli.articles import articles, retag, statements, stories, tags
from monitor.cli.base import Context
from monitor.cli.corpus import export, seed
from monitor.cli.evaluate import evaluate
from monitor.cli.feeds import feeds
from monitor.cli.service import health, poll, run, stats
from monitor.errors import MonitorError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", type=click.Path(path_type=Path), help="Config file (default: MONITOR_CONFIG or ./config/monitor.toml)."
)
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """Monitor news feeds for the Russia-Ukraine war and UK defence statements."""
    ctx.obj = Context(config)


def main() -> None:
    try:
        cli.main(prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MonitorError as exc:
        click.echo(f"monitor: error: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:
        click.echo(f"monitor: error: database: {str(exc.orig).strip().splitlines()[0]}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


for command in (run, poll, health, stats, feeds, articles, tags, retag, statements, stories, seed, export, evaluate,
                alerts):
    cli.add_command(command)

__all__ = ["cli", "main"]
