"""Tag rules (config/tags.toml): parsing, validation and scoring."""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.tagging.errors import TaggingConfigError
from monitor.tagging.model import Evidence
from monitor.tagging.text import Lexicon, PatternError, PhraseMatcher, Tokens

_SCOPES = ("title", "lead", "text", "any")


@dataclass(frozen=True)
class TermGroup:
    """A group's weighted patterns (matched through the tag's :class:`Lexicon`)."""

    name: str
    terms: tuple[str, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class Exclusion:
    scope: str
    weight: float
    note: str
    mutes: frozenset[str] = frozenset()  # groups whose terms count nowhere in an article where this one fires


@dataclass(frozen=True)
class StatementRule:
    voices: frozenset[str]
    matter_group: str
    matter_min: float
    matter_implied_for: frozenset[str] = frozenset()  # officials.toml role/body keys always on a matter
    other_group: str = ""  # terms of matters that are not the tag's (courts, housing, health): a model feature


@dataclass(frozen=True)
class TagRule:
    """One tag's rule; see the comments in config/tags.toml for the meaning of each field."""

    name: str
    description: str
    threshold: float
    title_weight: float
    text_weight: float
    unit_min: float
    unit_cap: float
    density_weight: float
    lead_units: int
    lead_weight: float
    unit_weight: float
    unit_count_cap: int
    topical_when: tuple[tuple[str, ...], ...]
    groups: dict[str, TermGroup]
    exclusions: tuple[Exclusion, ...]
    statement: StatementRule | None
    lexicon: Lexicon  # owners: (group name, term index) or ("", exclusion index)
    # The article (title and text together) must have a term of every group of one of these combinations, or
    # none of its units is on topic (empty: no such requirement).
    anchor_when: tuple[tuple[str, ...], ...] = ()

    def anchored(self, present: set[str]) -> bool:
        """Whether groups ``present`` anywhere in the article tie it to the tag's subject (``anchor_when``)."""
        return not self.anchor_when or any(all(g in present for g in combo) for combo in self.anchor_when)

    def matches(self, tokens: Tokens, lowered: str) -> list[tuple[int, int, str, int]]:
        """(start, end, group name or "" for an exclusion, index) of every pattern match."""
        return [(a, b, *owner) for a, b, owner in self.lexicon.find(tokens, lowered)]  # type: ignore[misc]


@dataclass(frozen=True)
class UnitHits:
    """Matches of a tag's groups inside one unit (a title or a sentence)."""

    start: int
    end: int
    hits: tuple[tuple[str, int, int, int], ...]  # (group, start, end, term index)


def compile_group(name: str, terms: dict[str, Any], where: str, lexicon: Lexicon) -> TermGroup:
    if not isinstance(terms, dict) or not terms:
        raise TaggingConfigError(f"{where} must be a table of pattern = weight")
    labels = list(terms)
    for i, pattern in enumerate(labels):
        weight = terms[pattern]
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise TaggingConfigError(f"{where}.{pattern!r} must be a number (got {weight!r})")
        _add(lexicon, pattern, (name, i), where)
    return TermGroup(name, tuple(labels), tuple(float(terms[t]) for t in labels))


def _add(lexicon: Lexicon, pattern: str, owner: tuple[str, int], where: str) -> None:
    try:
        lexicon.add(pattern, owner)
    except (PatternError, re.error) as exc:
        raise TaggingConfigError(f"{where}: {exc}") from None


def _patterns(entry: dict[str, Any], where: str) -> list[str]:
    """The ``pattern`` (a string) or ``patterns`` (a list of strings) of a mask or exclusion."""
    raw = entry.get("patterns", [entry["pattern"]] if "pattern" in entry else None)
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p.strip() for p in raw):
        raise TaggingConfigError(f"{where} needs pattern = \"...\" or patterns = [\"...\", ...]")
    return raw


def _matcher(patterns: list[str], where: str) -> PhraseMatcher:
    try:
        return PhraseMatcher(patterns)
    except PatternError as exc:
        raise TaggingConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Masks:
    """Every ``[[mask]]`` pattern as one matcher, and per pattern the tags it is limited to (None: every tag and
    the speaker mentions)."""

    matcher: PhraseMatcher
    tags: tuple[frozenset[str] | None, ...]


