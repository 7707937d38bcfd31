"""The Tagger: applies the rules of config/tags.toml and the officials of config/officials.toml."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.tagging.errors import TaggingConfigError
from monitor.tagging.model import Evidence, Statement, TagDecision, TaggingResult
from monitor.tagging.officials import Officials, load_officials
from monitor.tagging.rules import (
    Masks,
    TagRule,
    UnitHits,
    compile_masks,
    parse_tag,
    term_evidence,
    unit_hits,
    unit_score,
)
from monitor.tagging.scoring import TagModel, TagWeights
from monitor.tagging.statements import RawStatement, StatementExtractor, headline_context
from monitor.tagging.text import Tokens, blank, clean, lower_same_length, sentences, tokenize

_SHORT_TEXT = 600  # a text this short is a feed entry's description


@dataclass(frozen=True)
class _Field:
    """One prepared field: masked text, its lower-cased form, units (title: one; text: sentences) and, per tag, the
    lower-cased form its terms are matched in (with the masks limited to that tag) and its tokens (keyword tags)."""

    masked: str
    lowered: str
    units: list[tuple[int, int]]
    views: dict[str, tuple[str, Tokens | None]]


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise TaggingConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaggingConfigError(f"{path}: not valid TOML: {exc}") from None


@dataclass(frozen=True)
class Candidate:
    """A statement the rules found, with the rule's verdict and the features the fitted model scores it on."""

    statement: Statement
    rule_ok: bool
    why: str
    weight: float  # the rule's weight for a qualifying statement in this field
    features: dict[str, float]


@dataclass(frozen=True)
class TagAnalysis:
    """What the rules found for one tag: the rule score and evidence, and the model's features."""

    rule: TagRule
    score: float
    evidence: tuple[Evidence, ...]
    features: dict[str, float]  # document features (keyword tags)
    candidates: tuple[Candidate, ...] = ()  # statement tags


@dataclass(frozen=True)
class Analysis:
    """The rule analysis of one article, before any decision: :meth:`Tagger.decide` turns it into tags."""

    tags: tuple[TagAnalysis, ...]


# What the model weighs, for a statement: who speaks (voice, a body or a person), on what (defence terms in the
# words attributed; bodies that speak on defence by definition), where (the headline), the rule's verdict, and how
# much the article is about each keyword tag's topic.
STATEMENT_FEATURES = (
    "rule.qualifies", "voice.defence", "voice.government", "speaker.body", "matter.implied", "matter.statement",
    "other.statement", "statement.title",
)


def document_features(rule: TagRule) -> tuple[str, ...]:
    """The names of a keyword tag's document features, in model order: the rule score and its parts."""
    names = ["rule.score", "title.score", "title.on_topic", "text.on_topic_share", "text.lead_on_topic",
             "text.on_topic_sentences", "text.short"]
    return tuple(names + [f"exclusion.{i}" for i in range(len(rule.exclusions))])


