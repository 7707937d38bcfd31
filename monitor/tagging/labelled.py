"""Labelled items (JSON Lines, the format of the shared relevance sets), read and checked for evaluation and
training, and the speaker comparison both use.

One object a line: ``id``, ``title``, ``text``, ``published``, ``labels`` ({tag: 0/1}), ``speakers``
([{"name", "role"}], name null for a body), optionally ``source_set``, ``url``, ``confidence`` ("high"/"low")
and ``note``. Any other key, a line that is not a JSON object, a label that is not 0/1 or a file without items is
a :class:`LabelledDataError` naming the file and line.

Speaker matching (per item, each speaker counted once):
  * a labelled speaker with a name matches a predicted statement speaker with the same name (compared
    case-insensitively, ignoring honorifics such as "Sir" or "Lord");
  * a labelled speaker without a name (a body) matches a predicted body speaker (name None) of the same body
    family: the Ministry of Defence family (MoD, Defence Intelligence, British intelligence, unnamed UK defence
    or government sources/officials), Downing Street (incl. the PM's spokesman), the Foreign Office, the British
    Army, the Royal Navy, the RAF; any other role string must match exactly.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.tagging.errors import LabelledDataError
from monitor.tagging.said import Said

KEYS = frozenset({"id", "source_set", "title", "text", "published", "url", "labels", "speakers", "confidence",
                  "note"})
_HONORIFICS = re.compile(r"\b(?:sir|lord|lady|dame|baroness|mr|mrs|ms|dr|general|admiral)\b\.?\s*", re.I)
_BODY_FAMILIES = (
    ("ministry of defence", ("ministry of defence", "mod", "defence intelligence", "intelligence",
                             "defence source", "defence official", "military source", "military official",
                             "british source", "uk source", "british official", "uk official",
                             "government source", "whitehall source")),
    ("downing street", ("downing street", "no 10", "number 10", "prime minister's spokes", "pm's spokes")),
    ("foreign office", ("foreign office", "fco", "fcdo")),
    ("british army", ("british army", "army")),
    ("royal navy", ("royal navy", "navy")),
    ("royal air force", ("royal air force", "raf")),
)


@dataclass(frozen=True)
class LabelledItem:
    id: str
    title: str
    text: str
    published: dt.datetime | None
    labels: dict[str, bool]
    speakers: frozenset[str]  # speaker_key() of each labelled speaker
    confidence: str | None
    note: str | None
    statements: tuple[Said, ...] | None = None  # every statement, quote by quote, where a labels file gives them



def parse_published(value: str | None) -> dt.datetime | None:
    """ISO timestamps, RFC 2822 dates (as feeds write them), or a year range "2004/2005" (→ 1 January of the
    later year). Without a date, offices ("the Prime Minister") cannot be resolved to their holder."""
    if not value:
        return None
    value = value.strip()
    years = re.fullmatch(r"(\d{4})\s*/\s*(\d{4})", value)
    if years:
        return dt.datetime(int(years.group(2)), 1, 1, tzinfo=dt.UTC)
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
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


def load(paths: list[Path], tags: list[str]) -> list[LabelledItem]:
    """Every item of every file, checked; ``tags`` are the configured tags (a label for another is an error)."""
    items: list[LabelledItem] = []
    seen: set[str] = set()
    for path in paths:
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise LabelledDataError(f"{path}: cannot read: {exc}") from None
        count = 0
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            item = _item(line, f"{path}:{number}", tags)
            if item.id in seen:
                raise LabelledDataError(f"{path}:{number}: item id {item.id!r} appears twice")
            seen.add(item.id)
            items.append(item)
            count += 1
        if not count:
            raise LabelledDataError(f"{path}: no labelled items (expected one JSON object a line)")
    return items


def _item(line: str, where: str, tags: list[str]) -> LabelledItem:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelledDataError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise LabelledDataError(f"{where}: each line must be a JSON object")
    unknown = set(data) - KEYS
    if unknown:
        raise LabelledDataError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: "
                                f"{', '.join(sorted(KEYS))})")
    labels = data.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise LabelledDataError(f"{where}: \"labels\" must be an object of tag: 0 or 1")
    for tag, value in labels.items():
        if tag not in tags:
            raise LabelledDataError(f"{where}: label for unknown tag {tag!r} (configured: {', '.join(tags)})")
        if value not in (0, 1) or isinstance(value, float):
            raise LabelledDataError(f"{where}: label {tag!r} must be 0 or 1 (got {value!r})")
    speakers = data.get("speakers", [])
    if not isinstance(speakers, list) or not all(isinstance(s, dict) for s in speakers):
        raise LabelledDataError(f"{where}: \"speakers\" must be a list of {{\"name\", \"role\"}} objects")
    for field in ("id", "title", "text"):
        if field in data and data[field] is not None and not isinstance(data[field], str | int):
            raise LabelledDataError(f"{where}: \"{field}\" must be a string")
    if not (data.get("title") or data.get("text")):
        raise LabelledDataError(f"{where}: an item needs a \"title\" or a \"text\"")
    return LabelledItem(
        id=str(data.get("id") or where), title=str(data.get("title") or ""), text=str(data.get("text") or ""),
        published=parse_published(data.get("published") if isinstance(data.get("published"), str) else None),
        labels={t: bool(v) for t, v in labels.items()},
        speakers=frozenset(speaker_key(s.get("name"), s.get("role")) for s in speakers),
        confidence=data.get("confidence"), note=data.get("note"),
    )
