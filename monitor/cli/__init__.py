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
from monitor.cli.model import officials, train
from monitor.cli.service import health, poll, run, stats
from monitor.errors import MonitorError
from monitor.tagging import TaggingConfigError

CONFIG_HELP = "Config file (default: MONITOR_CONFIG or ./config/monitor.toml); before or after the subcommand."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path), help=CONFIG_HELP)
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """Monitor news feeds for the Russia-Ukraine war and UK defence statements."""
    ctx.obj = Context(config)


def _remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).config = value


def _accept_config_everywhere(group: click.Group) -> None:
    """``--config`` after a subcommand too (``monitor feeds list --config FILE``): the last one given wins."""
    for command in group.commands.values():
        command.params.append(click.Option(
            ["--config"], type=click.Path(path_type=Path), expose_value=False, callback=_remember_config,
            help=CONFIG_HELP,
        ))
        if isinstance(command, click.Group):
            _accept_config_everywhere(command)


def _usage_error(exc: click.ClickException) -> str:
    """A click error as the one line every error is: ``monitor: error: …`` (with where to find the usage)."""
    line = f"monitor: error: {exc.format_message().rstrip('.')}"
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        line += f" (see `{ctx.command_path} --help`)"
    return line


def main() -> None:
    try:
        cli.main(prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(_usage_error(exc), err=True)
        sys.exit(2)
    except (MonitorError, TaggingConfigError) as exc:
        click.echo(f"monitor: error: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:
        click.echo(f"monitor: error: database: {str(exc.orig).strip().splitlines()[0]}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


for command in (run, poll, health, stats, feeds, articles, tags, retag, statements, stories, seed, export, evaluate,
                train, officials, alerts):
    cli.add_command(command)
_accept_config_everywhere(cli)

__all__ = ["cli", "main"]
