"""Evaluate the statements the tagger gives, quote by quote, against hand-marked ones.

``monitor eval statements LABELS --items FILE… [--folds K] [-v]``

LABELS is a JSON Lines file of the statements of every item that has some (``{"id", "statements": [{"speaker":
{"name", "role"}, "kind", "text"}], "note"}``); the items are the labelled relevance files (see
:mod:`monitor.tagging.labelled`). Every item of the items files that LABELS does not list has no statements:
anything the monitor gives there is wrong.

The matching rule is :mod:`monitor.tagging.said`'s (found, right); besides:
  * speakers: per item, the set of speaker identities, labelled against given;
  * kind: of the found statements, the share whose best-covering given statement has the same kind.

The scoring functions are pure (no I/O); :func:`monitor.tagging.said.load_labels` reads the labels file and
:func:`run` the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from monitor.tagging.said import COVER, Said, coverage, is_right, load_labels, words

if TYPE_CHECKING:
    from monitor.tagging import Tagger


@dataclass(frozen=True)
class ItemScore:
    """The statements of one item, scored: which labelled ones were found (and with the kind right), which given
    ones were right, and the speaker identities on each side."""

    found: tuple[bool, ...]  # per labelled statement
    kind_right: tuple[bool, ...]  # per labelled statement (False where not found)
    right: tuple[bool, ...]  # per given statement
    labelled_speakers: frozenset[str]
    given_speakers: frozenset[str]


@dataclass
class Totals:
    """Counts over many items."""

    labelled: int = 0
    found: int = 0
    kind_right: int = 0
    given: int = 0
    right: int = 0
    speakers_tp: int = 0
    speakers_fp: int = 0
    speakers_fn: int = 0
    items: int = 0
    errors: list[tuple[str, str, Said]] = field(default_factory=list)  # (item id, "missed"/"wrong", statement)

    def add(self, item_id: str, labelled: Sequence[Said], given: Sequence[Said], score: ItemScore) -> None:
        self.items += 1
        self.labelled += len(labelled)
        self.found += sum(score.found)
        self.kind_right += sum(score.kind_right)
        self.given += len(given)
        self.right += sum(score.right)
        self.speakers_tp += len(score.labelled_speakers & score.given_speakers)
        self.speakers_fp += len(score.given_speakers - score.labelled_speakers)
        self.speakers_fn += len(score.labelled_speakers - score.given_speakers)
        self.errors.extend((item_id, "missed", s) for s, ok in zip(labelled, score.found, strict=True) if not ok)
        self.errors.extend((item_id, "wrong", s) for s, ok in zip(given, score.right, strict=True) if not ok)

    def statements(self) -> tuple[float, float]:
        """(precision, recall) of statements."""
        return _ratio(self.right, self.given), _ratio(self.found, self.labelled)

    def speakers(self) -> tuple[float, float]:
        """(precision, recall) of speakers (per item)."""
        tp = self.speakers_tp
        return _ratio(tp, tp + self.speakers_fp), _ratio(tp, tp + self.speakers_fn)

    def kind(self) -> float:
        """Share of found statements whose kind is right."""
        return _ratio(self.kind_right, self.found)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def score_item(labelled: Sequence[Said], given: Sequence[Said]) -> ItemScore:
    """Score the statements given on one item against its labelled ones (see the module docstring)."""
    gw = [words(s.text) for s in given]
    found, kinds = [], []
    for s in labelled:
        w = words(s.text)
        best = max(((coverage(w, g), t.kind) for t, g in zip(given, gw, strict=True) if t.speaker == s.speaker),
                   default=(0.0, ""))
        ok = best[0] >= COVER
        found.append(ok)
        kinds.append(ok and best[1] == s.kind)
    right = [is_right(t, labelled) for t in given]
    return ItemScore(tuple(found), tuple(kinds), tuple(right), frozenset(s.speaker for s in labelled),
                     frozenset(s.speaker for s in given))


def score(labels: dict[str, list[Said]], given: dict[str, list[Said]], item_ids: Iterable[str]) -> Totals:
    """Totals over ``item_ids``: each item's labelled statements (none where ``labels`` lacks it) against those
    given on it."""
    totals = Totals()
    for item_id in item_ids:
        lab, out = labels.get(item_id, []), given.get(item_id, [])
        totals.add(item_id, lab, out, score_item(lab, out))
    return totals


def run(labels_path: Path, item_paths: Sequence[Path], tagger: Tagger, out: TextIO, *, folds: int | None = None,
        verbose: bool = False) -> int:
    """Tag the items (cross-validated with ``folds``), score their statements against the labels, print; return 0.

    Raises :class:`~monitor.tagging.labelled.LabelledDataError` for a file that cannot be used.
    """
    from monitor.evaluation.relevance import predict
    from monitor.tagging.labelled import load
    from monitor.tagging.training import analyse, with_statement_labels

    labels = load_labels(labels_path)
    tags = [rule.name for rule in tagger.rules]
    items = with_statement_labels(tagger, load(list(item_paths), tags), labels)  # fitted on them in folds
    examples = analyse(tagger, items)
    results, _ = predict(tagger, examples, folds, tags)
    given = {ex.item.id: [Said(s.speaker, s.role, s.kind, s.text) for d in result.decisions if d.given
                          for s in d.statements] for ex, result in zip(examples, results, strict=True)}
    ids = [it.id for it in items]
    totals = score(labels, given, ids)
    files = ", ".join(Path(p).name for p in item_paths)
    with_statements = sum(1 for i in ids if labels.get(i))
    if folds is None:
        out.write(f"statements scored as configured on {len(ids)} items ({files}); {with_statements} with labelled "
                  "statements\n")
        out.write("NOTE: the shipped model may have been fitted on these items: these figures flatter; use --folds K\n")
    else:
        out.write(f"statements, {folds}-fold cross-validation over {len(ids)} items ({files}); {with_statements} "
                  "with labelled statements; the model is fitted on the other folds each time\n")
    unknown = sorted(set(labels) - set(ids))
    if unknown:
        out.write(f"NOTE: {len(unknown)} labelled item(s) not among the items files, not scored: "
                  f"{', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}\n")
    if verbose:
        for item_id, what, s in totals.errors:
            out.write(f"{what:<7} {item_id}  {s.label()}  [{s.kind}]  {' '.join(s.text.split())}\n")
    out.write(format_totals(totals))
    return 0


def format_totals(t: Totals) -> str:
    sp, sr = t.statements()
    kp, kr = t.speakers()
    return (f"\n{'':<12}{'precision':>10}{'recall':>8}\n"
            f"{'statements':<12}{sp:>10.3f}{sr:>8.3f}   right {t.right} of {t.given} given; found {t.found} of "
            f"{t.labelled} labelled\n"
            f"{'speakers':<12}{kp:>10.3f}{kr:>8.3f}   per item: {t.speakers_tp} right, {t.speakers_fp} wrong, "
            f"{t.speakers_fn} missed\n"
            f"kind right: {t.kind():.3f} ({t.kind_right} of {t.found} found statements)\n")
