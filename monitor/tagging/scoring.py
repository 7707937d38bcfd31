"""The fitted tag model: per tag, a logistic regression over the rule features, read from a small JSON file.

The rules (config/tags.toml, config/officials.toml) find evidence and measure it as named features; the model
turns those features into a probability. Weights are stored in the features' own units (no scaler to apply), so
a feature's contribution to the log-odds is simply ``weight × value`` — what ``monitor tags explain`` prints.

File format (``FORMAT``, version ``VERSION``)::

    {"format": "monitor-tag-model", "version": 1, "created": "...", "training": {...},
     "tags": {"<tag>": {"kind": "document" | "statement", "features": [...], "weights": [...],
                        "intercept": -1.2, "threshold": 0.45}}}

A ``document`` model scores the article; a ``statement`` model scores each statement the rules found, and the
tag is given when one statement's probability reaches the threshold (its statements are those that do).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.tagging.errors import TaggingConfigError

FORMAT = "monitor-tag-model"
VERSION = 1
KINDS = ("document", "statement")


class ModelFileError(TaggingConfigError):
    """The model file is missing, corrupt, of another version or does not fit the configured rules."""


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: float
    weight: float

    @property
    def amount(self) -> float:
        return self.value * self.weight


@dataclass(frozen=True)
class TagWeights:
    """One tag's fitted logistic regression."""

    kind: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float
    # A statement tag fitted on statements quote by quote: the model of which statements of an article given the
    # tag are right (its own weights and threshold); None: this model's threshold decides both.
    statements: TagWeights | None = None

    def logit(self, values: dict[str, float]) -> float:
        return self.intercept + sum(w * values[f] for f, w in zip(self.features, self.weights, strict=True))

    def probability(self, values: dict[str, float]) -> float:
        z = self.logit(values)
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def contributions(self, values: dict[str, float]) -> list[Contribution]:
        """Every feature's part of the log-odds, largest first (zero parts left out)."""
        parts = [Contribution(f, values[f], w) for f, w in zip(self.features, self.weights, strict=True)]
        return sorted((c for c in parts if c.amount), key=lambda c: -abs(c.amount))

    def as_dict(self) -> dict[str, Any]:
        # Floats are written exactly (repr), so a loaded model gives the very probabilities of the fitted one.
        out = {"kind": self.kind, "features": list(self.features), "weights": list(self.weights),
               "intercept": self.intercept, "threshold": self.threshold}
        if self.statements is not None:
            out["statements"] = self.statements.as_dict()
        return out


@dataclass(frozen=True)
class TagModel:
    """Fitted weights for some or all tags; tags without weights are decided by their rule's threshold."""

    tags: dict[str, TagWeights]
    meta: dict[str, Any] = field(default_factory=dict)

    def check(self, expected: dict[str, tuple[str, tuple[str, ...]]], source: str) -> None:
        """Raise :class:`ModelFileError` unless every tag's kind and feature names are what the rules produce."""
        for tag, weights in self.tags.items():
            if tag not in expected:
                raise ModelFileError(f"{source}: has weights for tag {tag!r}, which the tag rules do not define "
                                     "(retrain with `monitor train`)")
            kind, names = expected[tag]
            if weights.kind != kind:
                raise ModelFileError(f"{source}: tag {tag!r} is a {kind} tag, the file has {weights.kind} weights")
            if weights.features != names:
                missing = sorted(set(names) - set(weights.features))
                extra = sorted(set(weights.features) - set(names))
                what = "; ".join(filter(None, [f"missing {', '.join(missing[:3])}" if missing else "",
                                               f"unknown {', '.join(extra[:3])}" if extra else ""])) or "order"
                raise ModelFileError(f"{source}: tag {tag!r} was trained on other features than the rules produce "
                                     f"({what}); retrain with `monitor train`")

    def to_json(self) -> str:
        data = {"format": FORMAT, "version": VERSION, **self.meta,
                "tags": {t: w.as_dict() for t, w in self.tags.items()}}
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    def save(self, path: Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TagModel:
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelFileError(f"{path}: model file not found (train one with `monitor train FILE…`, or set "
                                 "[tagging] model_file = \"\" to decide by the rules' thresholds)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{path}: cannot read the model file: {exc}") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path}: not a valid model file (bad JSON: {exc})") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str) -> TagModel:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelFileError(f"{source}: not a monitor tag model (no \"format\": \"{FORMAT}\")")
        if data.get("version") != VERSION:
            raise ModelFileError(f"{source}: model version {data.get('version')!r}, this monitor reads version "
                                 f"{VERSION}; retrain with `monitor train`")
        tags = data.get("tags")
        if not isinstance(tags, dict) or not tags:
            raise ModelFileError(f"{source}: \"tags\" must be a non-empty object")
        parsed = {}
        for tag, entry in tags.items():
            parsed[tag] = _weights(entry, f"{source}: tags.{tag}")
        meta = {k: v for k, v in data.items() if k not in ("format", "version", "tags")}
        return cls(parsed, meta)


def _weights(entry: Any, where: str) -> TagWeights:
    if not isinstance(entry, dict):
        raise ModelFileError(f"{where} must be an object")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ModelFileError(f"{where}.kind must be one of {', '.join(KINDS)}")
    features, weights = entry.get("features"), entry.get("weights")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features) or not features:
        raise ModelFileError(f"{where}.features must be a list of feature names")
    if not isinstance(weights, list) or len(weights) != len(features) or not all(_number(w) for w in weights):
        raise ModelFileError(f"{where}.weights must be {len(features)} numbers, one per feature")
    intercept, threshold = entry.get("intercept"), entry.get("threshold")
    if not _number(intercept):
        raise ModelFileError(f"{where}.intercept must be a number")
    if not _number(threshold) or not 0.0 < threshold < 1.0:
        raise ModelFileError(f"{where}.threshold must be a probability between 0 and 1")
    statements = None
    if entry.get("statements") is not None:
        statements = _weights(entry["statements"], f"{where}.statements")
        if kind != "statement" or statements.kind != "statement" or statements.features != tuple(features):
            raise ModelFileError(f"{where}.statements: only a statement tag has one, over the same features")
    return TagWeights(kind, tuple(features), tuple(float(w) for w in weights), float(intercept), float(threshold),
                      statements)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
