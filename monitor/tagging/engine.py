"""The Tagger: applies the rules of config/tags.toml and the officials of config/officials.toml."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.tagging.errors import TaggingConfigError
from monitor.tagging.model import Evidence, Statement, TagDecision, TaggingResult
from monitor.tagging.officials import Officials, parse_officials
from monitor.tagging.rules import TagRule, UnitHits, compile_masks, parse_tag, term_evidence, unit_hits, unit_score
from monitor.tagging.statements import RawStatement, StatementExtractor
from monitor.tagging.text import PhraseMatcher, Tokens, blank, clean, lower_same_length, sentences, tokenize

_SHORT_TEXT = 600  # a text this short is a feed entry's description


@dataclass(frozen=True)
class _Field:
    """One prepared field: masked text, its lower-cased form, tokens and units (title: one; text: sentences)."""

    masked: str
    lowered: str
    tokens: Tokens
    units: list[tuple[int, int]]


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise TaggingConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaggingConfigError(f"{path}: not valid TOML: {exc}") from None


class Tagger:
    """Tags articles; build once (``from_files``) and call :meth:`tag` per article. Picklable."""

    def __init__(self, rules: tuple[TagRule, ...], masks: PhraseMatcher, officials: Officials) -> None:
        self.rules = rules
        self.masks = masks
        self.officials = officials
        self.extractor = StatementExtractor(officials)

    @classmethod
    def from_files(cls, tags_path: Path, officials_path: Path) -> Tagger:
        """Load both config files; raises :class:`TaggingConfigError` naming the file and key on errors."""
        tags_path, officials_path = Path(tags_path), Path(officials_path)
        data = _load_toml(tags_path)
        tags = data.get("tags")
        if not isinstance(tags, dict) or not tags:
            raise TaggingConfigError(f"{tags_path}: needs at least one [tags.<name>] table")
        unknown = set(data) - {"tags", "mask"}
        if unknown:
            raise TaggingConfigError(f"{tags_path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
        rules = tuple(parse_tag(name, table, str(tags_path)) for name, table in tags.items())
        masks = compile_masks(data.get("mask", []), str(tags_path))
        officials = parse_officials(_load_toml(officials_path), str(officials_path))
        keys = officials.roles.keys() | officials.bodies.keys()
        for rule in rules:
            unknown_keys = (rule.statement.matter_implied_for - keys) if rule.statement else set()
            if unknown_keys:
                raise TaggingConfigError(f"{tags_path}: tags.{rule.name}.statement.matter_implied_for names "
                                         f"unknown officials key(s) {', '.join(sorted(unknown_keys))}")
        return cls(rules, masks, officials)

    def tag(self, title: str | None, text: str, published: dt.datetime | None) -> TaggingResult:
        """Decide every configured tag for one article."""
        when = published.date() if isinstance(published, dt.datetime) else published
        title = title or ""
        text = text or ""
        title_f = self._prepare(title, [(0, len(title))] if title.strip() else [])
        text_f = self._prepare(text, None)
        scans = [self.extractor.scan(f.masked, f.lowered) for f in (title_f, text_f)]
        people = self.extractor.introduced(scans)
        people = self.extractor.introduce_by_role([title_f.masked, text_f.masked], scans, when, people)
        context: dict[str, str] = {}  # foreign/UK reading of ambiguous offices, carried from title to text
        title_statements = self.extractor.extract(title_f.masked, title_f.units, scans[0], when, people, title=True,
                                                  context=context)
        text_statements = self.extractor.extract(text_f.masked, text_f.units, scans[1], when, people,
                                                 context=context)
        decisions = []
        found: dict[Statement, None] = {}
        for rule in self.rules:
            if rule.statement is not None:
                decision = self._statement_decision(rule, title, text, title_f, text_f,
                                                    title_statements, text_statements)
                found.update(dict.fromkeys(decision.statements))
            else:
                decision = self._keyword_decision(rule, title, text, title_f, text_f)
            decisions.append(decision)
        return TaggingResult(tuple(decisions), tuple(found))

    def _prepare(self, text: str, units: list[tuple[int, int]] | None) -> _Field:
        """Clean, mask, lower-case and tokenize one field (HTML and masked spans blanked, offsets unchanged)."""
        cleaned = clean(text)
        lowered = lower_same_length(cleaned)
        spans = [(a, b) for a, b, _ in self.masks.find(lowered)]
        lowered = blank(lowered, spans)
        masked = blank(cleaned, spans)
        return _Field(masked, lowered, tokenize(lowered), sentences(masked) if units is None else units)

    # -- keyword tags ----------------------------------------------------------------------------------------
    def _keyword_decision(self, rule: TagRule, title: str, text: str, title_f: _Field,
                          text_f: _Field) -> TagDecision:
        evidence: list[Evidence] = []
        score = 0.0
        matches = {"title": rule.matches(title_f.tokens, title_f.lowered),
                   "text": rule.matches(text_f.tokens, text_f.lowered)}
        units = unit_hits(matches["text"], text_f.units)
        if title_f.units:
            (unit,) = unit_hits(matches["title"], title_f.units)
            value, topical = unit_score(rule, unit)
            if topical:
                score += value * rule.title_weight
                evidence.append(Evidence("title", f"title on topic (unit score {value:.1f} x {rule.title_weight})",
                                         "title", None, None, value * rule.title_weight))
                evidence.extend(term_evidence(rule, unit, "title", 0.0, title))
            elif unit.hits and rule.lead_units:
                # The headline and the lead are read together ("Putin's stranglehold of wheat" + "farmers across
                # Ukraine ..."): a title term completes a topic the lead sentences only start.
                lead = units[: rule.lead_units]
                joined = UnitHits(0, 0, unit.hits + tuple(h for u in lead for h in u.hits))
                value, topical = unit_score(rule, joined)
                if topical and lead and any(h for u in lead for h in u.hits):
                    score += value * rule.title_weight
                    evidence.append(Evidence("title+lead", f"title and lead on topic together (unit score "
                                             f"{value:.1f} x {rule.title_weight})", "title", None, None,
                                             value * rule.title_weight))
                    evidence.extend(term_evidence(rule, unit, "title", 0.0, title))
        total = sum(u.end - u.start for u in units) or 1
        on_topic = [(i, unit) for i, unit in enumerate(units) if unit.hits and unit_score(rule, unit)[1]]
        if on_topic:
            share = sum(u.end - u.start for _, u in on_topic) / total
            density = rule.density_weight * share
            lead = rule.lead_weight * sum(1 for i, _ in on_topic if i < rule.lead_units)
            count = rule.unit_weight * min(len(on_topic), rule.unit_count_cap)
            score += density + lead + count
            evidence.append(Evidence("density", f"{len(on_topic)}/{len(units)} sentences on topic, "
                                     f"{share:.0%} of the text", "text", None, None, density))
            if lead:
                evidence.append(Evidence("lead", f"on topic in the first {rule.lead_units} sentences",
                                         "text", None, None, lead))
            evidence.append(Evidence("sentences", f"{len(on_topic)} on-topic sentences (capped at "
                                     f"{rule.unit_count_cap})", "text", None, None, count))
            for _, unit in on_topic[:8]:
                evidence.extend(term_evidence(rule, unit, "text", 0.0, text))
        lead_end = text_f.units[min(rule.lead_units, len(text_f.units)) - 1][1] if text_f.units else 0
        excluding = {field: [(a, b, idx) for a, b, g, idx in found if not g] for field, found in matches.items()}
        for i, ex in enumerate(rule.exclusions):
            for field, original in (("title", title), ("text", text)):
                hits = [(a, b) for a, b, idx in excluding[field] if idx == i
                        and (ex.scope != "lead" or field == "title" or a < lead_end)]
                if hits and (ex.scope in (field, "any") or ex.scope == "lead"):
                    a, b = min(hits)
                    score += ex.weight
                    evidence.append(Evidence("exclusion", f"{original[a:b]!r}: {ex.note}", field, a, b, ex.weight))
                    break
        score = round(score, 4)
        return TagDecision(rule.name, score >= rule.threshold, score, rule.threshold, tuple(evidence), ())

    # -- statement tags --------------------------------------------------------------------------------------
    def _statement_decision(self, rule: TagRule, title: str, text: str, title_f: _Field, text_f: _Field,
                            title_statements: list[RawStatement],
                            text_statements: list[RawStatement]) -> TagDecision:
        assert rule.statement is not None
        evidence: list[Evidence] = []
        qualifying: list[Statement] = []
        score = 0.0
        for field, original, masked, raws, weight in (
            ("title", title, title_f.lowered, title_statements, rule.title_weight),
            ("text", text, text_f.lowered, text_statements, rule.text_weight),
        ):
            # A feed entry's description is judged together with its headline.
            headline = title_f.lowered if field == "text" and len(text) <= _SHORT_TEXT else ""
            for raw in raws:
                statement = Statement(raw.speaker.name, raw.speaker.role_title, original[raw.start : raw.end],
                                      raw.start, raw.end, field)
                ok, why = self._qualifies(rule, raw, masked, headline)
                if ok:
                    score += weight
                    qualifying.append(statement)
                evidence.append(Evidence("statement" if ok else "rejected",
                                         f"{statement.label()}: {why}: {_short(statement.text)}", field,
                                         raw.start, raw.end, weight if ok else 0.0))
        score = round(min(score, rule.unit_cap), 4)
        return TagDecision(rule.name, score >= rule.threshold, score, rule.threshold, tuple(evidence),
                           tuple(qualifying))

    def _qualifies(self, rule: TagRule, raw: RawStatement, masked: str, headline: str) -> tuple[bool, str]:
        assert rule.statement is not None
        voice = raw.speaker.voice
        if voice not in rule.statement.voices:
            return False, f"speaker voice {voice!r} not counted"
        if not rule.statement.matter_group:
            return True, f"{voice} voice"
        entry = raw.speaker.body or raw.speaker.role
        if entry is not None and entry.key in rule.statement.matter_implied_for:
            return True, f"{voice} voice ({entry.title} speaks on defence matters by definition)"
        start = min(raw.sentence[0], raw.start)
        end = max(raw.sentence[1], raw.end)
        window = blank(masked[start:end], [(raw.mention[0] - start, raw.mention[1] - start)]) + "\n" + headline
        group = rule.groups[rule.statement.matter_group]
        terms = {idx for _s, _e, g, idx in rule.matches(tokenize(window), window) if g == group.name}
        weight = sum(group.weights[i] for i in terms)
        if weight < rule.statement.matter_min:
            return False, f"{voice} voice, but not on a {rule.statement.matter_group} matter"
        shown = ", ".join(sorted(group.terms[i] for i in terms)[:4])
        return True, f"{voice} voice on a {rule.statement.matter_group} matter ({shown})"


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
