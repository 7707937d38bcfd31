"""Fitting the tag model (:mod:`monitor.tagging.scoring`) on labelled items, and cross-validating it.

Per tag, a class-weighted, L2-regularised logistic regression (scikit-learn) over the rule features. The
regularisation strength and the decision threshold are chosen by an inner cross-validation on the training items
only (maximum F1 of the out-of-fold predictions), then the model is fitted on all training items. Class weighting
shifts the log-odds by log(negatives/positives); the intercept is corrected back, so the probabilities stay
calibrated to the training prior. Weights are stored in the features' own units.

A statement tag's model scores each statement the rules found; the item's probability is that of its best
statement. A statement counts as a positive example when its item is labelled with the tag and its speaker is one
of the item's labelled speakers (any speaker where none are listed). Where the items carry their statements quote
by quote (a statements labels file, :mod:`monitor.tagging.said`), a second model is fitted over the same features:
its target is "this statement is right by the matching rule", and its C and threshold are chosen by the same
inner cross-validation for the best F1 of the statements (quote by quote) of the items the first model tags. The
first model decides the tag; the second, which of a tagged item's statements are given.

scikit-learn is imported only here: a running monitor reads the fitted weights and needs none of it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from monitor.tagging.engine import Analysis, TagAnalysis, Tagger
from monitor.tagging.labelled import LabelledItem, speaker_key
from monitor.tagging.said import Said, is_right
from monitor.tagging.scoring import TagModel, TagWeights

C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
INNER_FOLDS = 5
SEED = 0


@dataclass(frozen=True)
class Example:
    """A labelled item with the rules' analysis of it."""

    item: LabelledItem
    analysis: Analysis


def analyse(tagger: Tagger, items: Sequence[LabelledItem],
            progress: Callable[[int], None] | None = None) -> list[Example]:
    out = []
    for item in items:
        out.append(Example(item, tagger.analyse(item.title, item.text, item.published)))
        if progress is not None:
            progress(1)
    return out


def with_statement_labels(tagger: Tagger, items: list[LabelledItem], labels: dict[str, list[Said]] | None
                          ) -> list[LabelledItem]:
    """The items with their statements quote by quote (``labels``, see :mod:`monitor.tagging.said`) for the
    tagger's statement tag: those ``labels`` lists, none for an item labelled without the tag, unknown (None) for
    an item labelled with it but not listed; unchanged without labels or a statement tag."""
    tag = next((rule.name for rule in tagger.rules if rule.statement is not None), None)
    if tag is None or labels is None:
        return items
    return [replace(item, statements=tuple(labels[item.id])) if item.id in labels else
            replace(item, statements=()) if item.labels.get(tag) is False else item for item in items]


def stratified_folds(examples: Sequence[Example], k: int, tags: Sequence[str], seed: int = SEED) -> list[list[int]]:
    """Indices of ``k`` held-out folds, stratified on the combination of the items' labels; deterministic."""
    from sklearn.model_selection import StratifiedKFold

    strata = [sum(int(ex.item.labels.get(t, False)) << i for i, t in enumerate(tags)) for ex in examples]
    # A combination rarer than k cannot be spread over k folds: it joins the most common one.
    counts = {s: strata.count(s) for s in set(strata)}
    common = max(counts, key=lambda s: counts[s])
    strata = [s if counts[s] >= k else common for s in strata]
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [list(test) for _, test in splitter.split(np.zeros(len(strata)), strata)]


