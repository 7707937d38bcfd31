"""Command line: ``monitor run``, ``monitor poll --once``, feeds, articles, seed/export, stats, health, alerts.

Subcommands are imported when they run (:class:`LazyGroup`): ``monitor --version`` and ``monitor --help`` load
none of the service's modules, and each command only what it uses.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from monitor import __version__
from monitor.core.errors import MonitorError

# name → (module in monitor.cli, attribute, the one line `monitor --help` shows; tests check it against the command)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("service", "run", "Run the daemon: poll due feeds on every tick until SIGTERM/SIGINT."),
    "poll": ("service", "poll", "Poll every due feed once (new feeds are due at once) and print a summary."),
    "health": ("service", "health", "Exit 0 when the daemon ticked recently and the database answers; 1 otherwise."),
    "stats": ("service", "stats", "The config file and database in use, feeds, articles, errors and the last poll."),
    "backup": ("backup", "backup", "Copy the SQLite database to FILE, consistent while the daemon writes."),
    "feeds": ("feeds", "feeds", "Manage the polled feeds."),
    "articles": ("articles", "articles", "Browse stored articles."),
    "tags": ("articles", "tags", "Why articles were tagged."),
    "retag": ("articles", "retag", "Tag stored articles again with the current rules, officials and model."),
    "statements": ("articles", "statements", "Statements by UK defence voices."),
    "stories": ("articles", "stories", "Near-duplicate copies of one story, grouped."),
    "seed": ("corpus", "seed", "Import a folder of NNN_<id>.txt files (default: the packaged seed corpus)."),
    "export": ("corpus", "export", "Write every article as NNN_<id>.txt plus index.jsonl."),
    "eval": ("evaluate", "evaluate", "Evaluation scripts over real data (feeds, relevance, extraction, stories)."),
    "train": ("model", "train", "Fit the tag model on labelled JSON Lines files and write it."),
    "officials": ("model", "officials", "The UK officials behind statements (officials.toml, ministers file)."),
    "web": ("web", "web", "Serve the web interface and the JSON API (/api/v1/)."),
    "labels": ("web", "labels", "Analysts' relevance feedback recorded in the web interface."),
    "alerts": ("alerts", "alerts", "Alert emails: the outbox and the SMTP server."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use; ``--help`` lists them from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            module, attribute, _help = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"monitor.cli.{module}"), attribute)
            _accept_config_everywhere(command)
            self.commands[cmd_name] = command
        return self.commands[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_line) for name, (_m, _a, help_line) in COMMANDS.items()])


CONFIG_HELP = "Config file (default: MONITOR_CONFIG or ./config/monitor.toml); before or after the subcommand."


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path), help=CONFIG_HELP)
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """Monitor news feeds for the Russia-Ukraine war and UK defence statements."""
    from monitor.cli.base import Context

    ctx.obj = Context(config)


def _remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    from monitor.cli.base import Context

    if value is not None:
        ctx.ensure_object(Context).config = value


def _accept_config_everywhere(command: click.Command) -> None:
    """``--config`` after a subcommand too (``monitor feeds list --config FILE``): the last one given wins."""
    command.params.append(click.Option(
        ["--config"], type=click.Path(path_type=Path), expose_value=False, callback=_remember_config,
        help=CONFIG_HELP,
    ))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_config_everywhere(sub)


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
    except MonitorError as exc:  # incl. the tagging config's errors
        click.echo(f"monitor: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # A database that cannot be reached: SQLAlchemy is only loaded (and checked for) by commands that use it.
        sa = sys.modules.get("sqlalchemy.exc")
        if sa is None or not isinstance(exc, sa.OperationalError):
            raise
        click.echo(f"monitor: error: database: {str(exc.orig).strip().splitlines()[0]}", err=True)
        sys.exit(2)


__all__ = ["cli", "main"]
