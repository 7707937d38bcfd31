"""The fitted tag model, its file, training and cross-validated evaluation, on the project's own small fixtures."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from monitor.tagging import Tagger, TaggingConfigError
from monitor.tagging.labelled import LabelledDataError, load
from monitor.tagging.said import load_labels
from monitor.tagging.scoring import ModelFileError, TagModel
from monitor.tagging.training import analyse, fit, stratified_folds, with_statement_labels
from tests.test_cli import monitor

CONFIG = Path(__file__).resolve().parents[1] / "config"
TAGS = ["ukraine-war", "uk-defence-statement"]

_WAR = [
    "Russian missiles struck Kharkiv overnight as the invasion of Ukraine entered its third month.",
    "Ukrainian forces pushed back Russian troops near Kherson after days of heavy shelling.",
    "The war in Ukraine has forced millions of refugees to flee towards Poland.",
]
_OTHER = [
    "The council approved a new cycle lane along the high street after a long consultation.",
    "Shares in the retailer rose after it reported strong Christmas trading.",
    "The museum reopened its dinosaur gallery with three new skeletons on display.",
]
_STATEMENT = 'Defence Secretary Ben Wallace said: "We will send more anti-tank weapons to Ukraine."'
_OFF_MATTER = "Prime Minister Boris Johnson said the new bus routes would be ready by the summer."


def _items(n: int = 48, seed: int = 7) -> list[dict]:
    """Labelled items in the shared format, built from templates (deterministic)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        war, statement = i % 2 == 0, i % 4 == 0
        body = [rng.choice(_WAR if war else _OTHER) for _ in range(3)]
        if statement:
            body.insert(1, _STATEMENT)
        elif i % 3 == 0:
            body.insert(1, _OFF_MATTER)
        speakers = [{"name": "Ben Wallace", "role": "Defence Secretary"}] if statement else []
        out.append({"id": f"item-{i}", "title": ("Ukraine war update " if war else "Local news ") + str(i),
                    "text": " ".join(body), "published": "2022-04-01T10:00:00Z",
                    "labels": {"ukraine-war": int(war), "uk-defence-statement": int(statement)},
                    "speakers": speakers, "confidence": "high"})
    return out


def _write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(it) + "\n" for it in items), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rules() -> Tagger:
    return Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml")


@pytest.fixture(scope="module")
def fitted(rules: Tagger, tmp_path_factory: pytest.TempPathFactory) -> TagModel:
    path = _write(tmp_path_factory.mktemp("labels") / "labels.jsonl", _items())
    return fit(rules, analyse(rules, load([path], TAGS)))


