"""Evaluate the tagging engine on hand-labelled relevance sets (JSON Lines, see
:mod:`monitor.tagging.labelled`).

``monitor eval relevance FILE… [--folds K] [-v]``

Without ``--folds`` the tagger is scored as configured (rules and the fitted model of ``[tagging] model_file``):
figures on items the model was trained on flatter, and the report says so when the model's training files are
among those scored. With ``--folds K`` the items of all files are split into K stratified, deterministic folds;
for each fold a model is fitted (C and thresholds chosen by an inner cross-validation) on the other K−1 folds and
scored on the held-out fold. Printed: precision / recall / F1 per tag and speaker precision / recall — pooled over
the held-out folds and as mean ± standard deviation across folds — on all items and on the high-confidence ones,
and the tagging throughput.

Predicted speakers are those of the statements behind a given statement tag (``uk-defence-statement``); see
:mod:`monitor.tagging.labelled` for how speakers are compared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.tagging import Tagger, TaggingResult
from monitor.tagging.labelled import LabelledItem, load, speaker_key
from monitor.tagging.said import load_labels
from monitor.tagging.training import Example, analyse, fit, stratified_folds, with_statement_labels

SCOPES = ("all", "high-confidence")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, predicted: bool) -> None:
        self.tp += gold and predicted
        self.fp += predicted and not gold
        self.fn += gold and not predicted

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


@dataclass
class Report:
    tags: dict[str, Counts] = field(default_factory=dict)
    speakers: Counts = field(default_factory=Counts)
    items: int = 0

    def add(self, item: LabelledItem, result: TaggingResult) -> None:
        self.items += 1
        for tag, label in item.labels.items():
            self.tags.setdefault(tag, Counts()).add(label, tag in result.tags)
        predicted = predicted_speakers(result)
        self.speakers.tp += len(item.speakers & predicted)
        self.speakers.fp += len(predicted - item.speakers)
        self.speakers.fn += len(item.speakers - predicted)


def predicted_speakers(result: TaggingResult) -> set[str]:
    """Speakers of the statements behind every given statement tag."""
    return {speaker_key(s.speaker, s.role) for d in result.decisions if d.given for s in d.statements}


def run(paths: Sequence[Path], tagger: Tagger, out: TextIO, *, folds: int | None = None, verbose: bool = False,
        progress: Callable[[int], None] | None = None, statements: Path | None = None) -> int:
    """Evaluate ``tagger`` on the labelled files; print the figures to ``out``; return 0. ``statements``: a
    statements labels file the models fitted in folds learn from, as `monitor train --statements` does.

    Raises :class:`~monitor.tagging.labelled.LabelledDataError` for a file that cannot be used.
    """
    tags = [rule.name for rule in tagger.rules]
    items = with_statement_labels(tagger, load(list(paths), tags), load_labels(statements) if statements else None)
    started, cpu_started = time.perf_counter(), time.process_time()
    examples = analyse(tagger, items, progress)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    results, fold_of = predict(tagger, examples, folds, tags)
    n_folds = folds or 1
    reports = {scope: [Report() for _ in range(n_folds)] for scope in SCOPES}
    for ex, result, k in zip(examples, results, fold_of, strict=True):
        reports["all"][k].add(ex.item, result)
        if ex.item.confidence == "high":
            reports["high-confidence"][k].add(ex.item, result)
        if verbose:
            _print_errors(ex.item, result, out)
    files = ", ".join(Path(p).name for p in paths)
    if folds is None:
        out.write(f"\nscored as configured on {len(items)} items ({files})\n")
        trained_on = set((tagger.model.meta.get("training") or {}).get("files", [])) if tagger.model else set()
        overlap = sorted(trained_on & {Path(p).name for p in paths})
        if overlap:
            out.write(f"NOTE: the model was trained on {', '.join(overlap)}: these figures flatter; use --folds K\n")
    else:
        out.write(f"\n{folds}-fold cross-validation over {len(items)} items ({files}); the model is fitted on the "
                  "other folds each time, figures are of the held-out folds\n")
    for scope in SCOPES:
        _print_scope(scope, reports[scope], out, folds is not None)
    if folds is not None or tagger.model is not None:
        _print_calibration(examples, results, out)
    size = sum(len(it.text) + len(it.title) for it in items) / max(len(items), 1)
    out.write(f"\nthroughput: {len(items) / elapsed:,.0f} articles/s wall, {len(items) / max(cpu, 1e-9):,.0f} per "
              f"CPU-second, over {len(items)} items (mean {size:,.0f} characters)\n")
    sample = [it for it in items if 3000 <= len(it.text) <= 5000]
    if sample:
        wall, per_cpu = _rate(tagger, sample)
        out.write(f"throughput on 3-5 KB texts: {wall:,.0f} articles/s wall, {per_cpu:,.0f} per CPU-second "
                  f"({len(sample)} items x 5)\n")
    return 0


def predict(tagger: Tagger, examples: list[Example], folds: int | None,
            tags: list[str]) -> tuple[list[TaggingResult], list[int]]:
    """The result of each analysed item and its fold: as configured (all fold 0) without ``folds``, else
    cross-validated (each fold decided by a model fitted on the other folds). Shared with
    :mod:`monitor.evaluation.statements`."""
    if folds is None:
        return [tagger.decide(ex.analysis) for ex in examples], [0] * len(examples)
    return _cross_validate(tagger, examples, folds, tags)


def _cross_validate(tagger: Tagger, examples: list[Example], k: int,
                    tags: list[str]) -> tuple[list[TaggingResult], list[int]]:
    results: list[TaggingResult | None] = [None] * len(examples)
    fold_of = [0] * len(examples)
    for n, held_out in enumerate(stratified_folds(examples, k, tags)):
        held = set(held_out)
        model = fit(tagger, [ex for i, ex in enumerate(examples) if i not in held])
        for i in held_out:
            results[i] = tagger.decide(examples[i].analysis, model)
            fold_of[i] = n
    return [r for r in results if r is not None], fold_of


def _print_scope(scope: str, reports: list[Report], out: TextIO, folded: bool) -> None:
    pooled = Report(items=sum(r.items for r in reports))
    for r in reports:
        for tag, c in r.tags.items():
            p = pooled.tags.setdefault(tag, Counts())
            p.tp, p.fp, p.fn = p.tp + c.tp, p.fp + c.fp, p.fn + c.fn
        pooled.speakers.tp += r.speakers.tp
        pooled.speakers.fp += r.speakers.fp
        pooled.speakers.fn += r.speakers.fn
    out.write(f"\n== {scope} items: {pooled.items}" + (" (pooled over the held-out folds)" if folded else "") + "\n")
    head = f"{'tag':<24}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>9}{'F1':>8}"
    out.write(head + ("   per fold: P mean±sd   R mean±sd   F1 mean±sd" if folded else "") + "\n")
    rows = [(tag, c, [r.tags.get(tag, Counts()) for r in reports]) for tag, c in pooled.tags.items()]
    rows.append(("speakers", pooled.speakers, [r.speakers for r in reports]))
    for name, c, per_fold in rows:
        p, r, f = c.prf()
        line = f"{name:<24}{c.tp:>5}{c.fp:>5}{c.fn:>5}{p:>11.3f}{r:>9.3f}{f:>8.3f}"
        if folded:
            figures = [x.prf() for x in per_fold]
            line += "   " + "   ".join(_mean_sd([fig[i] for fig in figures]) for i in range(3))
        out.write(line + "\n")


def _print_calibration(examples: list[Example], results: list[TaggingResult], out: TextIO) -> None:
    """Whether the probabilities mean what they say: mean probability against the share labelled, Brier score."""
    out.write("\ncalibration (all items):\n")
    for tag in results[0].tags_configured():
        pairs = [(r.decision(tag).score, float(ex.item.labels[tag])) for ex, r in zip(examples, results, strict=True)
                 if tag in ex.item.labels]
        if not pairs:
            continue
        mean_p = statistics.fmean(p for p, _ in pairs)
        rate = statistics.fmean(y for _, y in pairs)
        brier = statistics.fmean((p - y) ** 2 for p, y in pairs)
        out.write(f"{tag:<24}mean p {mean_p:.3f}, share labelled {rate:.3f}, Brier score {brier:.3f}\n")


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f}±{sd:.3f}"


def _rate(tagger: Tagger, sample: list[LabelledItem], rounds: int = 5) -> tuple[float, float]:
    """(articles per second of wall time, articles per CPU-second) tagging ``sample`` ``rounds`` times."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for it in sample:
            tagger.tag(it.title, it.text, it.published)
    n = rounds * len(sample)
    return n / (time.perf_counter() - started), n / max(time.process_time() - cpu_started, 1e-9)


def _print_errors(item: LabelledItem, result: TaggingResult, out: TextIO) -> None:
    predicted = predicted_speakers(result)
    wrong = [t for t, label in item.labels.items() if label != (t in result.tags)]
    if not wrong and item.speakers == predicted:
        return
    out.write(f"\n--- {item.id} [{item.confidence}] {item.title!r}\n")
    out.write(f"    note: {item.note}\n")
    for tag in wrong:
        out.write("    " + result.decision(tag).explain().replace("\n", "\n    ")[:2000] + "\n")
    if item.speakers != predicted:
        missed, extra = sorted(item.speakers - predicted), sorted(predicted - item.speakers)
        out.write(f"    speakers missed: {missed} extra: {extra}\n")