def fit(tagger: Tagger, examples: Sequence[Example], meta: dict | None = None) -> TagModel:
    """Fit every tag that has labels among ``examples`` (C and threshold chosen by inner cross-validation)."""
    names = tagger.feature_names()
    tags: dict[str, TagWeights] = {}
    for position, (tag, (kind, features)) in enumerate(names.items()):
        rows = _rows(examples, position, tag, kind, features)
        if rows is None:
            continue
        tags[tag] = _fit_tag(kind, features, rows)
    info = {"created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **(meta or {})}
    return TagModel(tags, info)


@dataclass(frozen=True)
class _Rows:
    """One tag's training rows: features, targets, the item each row belongs to, and the items' labels."""

    x: np.ndarray
    y: np.ndarray
    owner: np.ndarray
    item_y: np.ndarray
    quote_y: np.ndarray | None  # statement tags: each statement right quote by quote (None: no such labels)


def _rows(examples: Sequence[Example], position: int, tag: str, kind: str, features: tuple[str, ...]) -> _Rows | None:
    """One tag's rows; None where too few items are labelled with it."""
    xs: list[list[float]] = []
    ys: list[int] = []
    quote_ys: list[int] = []
    owner: list[int] = []
    item_y: list[int] = []
    quoted = kind == "statement" and any(ex.item.statements is not None for ex in examples)
    for ex in examples:
        if tag not in ex.item.labels or (quoted and ex.item.statements is None):
            continue  # (an item of the tag whose statements are not marked cannot teach which are right)
        label = ex.item.labels[tag]
        index = len(item_y)
        item_y.append(int(label))
        analysis: TagAnalysis = ex.analysis.tags[position]
        if kind == "document":
            xs.append([analysis.features[f] for f in features])
            ys.append(int(label))
            owner.append(index)
            continue
        for cand in analysis.candidates:
            st = cand.statement
            xs.append([cand.features[f] for f in features])
            ys.append(int(label and (not ex.item.speakers or speaker_key(st.speaker, st.role) in ex.item.speakers)))
            if ex.item.statements is not None:
                quote_ys.append(int(is_right(Said(st.speaker, st.role, st.kind, st.text), ex.item.statements)))
            owner.append(index)
    if not item_y or len(set(item_y)) < 2 or len(set(ys)) < 2:
        return None
    quote_y = np.array(quote_ys) if quoted and len(set(quote_ys)) == 2 else None
    return _Rows(np.array(xs, dtype=float), np.array(ys), np.array(owner), np.array(item_y), quote_y)


def _fit_tag(kind: str, features: tuple[str, ...], rows: _Rows) -> TagWeights:
    from sklearn.model_selection import StratifiedKFold

    item_y = rows.item_y
    splitter = StratifiedKFold(n_splits=min(INNER_FOLDS, int(item_y.sum()), int((1 - item_y).sum())), shuffle=True,
                               random_state=SEED)
    folds = list(splitter.split(np.zeros(len(item_y)), item_y))
    best: tuple[float, float, float, np.ndarray] | None = None  # (F1, C, threshold, out-of-fold item p)
    for c in C_GRID:
        item_p = np.zeros(len(item_y))
        np.maximum.at(item_p, rows.owner, _out_of_fold(rows.x, rows.y, rows.owner, folds, c))
        f1, threshold = _best_threshold(item_p, item_y)
        if best is None or f1 > best[0] + 1e-9:
            best = (f1, c, threshold, item_p)
    assert best is not None
    _, c, threshold, item_p = best
    coef, intercept = _logistic(rows.x, rows.y, c)
    statements = None
    if rows.quote_y is not None:
        statements = _fit_statements(features, rows, folds, item_p[rows.owner] >= threshold)
    return TagWeights(kind, features, tuple(float(w) for w in coef), float(intercept), threshold, statements)


def _out_of_fold(x: np.ndarray, y: np.ndarray, owner: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                 c: float) -> np.ndarray:
    """Each row's probability from a model fitted on the other folds' items (0 where a fold cannot be fitted)."""
    p = np.zeros(len(y))
    for train_items, test_items in folds:
        train = np.isin(owner, train_items)
        test = np.isin(owner, test_items)
        if len(set(y[train])) < 2:
            continue
        p[test] = _probabilities(_logistic(x[train], y[train], c), x[test])
    return p


def _fit_statements(features: tuple[str, ...], rows: _Rows, folds: list[tuple[np.ndarray, np.ndarray]],
                    given: np.ndarray) -> TagWeights:
    """The model of which statements of an article given the tag are right, quote by quote: C and threshold by
    the best F1 of the statements of the items the tag's model gives (out of fold), over every right one."""
    assert rows.quote_y is not None
    y = rows.quote_y
    best: tuple[float, float, float] | None = None  # (F1, C, threshold)
    for c in C_GRID:
        p = _out_of_fold(rows.x, y, rows.owner, folds, c)
        f1, threshold = _best_threshold(p[given], y[given], positives=int(y.sum()))
        if best is None or f1 > best[0] + 1e-9:
            best = (f1, c, threshold)
    assert best is not None
    coef, intercept = _logistic(rows.x, y, best[1])
    return TagWeights("statement", features, tuple(float(w) for w in coef), float(intercept), best[2])


def _logistic(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Class-weighted logistic regression on standardised features, returned in raw units, prior-corrected."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((x - mean) / scale, y)
    coef = model.coef_[0] / scale
    intercept = float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum())
    positives = max(int(y.sum()), 1)
    negatives = max(len(y) - positives, 1)
    return coef, intercept + math.log(positives / negatives)


def _probabilities(weights: tuple[np.ndarray, float], x: np.ndarray) -> np.ndarray:
    coef, intercept = weights
    return 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))


def _best_threshold(p: np.ndarray, y: np.ndarray, positives: int | None = None) -> tuple[float, float]:
    """(best F1, threshold): the midpoint below the lowest probability of the best-F1 cut (a margin to new data).
    ``positives``: how many there are in all, where ``y`` is a part (default: ``y``'s)."""
    if not len(p):
        return 0.0, 0.5
    order = np.argsort(-p)
    sorted_p, sorted_y = p[order], y[order]
    tp = np.cumsum(sorted_y)
    k = np.arange(1, len(p) + 1)
    f1 = 2 * tp / (k + (y.sum() if positives is None else positives))
    # Only cut between distinct probabilities.
    valid = np.append(sorted_p[1:] < sorted_p[:-1], True)
    f1 = np.where(valid, f1, -1.0)
    i = int(np.argmax(f1))
    below = sorted_p[i + 1] if i + 1 < len(sorted_p) else 0.0
    threshold = float(min(max((sorted_p[i] + below) / 2, 0.02), 0.98))
    return float(f1[i]), threshold