def test_model_round_trips_through_its_file_with_identical_probabilities(rules: Tagger, fitted: TagModel,
                                                                         tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    fitted.save(path)
    loaded = Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml", path)
    assert loaded.model is not None
    for item in _items(12, seed=99):
        analysis = rules.analyse(item["title"], item["text"], datetime(2022, 4, 1))
        before, after = rules.decide(analysis, fitted), loaded.decide(analysis)
        assert [(d.tag, d.given, d.score, d.threshold) for d in before.decisions] == \
               [(d.tag, d.given, d.score, d.threshold) for d in after.decisions]
    assert json.loads(path.read_text())["version"] == 1


def test_fitted_model_separates_the_fixture_and_explains_itself(rules: Tagger, fitted: TagModel) -> None:
    war = rules.decide(rules.analyse("Ukraine war update", " ".join(_WAR) + " " + _STATEMENT,
                                     datetime(2022, 4, 1)), fitted)
    calm = rules.decide(rules.analyse("Local news", " ".join(_OTHER), datetime(2022, 4, 1)), fitted)
    assert sorted(war.tags) == sorted(TAGS) and calm.tags == []
    decision = war.decision("ukraine-war")
    assert 0.0 < decision.score <= 1.0 and decision.threshold == fitted.tags["ukraine-war"].threshold
    kinds = [e.kind for e in decision.evidence]
    assert "model" in kinds and "feature" in kinds and "title" in kinds  # weights beside the rule evidence
    feature = next(e for e in decision.evidence if e.kind == "feature")
    assert " x weight " in feature.text
    explained = decision.explain()
    assert "feature" in explained and "p =" in explained
    statement = war.decision("uk-defence-statement")
    assert [s.speaker for s in statement.statements] == ["Ben Wallace"]


def test_probabilities_are_calibrated_to_the_training_prior(rules: Tagger, fitted: TagModel,
                                                            tmp_path: Path) -> None:
    items = load([_write(tmp_path / "l.jsonl", _items())], TAGS)
    examples = analyse(rules, items)
    mean = sum(rules.decide(ex.analysis, fitted).decision("ukraine-war").score for ex in examples) / len(examples)
    share = sum(it.labels["ukraine-war"] for it in items) / len(items)
    assert abs(mean - share) < 0.1


@pytest.mark.parametrize(("content", "message"), [
    (None, "model file not found"),
    ("{not json", "bad JSON"),
    ('{"format": "something else"}', "not a monitor tag model"),
    ('{"format": "monitor-tag-model", "version": 99, "tags": {}}', "model version 99"),
    ('{"format": "monitor-tag-model", "version": 1, "tags": {"ukraine-war": {"kind": "document", '
     '"features": ["rule.score"], "weights": [1.0], "intercept": 0.0, "threshold": 0.5}}}', "other features"),
    ('{"format": "monitor-tag-model", "version": 1, "tags": {"no-such-tag": {"kind": "document", '
     '"features": ["x"], "weights": [1.0], "intercept": 0.0, "threshold": 0.5}}}', "rules do not define"),
    ('{"format": "monitor-tag-model", "version": 1, "tags": {"ukraine-war": {"kind": "document", '
     '"features": ["x"], "weights": [1.0, 2.0], "intercept": 0.0, "threshold": 0.5}}}', "one per feature"),
    ('{"format": "monitor-tag-model", "version": 1, "tags": {"ukraine-war": {"kind": "document", '
     '"features": ["x"], "weights": [1.0], "intercept": 0.0, "threshold": 1.5}}}', "between 0 and 1"),
    ('{"format": "monitor-tag-model", "version": 1, "tags": {"ukraine-war": {"kind": "document", '
     '"features": ["x"], "weights": [1.0], "intercept": 0.0, "threshold": 0.5, "statements": {"kind": "document", '
     '"features": ["x"], "weights": [1.0], "intercept": 0.0, "threshold": 0.5}}}}', "only a statement tag has one"),
])
def test_bad_model_file_is_a_one_line_error_naming_the_file(tmp_path: Path, content: str | None,
                                                            message: str) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFileError) as info:
        Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml", path)
    assert isinstance(info.value, TaggingConfigError)
    assert str(path) in str(info.value) and message in str(info.value) and "\n" not in str(info.value)


def test_cli_reports_a_mismatched_model_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.json"
    model.write_text('{"format": "monitor-tag-model", "version": 1, "tags": {"ukraine-war": {"kind": "statement", '
                     '"features": ["x"], "weights": [1.0], "intercept": 0.0, "threshold": 0.5}}}')
    labels = _write(tmp_path / "labels.jsonl", _items(8))
    monkeypatch.setenv("MONITOR_TAGGING_MODEL_FILE", str(model))
    result = monitor("eval", "relevance", str(labels), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"monitor: error: {model}: tag 'ukraine-war' is a document tag, the file has "
                                     "statement weights")


def test_folds_are_stratified_and_deterministic(rules: Tagger, tmp_path: Path) -> None:
    items = load([_write(tmp_path / "l.jsonl", _items(40))], TAGS)
    examples = analyse(rules, items)
    first, second = stratified_folds(examples, 4, TAGS), stratified_folds(examples, 4, TAGS)
    assert first == second
    assert sorted(i for fold in first for i in fold) == list(range(40))
    for fold in first:
        # every fold holds its share of each label combination (10 items: 5 war, of which 2-3 with a statement)
        war = sum(items[i].labels["ukraine-war"] for i in fold)
        statement = sum(items[i].labels["uk-defence-statement"] for i in fold)
        assert len(fold) == 10 and war == 5 and statement in (2, 3)


_ASIDE = "Wallace also said he had enjoyed the cricket at Lord's on Sunday afternoon."


def _quoted(n: int = 48) -> tuple[list[dict], list[dict]]:
    """Items whose statement articles hold a second, off-matter statement of the same speaker, and the statements
    of each quote by quote (the aside is not one a careful reader marks)."""
    items, labels = [], []
    for item in _items(n):
        if item["labels"]["uk-defence-statement"]:
            item = {**item, "text": item["text"] + " " + _ASIDE}
            labels.append({"id": item["id"], "statements": [
                {"speaker": {"name": "Ben Wallace", "role": "Defence Secretary"}, "kind": "direct",
                 "text": "We will send more anti-tank weapons to Ukraine."}]})
        items.append(item)
    return items, labels


