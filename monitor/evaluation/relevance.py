"""Evaluate the tagging engine on a hand-labelled relevance set (JSON lines).

Usage: ``python -m monitor.evaluation.relevance PATH [--tags config/tags.toml] [--officials ...] [-v]``

Each line holds ``title``, ``text``, ``published``, ``labels`` ({tag: 0/1}), ``speakers``
([{"name", "role"}]) and ``confidence`` ("high"/"low"). Printed: precision / recall / F1 per tag and speaker
precision / recall, on all items and on the high-confidence ones, and tagging throughput.

Speaker matching (per item, each speaker counted once):
  * a labelled speaker with a name matches a predicted statement speaker with the same name (compared
    case-insensitively, ignoring honorifics such as "Sir" or "Lord");
  * a labelled speaker without a name (a body) matches a predicted body speaker (name None) of the same body
    family: the Ministry of Defence family (MoD, Defence Intelligence, British intelligence, unnamed UK defence
    sources/officials), Downing Street (incl. the PM's spokesman), the Foreign Office, the British Army, the
    Royal Navy, the RAF; any other role string must match exactly.
Predicted speakers are those of the statements that triggered ``uk-defence-statement``.
A ``published`` value like "2004/2005" (a year range) is taken as 1 January of the later year.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.tagging import Tagger, TaggingResult

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config"
STATEMENT_TAG = "uk-defence-statement"
_HONORIFICS = re.compile(r"\b(?:sir|lord|lady|dame|baroness|mr|mrs|ms|dr|general|admiral)\b\.?\s*", re.I)
_BODY_FAMILIES = (
    ("ministry of defence", ("ministry of defence", "mod", "defence intelligence", "intelligence",
                             "defence source", "defence official", "military source", "military official",
                             "british source", "uk source", "british official", "uk official")),
    ("downing street", ("downing street", "no 10", "number 10", "prime minister's spokes", "pm's spokes")),
    ("foreign office", ("foreign office", "fco", "fcdo")),
    ("british army", ("british army", "army")),
    ("royal navy", ("royal navy", "navy")),
    ("royal air force", ("royal air force", "raf")),
)


def parse_published(value: str | None) -> dt.datetime | None:
    """ISO timestamps, or a year range "2004/2005" (→ 1 January of the later year)."""
    if not value:
        return None
    value = value.strip()
    years = re.fullmatch(r"(\d{4})\s*/\s*(\d{4})", value)
    if years:
        return dt.datetime(int(years.group(2)), 1, 1, tzinfo=dt.UTC)
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        year = re.fullmatch(r"\d{4}", value)
        return dt.datetime(int(value), 7, 1, tzinfo=dt.UTC) if year else None


def speaker_key(name: str | None, role: str | None) -> str:
    """The comparison key of a speaker (see the module docstring)."""
    if name:
        return "name:" + " ".join(_HONORIFICS.sub("", name).lower().split())
    low = (role or "").lower().replace("’", "'")
    for family, needles in _BODY_FAMILIES:
        if any(re.search(rf"\b{re.escape(n)}", low) for n in needles):
            return "body:" + family
    return "body:" + " ".join(low.split())


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


def _speakers(result: TaggingResult) -> set[str]:
    try:
        statements = result.decision(STATEMENT_TAG).statements
    except KeyError:
        statements = result.statements
    return {speaker_key(s.speaker, s.role) for s in statements}


def _load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def run(path: Path, tagger: Tagger, out: TextIO, *, verbose: bool = False) -> int:
    """Evaluate ``tagger`` on the JSON-lines file at ``path``; print the figures to ``out``; return 0."""
    items = _load(Path(path))
    started, cpu_started = time.perf_counter(), time.process_time()
    results = [tagger.tag(it.get("title"), it.get("text") or "", parse_published(it.get("published")))
               for it in items]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    reports = {"all": Report(), "high-confidence": Report()}
    for item, result in zip(items, results, strict=True):
        scopes = ["all"] + (["high-confidence"] if item.get("confidence") == "high" else [])
        gold_speakers = {speaker_key(s.get("name"), s.get("role")) for s in item.get("speakers", [])}
        predicted_speakers = _speakers(result)
        for scope in scopes:
            report = reports[scope]
            report.items += 1
            for tag, label in item.get("labels", {}).items():
                report.tags.setdefault(tag, Counts()).add(bool(label), tag in result.tags)
            report.speakers.tp += len(gold_speakers & predicted_speakers)
            report.speakers.fp += len(predicted_speakers - gold_speakers)
            report.speakers.fn += len(gold_speakers - predicted_speakers)
        if verbose:
            _print_errors(item, result, gold_speakers, predicted_speakers, out)
    for scope, report in reports.items():
        out.write(f"\n== {scope} items: {report.items}\n")
        out.write(f"{'tag':<24}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>9}{'F1':>8}\n")
        for tag, c in report.tags.items():
            p, r, f = c.prf()
            out.write(f"{tag:<24}{c.tp:>5}{c.fp:>5}{c.fn:>5}{p:>11.3f}{r:>9.3f}{f:>8.3f}\n")
        c = report.speakers
        p, r, f = c.prf()
        out.write(f"{'speakers':<24}{c.tp:>5}{c.fp:>5}{c.fn:>5}{p:>11.3f}{r:>9.3f}{f:>8.3f}\n")
    size = sum(len(it.get("text") or "") + len(it.get("title") or "") for it in items) / max(len(items), 1)
    out.write(f"\nthroughput: {len(items) / elapsed:,.0f} articles/s wall, {len(items) / max(cpu, 1e-9):,.0f} per "
              f"CPU-second, over {len(items)} items (mean {size:,.0f} characters)\n")
    sample = [it for it in items if 3000 <= len(it.get("text") or "") <= 5000]
    if sample:
        wall, per_cpu = _rate(tagger, sample)
        out.write(f"throughput on 3-5 KB texts: {wall:,.0f} articles/s wall, {per_cpu:,.0f} per CPU-second "
                  f"({len(sample)} items x 5)\n")
    return 0


def _rate(tagger: Tagger, sample: list[dict], rounds: int = 5) -> tuple[float, float]:
    """(articles per second of wall time, articles per CPU-second) tagging ``sample`` ``rounds`` times."""
    prepared = [(it.get("title"), it.get("text") or "", parse_published(it.get("published"))) for it in sample]
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for title, text, published in prepared:
            tagger.tag(title, text, published)
    n = rounds * len(sample)
    return n / (time.perf_counter() - started), n / max(time.process_time() - cpu_started, 1e-9)


def _print_errors(item: dict, result: TaggingResult, gold: set[str], predicted: set[str], out: TextIO) -> None:
    wrong = [t for t, label in item.get("labels", {}).items() if bool(label) != (t in result.tags)]
    if not wrong and gold == predicted:
        return
    out.write(f"\n--- {item.get('id')} [{item.get('confidence')}] {item.get('title')!r}\n")
    out.write(f"    note: {item.get('note')}\n")
    for tag in wrong:
        decision = result.decision(tag)
        out.write("    " + decision.explain().replace("\n", "\n    ")[:1500] + "\n")
    if gold != predicted:
        out.write(f"    speakers missed: {sorted(gold - predicted)} extra: {sorted(predicted - gold)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="JSON-lines file of labelled items")
    parser.add_argument("--tags", type=Path, default=DEFAULT_CONFIG / "tags.toml")
    parser.add_argument("--officials", type=Path, default=DEFAULT_CONFIG / "officials.toml")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every misclassified item")
    args = parser.parse_args(argv)
    tagger = Tagger.from_files(args.tags, args.officials)
    return run(args.path, tagger, sys.stdout, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