class Tagger:
    """Tags articles; build once (``from_files``) and call :meth:`tag` per article. Picklable.

    The rules find evidence and measure it (:meth:`analyse`); a fitted model, where one is loaded, turns the
    measurements into a probability per tag (:meth:`decide`). Without a model each tag is given when its rule
    score reaches the rule's threshold.
    """

    def __init__(self, rules: tuple[TagRule, ...], masks: Masks, officials: Officials,
                 model: TagModel | None = None) -> None:
        self.rules = rules
        self.masks = masks
        self.officials = officials
        self.extractor = StatementExtractor(officials)
        self.model = model

    @classmethod
    def from_files(cls, tags_path: Path, officials_path: Path, model_path: Path | None = None) -> Tagger:
        """Load the config files (and the model file, if named); errors name the file and key."""
        tags_path, officials_path = Path(tags_path), Path(officials_path)
        data = _load_toml(tags_path)
        tags = data.get("tags")
        if not isinstance(tags, dict) or not tags:
            raise TaggingConfigError(f"{tags_path}: needs at least one [tags.<name>] table")
        unknown = set(data) - {"tags", "mask"}
        if unknown:
            raise TaggingConfigError(f"{tags_path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
        rules = tuple(parse_tag(name, table, str(tags_path)) for name, table in tags.items())
        masks = compile_masks(data.get("mask", []), str(tags_path), {r.name for r in rules})
        officials = load_officials(officials_path)
        keys = officials.roles.keys() | officials.bodies.keys()
        for rule in rules:
            unknown_keys = (rule.statement.matter_implied_for - keys) if rule.statement else set()
            if unknown_keys:
                raise TaggingConfigError(f"{tags_path}: tags.{rule.name}.statement.matter_implied_for names "
                                         f"unknown officials key(s) {', '.join(sorted(unknown_keys))}")
        tagger = cls(rules, masks, officials)
        if model_path is not None:
            model = TagModel.load(Path(model_path))
            model.check(tagger.feature_names(), str(model_path))
            tagger.model = model
        return tagger

    def feature_names(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Per tag: ("document" or "statement", the feature names a model for it must use, in order)."""
        topics = tuple(f"article.topic.{r.name}" for r in self.rules if r.statement is None)
        return {r.name: ("statement", STATEMENT_FEATURES + topics) if r.statement else
                ("document", document_features(r)) for r in self.rules}

    def tag(self, title: str | None, text: str, published: dt.datetime | None) -> TaggingResult:
        """Decide every configured tag for one article."""
        return self.decide(self.analyse(title, text, published))

    def analyse(self, title: str | None, text: str, published: dt.datetime | None) -> Analysis:
        """Run the rules on one article: evidence, rule scores, statements and the model's features."""
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
        # A feed entry's description is judged together with its headline (the story of it naming an official).
        headline = headline_context(title_f.masked, scans[0]) if len(text) <= _SHORT_TEXT else (0, 0)
        analyses = [self._keyword_analysis(rule, title, text, title_f, text_f)
                    for rule in self.rules if rule.statement is None]
        topics = {f"article.topic.{a.rule.name}": min(a.score / a.rule.threshold, 2.0) for a in analyses}
        keyword = iter(analyses)
        out = []
        for rule in self.rules:
            if rule.statement is not None:
                out.append(self._statement_analysis(rule, title, text, title_f, text_f, title_statements,
                                                    text_statements, topics, headline))
            else:
                out.append(next(keyword))
        return Analysis(tuple(out))

    def decide(self, analysis: Analysis, model: TagModel | None = None) -> TaggingResult:
        """The tags of an analysed article: by the fitted model where it has weights, else by rule threshold."""
        model = model or self.model
        decisions = []
        found: dict[Statement, None] = {}
        for tag in analysis.tags:
            weights = model.tags.get(tag.rule.name) if model is not None else None
            if tag.rule.statement is not None:
                decision = _statement_decision(tag, weights)
                found.update(dict.fromkeys(decision.statements))
            else:
                decision = _document_decision(tag, weights)
            decisions.append(decision)
        return TaggingResult(tuple(decisions), tuple(found))

    def _prepare(self, text: str, units: list[tuple[int, int]] | None) -> _Field:
        """Clean, mask, lower-case and tokenize one field (HTML and masked spans blanked, offsets unchanged)."""
        cleaned = clean(text)
        lowered = lower_same_length(cleaned)
        found = self.masks.matcher.find(lowered)
        every = [(a, b) for a, b, i in found if self.masks.tags[i] is None]
        lowered = blank(lowered, every)
        masked = blank(cleaned, every)
        views: dict[str, tuple[str, Tokens | None]] = {}
        tokens: dict[tuple[tuple[int, int], ...], Tokens] = {}  # one tokenization per distinct set of masks
        for rule in self.rules:
            limited = tuple((a, b) for a, b, i in found if (t := self.masks.tags[i]) is not None and rule.name in t)
            view = blank(lowered, list(limited)) if limited else lowered
            if rule.statement is None and limited not in tokens:
                tokens[limited] = tokenize(view)
            views[rule.name] = (view, tokens[limited] if rule.statement is None else None)
        return _Field(masked, lowered, sentences(masked) if units is None else units, views)

    # -- keyword tags ----------------------------------------------------------------------------------------
    def _keyword_analysis(self, rule: TagRule, title: str, text: str, title_f: _Field,
                          text_f: _Field) -> TagAnalysis:
        evidence: list[Evidence] = []
        features = dict.fromkeys(document_features(rule), 0.0)
        score = 0.0
        matches = {field: rule.matches(tokens, lowered) for field, (lowered, tokens) in
                   (("title", title_f.views[rule.name]), ("text", text_f.views[rule.name])) if tokens is not None}
        fired = self._exclusions(rule, text_f, matches)
        muted = frozenset().union(*(rule.exclusions[i].mutes for i, *_ in fired))
        if muted:  # e.g. sport coverage: "attack", "defence", "battle" are the game's words
            matches = {field: [m for m in found if m[2] not in muted] for field, found in matches.items()}
        units = unit_hits(matches["text"], text_f.units)
        if not rule.anchored({g for found in matches.values() for _a, _b, g, _i in found if g}):
            # Nothing anywhere ties the article to the subject (Russia and Nato, but never Ukraine, the war or a
            # sanction): no unit is on topic, and the headline's terms measure nothing.
            units = [UnitHits(u.start, u.end, ()) for u in units]
            title_f = _Field(title_f.masked, title_f.lowered, [], title_f.views)
            evidence.append(Evidence("unanchored", "the article never ties itself to the subject (no terms of "
                                     + " or ".join("+".join(c) for c in rule.anchor_when) + ")", "text", None,
                                     None, 0.0))
        if title_f.units:
            (unit,) = unit_hits(matches["title"], title_f.units)
            value, topical = unit_score(rule, unit)
            features["title.score"] = value
            if topical:
                features["title.on_topic"] = 1.0
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
            in_lead = sum(1 for i, _ in on_topic if i < rule.lead_units)
            features["text.on_topic_share"] = share
            features["text.lead_on_topic"] = in_lead / max(rule.lead_units, 1)
            features["text.on_topic_sentences"] = min(len(on_topic), rule.unit_count_cap) / rule.unit_count_cap
            density = rule.density_weight * share
            lead = rule.lead_weight * in_lead
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
        for i, field, a, b in fired:
            ex = rule.exclusions[i]
            original = title if field == "title" else text
            score += ex.weight
            features[f"exclusion.{i}"] = 1.0
            muting = f" (terms of {', '.join(sorted(ex.mutes))} not counted)" if ex.mutes else ""
            evidence.append(Evidence("exclusion", f"{original[a:b]!r}: {ex.note}{muting}", field, a, b, ex.weight))
        score = round(score, 4)
        features["rule.score"] = max(min(score / rule.threshold, 3.0), -1.0)
        features["text.short"] = 1.0 if len(text) <= _SHORT_TEXT else 0.0
        return TagAnalysis(rule, score, tuple(evidence), features)

    @staticmethod
    def _exclusions(rule: TagRule, text_f: _Field,
                    matches: dict[str, list[tuple[int, int, str, int]]]) -> list[tuple[int, str, int, int]]:
        """(exclusion index, field, start, end of its first match) of every exclusion that fires."""
        lead_end = text_f.units[min(rule.lead_units, len(text_f.units)) - 1][1] if text_f.units else 0
        excluding = {field: [(a, b, idx) for a, b, g, idx in found if not g] for field, found in matches.items()}
        fired = []
        for i, ex in enumerate(rule.exclusions):
            for field in ("title", "text"):
                hits = [(a, b) for a, b, idx in excluding[field] if idx == i
                        and (ex.scope != "lead" or field == "title" or a < lead_end)]
                if hits and (ex.scope in (field, "any") or ex.scope == "lead"):
                    fired.append((i, field, *min(hits)))
                    break
        return fired

    # -- statement tags --------------------------------------------------------------------------------------
    def _statement_analysis(self, rule: TagRule, title: str, text: str, title_f: _Field, text_f: _Field,
                            title_statements: list[RawStatement], text_statements: list[RawStatement],
                            topics: dict[str, float], headline: tuple[int, int]) -> TagAnalysis:
        assert rule.statement is not None
        candidates: list[Candidate] = []
        score = 0.0
        context = title_f.views[rule.name][0][headline[0] : headline[1]]
        in_headline = self._group_terms(rule, context) if context else {}
        for field, original, fld, raws, weight in (
            ("title", title, title_f, title_statements, rule.title_weight),
            ("text", text, text_f, text_statements, rule.text_weight),
        ):
            for raw in raws:
                statement = Statement(raw.speaker.name, raw.speaker.role_title, original[raw.start : raw.end],
                                      raw.start, raw.end, field, raw.kind)
                found = self._group_terms(rule, fld.views[rule.name][0][raw.start : raw.end])  # the words attributed
                if field == "text" and in_headline:
                    found_or_heard = {g: found.get(g, set()) | in_headline.get(g, set())
                                      for g in found.keys() | in_headline}
                else:
                    found_or_heard = found
                ok, why = self._qualifies(rule, raw, found_or_heard)
                if ok:
                    score += weight
                features = self._statement_features(rule, raw, found, field, ok) | topics
                candidates.append(Candidate(statement, ok, why, weight, features))
        evidence = tuple(Evidence("statement" if c.rule_ok else "rejected",
                                  f"{c.statement.label()}: {c.why}: {_short(c.statement.text)}", c.statement.field,
                                  c.statement.start, c.statement.end, c.weight if c.rule_ok else 0.0)
                         for c in candidates)
        return TagAnalysis(rule, round(min(score, rule.unit_cap), 4), evidence, {}, tuple(candidates))

    @staticmethod
    def _statement_features(rule: TagRule, raw: RawStatement, found: dict[str, set[int]], field: str,
                            ok: bool) -> dict[str, float]:
        assert rule.statement is not None
        speaker = raw.speaker
        entry = speaker.body or speaker.role
        st = rule.statement
        return {
            "rule.qualifies": 1.0 if ok else 0.0,
            "voice.defence": 1.0 if speaker.voice == "defence" else 0.0,
            "voice.government": 1.0 if speaker.voice == "government" else 0.0,
            "speaker.body": 1.0 if speaker.body is not None else 0.0,
            "matter.implied": 1.0 if entry is not None and entry.key in st.matter_implied_for else 0.0,
            "matter.statement": min(_weight(rule, st.matter_group, found), 3.0),
            "other.statement": min(_weight(rule, st.other_group, found), 3.0),
            "statement.title": 1.0 if field == "title" else 0.0,
        }

    @staticmethod
    def _group_terms(rule: TagRule, window: str) -> dict[str, set[int]]:
        """The indices of the terms of each of the rule's groups found in ``window`` (lower-cased)."""
        found: dict[str, set[int]] = {}
        for _s, _e, group, idx in rule.matches(tokenize(window), window):
            if group:
                found.setdefault(group, set()).add(idx)
        return found

    @staticmethod
    def _qualifies(rule: TagRule, raw: RawStatement, found: dict[str, set[int]]) -> tuple[bool, str]:
        """The rule's verdict on one statement; ``found``: the terms in the words attributed (and, for a feed
        entry's description, in its headline's story)."""
        assert rule.statement is not None
        voice = raw.speaker.voice
        if voice not in rule.statement.voices:
            return False, f"speaker voice {voice!r} not counted"
        if not rule.statement.matter_group:
            return True, f"{voice} voice"
        entry = raw.speaker.body or raw.speaker.role
        if entry is not None and entry.key in rule.statement.matter_implied_for:
            return True, f"{voice} voice ({entry.title} speaks on defence matters by definition)"
        # What the attributed words say decides the matter, not a war word elsewhere in the sentence.
        group = rule.statement.matter_group
        if _weight(rule, group, found) < rule.statement.matter_min:
            return False, f"{voice} voice, but the words attributed name no term of the {group!r} group"
        terms = sorted(rule.groups[group].terms[i] for i in found.get(group, ()))
        return True, f"{voice} voice; the words attributed are on the {group!r} terms ({', '.join(terms[:4])})"


def _weight(rule: TagRule, group: str, found: dict[str, set[int]]) -> float:
    """Total weight of a group's terms among ``found`` (0 for no group: a rule may name none)."""
    return sum(rule.groups[group].weights[i] for i in found.get(group, ())) if group else 0.0


def _document_decision(tag: TagAnalysis, weights: TagWeights | None) -> TagDecision:
    rule = tag.rule
    if weights is None:
        return TagDecision(rule.name, tag.score >= rule.threshold, tag.score, rule.threshold, tag.evidence, ())
    p = weights.probability(tag.features)
    evidence = _contribution_evidence(weights, tag.features, "text") + tag.evidence
    return TagDecision(rule.name, p >= weights.threshold, round(p, 4), weights.threshold, evidence, ())


def _statement_decision(tag: TagAnalysis, weights: TagWeights | None) -> TagDecision:
    rule = tag.rule
    if weights is None:
        qualifying = tuple(c.statement for c in tag.candidates if c.rule_ok)
        return TagDecision(rule.name, tag.score >= rule.threshold, tag.score, rule.threshold, tag.evidence,
                           qualifying)
    scored = [(weights.probability(c.features), c) for c in tag.candidates]
    given = any(p >= weights.threshold for p, _c in scored)
    kept = [p >= weights.threshold for p, _c in scored]
    right: list[str] = [""] * len(scored)
    if given and weights.statements is not None:
        # The article has the tag; which of its statements are right is the statements model's call (the one
        # that gave the tag is kept if it finds none).
        quote = weights.statements
        right_p = [quote.probability(c.features) for _p, c in scored]
        right = [f", right p={q:.2f} (statements model, threshold {quote.threshold:.2f})" for q in right_p]
        kept = [q >= quote.threshold for q in right_p]
        if not any(kept):
            top = max(p for p, _c in scored)
            kept = [p == top for p, _c in scored]
    qualifying = tuple(c.statement for k, (_p, c) in zip(kept, scored, strict=True) if k) if given else ()
    evidence: list[Evidence] = []
    best = max(scored, key=lambda pc: pc[0], default=None)
    if best is not None:
        evidence.extend(_contribution_evidence(weights, best[1].features, best[1].statement.field))
    for k, (p, c), why in zip(kept, scored, right, strict=True):
        s = c.statement
        evidence.append(Evidence("statement" if given and k else "rejected",
                                 f"{s.label()}: p={p:.2f}{why}; {c.why}: {_short(s.text)}", s.field, s.start,
                                 s.end, round(p, 4)))
    score = round(best[0], 4) if best is not None else 0.0
    return TagDecision(rule.name, given, score, weights.threshold, tuple(evidence), qualifying)


def _contribution_evidence(weights: TagWeights, values: dict[str, float], field: str) -> tuple[Evidence, ...]:
    """The model's reasons: the intercept and each feature's weight × value (log-odds), largest first."""
    out = [Evidence("model", f"baseline log-odds (intercept); threshold p >= {weights.threshold:.2f}", field, None,
                    None, round(weights.intercept, 4))]
    out.extend(Evidence("feature", f"{c.feature} = {c.value:.3g} x weight {c.weight:+.3f}", field, None, None,
                        round(c.amount, 4)) for c in weights.contributions(values))
    return tuple(out)


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
