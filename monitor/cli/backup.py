"""``monitor backup FILE``: a consistent copy of the SQLite database, safe while the daemon runs."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.base import Context, pass_ctx
from monitor.core.errors import MonitorError
from monitor.store.backup import backup_sqlite, pg_dump_command
from monitor.store.engine import sqlite_file


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_ctx
def backup(ctx: Context, file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE, consistent while the daemon writes (PostgreSQL: use pg_dump).

    FILE is written whole or not at all (a temporary file beside it, checked, then renamed). Restore by
    stopping the daemon and pointing database_url (MONITOR_DATABASE_URL) at a copy of FILE."""
    url = ctx.settings.database_url
    if sqlite_file(url) is None and url.split(":", 1)[0].startswith("postgres"):
        click.echo(pg_dump_command(url, file))
        raise MonitorError(
            "`monitor backup` copies SQLite files; back up PostgreSQL with the pg_dump command above (*** is the "
            "password: give it there or in PGPASSWORD) and restore with pg_restore (see the README's Operations)"
        )
    done = backup_sqlite(url, file, force=force)
    click.echo(f"backed up {done.source} to {done.target} ({done.bytes:,} bytes, checked)")
