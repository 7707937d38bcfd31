"""Evaluate the statements the tagger gives, quote by quote, against hand-marked ones.

``monitor eval statements LABELS --items FILE… [--folds K] [-v]``

LABELS is a JSON Lines file of the statements of every item that has some (``{"id", "statements": [{"speaker":
{"name", "role"}, "kind", "text"}], "note"}``); the items are the labelled relevance files (see
:mod:`monitor.tagging.labelled`). Every item of the items files that LABELS does not list has no statements:
anything the monitor gives there is wrong.

The matching rule (that of the shared evaluation data):
  * a speaker is a person by surname, or a body by its family: the Ministry of Defence (with its intelligence
    updates, defence and military sources and the armed services), Downing Street (with the PM's spokespeople),
    the government (the government as a whole, the Foreign Office, Whitehall and UK government sources); any
    other body by its name;
  * a labelled statement is *found* when one statement the monitor gives on the same item, by the same speaker,
    covers at least half of its words (``\\w+`` tokens, lower-cased, counted with multiplicity);
  * a statement the monitor gives is *right* when at least half of its words are covered by one labelled
    statement of the same speaker on the same item;
  * speakers: per item, the set of speaker identities, labelled against given;
  * kind: of the found statements, the share whose best-covering given statement has the same kind.

The scoring functions are pure (no I/O); :func:`load_labels` reads the labels file and :func:`run` the rest.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.tagging.labelled import LabelledDataError

if TYPE_CHECKING:
    from monitor.tagging import Tagger

KINDS = ("direct", "indirect")
COVER = 0.5
_WORD = re.compile(r"\w+")
_HONORIFICS = frozenset(("sir", "lord", "lady", "dame", "baroness", "earl", "mr", "mrs", "ms", "miss", "dr",
                         "general", "gen", "admiral", "adm", "air", "marshal", "commodore", "chief"))
# Body families, first match wins (the Prime Minister's spokespeople before the government as a whole).
_FAMILIES = (
    ("downing street", re.compile(r"\b(?:downing street|no\.? ?10|number (?:10|ten)|prime minister['’]s|"
                                  r"pm['’]s|close to the prime minister|official spokes)")),
    ("ministry of defence", re.compile(r"\b(?:ministry of defence|mod|defence|intelligence|military|army|navy|"
                                       r"royal marines|raf|royal air force|armed forces|armed services)\b")),
    ("government", re.compile(r"\b(?:government|foreign office|foreign, commonwealth|foreign and commonwealth|"
                              r"fco|fcdo|whitehall|british sources?|uk sources?|british officials?|"
                              r"uk officials?)\b")),
)


@dataclass(frozen=True)
class Said:
    """One statement, labelled or given: who (name, or None for a body; role), its kind and its words."""

    name: str | None
    role: str | None
    kind: str
    text: str

    @property
    def speaker(self) -> str:
        return speaker_identity(self.name, self.role)

    def label(self) -> str:
        return f"{self.name} ({self.role})" if self.name else (self.role or "unknown speaker")


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


def speaker_identity(name: str | None, role: str | None) -> str:
    """A person by surname ("person:wallace"), a body by family ("body:ministry of defence")."""
    if name:
        parts = [p.strip(".,").lower() for p in name.replace("’", "'").split()]
        parts = [p for p in parts if p not in _HONORIFICS] or parts
        if "of" in parts[1:]:  # "Lord Cameron of Chipping Norton" is Cameron
            parts = parts[: parts.index("of", 1)]
        return "person:" + parts[-1]
    low = " ".join((role or "").lower().replace("’", "'").split())
    for family, pattern in _FAMILIES:
        if pattern.search(low):
            return "body:" + family
    return "body:" + low


def words(text: str) -> Counter[str]:
    """The ``\\w+`` tokens of ``text``, lower-cased, with their counts."""
    return Counter(_WORD.findall(text.lower()))


def coverage(of: Counter[str], by: Counter[str]) -> float:
    """Share of the words ``of`` (with multiplicity) that ``by`` covers."""
    total = sum(of.values())
    return sum(min(n, by[w]) for w, n in of.items()) / total if total else 0.0


def score_item(labelled: Sequence[Said], given: Sequence[Said]) -> ItemScore:
    """Score the statements given on one item against its labelled ones (see the module docstring)."""
    lw = [words(s.text) for s in labelled]
    gw = [words(s.text) for s in given]
    found, kinds = [], []
    for s, w in zip(labelled, lw, strict=True):
        best = max(((coverage(w, g), t.kind) for t, g in zip(given, gw, strict=True) if t.speaker == s.speaker),
                   default=(0.0, ""))
        ok = best[0] >= COVER
        found.append(ok)
        kinds.append(ok and best[1] == s.kind)
    right = [any(coverage(g, w) >= COVER for s, w in zip(labelled, lw, strict=True) if s.speaker == t.speaker)
             for t, g in zip(given, gw, strict=True)]
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


# -- input ------------------------------------------------------------------------------------------------------
def load_labels(path: Path) -> dict[str, list[Said]]:
    """The labelled statements of each item id; a :class:`LabelledDataError` naming the file and line if the file
    cannot be read or a line is malformed."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledDataError(f"{path}: cannot read: {exc}") from None
    out: dict[str, list[Said]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledDataError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise LabelledDataError(f"{where}: each line must be a JSON object with a string \"id\"")
        if data["id"] in out:
            raise LabelledDataError(f"{where}: item id {data['id']!r} appears twice")
        statements = data.get("statements")
        if not isinstance(statements, list):
            raise LabelledDataError(f"{where}: \"statements\" must be a list")
        out[data["id"]] = [_said(s, f"{where}: statement {i + 1}") for i, s in enumerate(statements)]
    if not out:
        raise LabelledDataError(f"{path}: no labelled statements (expected one JSON object a line)")
    return out


def _said(data: Any, where: str) -> Said:
    if not isinstance(data, dict):
        raise LabelledDataError(f"{where}: must be an object with \"speaker\", \"kind\" and \"text\"")
    speaker = data.get("speaker")
    if not isinstance(speaker, dict) or not (isinstance(speaker.get("name"), str) or
                                             isinstance(speaker.get("role"), str)):
        raise LabelledDataError(f"{where}: \"speaker\" must be an object with a \"name\" or a \"role\"")
    if data.get("kind") not in KINDS:
        raise LabelledDataError(f"{where}: \"kind\" must be one of {', '.join(KINDS)} (got {data.get('kind')!r})")
    text = data.get("text")
    if not isinstance(text, str) or not words(text):
        raise LabelledDataError(f"{where}: \"text\" must be a non-empty string")
    name = speaker.get("name") if isinstance(speaker.get("name"), str) else None
    role = speaker.get("role") if isinstance(speaker.get("role"), str) else None
    return Said(name, role, data["kind"], text)


def run(labels_path: Path, item_paths: Sequence[Path], tagger: Tagger, out: TextIO, *, folds: int | None = None,
        verbose: bool = False) -> int:
    """Tag the items (cross-validated with ``folds``), score their statements against the labels, print; return 0.

    Raises :class:`~monitor.tagging.labelled.LabelledDataError` for a file that cannot be used.
    """
    from monitor.evaluation.relevance import predict
    from monitor.tagging.labelled import load
    from monitor.tagging.training import analyse

    labels = load_labels(labels_path)
    tags = [rule.name for rule in tagger.rules]
    items = load(list(item_paths), tags)
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
