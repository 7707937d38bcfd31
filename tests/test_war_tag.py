"""The ``ukraine-war`` tag's error classes, each on the shipped rules (config/tags.toml) without a fitted model.

The features asserted are what the fitted model weighs; the rule score (against the rule threshold) is what a
monitor without a model decides on. Texts are written for these tests.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from monitor.tagging import Tagger
from monitor.tagging.engine import TagAnalysis

CONFIG = Path(__file__).resolve().parents[1] / "config"
WAR = "ukraine-war"
WHEN = datetime(2022, 5, 12)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml")


def _war(tagger: Tagger, title: str, text: str, when: datetime = WHEN) -> TagAnalysis:
    return next(t for t in tagger.analyse(title, text, when).tags if t.rule.name == WAR)


def _on_topic(analysis: TagAnalysis) -> bool:
    """Any on-topic evidence: the title, or a sentence of the text."""
    return bool(analysis.features["title.on_topic"] or analysis.features["text.on_topic_sentences"])


def _terms(analysis: TagAnalysis) -> set[str]:
    """The matched words of the term and phrase evidence, lower-cased."""
    return {e.text.split("'")[1].lower() for e in analysis.evidence if e.kind in ("term", "phrase")}


# -- Russia-adjacent news that never ties itself to the war ---------------------------------------------------

@pytest.mark.parametrize(("title", "text"), [
    ("Helsinki moves closer to Nato membership",
     "Finland's leaders backed an application to join Nato on Thursday. The Kremlin said Russian troops would be "
     "moved closer to the border and warned of a military-technical response."),
    ("Moscow and Beijing pledge a partnership with no limits",
     "Xi Jinping welcomed Vladimir Putin to a summit in Beijing. The two leaders signed deals on gas and grain, "
     "and Russian forces will join Chinese warships for naval drills in the Pacific."),
    ("Russian military steps up exercises in the Arctic",
     "Russian soldiers and bombers trained near Norway's border this week, and the Kremlin announced new bases "
     "along the northern sea route, raising tensions with Nato."),
])
def test_russia_adjacent_news_without_a_tie_to_the_war_is_not_on_topic(tagger: Tagger, title: str,
                                                                       text: str) -> None:
    war = _war(tagger, title, text)
    assert not _on_topic(war)
    assert war.features["title.score"] == 0.0
    assert war.score < war.rule.threshold
    assert any(e.kind == "unanchored" for e in war.evidence)


@pytest.mark.parametrize(("title", "text"), [
    # the war named without Ukraine
    ("Prices soar in Russia's wartime economy",
     "Russian shoppers pay twice what they did for vegetables as the war drains the budget and Putin's troops "
     "take the young men."),
    # a place of the war
    ("Russian forces push towards the Dnieper",
     "Russian troops advanced along the river overnight, and the Russian army shelled villages on both banks."),
    # a sanction on Russia (sanctions pieces often never name the war)
    ("Russian oligarch's jet impounded",
     "Officials impounded the aircraft under sanctions imposed on Russian oligarchs."),
])
def test_russia_news_tied_to_the_war_is_measured(tagger: Tagger, title: str, text: str) -> None:
    war = _war(tagger, title, text)
    assert war.features["title.score"] > 0
    assert not any(e.kind == "unanchored" for e in war.evidence)


def test_a_tie_to_the_war_deep_in_the_text_keeps_russian_forces_on_topic(tagger: Tagger) -> None:
    # "Russian troops" puts a sentence on topic once the article names the war anywhere.
    text = ("Russian troops massed near the border on Tuesday. Satellite images show tanks and field hospitals. "
            "Analysts say an invasion of Ukraine could come within weeks.")
    war = _war(tagger, "Satellite images show build-up", text, datetime(2022, 1, 25))
    assert war.features["text.on_topic_sentences"] * war.rule.unit_count_cap == 2  # troops; the invasion


# -- sports clubs and fixtures named after Ukrainian cities --------------------------------------------------

@pytest.mark.parametrize(("title", "text"), [
    ("Shakhtar Donetsk stun Real Madrid",
     "Shakhtar Donetsk beat Real Madrid 2-1 in Kyiv, their attack tearing through the visitors' defence as "
     "they scored twice in the first half. The Ukrainian champions now face Dynamo Kyiv at the weekend."),
    ("Zorya Luhansk hold Dynamo Kiev in the Ukrainian league",
     "Zorya Luhansk drew 1-1 with Dynamo Kiev in Zaporizhzhia. The Ukrainian side's forward scored from a "
     "corner; the home team's head coach praised the fight shown by his players."),
])
def test_football_clubs_named_after_ukrainian_cities_are_not_the_war(tagger: Tagger, title: str,
                                                                      text: str) -> None:
    war = _war(tagger, title, text, datetime(2021, 10, 20))
    assert war.score < war.rule.threshold
    assert not ({"donetsk", "luhansk"} & _terms(war))  # the clubs' names are not places of the war
    assert not war.features["title.on_topic"]


def test_a_fixture_needs_no_competition_name_to_be_sport(tagger: Tagger) -> None:
    text = ("The Ukrainian side attacked from the kick-off and their winger scored twice. "
            "Football fans packed the ground in Lviv.")
    war = _war(tagger, "Lviv side battle to victory", text, datetime(2021, 9, 1))
    assert any(e.kind == "exclusion" and "sport coverage" in e.text for e in war.evidence)
    assert war.score < war.rule.threshold


def test_the_war_hitting_a_football_club_is_still_war_when_the_lead_is_the_war(tagger: Tagger) -> None:
    text = ("Russian missiles struck Kharkiv overnight, killing six civilians. Shelling also hit the Metalist "
            "Kharkiv stadium, which had been used as a shelter. Ukrainian forces said they had repelled an "
            "assault north of the city.")
    result = tagger.tag("Russian missiles hit Kharkiv", text, WHEN)
    assert WAR in result.tags


# -- what the war does to people, without war vocabulary ------------------------------------------------------

@pytest.mark.parametrize(("title", "text"), [
    ("Families who fled Kharkiv reach Lviv",
     "Hundreds of children fled Kharkiv by train on Sunday. Volunteers met the families at the station in Lviv."),
    ("Last buses leave Mariupol",
     "Civilians leaving Mariupol described days in basements. The displaced now wait in Zaporizhzhia for news "
     "of relatives."),
    ("Ukrainians arrive under the Homes for Ukraine scheme",
     "The first families came through Homes for Ukraine this week, hosted by households in Yorkshire."),
])
def test_people_fleeing_or_displaced_from_places_of_the_war_are_on_topic(tagger: Tagger, title: str,
                                                                          text: str) -> None:
    war = _war(tagger, title, text, datetime(2022, 3, 20))
    assert _on_topic(war)
    assert war.score >= war.rule.threshold


def test_ukraine_in_a_travel_piece_is_still_not_the_war(tagger: Tagger) -> None:
    text = "The old town of Lviv is full of coffee houses. Visitors to Odesa come for the beaches and the opera."
    war = _war(tagger, "A weekend in Ukraine", text, datetime(2019, 6, 1))
    assert not _on_topic(war)


# -- cost ---------------------------------------------------------------------------------------------------

def test_tagging_stays_fast_on_long_texts_full_of_near_misses(tagger: Tagger) -> None:
    # Sentences dense with partial matches (Russia without Ukraine, clubs, displacement words) must not make the
    # new rules slow: ~4 KB articles, tagged repeatedly.
    sentence = ("Russian troops and Shakhtar Donetsk fans fled the Arctic shelter as Nato civilians were displaced "
                "near Moscow's front. ")
    text = sentence * 35
    tagger.tag("Warm-up", text, WHEN)
    started = time.process_time()
    for _ in range(40):
        tagger.tag("Russia and Nato", text, WHEN)
    per_article = (time.process_time() - started) / 40
    assert per_article < 0.02  # about 2-4 ms here; a regex catastrophe would be seconds
