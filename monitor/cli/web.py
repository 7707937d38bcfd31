"""``monitor web`` (the interface and the JSON API) and ``monitor labels`` (the analysts' feedback)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli.base import Context, pass_ctx


@click.command()
@click.option("--host", help="Address to bind (default: web.host, 127.0.0.1). Beyond loopback needs web.token.")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port (default: web.port, 8080).")
@pass_ctx
def web(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web interface and the JSON API (/api/v1/) until SIGINT/SIGTERM."""
    from monitor.web.serve import serve

    settings = ctx.settings
    serve(settings, ctx.app.store, host or settings.web.host, settings.web.port if port is None else port)


@click.group()
def labels() -> None:
    """Analysts' relevance feedback recorded in the web interface."""


@labels.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@pass_ctx
def labels_export(ctx: Context, output: Path | None) -> None:
    """Write the labels as labelled JSON Lines (the format of the shared evaluation set), one article a line."""
    from monitor.store.readmodels import labelled_items

    store = ctx.app.store
    lines = [json.dumps(item, ensure_ascii=False) for item in labelled_items(store, store.labels())]
    text = "".join(line + "\n" for line in lines)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(lines)} labelled articles to {output}", err=True)