def test_statements_quote_by_quote_fit_a_statements_model(rules: Tagger, tmp_path: Path) -> None:
    items, labels = _quoted()
    loaded = with_statement_labels(rules, load([_write(tmp_path / "items.jsonl", items)], TAGS),
                                   load_labels(_write(tmp_path / "statements.jsonl", labels)))
    model = fit(rules, analyse(rules, loaded))
    uds = model.tags["uk-defence-statement"]
    assert uds.statements is not None and model.tags["ukraine-war"].statements is None
    text = " ".join(_WAR) + " " + _STATEMENT + " " + _ASIDE
    analysis = rules.analyse("Ukraine war update", text, datetime(2022, 4, 1))
    with_quotes = rules.decide(analysis, model).decision("uk-defence-statement")
    assert with_quotes.given and [s.text for s in with_quotes.statements] == [
        "We will send more anti-tank weapons to Ukraine"]
    # Without the statements, every statement of a labelled speaker in a labelled article counts: the aside too.
    plain = fit(rules, analyse(rules, load([tmp_path / "items.jsonl"], TAGS)))
    assert plain.tags["uk-defence-statement"].statements is None
    assert len(rules.decide(analysis, plain).decision("uk-defence-statement").statements) == 2
    calm = rules.decide(rules.analyse("Local news", " ".join(_OTHER) + " " + _OFF_MATTER, datetime(2022, 4, 1)),
                        model).decision("uk-defence-statement")
    assert not calm.given and calm.statements == ()  # the statements model speaks only once the tag is given
    path = tmp_path / "model.json"
    model.save(path)
    reloaded = Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml", path)
    assert reloaded.decide(analysis).decision("uk-defence-statement").statements == with_quotes.statements
    assert json.loads(path.read_text())["tags"]["uk-defence-statement"]["statements"]["kind"] == "statement"


def test_train_and_eval_with_statements_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items, labels = _quoted()
    items_path, labels_path = _write(tmp_path / "items.jsonl", items), _write(tmp_path / "statements.jsonl", labels)
    model = tmp_path / "trained.json"
    result = monitor("train", str(items_path), "--statements", str(labels_path), "--out", str(model))
    assert "statements model (quote by quote) threshold" in result.stdout
    assert json.loads(model.read_text())["training"]["files"] == ["items.jsonl", "statements.jsonl"]
    monkeypatch.setenv("MONITOR_TAGGING_MODEL_FILE", str(model))
    folded = monitor("eval", "relevance", str(items_path), "--statements", str(labels_path), "--folds", "3").stdout
    assert "3-fold cross-validation over 48 items" in folded
    quoted = monitor("eval", "statements", str(labels_path), "--items", str(items_path), "--folds", "3").stdout
    precision, recall = next(ln for ln in quoted.splitlines() if ln.startswith("statements ")).split()[1:3]
    assert float(precision) == float(recall) == 1.0  # held-out folds: the quote, never the aside


def test_train_then_cross_validated_eval_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = _write(tmp_path / "labels.jsonl", _items())
    model = tmp_path / "trained.json"
    result = monitor("train", str(labels), "--out", str(model))
    assert f"wrote {model}" in result.stdout and "ukraine-war: document model" in result.stdout
    assert json.loads(model.read_text())["training"] == {"files": ["labels.jsonl"], "items": 48}
    monkeypatch.setenv("MONITOR_TAGGING_MODEL_FILE", str(model))
    scored = monitor("eval", "relevance", str(labels)).stdout
    assert "NOTE: the model was trained on labels.jsonl: these figures flatter" in scored
    folded = monitor("eval", "relevance", str(labels), "--folds", "3").stdout
    assert "3-fold cross-validation over 48 items" in folded and "NOTE" not in folded
    assert "calibration (all items):" in folded and "Brier score" in folded
    line = next(ln for ln in folded.splitlines() if ln.startswith("ukraine-war"))
    assert "±" in line


@pytest.mark.parametrize(("lines", "message"), [
    (['{"id": "a", "title": "t", "labels": {"ukraine-war": 1}}', "{broken"], "labels.jsonl:2: not valid JSON"),
    ([], "labels.jsonl: no labelled items"),
    (["", "   "], "labels.jsonl: no labelled items"),
    (['{"id": "a", "title": "t", "labels": {"ukraine-war": 1}, "lables": 1}'], "unknown key(s) lables"),
    (['{"id": "a", "title": "t", "labels": {"war": 1}}'], "label for unknown tag 'war'"),
    (['{"id": "a", "title": "t", "labels": {"ukraine-war": "yes"}}'], "must be 0 or 1"),
    (['{"id": "a", "title": "t"}'], "\"labels\" must be an object"),
    (['[1, 2]'], "each line must be a JSON object"),
    (['{"id": "a", "title": "t", "labels": {"ukraine-war": 1}}'] * 2, "appears twice"),
])
def test_unusable_labelled_file_is_a_one_line_error(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabelledDataError, match=None) as info:
        load([path], TAGS)
    assert message in str(info.value)
    result = monitor("eval", "relevance", str(path), check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("monitor: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