def compile_masks(data: Any, source: str, tag_names: set[str]) -> Masks:
    """All ``[[mask]]`` tables; a mask with ``tags = [...]`` hides its spans from those tags' terms only."""
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise TaggingConfigError(f"{source}: mask must be an array of tables ([[mask]])")
    patterns: list[str] = []
    limits: list[frozenset[str] | None] = []
    for i, entry in enumerate(data):
        where = f"{source}: mask[{i}]"
        unknown = set(entry) - {"pattern", "patterns", "note", "tags"}
        if unknown:
            raise TaggingConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        limit = entry.get("tags")
        if limit is not None:
            if not isinstance(limit, list) or not limit or not all(isinstance(t, str) for t in limit):
                raise TaggingConfigError(f"{where}.tags must be a list of tag names")
            if set(limit) - tag_names:
                raise TaggingConfigError(f"{where}.tags names unknown tag(s) "
                                         f"{', '.join(sorted(set(limit) - tag_names))}")
        found = _patterns(entry, where)
        patterns.extend(found)
        limits.extend([frozenset(limit) if limit is not None else None] * len(found))
    return Masks(_matcher(patterns, f"{source}: mask"), tuple(limits))


def _num(table: dict[str, Any], key: str, default: float | None, where: str, *, integer: bool = False) -> Any:
    value = table.get(key, default)
    if value is None:
        raise TaggingConfigError(f"{where}.{key} is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise TaggingConfigError(f"{where}.{key} must be a {'whole ' if integer else ''}number (got {value!r})")
    return int(value) if integer else float(value)


_KNOWN_KEYS = {
    "description", "threshold", "title_weight", "text_weight", "unit_min", "unit_cap", "density_weight",
    "lead_units", "lead_weight", "unit_weight", "unit_count_cap", "topical_when", "anchor_when", "groups",
    "exclusions", "requires_statement", "statement",
}


def parse_tag(name: str, table: Any, source: str) -> TagRule:
    """Validate one ``[tags.<name>]`` table; errors name the file and the key."""
    where = f"tags.{name}"
    try:
        if not isinstance(table, dict):
            raise TaggingConfigError(f"{where} must be a table")
        unknown = set(table) - _KNOWN_KEYS
        if unknown:
            raise TaggingConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        groups_raw = table.get("groups", {})
        if not isinstance(groups_raw, dict):
            raise TaggingConfigError(f"{where}.groups must be a table of groups")
        lexicon = Lexicon()
        groups = {g: compile_group(g, terms, f"{where}.groups.{g}", lexicon) for g, terms in groups_raw.items()}
        requires_statement = table.get("requires_statement", False)
        if not isinstance(requires_statement, bool):
            raise TaggingConfigError(f"{where}.requires_statement must be true or false")
        statement = None
        topical: list[tuple[str, ...]] = []
        anchor: list[tuple[str, ...]] = []
        if requires_statement:
            st = table.get("statement", {})
            if not isinstance(st, dict):
                raise TaggingConfigError(f"{where}.statement must be a table")
            voices = st.get("voices", ["defence", "government"])
            if not isinstance(voices, list) or not set(voices) <= {"defence", "government"} or not voices:
                raise TaggingConfigError(f"{where}.statement.voices must list 'defence' and/or 'government'")
            matter = st.get("matter_group", "")
            if matter and matter not in groups:
                raise TaggingConfigError(f"{where}.statement.matter_group {matter!r} is not in {where}.groups")
            implied = st.get("matter_implied_for", [])
            if not isinstance(implied, list) or not all(isinstance(k, str) and k for k in implied):
                raise TaggingConfigError(f"{where}.statement.matter_implied_for must be a list of officials.toml "
                                         "role or body keys")
            other = st.get("other_group", "")
            if other and other not in groups:
                raise TaggingConfigError(f"{where}.statement.other_group {other!r} is not in {where}.groups")
            statement = StatementRule(frozenset(voices), matter, _num(st, "matter_min", 1.0, f"{where}.statement"),
                                      frozenset(implied), other)
        else:
            raw = table.get("topical_when", [list(groups)])
            topical = _combinations(raw, groups, f"{where}.topical_when")
            anchor = _combinations(table.get("anchor_when", []), groups, f"{where}.anchor_when", empty=True)
            if not groups:
                raise TaggingConfigError(f"{where}.groups must define at least one group of terms")
        exclusions = []
        ex_raw = table.get("exclusions", [])
        if not isinstance(ex_raw, list):
            raise TaggingConfigError(f"{where}.exclusions must be an array of tables")
        for i, ex in enumerate(ex_raw):
            ewhere = f"{where}.exclusions[{i}]"
            if not isinstance(ex, dict):
                raise TaggingConfigError(f"{ewhere} must be a table")
            for pattern in _patterns(ex, ewhere):
                _add(lexicon, pattern, ("", i), ewhere)
            scope = ex.get("scope", "any")
            if scope not in _SCOPES:
                raise TaggingConfigError(f"{ewhere}.scope must be one of {', '.join(_SCOPES)}")
            mutes = ex.get("mutes", [])
            if not isinstance(mutes, list) or not all(isinstance(g, str) for g in mutes) or set(mutes) - set(groups):
                raise TaggingConfigError(f"{ewhere}.mutes must be a list of the tag's group names")
            exclusions.append(Exclusion(scope, _num(ex, "weight", None, ewhere), str(ex.get("note", "")),
                                        frozenset(mutes)))
        rule = TagRule(
            name=name,
            description=str(table.get("description", "")),
            threshold=_num(table, "threshold", None, where),
            title_weight=_num(table, "title_weight", 1.0, where),
            text_weight=_num(table, "text_weight", 1.0, where),
            unit_min=_num(table, "unit_min", 1.0, where),
            unit_cap=_num(table, "unit_cap", 1e9, where),
            density_weight=_num(table, "density_weight", 0.0, where),
            lead_units=_num(table, "lead_units", 0, where, integer=True),
            lead_weight=_num(table, "lead_weight", 0.0, where),
            unit_weight=_num(table, "unit_weight", 1.0, where),
            unit_count_cap=_num(table, "unit_count_cap", 1000, where, integer=True),
            topical_when=tuple(topical),
            groups=groups,
            exclusions=tuple(exclusions),
            statement=statement,
            lexicon=lexicon,
            anchor_when=tuple(anchor),
        )
    except TaggingConfigError as exc:
        raise TaggingConfigError(f"{source}: {exc}") from None
    return rule


def _combinations(raw: Any, groups: dict[str, TermGroup], where: str, *,
                  empty: bool = False) -> list[tuple[str, ...]]:
    """A list of lists of group names (``topical_when``, ``anchor_when``), checked against the groups."""
    if not isinstance(raw, list) or (not raw and not empty) or not all(isinstance(c, list) and c for c in raw):
        raise TaggingConfigError(f"{where} must be a list of lists of group names")
    for combo in raw:
        for g in combo:
            if g not in groups:
                raise TaggingConfigError(f"{where} names unknown group {g!r}")
    return [tuple(combo) for combo in raw]


def unit_hits(matches: list[tuple[int, int, str, int]], units: list[tuple[int, int]]) -> list[UnitHits]:
    """Assign every group match (from :meth:`TagRule.matches`) to the unit containing it."""
    starts = [u[0] for u in units]
    buckets: list[list[tuple[str, int, int, int]]] = [[] for _ in units]
    for start, end, gname, idx in matches:
        if not gname:
            continue
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and start < units[i][1]:
            buckets[i].append((gname, start, end, idx))
    return [UnitHits(u[0], u[1], tuple(b)) for u, b in zip(units, buckets, strict=True)]


def unit_score(rule: TagRule, unit: UnitHits) -> tuple[float, bool]:
    """(score, on topic) of one unit: distinct terms count once; groups must cover a topical combination."""
    score = 0.0
    for gname, idx in {(h[0], h[3]): None for h in unit.hits}:  # distinct terms, in order
        score += rule.groups[gname].weights[idx]
    score = min(score, rule.unit_cap)
    present = {h[0] for h in unit.hits}
    topical = score >= rule.unit_min and any(all(g in present for g in combo) for combo in rule.topical_when)
    return score, topical


def term_evidence(rule: TagRule, unit: UnitHits, field: str, factor: float, original: str) -> list[Evidence]:
    """One item per distinct term of the unit, showing the matched text of ``original`` (the article field)."""
    out = []
    seen: set[tuple[str, int]] = set()
    for gname, start, end, idx in unit.hits:
        if (gname, idx) in seen or not rule.groups[gname].weights[idx]:  # a tie only (weight 0): no evidence
            continue
        seen.add((gname, idx))
        label = rule.groups[gname].terms[idx]
        kind = "phrase" if " " in label.strip() or gname == "strong" else "term"
        out.append(Evidence(kind, f"{original[start:end]!r} ({label} [{gname}])", field, start, end,
                            rule.groups[gname].weights[idx] * factor))
    return out


def defined_tags(path: Path) -> set[str]:
    """The tag names a rules file defines, read without compiling its rules (for checking a tag a user names)."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TaggingConfigError(f"{path}: {exc}") from None
    tags = data.get("tags")
    return set(tags) if isinstance(tags, dict) else set()
