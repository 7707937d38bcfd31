"""``monitor seed`` and ``monitor export``: the corpus folder format in and out."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.base import Context, pass_ctx, plural
from monitor.ingest.seeds import export_corpus, import_corpus, packaged_seed_dir


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@pass_ctx
def seed(ctx: Context, folder: Path | None) -> None:
    """Import a folder of NNN_<id>.txt files (default: the packaged seed corpus), keeping their ids; with the
    metadata of its index.jsonl when it is an export."""
    options = ctx.tagging()
    report = import_corpus(ctx.app.store, folder or packaged_seed_dir(), options)
    click.echo(f"imported {plural(report.imported, 'article')}, {report.present} already present")
    if report.feeds_added:
        click.echo(f"added {plural(report.feeds_added, 'feed')} the articles were seen in")
    if report.skipped:
        shown = ", ".join(report.skipped[:10]) + (", …" if len(report.skipped) > 10 else "")
        click.echo(f"skipped {plural(len(report.skipped), 'file')} not named NNN_<16 hex digits>.txt: {shown}")


@click.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@pass_ctx
def export(ctx: Context, folder: Path) -> None:
    """Write every article as NNN_<id>.txt (storage order) plus index.jsonl (title, URLs, dates, feed, source).

    FOLDER must be new, empty or an earlier export (whose files are replaced)."""
    count = export_corpus(ctx.app.store, folder)
    click.echo(f"exported {plural(count, 'article')} to {folder}")
