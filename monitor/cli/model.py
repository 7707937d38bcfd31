"""``monitor train`` (the fitted tag model) and ``monitor officials`` (the ministers' record)."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.base import Context, pass_ctx
from monitor.core.errors import MonitorError
from monitor.ingest.processor import Options
from monitor.tagging import Tagger


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the model (default: [tagging] model_file).")
@click.option("--statements", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The items' statements quote by quote (JSON Lines): the statement model learns which statements "
              "are right, and a threshold for an article's further statements.")
@pass_ctx
def train(ctx: Context, paths: tuple[Path, ...], out_path: Path | None, statements: Path | None) -> None:
    """Fit the tag model on labelled JSON Lines files and write it (JSON weights); `retag` applies it."""
    from monitor.tagging.labelled import LabelledDataError, load
    from monitor.tagging.said import load_labels
    from monitor.tagging.training import analyse, fit, with_statement_labels

    options = Options.from_settings(ctx.settings)
    out_path = out_path or options.model_file
    if out_path is None:
        raise MonitorError("no model file: give --out PATH or set [tagging] model_file")
    rules = Tagger.from_files(options.tags_file, options.officials_file)
    try:
        items = with_statement_labels(rules, load(list(paths), [r.name for r in rules.rules]),
                                      load_labels(statements) if statements else None)
    except LabelledDataError as exc:
        raise MonitorError(str(exc)) from None
    files = [p.name for p in paths] + ([statements.name] if statements else [])
    model = fit(rules, analyse(rules, items), {"training": {"files": files, "items": len(items)}})
    try:
        model.save(out_path)
    except OSError as exc:
        raise MonitorError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    for tag, weights in model.tags.items():
        second = (f"; statements model (quote by quote) threshold p >= {weights.statements.threshold:.2f}"
                  if weights.statements is not None else "")
        click.echo(f"{tag}: {weights.kind} model over {len(weights.features)} features, threshold "
                   f"p >= {weights.threshold:.2f}{second}")
    click.echo(f"trained on {len(items)} items; wrote {out_path} (run `monitor retag` to apply it to stored articles)")


@click.group()
def officials() -> None:
    """The UK officials behind statements (config/officials.toml and its ministers file)."""


@officials.command("import-ifg")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write (default: ministers.csv next to the configured officials file).")
@pass_ctx
def officials_import_ifg(ctx: Context, source: Path, out_path: Path | None) -> None:
    """Ministers' tenures from the Institute for Government Ministers Database (appointments_joined.csv)."""
    from monitor.tagging.ministers import CREDIT, convert, write

    options = Options.from_settings(ctx.settings)
    out_path = out_path or options.officials_file.parent / "ministers.csv"
    tenures = convert(source)
    try:
        write(tenures, out_path)
    except OSError as exc:
        raise MonitorError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    roles = sorted({t.role for t in tenures})
    click.echo(f"wrote {len(tenures)} tenures of {len(roles)} offices to {out_path} (source: {CREDIT}); "
               "run `monitor retag` to apply them to stored articles")
