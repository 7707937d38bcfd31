"""``monitor eval``: evaluations over real data."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.base import Context, pass_ctx
from monitor.core.errors import MonitorError
from monitor.ingest.processor import Options, tagger


@click.group("eval")
def evaluate() -> None:
    """Evaluation scripts over real data (feeds, relevance, statements, extraction, stories)."""


@evaluate.command("relevance")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--folds", type=click.IntRange(min=2), help="K-fold cross-validation: fit on K-1 folds, score the "
              "held-out one (the only honest figure for a model trained on these files).")
@click.option("-v", "--verbose", is_flag=True, help="Print every misclassified item with its explanation.")
@click.option("--statements", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The items' statements quote by quote (JSON Lines), which the models fitted in folds learn "
              "from, as `monitor train --statements` does.")
@pass_ctx
def eval_relevance(ctx: Context, paths: tuple[Path, ...], folds: int | None, verbose: bool,
                   statements: Path | None) -> None:
    """Precision/recall/F1 of the tags and speakers over labelled JSON Lines files."""
    from monitor.evaluation.relevance import run as run_eval
    from monitor.tagging.labelled import LabelledDataError

    try:
        sys.exit(run_eval(paths, tagger(Options.from_settings(ctx.settings)), sys.stdout, folds=folds,
                          verbose=verbose, statements=statements))
    except LabelledDataError as exc:
        raise MonitorError(str(exc)) from None


@evaluate.command("statements")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("more_items", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--items", "items", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A labelled relevance file whose items are tagged (files after it are items files too).")
@click.option("--folds", type=click.IntRange(min=2), help="K-fold cross-validation, as in `eval relevance`: the "
              "model deciding an item is fitted on the other folds.")
@click.option("-v", "--verbose", is_flag=True, help="List every labelled statement missed and every statement "
              "given wrongly.")
@pass_ctx
def eval_statements(ctx: Context, labels: Path, more_items: tuple[Path, ...], items: tuple[Path, ...],
                    folds: int | None, verbose: bool) -> None:
    """Precision/recall of the statements given, quote by quote, against LABELS (statements JSON Lines) on the
    items of the --items files (LABELS --items FILE...)."""
    from monitor.evaluation.statements import run as run_eval
    from monitor.tagging.labelled import LabelledDataError

    if not items:
        raise MonitorError("give the labelled items files with --items FILE...")
    try:
        sys.exit(run_eval(labels, (*items, *more_items), tagger(Options.from_settings(ctx.settings)), sys.stdout,
                          folds=folds, verbose=verbose))
    except LabelledDataError as exc:
        raise MonitorError(str(exc)) from None


@evaluate.command("extraction")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_extraction(path: Path) -> None:
    """Extraction P/R/F1 and time per page versus plain trafilatura (article-extraction benchmark layout)."""
    from monitor.evaluation.extraction import run as run_eval

    sys.exit(run_eval(path, sys.stdout))


@evaluate.command("stories")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
def eval_stories(ctx: Context, path: Path) -> None:
    """Precision/recall of "same story" over all pairs of pages and their human-written bodies."""
    from monitor.evaluation.stories import run as run_eval

    sys.exit(run_eval(path, sys.stdout, Options.from_settings(ctx.settings).neardup))


@evaluate.command("feeds")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def eval_feeds(path: Path) -> None:
    """Parse every feed document under PATH: crashes and entries versus plain feedparser."""
    from monitor.evaluation.feeds import run as run_eval

    sys.exit(run_eval(path, sys.stdout))
