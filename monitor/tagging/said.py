"""Statements marked quote by quote (the format of a statements labels file) and the rule that matches a
statement to them; shared by training (a statement's target) and ``monitor eval statements`` (the figures).

A labels file is JSON Lines: ``{"id", "statements": [{"speaker": {"name", "role"}, "kind", "text"}], "note"}`` per
item that has statements. The matching rule (that of the shared evaluation data):
  * a speaker is a person by surname, or a body by its family: the Ministry of Defence (with its intelligence
    updates, defence and military sources and the armed services), Downing Street (with the PM's spokespeople),
    the government (the government as a whole, the Foreign Office, Whitehall and UK government sources); any
    other body by its name;
  * a labelled statement is *found* when one statement the monitor gives on the same item, by the same speaker,
    covers at least half of its words (``\\w+`` tokens, lower-cased, counted with multiplicity);
  * a statement the monitor gives is *right* when at least half of its words are covered by one labelled
    statement of the same speaker on the same item (:func:`is_right`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.tagging.errors import LabelledDataError

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


def is_right(given: Said, labelled: Sequence[Said]) -> bool:
    """Whether ``given`` is right against an item's labelled statements (see the module docstring)."""
    w = words(given.text)
    return any(coverage(w, words(s.text)) >= COVER for s in labelled if s.speaker == given.speaker)


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
