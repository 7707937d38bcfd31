"""Result types of the tagging engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    """A quote or attributed paraphrase by a UK government voice.

    ``start``/``end`` are character offsets of ``text`` in the field named by ``field``: ``"text"`` (the article
    text passed to ``Tagger.tag``, the default) or ``"title"`` (a headline statement, offsets into the title).
    ``kind`` is ``"direct"`` for words in quotation marks (or a block quote introduced "He said:"), else
    ``"indirect"`` (reported speech).
    """

    speaker: str | None
    role: str | None
    text: str
    start: int
    end: int
    field: str = "text"
    kind: str = "indirect"

    def as_dict(self) -> dict:
        """The fields as a dict (written out: ``dataclasses.asdict`` deep-copies, ~30x slower)."""
        return {"speaker": self.speaker, "role": self.role, "text": self.text, "start": self.start,
                "end": self.end, "field": self.field, "kind": self.kind}

    def label(self) -> str:
        """Speaker as shown to humans: "Ben Wallace (Defence Secretary)" or "Ministry of Defence"."""
        if self.speaker and self.role:
            return f"{self.speaker} ({self.role})"
        return self.speaker or self.role or "unknown speaker"


@dataclass(frozen=True)
class Evidence:
    """One reason contributing to (or explaining) a tag decision."""

    kind: str
    text: str
    field: str
    start: int | None
    end: int | None
    weight: float

    def as_dict(self) -> dict:
        """The fields as a dict (see :meth:`Statement.as_dict`)."""
        return {"kind": self.kind, "text": self.text, "field": self.field, "start": self.start, "end": self.end,
                "weight": self.weight}


@dataclass(frozen=True)
class TagDecision:
    """Whether one tag was given, with the score and the evidence behind it."""

    tag: str
    given: bool
    score: float
    threshold: float
    evidence: tuple[Evidence, ...]
    statements: tuple[Statement, ...]

    def as_dict(self) -> dict:
        return {
            "tag": self.tag,
            "given": self.given,
            "score": self.score,
            "threshold": self.threshold,
            "evidence": [e.as_dict() for e in self.evidence],
            "statements": [s.as_dict() for s in self.statements],
        }

    def explain(self) -> str:
        """Multi-line human explanation of why the tag was or was not given.

        With a fitted model: the probability against the model's threshold, each feature's weight × value
        (log-odds), then the rule evidence the features measure; without one, the rule score and its evidence.
        """
        verdict = "GIVEN" if self.given else "NOT GIVEN"
        relation = ">=" if self.given else "<"
        fitted = [e for e in self.evidence if e.kind in ("model", "feature")]
        rules = [e for e in self.evidence if e.kind not in ("model", "feature")]
        measure = "p =" if fitted else "score"
        lines = [f"{self.tag}: {verdict} ({measure} {self.score:.2f} {relation} threshold {self.threshold:.2f})"]
        if fitted:
            lines.append("  model (log-odds; weight x value):")
            lines.extend(f"  {ev.weight:+6.2f}  {ev.kind:<10} {ev.text}" for ev in fitted)
            lines.append("  evidence:")
        for ev in sorted(rules, key=lambda e: (e.field != "title", -abs(e.weight))):
            where = f"{ev.field}[{ev.start}:{ev.end}]" if ev.start is not None else ev.field
            lines.append(f"  {ev.weight:+6.2f}  {ev.kind:<10} {where:<18} {ev.text}")
        if not rules:
            lines.append("  (no evidence found)")
        for st in self.statements:
            snippet = st.text if len(st.text) <= 120 else st.text[:117] + "..."
            lines.append(f"  statement by {st.label()} {st.field}[{st.start}:{st.end}]: {snippet}")
        return "\n".join(lines)


@dataclass(frozen=True)
class TaggingResult:
    """All tag decisions for one article plus the UK defence-voice statements found in it."""

    decisions: tuple[TagDecision, ...]
    statements: tuple[Statement, ...]

    @property
    def tags(self) -> list[str]:
        return [d.tag for d in self.decisions if d.given]

    def tags_configured(self) -> list[str]:
        """Every tag decided (given or not), in configuration order."""
        return [d.tag for d in self.decisions]

    def decision(self, tag: str) -> TagDecision:
        """The decision for ``tag`` (KeyError if the tag is not configured)."""
        for d in self.decisions:
            if d.tag == tag:
                return d
        raise KeyError(tag)
