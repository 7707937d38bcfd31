"""`monitor eval statements`: the quote-level scoring, on hand-made labels and items (no shared data)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from monitor.evaluation.statements import run, score, score_item
from monitor.tagging import Tagger
from monitor.tagging.labelled import LabelledDataError
from monitor.tagging.said import Said, coverage, load_labels, speaker_identity

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml")


@pytest.mark.parametrize(("a", "b"), [
    (("Ben Wallace", "Defence Secretary"), ("Mr Ben Wallace", "Secretary of State for Defence")),
    (("Sir Patrick Sanders", None), ("Patrick Sanders", "Chief of the General Staff")),
    (("Lord Cameron of Chipping Norton", None), ("David Cameron", None)),
    ((None, "Ministry of Defence"), (None, "UK defence source")),
    ((None, "Ministry of Defence (Defence Intelligence)"), (None, "British Army")),
    ((None, "Downing Street"), (None, "Prime Minister's official spokesman")),
    ((None, "UK government"), (None, "Foreign Office")),
    ((None, "Whitehall sources"), (None, "British government")),
])
def test_same_speaker(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> None:
    assert speaker_identity(*a) == speaker_identity(*b)


@pytest.mark.parametrize(("a", "b"), [
    ((None, "Ministry of Defence"), (None, "Downing Street")),
    ((None, "Foreign Office"), (None, "Royal Navy")),
    ((None, "National Cyber Security Centre"), (None, "Ministry of Defence")),
])
def test_different_speakers(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> None:
    assert speaker_identity(*a) != speaker_identity(*b)


def test_coverage_counts_words_with_multiplicity() -> None:
    of = Counter({"no": 2, "retreat": 1, "now": 1})
    assert coverage(of, Counter({"no": 1, "retreat": 1})) == 0.5
    assert coverage(of, Counter({"no": 3, "now": 1, "retreat": 5})) == 1.0


def test_half_the_words_either_way() -> None:
    labelled = [Said("Jo Bloggs", "Defence Secretary", "direct", "the fleet will sail at dawn on Friday")]
    long_given = Said("Jo Bloggs", None, "direct", "the fleet will sail at dawn on Friday, come what may, whatever "
                      "the weather does and whoever objects to it")
    result = score_item(labelled, [long_given])
    assert result.found == (True,) and result.right == (False,)  # covers the label; mostly its own words
    other = Said("Jo Smith", None, "direct", "the fleet will sail at dawn on Friday")
    assert score_item(labelled, [other]).found == (False,)  # same words, another person


SAY = "Ben Wallace", "Defence Secretary"


def test_totals_over_items() -> None:
    labels = {"a": [Said(*SAY, "indirect", "reserves would be called up"), Said(None, "Downing Street", "direct",
                                                                             "we stand ready")]}
    given = {"a": [Said(*SAY, "direct", "reserves would be called up next month")],
             "b": [Said(*SAY, "indirect", "the drills went well")]}
    t = score(labels, given, ["a", "b", "c"])
    assert (t.labelled, t.found, t.given, t.right) == (2, 1, 2, 1)
    assert t.statements() == (0.5, 0.5)
    assert (t.speakers_tp, t.speakers_fp, t.speakers_fn) == (1, 1, 1)
    assert t.kind() == 0.0
    assert [(i, what) for i, what, _s in t.errors] == [("a", "missed"), ("b", "wrong")]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _item(item_id: str, title: str, text: str, war: int, ukds: int) -> dict:
    return {"id": item_id, "title": title, "text": text, "published": "2022-03-03T09:00:00Z",
            "labels": {"ukraine-war": war, "uk-defence-statement": ukds}, "speakers": []}


ITEMS = [
    _item("tallinn", "Troops to stay in Estonia",
          "Defence Secretary Ben Wallace said British troops would stay in Estonia for as long as they were "
          "needed to deter Russia.\n\n\"We will not walk away from our allies on Nato's eastern flank,\" Mr "
          "Wallace told reporters in Tallinn.", 0, 1),
    _item("channel", "Frigate shadows Russian ships",
          "A Royal Navy frigate followed two Russian warships through the Channel overnight. An MoD spokesperson "
          "said the frigate had monitored the Russian vessels at every stage of their passage.", 0, 1),
    _item("momentum", "Minister on the fighting",
          "Ben Wallace said Russian forces in Ukraine had lost momentum around Kyiv and were regrouping in the "
          "east.", 1, 0),
    _item("garden", "Village show results", "The marrow prize went to a retired teacher for the third year.", 0, 0),
]
LABELS = [
    {"id": "tallinn", "statements": [
        {"speaker": {"name": "Ben Wallace", "role": "Defence Secretary"}, "kind": "indirect",
         "text": "British troops would stay in Estonia for as long as they were needed"},
        {"speaker": {"name": "Ben Wallace", "role": "Defence Secretary"}, "kind": "direct",
         "text": "We will not walk away from our allies on Nato's eastern flank"},
        {"speaker": {"name": None, "role": "Ministry of Defence"}, "kind": "indirect",
         "text": "the rotation of units would be reviewed in the spring"}]},
    {"id": "channel", "statements": [
        {"speaker": {"name": None, "role": "Ministry of Defence"}, "kind": "direct",
         "text": "the frigate had monitored the Russian vessels at every stage"}]},
]


def test_run_scores_hand_made_items(tmp_path: Path, tagger: Tagger) -> None:
    labels = _write(tmp_path / "labels.jsonl", LABELS)
    items = _write(tmp_path / "items.jsonl", ITEMS)
    out = io.StringIO()
    assert run(labels, [items], tagger, out, verbose=True) == 0
    text = out.getvalue()
    # Found 3 of 4 labelled (the MoD's on "tallinn" is missed); 3 of 4 given are right ("momentum" has no labelled
    # statements); the MoD spokesperson matches the Ministry of Defence by family; one found kind is wrong.
    assert "statements       0.750   0.750   right 3 of 4 given; found 3 of 4 labelled" in text
    assert "speakers         0.667   0.667   per item: 2 right, 1 wrong, 1 missed" in text
    assert "kind right: 0.667 (2 of 3 found statements)" in text
    assert "missed  tallinn  Ministry of Defence  [indirect]  the rotation of units" in text
    assert "wrong   momentum  Ben Wallace (Defence Secretary)  [indirect]  Russian forces in Ukraine" in text
    assert "may have shaped" in text or "flatter" in text


def test_kind_of_a_quote_and_of_a_paraphrase(tagger: Tagger) -> None:
    text = ("Defence Secretary Ben Wallace said more British troops would be sent to Estonia to deter Russia.\n\n"
            "\u201cOur soldiers stand shoulder to shoulder with our Nato allies,\u201d he added.\n\n"
            "Mr Wallace said: The armed forces are ready to defend every inch of Nato territory.")
    result = tagger.tag("More troops for Estonia", text, datetime(2022, 3, 3))
    kinds = {s.text: s.kind for s in result.statements}
    assert kinds["more British troops would be sent to Estonia to deter Russia"] == "indirect"
    assert kinds["Our soldiers stand shoulder to shoulder with our Nato allies"] == "direct"
    assert kinds["The armed forces are ready to defend every inch of Nato territory"] == "direct"
    assert all(s.as_dict()["kind"] == s.kind for s in result.statements)


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "labels.jsonl:1: not valid JSON"),
    ('{"id": "x", "statements": {}}', "labels.jsonl:1: \"statements\" must be a list"),
    ('{"id": "x", "statements": [{"speaker": {"name": "A B"}, "kind": "quoted", "text": "t u"}]}',
     "labels.jsonl:1: statement 1: \"kind\" must be one of direct, indirect"),
    ('{"statements": []}', "labels.jsonl:1: each line must be a JSON object with a string \"id\""),
])
def test_malformed_labels_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(LabelledDataError, match=message.replace("(", r"\(")):
        load_labels(path)


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("{not json\n", encoding="utf-8")
    items = _write(tmp_path / "items.jsonl", ITEMS)
    for args in ([str(labels), "--items", str(items)], [str(labels)]):
        result = subprocess.run([sys.executable, "-m", "monitor", "eval", "statements", *args], capture_output=True,
                                text=True, timeout=120, cwd=ROOT)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("monitor: error: ") and "Traceback" not in \
            result.stderr
