"""Tests of the tagging engine with the real config files and small hand-written fixtures."""

from __future__ import annotations

import pickle
import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest

from monitor.tagging import Evidence, Statement, Tagger, TaggingConfigError
from monitor.tagging.text import PhraseMatcher, clean, tokenize

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
SEEDS = ROOT / "monitor" / "seeds"
WAR = "ukraine-war"
UKDS = "uk-defence-statement"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml")


def speakers(result) -> set[tuple[str | None, str | None]]:
    return {(s.speaker, s.role) for s in result.statements}


@pytest.mark.parametrize("seed", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name)
def test_seeds_get_both_tags(tagger: Tagger, seed: Path) -> None:
    title, _, body = seed.read_text(encoding="utf-8").partition("\n")
    result = tagger.tag(title, body, datetime(2022, 10, 12))
    assert set(result.tags) == {WAR, UKDS}
    assert result.statements
    for st in result.statements:
        assert body[st.start : st.end] == st.text


def test_statement_offsets_and_speakers(tagger: Tagger) -> None:
    text = (
        "Russian forces shelled Kharkiv overnight as the invasion of Ukraine entered its second week.\n\n"
        "Defence Secretary Ben Wallace said Russian troops were suffering heavy losses.\n\n"
        '"Their plan has failed," Mr Wallace told the BBC.'
    )
    result = tagger.tag("Russia steps up attacks on Kharkiv", text, datetime(2022, 3, 3))
    assert result.tags == [WAR, UKDS]
    assert speakers(result) == {("Ben Wallace", "Defence Secretary")}
    texts = {s.text for s in result.statements}
    assert "Russian troops were suffering heavy losses" in texts
    assert "Their plan has failed" in texts
    for st in result.statements:
        assert text[st.start : st.end] == st.text
        assert st.as_dict()["speaker"] == "Ben Wallace"


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (datetime(2022, 10, 5), "Ben Wallace"),
        (datetime(2005, 2, 1), "Geoff Hoon"),
        (datetime(2024, 9, 1), "John Healey"),
    ],
)
def test_role_resolved_by_date(tagger: Tagger, published: datetime, expected: str) -> None:
    text = "The Defence Secretary said more troops would be deployed to the region within weeks."
    result = tagger.tag("Troops to deploy", text, published)
    assert speakers(result) == {(expected, "Defence Secretary")}
    assert UKDS in result.tags


def test_surname_resolves_only_after_introduction(tagger: Tagger) -> None:
    text = "Mr Hoon said the army would be restructured and four regiments merged."
    assert not tagger.tag(None, text, datetime(2004, 12, 16)).statements
    introduced = "Geoff Hoon visited Basra on Monday.\n\n" + text
    result = tagger.tag(None, introduced, datetime(2004, 12, 16))
    assert speakers(result) == {("Geoff Hoon", "Defence Secretary")}


def test_bodies_are_speakers(tagger: Tagger) -> None:
    text = (
        "In its latest intelligence update, the Ministry of Defence said Russian forces had lost dozens of tanks "
        "near Izium.\n\nA defence source said: \u201cWe expect the offensive in the Donbas to stall.\u201d\n\n"
        "Downing Street said further military aid for Ukraine would be announced."
    )
    result = tagger.tag("Ukraine war latest", text, datetime(2022, 5, 20))
    assert speakers(result) == {(None, "Ministry of Defence"), (None, "UK defence source"), (None, "Downing Street")}
    assert UKDS in result.tags


def test_chris_wallace_of_cnn_is_not_ben_wallace(tagger: Tagger) -> None:
    text = ("Ben Wallace is the UK defence secretary. CNN's Chris Wallace said the interview about the war "
            "in Ukraine would air on Sunday.")
    result = tagger.tag("Who's Talking to Chris Wallace", text, datetime(2022, 3, 10))
    assert not result.statements
    assert UKDS not in result.tags


def test_wallace_and_gromit_is_not_ben_wallace(tagger: Tagger) -> None:
    text = ("Ben Wallace visited troops in Estonia last week. Separately, the makers of Wallace and Gromit said "
            "a new film about a military penguin would be released next year.")
    result = tagger.tag("Aardman announces new film", text, datetime(2022, 6, 1))
    assert UKDS not in result.tags
    assert WAR not in result.tags


def test_court_defence_is_not_defence_policy(tagger: Tagger) -> None:
    text = ("The defence said the soldier had acted in self-defence. The defence barrister told the jury the "
            "prosecution case was weak. The judge adjourned the trial until Monday.")
    result = tagger.tag("Trial of former soldier adjourned", text, datetime(2005, 3, 1))
    assert result.tags == []


def test_non_uk_and_opposition_and_western_officials_not_counted(tagger: Tagger) -> None:
    text = (
        "Western officials said Russia was running short of cruise missiles for its war in Ukraine.\n\n"
        "The shadow defence secretary, John Healey, said the government must send more weapons to Ukraine.\n\n"
        "Ukraine's defence minister said the counter-offensive would continue.\n\n"
        "US Defense Secretary Lloyd Austin said Nato would defend every inch of its territory."
    )
    result = tagger.tag("Russia short of missiles, officials say", text, datetime(2022, 10, 20))
    assert WAR in result.tags
    assert UKDS not in result.tags
    assert not result.statements


def test_uk_minister_on_non_defence_matter_not_counted(tagger: Tagger) -> None:
    text = "Armed Forces Minister James Heappey said people were feeling the squeeze from the cost of living."
    result = tagger.tag("Cost of living: minister defends tax rise", text, datetime(2022, 2, 10))
    assert UKDS not in result.tags
    rejected = [e for e in result.decision(UKDS).evidence if e.kind == "rejected"]
    assert rejected and "James Heappey" in rejected[0].text


def test_prime_minister_on_the_war_counts(tagger: Tagger) -> None:
    text = "Boris Johnson said a Russian invasion of Ukraine would be a painful, violent and bloody business."
    result = tagger.tag("Johnson warns Putin", text, datetime(2022, 1, 24))
    assert speakers(result) == {("Boris Johnson", "Prime Minister")}
    assert result.tags == [WAR, UKDS]


def test_foreign_prime_minister_is_not_the_uk_pm(tagger: Tagger) -> None:
    text = "Finland's president and prime minister said the country would apply to join Nato, Russia warned."
    result = tagger.tag("Finland to join Nato", text, datetime(2022, 5, 12))
    assert not result.statements


def test_passing_mention_of_ukraine_not_tagged(tagger: Tagger) -> None:
    filler = " ".join(
        f"The central bank said inflation rose to {i}.{i}% in the month, driven by food and fuel costs."
        for i in range(1, 30)
    )
    text = filler + " Markets were also unsettled by tensions over Ukraine. " + filler
    result = tagger.tag("Inflation hits 30-year high", text, datetime(2022, 1, 25))
    assert WAR not in result.tags


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Eurovision: Ukraine's Kalush Orchestra win song contest",
         "Ukraine won the Eurovision Song Contest in Turin with Stefania, after a huge public vote."),
        ("Usyk beats Joshua to retain heavyweight titles",
         "Ukrainian boxer Oleksandr Usyk won on points in Jeddah in a world title fight and called out Fury."),
        ("Ukraine beat Scotland in World Cup play-off semi-final",
         "Ukraine's footballers won 3-1 at Hampden to reach the World Cup play-off final against Wales."),
    ],
)
def test_eurovision_and_sport_not_tagged(tagger: Tagger, title: str, text: str) -> None:
    assert WAR not in tagger.tag(title, text, datetime(2022, 6, 1)).tags


def test_feed_entry_about_the_war_tagged(tagger: Tagger) -> None:
    result = tagger.tag("Ukraine war: Kyiv prepares for Russian attack",
                        "As Russian forces continue their advance, residents fear the worst.", datetime(2022, 3, 9))
    assert WAR in result.tags
    assert "GIVEN" in result.decision(WAR).explain()


def test_ukraine_non_war_context_not_tagged(tagger: Tagger) -> None:
    text = ("Viktor Yushchenko was sworn in as Ukraine's president after the Orange Revolution. The election "
            "re-run was ordered by the supreme court after protests in Kiev against a rigged vote.")
    assert WAR not in tagger.tag("Yushchenko sworn in", text, datetime(2005, 1, 23)).tags


def test_explain_and_as_dict(tagger: Tagger) -> None:
    result = tagger.tag("Ukraine war latest", "Russian troops shelled Kharkiv.", datetime(2022, 3, 1))
    decision = result.decision(WAR)
    data = decision.as_dict()
    assert data["tag"] == WAR and data["given"] is True
    assert "threshold" in decision.explain()
    assert "NOT GIVEN" in result.decision(UKDS).explain()


def test_as_dict_has_every_field_in_order() -> None:
    for item in (Evidence("term", "'kyiv' (kyiv [ukraine])", "text", 3, 7, 1.5),
                 Statement("Ben Wallace", "Defence Secretary", "We stand with Ukraine", 10, 31, "title")):
        assert list(item.as_dict().items()) == list(asdict(item).items())


def test_case_sensitive_phrases_match_whole_words_only() -> None:
    matcher = PhraseMatcher(["Wallace", "Ben Wallace", "Heappey"], lowered=False, hyphen_is_space=False)
    text = "Wallace, McWallace, _Wallace, Wallaces, 'Wallace', Ben  Wallace's, Ben Wallace2, éWallace, X-Heappey."
    found = [text[a:b] for a, b, _ in matcher.find(text)]
    assert found == [m.group() for m in re.finditer(r"\b(?:Ben\s+Wallace|Wallace|Heappey)(?![\w])", text)]
    assert found == ["Wallace", "Wallace", "Ben  Wallace", "Heappey"]


def test_tokens_offsets_and_joins() -> None:
    text = "it’s  --  a\nb-c, x' 7"
    tokens = tokenize(text)
    assert tokens.words == ("it's", "a", "b", "c", "x", "7")
    assert [text[a:b] for a, b in zip(tokens.starts, tokens.ends, strict=True)] == ["it’s", "a", "b", "c", "x", "7"]
    assert tokens.joined == (True, True, True, False, False, False)
    assert tokenize("") == tokenize(" - ") and tokenize("").joined == (False,)


def test_new_tag_from_config_alone(tmp_path: Path) -> None:
    config = (CONFIG / "tags.toml").read_text(encoding="utf-8") + '''
[tags.cyber-attack]
description = "About cyber attacks"
threshold = 2.0
title_weight = 2.0
topical_when = [["cyber"]]
[tags.cyber-attack.groups.cyber]
"cyber attack*" = 2.0
"cyber-attack*" = 2.0
"ransomware" = 2.0
"hack*" = 1.0
'''
    (tmp_path / "tags.toml").write_text(config, encoding="utf-8")
    tagger = Tagger.from_files(tmp_path / "tags.toml", CONFIG / "officials.toml")
    hit = tagger.tag("NHS hit by ransomware", "A cyber-attack disrupted hospital systems.", None)
    miss = tagger.tag("Hospital opens new wing", "The wing has forty beds.", None)
    assert "cyber-attack" in hit.tags
    assert "cyber-attack" not in miss.tags


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (("threshold = 4.0", 'threshold = "high"'), "tags.ukraine-war.threshold"),
        (('topical_when = [["ukraine", "war"]', 'topical_when = [["ukrane", "war"]'), "unknown group 'ukrane'"),
        (('"ukrain*" = 1.0', '"ukrain*" = "a lot"'), "tags.ukraine-war.groups.ukraine"),
        (("[tags.ukraine-war]", "[tags.ukraine-war\n"), "not valid TOML"),
        (('"re:service', '"re:(service'), "invalid pattern"),
        (('tags = ["ukraine-war"]', 'tags = ["ukraine-wars"]'), "mask[5].tags names unknown tag(s) ukraine-wars"),
        (('tags = ["ukraine-war"]', 'tag = ["ukraine-war"]'), "mask[5]: unknown key(s) tag"),
    ],
)
def test_broken_tags_config_names_file_and_key(tmp_path: Path, replace: tuple[str, str], message: str) -> None:
    text = (CONFIG / "tags.toml").read_text(encoding="utf-8")
    assert replace[0] in text
    path = tmp_path / "tags.toml"
    path.write_text(text.replace(replace[0], replace[1], 1), encoding="utf-8")
    with pytest.raises(TaggingConfigError) as err:
        Tagger.from_files(path, CONFIG / "officials.toml")
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_broken_officials_config_names_file_and_key(tmp_path: Path) -> None:
    text = (CONFIG / "officials.toml").read_text(encoding="utf-8")
    path = tmp_path / "officials.toml"
    (tmp_path / "ministers.csv").write_bytes((CONFIG / "ministers.csv").read_bytes())
    broken = text.replace('role = "first_sea_lord", start = 2019-06-19', 'role = "first_sea", start = 2019-06-19')
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(TaggingConfigError, match=r"officials\.toml: people\[\d+\]\.tenure\[0\] \(Sir Tony Radakin\)"):
        Tagger.from_files(CONFIG / "tags.toml", path)
    with pytest.raises(TaggingConfigError, match="file not found"):
        Tagger.from_files(CONFIG / "tags.toml", tmp_path / "missing.toml")


def test_tagger_is_picklable(tagger: Tagger) -> None:
    clone = pickle.loads(pickle.dumps(tagger))
    text = "Defence Secretary Ben Wallace said Russian troops had suffered heavy losses in Ukraine."
    assert clone.tag("Ukraine war", text, datetime(2022, 3, 3)) == tagger.tag("Ukraine war", text, datetime(2022, 3, 3))


def test_html_in_feed_description_is_ignored(tagger: Tagger) -> None:
    text = ('<p>Sizewell C funding confirmed</p><ul><li><a href="https://example.com/russia-ukraine-war-live">'
            'Live updates</a></li></ul>')
    assert WAR not in tagger.tag("Who will fund Sizewell C?", text, datetime(2022, 8, 30)).tags


# -- mechanisms added in the quality pass (own fixtures) ---------------------------------------------------------
def test_headline_statement_is_recorded_with_its_field(tagger: Tagger) -> None:
    title = "Ben Wallace: Russian army will run out of steam within weeks"
    text = "The defence secretary's warning came as fighting raged in the east."
    result = tagger.tag(title, text, datetime(2022, 5, 3))
    assert UKDS in result.tags
    heads = [s for s in result.statements if s.field == "title"]
    assert heads and heads[0].speaker == "Ben Wallace"
    assert title[heads[0].start : heads[0].end] == heads[0].text
    assert heads[0].as_dict()["field"] == "title"
    assert all(s.field == "text" for s in result.statements if s not in heads)


def test_dash_headline_statement_keeps_speaker(tagger: Tagger) -> None:
    title = "British troops will not be sent to fight in Ukraine - Wallace"
    result = tagger.tag(title, "Ben Wallace spoke on a visit to Poland.", datetime(2022, 3, 1))
    assert ("Ben Wallace", "Defence Secretary") in speakers(result)
    assert {s.field for s in result.statements} == {"title"}


def test_speaker_label_in_live_blog_transcript(tagger: Tagger) -> None:
    text = (
        "The two ministers held a press conference in Canberra. Reporter: will the UK send more ships? "
        "Heappey: We will keep a presence in the region. Our frigates will exercise with the Australian navy next "
        "month. That is a commitment.\n\n"
        "We are now hearing from Armed Forces Minister James Heappey: the deployment of more troops is not ruled out."
    )
    result = tagger.tag("Ministers meet", text, datetime(2022, 2, 1))
    texts = {s.text for s in result.statements}
    assert any(t.startswith("We will keep a presence") and "frigates" in t for t in texts)
    assert "the deployment of more troops is not ruled out" in texts
    assert speakers(result) == {("James Heappey", "Armed Forces Minister")}


def test_live_blog_lead_ins_and_a_transcript_running_over_several_sentences(tagger: Tagger) -> None:
    # A live blog flattened into one line: lead-ins instead of labels, speech running on until the blog speaks.
    text = (
        "Defence Secretary Ben Wallace took questions in Sydney. Wallace continues, with direct reference "
        "to Russia: Nations can interrupt and corrupt our democratic societies. We have to work together to "
        "strengthen those alliances. The stronger we are together, the stronger our values. Deterrence matters "
        "more than ever. This is the sixth sentence of it. He said the talks had gone well. The room fell "
        "quiet. He invokes the second world war, too: Eighty years ago our soldiers "
        "fought side by side. We won because we had an alliance."
    )
    found = {t for s, _r, _k, t in _said(tagger, "AUKMIN live", text, datetime(2022, 1, 21)) if s == "Ben Wallace"}
    run = next(t for t in found if t.startswith("Nations can interrupt"))
    assert "This is the sixth sentence of it" in run and "talks" not in run  # "He said" is the blog speaking
    assert any(t.startswith("Eighty years ago") and "alliance" in t for t in found)


def test_label_colon_needs_the_speaker_at_the_start(tagger: Tagger) -> None:
    text = "Critics of James Heappey: the minister said nothing about troops, they claim."
    result = tagger.tag(None, text, datetime(2022, 2, 1))
    assert not [s for s in result.statements if s.text.startswith("the minister said nothing")]


def test_speech_noun_attributions(tagger: Tagger) -> None:
    text = (
        "The Foreign Office announcement on Saturday that Russia planned to install a puppet leader in Kyiv "
        "caused a stir.\n\n"
        "Boris Johnson spoke to Nato allies, and his warning that an invasion of Ukraine would be a disaster "
        "was repeated by ministers."
    )
    result = tagger.tag("Russia plot claim", text, datetime(2022, 1, 23))
    assert speakers(result) == {(None, "Foreign Office"), ("Boris Johnson", "Prime Minister")}
    assert any(s.text.startswith("Russia planned to install") for s in result.statements)


def test_speech_noun_relative_clause_is_not_a_statement(tagger: Tagger) -> None:
    text = "The Ministry of Defence statement that was leaked on Monday caused anger among families."
    assert not tagger.tag(None, text, datetime(2022, 1, 23)).statements


def test_reporting_predicates(tagger: Tagger) -> None:
    text = ("In Britain, the foreign secretary, Liz Truss, has been openly critical of Germany for blocking arms "
            "deliveries to Ukraine.")
    result = tagger.tag("Allies split over Russia", text, datetime(2022, 1, 26))
    assert speakers(result) == {("Liz Truss", "Foreign Secretary")}
    assert UKDS in result.tags


def test_a_release_or_the_source_speaks_for_the_body_named_before(tagger: Tagger) -> None:
    text = ("The intelligence was published alongside a lengthy release from Downing Street on Saturday. The release "
            "said the prime minister was being briefed daily on the crisis in Ukraine.\n\n"
            "Moscow's embassy issued a rebuttal. The statement said the claims were disinformation.")
    found = {(r, t) for _s, r, _k, t in _said(tagger, "No 10 and Ukraine", text, datetime(2022, 1, 23))}
    assert ("Downing Street", "the prime minister was being briefed daily on the crisis in Ukraine") in found
    assert not any("disinformation" in t for _r, t in found)  # the embassy's, not a UK body's
    text = ("\u201cWe welcome the talks,\u201d a British defence source said. Wallace, the source added, \u201chas "
            "been clear that he will explore all avenues to end the crisis\u201d.")
    found = {(r, t) for _s, r, _k, t in _said(tagger, "Ukraine talks", text, datetime(2022, 1, 21))}
    assert ("UK defence source", "has been clear that he will explore all avenues to end the crisis") in found


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("Speaking in Sydney, the foreign secretary, Liz Truss, framed the conflict in Ukraine as part of a "
                 "wider struggle with autocracies.",
                 ("Liz Truss", "the conflict in Ukraine as part of a wider struggle with autocracies"), id="framed-as"),
    pytest.param("In Berlin, the defence secretary, Ben Wallace, pressed for Germany to halt the Nord Stream 2 "
                 "pipeline if Russia attacked.",
                 ("Ben Wallace", "Germany to halt the Nord Stream 2 pipeline if Russia attacked"), id="pressed-for"),
    pytest.param("During her visit, Liz Truss addressed the Lowy Institute in Sydney and warned Russia that an "
                 "invasion of Ukraine would lead to a terrible quagmire.",
                 ("Liz Truss", "an invasion of Ukraine would lead to a terrible quagmire"), id="second-verb-phrase"),
    pytest.param("A Russian invasion of Ukraine would end in disaster for the world, Boris Johnson has warned as he "
                 "stood alongside the Ukrainian president in Kyiv.",
                 ("Boris Johnson", "A Russian invasion of Ukraine would end in disaster for the world"),
                 id="fronted-paraphrase"),
    pytest.param("Boris Johnson visited Kyiv on Tuesday. \u201cThis is a clear and present danger,\u201d he said, "
                 "adding that the troop build-up was the biggest show of hostility to Ukraine in our lifetimes.",
                 ("Boris Johnson", "the troop build-up was the biggest show of hostility to Ukraine in our lifetimes"),
                 id="adding-that-after-he-said"),
])
def test_attribution_classes(tagger: Tagger, text: str, expected: tuple[str, str]) -> None:
    found = {(s, t) for s, _r, _k, t in _said(tagger, "Russia and Ukraine", text, datetime(2022, 2, 1))}
    assert expected in found
    assert not any(t.startswith("as he stood") for _s, t in found)  # where it was said is not what was said


def test_a_paraphrase_ends_where_a_named_subject_starts_a_clause(tagger: Tagger) -> None:
    text = ("Downing Street insisted that the UK was operating in lockstep with the US on Ukraine, Johnson delivered "
            "some pointed barbs against the French and the Germans.")
    found = {t for _s, r, _k, t in _said(tagger, "No 10", text, datetime(2022, 1, 23)) if r == "Downing Street"}
    assert found == {"the UK was operating in lockstep with the US on Ukraine"}


def test_continued_to_is_not_speech(tagger: Tagger) -> None:
    text = "The prime minister, Boris Johnson, continued to adopt a defiant stance, briefing MPs on the Ukraine crisis."
    assert not tagger.tag(None, text, datetime(2022, 1, 25)).statements


def test_joint_statement_with_non_uk_party_not_counted(tagger: Tagger) -> None:
    text = "The White House and Downing Street announced that some diplomats were leaving Kyiv as Nato reinforced."
    result = tagger.tag("Ukraine tensions", text, datetime(2022, 1, 24))
    assert not result.statements
    both = "Boris Johnson and Ben Wallace said more troops would be sent to Estonia."
    assert speakers(tagger.tag(None, both, datetime(2022, 2, 1))) == {
        ("Boris Johnson", "Prime Minister"), ("Ben Wallace", "Defence Secretary")}


@pytest.mark.parametrize(
    "text",
    [
        "Ukraine's defence ministry said Russian shelling had hit Kharkiv.\n\nThe defence ministry said 12 civilians "
        "were killed and troops had repelled the assault.",
        "The Russian Ministry of Defence said its forces had taken the town. The Ministry of Defence also said "
        "that missiles had destroyed a depot.",
        "The defence ministry in Kyiv said Russian troops had withdrawn from the area around the airport.",
    ],
)
def test_foreign_defence_ministry_context(tagger: Tagger, text: str) -> None:
    result = tagger.tag("Ukraine war latest", text, datetime(2022, 4, 2))
    assert not result.statements
    assert UKDS not in result.tags


def test_uk_marked_ministry_after_foreign_one_counts(tagger: Tagger) -> None:
    text = ("Russia's defence ministry said its troops had advanced. The UK Ministry of Defence said Russian forces "
            "had suffered heavy losses near Izium.")
    result = tagger.tag("Ukraine war latest", text, datetime(2022, 4, 2))
    assert speakers(result) == {(None, "Ministry of Defence")}


def test_defence_ministry_speaks_on_defence_by_definition(tagger: Tagger) -> None:
    text = "Almost 400 people crossed the Channel in small boats on Sunday, the Ministry of Defence said."
    result = tagger.tag("Channel crossings", text, datetime(2022, 8, 1))
    assert UKDS in result.tags
    assert speakers(result) == {(None, "Ministry of Defence")}
    minister = "Defence Secretary Ben Wallace said the school holidays should be longer."
    assert UKDS not in tagger.tag(None, minister, datetime(2022, 8, 1)).tags


def test_cyber_security_centre_on_russian_threat(tagger: Tagger) -> None:
    text = ("The National Cyber Security Centre said UK organisations should prepare for Russian cyber-attacks "
            "linked to the crisis in Ukraine.")
    result = tagger.tag("Firms urged to bolster defences", text, datetime(2022, 1, 28))
    assert speakers(result) == {(None, "National Cyber Security Centre")}


def test_pronoun_not_resolved_across_another_named_person(tagger: Tagger) -> None:
    text = ("Ben Wallace arrived in Kyiv on Thursday. President Zelensky met the delegation, and he said Russian "
            "troops were massing on the border.")
    result = tagger.tag("Wallace in Kyiv", text, datetime(2022, 2, 10))
    assert not result.statements


def test_headline_and_lead_read_together(tagger: Tagger) -> None:
    result = tagger.tag("How Putin's grip on grain ripples across the globe",
                        "Farmers across Ukraine are struggling to bring in this year's harvest.", datetime(2022, 7, 1))
    assert WAR in result.tags
    assert any(e.kind == "title+lead" for e in result.decision(WAR).evidence)
    unrelated = tagger.tag("Putin hosts Xi in Moscow", "The two leaders discussed trade and energy.",
                           datetime(2023, 3, 20))
    assert WAR not in unrelated.tags


def test_matter_implied_for_must_name_officials_keys(tmp_path: Path) -> None:
    text = (CONFIG / "tags.toml").read_text(encoding="utf-8")
    path = tmp_path / "tags.toml"
    path.write_text(text.replace('matter_implied_for = ["mod"', 'matter_implied_for = ["modd"', 1), encoding="utf-8")
    with pytest.raises(TaggingConfigError, match=r"matter_implied_for.*modd"):
        Tagger.from_files(path, CONFIG / "officials.toml")


# --- statement error classes (regressions; each written for the class, not for an item) ----------------------


def _candidates(tagger: Tagger, title: str, text: str, when: datetime) -> list[tuple[str | None, str]]:
    analysis = tagger.analyse(title, text, when)
    tag = next(t for t in analysis.tags if t.rule.name == UKDS)
    return [(c.statement.speaker or c.statement.role, c.statement.text) for c in tag.candidates]


def test_matter_is_read_from_the_words_attributed_not_from_the_sentence(tagger: Tagger) -> None:
    # A war word sits in the same sentence, but what the Prime Minister is reported to have said is about trains.
    text = ("As Russian troops massed on the border with Ukraine, Boris Johnson said the new rail line to Leeds "
            "would open next spring.")
    result = tagger.tag("Rail plans", text, datetime(2022, 2, 10))
    assert UKDS not in result.tags
    rejected = [e.text for e in result.decision(UKDS).evidence if e.kind == "rejected"]
    assert rejected and "name no term" in rejected[0]
    on_matter = tagger.tag("Ukraine", "Boris Johnson said Russian troops on the border with Ukraine were a threat.",
                           datetime(2022, 2, 10))
    assert UKDS in on_matter.tags


def test_evidence_wording_names_the_group_once(tagger: Tagger) -> None:
    result = tagger.tag("Ukraine", "Boris Johnson said Russian troops were massing near Ukraine.", datetime(2022, 2, 1))
    texts = " ".join(e.text for e in result.decision(UKDS).evidence)
    assert "matter matter" not in texts and "'matter' terms (" in texts


def test_narration_after_an_unclosed_straight_quote_is_not_read_as_quoted(tagger: Tagger) -> None:
    # A quote continued into the next paragraph is not closed where it stops: marks are paired by direction, so
    # the narration that follows (with a statement in it) is not taken for the inside of a quote.
    text = ('Mr Brown said: "We will not go back to boom and bust.\n\n"And we will keep the economy stable," he '
            'added. "Never again." Also in Gateshead, Tony Blair told the audience he believed the Iraq war would '
            'make Britain safer and that troops would come home. He added: "I still think there are big changes."')
    found = _candidates(tagger, "Campaign trail", text, datetime(2005, 4, 1))
    assert ("Tony Blair", "the Iraq war would make Britain safer and that troops would come home") in found


def test_object_of_told_is_not_part_of_the_statement(tagger: Tagger) -> None:
    for obj in ("the audience", "a news conference", "delegates", "the committee"):
        found = _candidates(tagger, "Visit", f"Ben Wallace told {obj} that more troops would go to Estonia.",
                            datetime(2022, 2, 1))
        assert found == [("Ben Wallace", "more troops would go to Estonia")], obj


def test_round_up_headline_stops_at_the_next_story_and_needs_a_clause(tagger: Tagger) -> None:
    when = datetime(2022, 9, 20)
    assert _candidates(tagger, "The Papers: Truss rejects handouts and China cuts ties with US", "", when) == []
    assert _candidates(tagger, "Blair dismisses quit claim report", "", datetime(2005, 3, 1)) == []
    assert _candidates(tagger, "Russian threat means UK army needs more cash, says Ben Wallace", "",
                       datetime(2022, 6, 28)) == [("Ben Wallace", "Russian threat means UK army needs more cash")]


def test_a_possessive_defence_ministry_is_another_countrys(tagger: Tagger) -> None:
    text = ("Russia has mobilised 100,000 troops on the border with Ukraine. Its defence ministry announced that "
            "further equipment would be moved west.")
    assert _candidates(tagger, "Build-up", text, datetime(2022, 1, 14)) == []
    uk = "The UK's defence ministry announced that further equipment would be moved to Estonia."
    assert _candidates(tagger, "Build-up", uk, datetime(2022, 1, 14)) == \
        [("Ministry of Defence", "further equipment would be moved to Estonia")]


def test_mi6_chief_is_a_uk_government_voice_on_the_war(tagger: Tagger) -> None:
    result = tagger.tag("Spy chief", "The MI6 chief said Russia was running out of steam in its war in Ukraine.",
                        datetime(2022, 7, 21))
    assert UKDS in result.tags
    assert {(s.speaker, s.role) for s in result.statements} == \
        {("Sir Richard Moore", "Chief of the Secret Intelligence Service (MI6)")}


def test_an_office_in_apposition_describes_the_person_named(tagger: Tagger) -> None:
    # "a defence minister" after James Heappey's name is his description, not a second speaker (it used to be
    # resolved to the Defence Secretary of the day), and two comma clauses may stand before the verb.
    text = ("James Heappey, a defence minister, writing in the Sun, said: \u201cWe are aware of Russian military "
            "advance-force operations in Ukraine.\u201d")
    found = _candidates(tagger, "Warning", text, datetime(2022, 1, 25))
    assert found == [("James Heappey", "We are aware of Russian military advance-force operations in Ukraine")]
    assert speakers(tagger.tag("Warning", text, datetime(2022, 1, 25))) == {("James Heappey", "Armed Forces Minister")}


def test_corrections_column_with_one_war_sentence_is_not_war_coverage(tagger: Tagger) -> None:
    text = ("Corrections and clarifications. An article on school meals gave the wrong date for the council vote; "
            "it was 12 March. A caption misnamed a footballer. A report said Russian troops had entered Kharkiv "
            "on Monday; they entered on Sunday. A recipe listed 200g of sugar instead of 20g.")
    result = tagger.tag("Corrections and clarifications", text, datetime(2022, 3, 1))
    assert WAR not in result.tags
    assert any(e.kind == "exclusion" and "corrections column" in e.text for e in result.decision(WAR).evidence)


def test_a_bare_description_refers_back_to_the_person_named_before(tagger: Tagger) -> None:
    when = datetime(2022, 3, 1)
    named = "Ben Wallace visited Estonia on Monday. The minister said Russian troops were exhausted."
    assert _candidates(tagger, "Visit", named, when) == [("Ben Wallace", "Russian troops were exhausted")]
    # The last person named is someone else: the description is theirs, not the official's.
    other = ("Ben Wallace met Emmanuel Macron. President Macron spoke first. The politician said Russian troops were "
             "exhausted.")
    assert _candidates(tagger, "Visit", other, when) == []
    assert _candidates(tagger, "Visit", "The minister said Russian troops were exhausted.", when) == []


def test_other_matters_are_measured_for_the_model(tagger: Tagger) -> None:
    # The MoD speaks on defence by definition for the rule, but the model also sees that the words attributed
    # are about a court case and housing, and can weigh that against it.
    text = "The Ministry of Defence said it would appeal against the tribunal's ruling on the housing compensation."
    analysis = tagger.analyse("Ruling", text, datetime(2023, 5, 1))
    (candidate,) = next(t for t in analysis.tags if t.rule.name == UKDS).candidates
    assert candidate.features["matter.implied"] == 1.0
    assert candidate.features["other.statement"] >= 3.0
    on_defence = tagger.analyse("Jets", "The Ministry of Defence said the jets would deploy to Poland.",
                                datetime(2023, 5, 1))
    (candidate,) = next(t for t in on_defence.tags if t.rule.name == UKDS).candidates
    assert candidate.features["other.statement"] == 0.0 and candidate.features["matter.statement"] >= 2.0


@pytest.mark.parametrize("text", [
    "The chief of the defence staff, Gen Angus Campbell, said Australian troops would train Ukrainians.",
    "Chief of the Defence Staff General Angus Campbell said the troops would train Ukrainian soldiers.",
    "Defence Secretary Lloyd Austin said the US would send more tanks to Ukraine.",
    "Foreign Secretary Vinay Kwatra said India would not join sanctions on Russia.",
    "The defence minister, Richard Marles, said Australia would send armoured vehicles to Ukraine.",
    "Canada's chief of the defence staff said troops would go to Latvia.",
    "The Defense Secretary said the US would send more tanks to Ukraine.",
])
def test_another_countrys_office_with_a_uk_like_title_is_not_a_uk_voice(tagger: Tagger, text: str) -> None:
    assert _candidates(tagger, "Ukraine", text, datetime(2023, 3, 1)) == []


def test_a_named_uk_holder_behind_rank_and_honorifics_is_still_ours(tagger: Tagger) -> None:
    text = "The chief of the defence staff, Admiral Sir Tony Radakin, said British troops would train Ukrainians."
    assert _candidates(tagger, "Ukraine", text, datetime(2023, 3, 1)) == \
        [("Sir Tony Radakin", "British troops would train Ukrainians")]


def test_a_statement_rule_without_matter_groups_still_measures(tmp_path: Path) -> None:
    # matter_group and other_group are optional: every statement by a counted voice qualifies, features are 0.
    text = (CONFIG / "tags.toml").read_text(encoding="utf-8")
    text = text.replace('matter_group = "matter"', "").replace('other_group = "other"', "")
    (tmp_path / "tags.toml").write_text(text, encoding="utf-8")
    plain = Tagger.from_files(tmp_path / "tags.toml", CONFIG / "officials.toml")
    analysis = plain.analyse("Rail", "Boris Johnson said the new rail line would open next spring.",
                             datetime(2022, 2, 10))
    (candidate,) = next(t for t in analysis.tags if t.rule.name == UKDS).candidates
    assert candidate.rule_ok and candidate.features["matter.statement"] == 0.0
    assert candidate.features["other.statement"] == 0.0


def test_an_unnamed_uk_government_source_speaks_for_the_government_not_the_mod(tagger: Tagger) -> None:
    # "A Whitehall source" is not the defence ministry: their words count only where they are on a defence matter.
    when = datetime(2022, 1, 25)
    analysis = tagger.analyse("Inquiry", "A Whitehall source said the civil servant would publish her report on "
                              "Monday.", when)
    (candidate,) = next(t for t in analysis.tags if t.rule.name == UKDS).candidates
    assert candidate.statement.role == "UK government source"
    assert candidate.features["voice.defence"] == 0.0 and not candidate.rule_ok
    on_defence = tagger.analyse("Troops", "British sources said the troops would deploy to Estonia.", when)
    (candidate,) = next(t for t in on_defence.tags if t.rule.name == UKDS).candidates
    assert candidate.rule_ok and candidate.features["voice.government"] == 1.0


def test_a_round_up_headline_lends_its_official_story_only(tagger: Tagger) -> None:
    # A feed entry is read with its headline, but in a round-up of two stories the war words belong to the other
    # story, not to what the Prime Minister is reported to have said.
    when = datetime(2022, 4, 24)
    roundup = tagger.analyse("Newspaper headlines: PM defends premiership, and Ukraine's weapons pleas",
                             "Boris Johnson insists he is delivering for Britain.", when)
    (candidate,) = next(t for t in roundup.tags if t.rule.name == UKDS).candidates
    assert not candidate.rule_ok
    single = tagger.analyse("PM pledges more weapons for Ukraine", "Boris Johnson insists he is delivering.", when)
    (candidate,) = [c for c in next(t for t in single.tags if t.rule.name == UKDS).candidates
                    if c.statement.field == "text"]
    assert candidate.rule_ok


def test_a_paraphrase_ends_before_the_reporters_framing(tagger: Tagger) -> None:
    text = ("Boris Johnson said the government would “track down dirty money in this country”, amid concerns "
            "Russia could invade Ukraine.")
    assert _candidates(tagger, "Money", text, datetime(2022, 1, 25)) == \
        [("Boris Johnson", "the government would “track down dirty money in this country”")]
    # A leading clause is not framing: the words attributed keep it.
    text = "Ben Wallace said that, as the war drags on, the UK would send more artillery."
    assert _candidates(tagger, "Artillery", text, datetime(2022, 6, 1)) == \
        [("Ben Wallace", "as the war drags on, the UK would send more artillery")]


def test_he_after_someone_else_named_with_a_description_is_not_the_official_before(tagger: Tagger) -> None:
    text = ("Ben Wallace is in Australia for talks. This week David Hannay, the former UK ambassador to the UN, "
            "described the submarine deal as a travesty. He added: “It will be taught as how to lose friends.”")
    assert _candidates(tagger, "Talks", text, datetime(2022, 1, 20)) == []


def test_a_participle_reports_the_speech_of_the_sentences_subject(tagger: Tagger) -> None:
    when = datetime(2022, 3, 1)
    text = "On Monday, Ben Wallace visited troops in Estonia, saying: “Our commitment to Nato is unshakeable.”"
    assert _candidates(tagger, "Visit", text, when) == [("Ben Wallace", "Our commitment to Nato is unshakeable")]
    pronoun = ("Ben Wallace flew to Tallinn. He visited troops in Estonia, saying the UK would double its "
               "deployment.")
    assert _candidates(tagger, "Visit", pronoun, when) == [("Ben Wallace", "the UK would double its deployment")]
    # The official is the object, not the subject: the participle is someone else's.
    other = "Vladimir Putin criticised Boris Johnson, saying British diplomacy was worthless."
    assert _candidates(tagger, "Kremlin", other, when) == []


def test_a_purpose_clause_carries_the_speech(tagger: Tagger) -> None:
    text = ("Boris Johnson met Volodymyr Zelenskiy. The UK prime minister flew to Kyiv to warn that a Russian "
            "invasion would be a disaster for Moscow.")
    assert _candidates(tagger, "Kyiv", text, datetime(2022, 2, 2)) == \
        [("Boris Johnson", "a Russian invasion would be a disaster for Moscow")]
    refused = "Boris Johnson flew to Kyiv and refused to say whether troops would be sent."
    assert _candidates(tagger, "Kyiv", refused, datetime(2022, 2, 2)) == []


def test_a_mask_limited_to_the_war_tag_leaves_other_wars_a_defence_matter(tagger: Tagger) -> None:
    # "the Iraq war" is not the Russia-Ukraine war, but a prime minister on it speaks on a war matter.
    text = "Tony Blair said the Iraq war had made Britain a safer place."
    analysis = tagger.analyse("Blair on Iraq", text, datetime(2005, 4, 20))
    (candidate,) = next(t for t in analysis.tags if t.rule.name == UKDS).candidates
    assert candidate.rule_ok and candidate.features["matter.statement"] >= 2.0
    war = next(t for t in analysis.tags if t.rule.name == WAR)
    assert not any(e.kind == "term" and e.text.startswith("'war'") for e in war.evidence)


def test_talking_about_something_reports_speech(tagger: Tagger) -> None:
    text = ("Boris Johnson faced MPs at noon. He rattled on about trying to stop Putin invading Ukraine, while Labour "
            "focused on the parties.")
    assert _candidates(tagger, "PMQs", text, datetime(2022, 1, 26)) == \
        [("Boris Johnson", "trying to stop Putin invading Ukraine")]


def test_a_speech_noun_made_by_an_official(tagger: Tagger) -> None:
    text = ("The briefing came days after a warning made by the foreign secretary, Liz Truss, on Saturday of a "
            "Kremlin plot to install a pro-Moscow government in Ukraine.")
    assert _candidates(tagger, "Plot", text, datetime(2022, 1, 25)) == \
        [("Liz Truss", "a Kremlin plot to install a pro-Moscow government in Ukraine")]
    # Speeches by an official that the text does not report the content of are not statements.
    text = "Speeches by the UK defence secretary feature on several front pages."
    assert _candidates(tagger, "The Papers", text, datetime(2022, 5, 9)) == []


def test_sanctions_on_russia_are_on_topic_without_naming_the_war(tagger: Tagger) -> None:
    # Sanctions pieces often never name the war: Russia with a sanctions measure puts a sentence on topic.
    analysis = tagger.analyse("Russian oligarchs' super yachts seized",
                              "French and German authorities have seized yachts under new sanctions on oligarchs.",
                              datetime(2022, 3, 3))
    war = next(t for t in analysis.tags if t.rule.name == WAR)
    assert war.features["title.on_topic"] == 1.0
    # Sanctions alone, without Russia, are not the war.
    other = tagger.analyse("Iran sanctions tightened", "New sanctions target Iranian oil exports.",
                           datetime(2022, 3, 3))
    assert next(t for t in other.tags if t.rule.name == WAR).features["title.on_topic"] == 0.0


def _said(tagger: Tagger, title: str, text: str, when: datetime = datetime(2022, 3, 10)) -> set[tuple]:
    """(speaker, role, kind, text) of every statement the rules find, given or not."""
    analysis = tagger.analyse(title, text, when)
    return {(c.statement.speaker, c.statement.role, c.statement.kind, c.statement.text)
            for tag in analysis.tags for c in tag.candidates}


def test_the_words_start_after_where_they_were_said(tagger: Tagger) -> None:
    text = ("Ben Wallace wrote in the Sunday papers that the army needed more long-range artillery to deter Moscow. "
            "The Ministry of Defence said in its morning intelligence briefing that Russian columns had stalled "
            "north of the capital.")
    found = {t for *_, t in _said(tagger, "Artillery", text)}
    assert "the army needed more long-range artillery to deter Moscow" in found
    assert "Russian columns had stalled north of the capital" in found


def test_a_former_holder_speaks_in_no_office(tagger: Tagger) -> None:
    text = ("Former defence secretary Michael Fallon said the navy had too few frigates to patrol the Atlantic. "
            "Lord Dannatt, the ex-head of the army, said tanks should be sent to Kyiv at once.")
    assert not _said(tagger, "Frigates", text, datetime(2022, 3, 10))


def test_the_uk_government_and_its_spokespeople_speak_for_the_government(tagger: Tagger) -> None:
    text = ("The British government has condemned the Russian shelling of the nuclear plant at Zaporizhzhia. "
            "A government spokesperson said more air-defence missiles would be sent to Ukraine.")
    found = _said(tagger, "Shelling condemned", text)
    assert {(s, r) for s, r, *_ in found} == {(None, "UK government")}
    assert len(found) == 2


def test_a_bare_defence_ministry_in_a_war_briefing_is_not_the_uks(tagger: Tagger) -> None:
    text = ("Russian troops pushed towards Sloviansk overnight. The defence ministry said 40 enemy soldiers had "
            "been killed in the fighting.")
    assert not _said(tagger, "Battle for Sloviansk", text)
    marked = "Britain's defence ministry said in its latest update that Russian troops were short of shells."
    assert {r for _s, r, *_ in _said(tagger, "Shells", marked)} == {"Ministry of Defence"}


def test_someone_else_named_next_to_an_official_keeps_their_own_words(tagger: Tagger) -> None:
    text = ("Ben Wallace announced a new package of anti-tank weapons for Ukraine on Monday. Moscow's envoy to "
            "London, Andrei Kelin, described Wallace's package as a reckless escalation of the war. \u201cThis will "
            "only prolong the fighting,\u201d he told reporters.\n\n"
            "\u201cEvery shipment makes peace harder,\u201d said Grigory Pavlov, a Kremlin adviser. He added that "
            "Russia would respond to the weapons deliveries.\n\n"
            "One veteran of the Afghan war said the weapons were well suited to the Ukrainian army. He added that "
            "British training would matter more than the missiles.")
    found = _said(tagger, "Anti-tank weapons", text)
    by_wallace = {t for s, _r, _k, t in found if s == "Ben Wallace"}
    assert not any(word in t for t in by_wallace for word in ("prolong", "Kelin", "peace", "respond", "training"))


def test_a_report_is_not_a_person_who_takes_her_pronoun(tagger: Tagger) -> None:
    text = ("Critics attacked Liz Truss, who toured the Pacific last week, after a newspaper report said she had "
            "warned that Russia's invasion of Ukraine could embolden other aggressors.")
    assert ("Liz Truss", "Foreign Secretary") in {(s, r) for s, r, *_ in _said(tagger, "Truss", text,
                                                                                datetime(2022, 1, 24))}


def test_a_quotation_carried_over_the_next_paragraph_keeps_its_speaker(tagger: Tagger) -> None:
    text = ("\u201cWe will not be cowed by threats from Moscow,\u201d the defence secretary said.\n\n"
            "\u201cOur help for Ukraine's army will go on for as long as it is needed.\u201d\n\n"
            "\u201cThat is a lie,\u201d said a Russian diplomat.")
    found = _said(tagger, "Not cowed", text, datetime(2022, 3, 10))
    assert ("Ben Wallace", "Defence Secretary", "direct", "We will not be cowed by threats from Moscow") in found
    assert ("Ben Wallace", "Defence Secretary", "direct",
            "Our help for Ukraine's army will go on for as long as it is needed") in found
    assert not any("lie" in t for *_, t in found)


def test_a_quotation_reopened_for_its_next_paragraph_on_one_line(tagger: Tagger) -> None:
    text = ("The foreign secretary, Liz Truss, said: \u201cRussia's troop build-up is a threat to all of Europe. "
            "\u201cWe stand with our allies and any incursion would carry a severe cost.\u201d")
    found = {t for s, _r, k, t in _said(tagger, "Build-up", text, datetime(2022, 1, 7)) if s == "Liz Truss"}
    assert found == {"Russia's troop build-up is a threat to all of Europe",
                     "We stand with our allies and any incursion would carry a severe cost"}


@pytest.mark.parametrize(("text", "expected"), [
    # Paragraphs flattened into one line, the second paragraph of a quote reopened without closing the first.
    pytest.param("The foreign secretary, Liz Truss, told MPs the UK would act in lockstep with the US. \u201cAnyone "
                 "who backs the Kremlin's war can be sanctioned,\u201d she said. \u201cThere will be nowhere to hide. "
                 "\u201cThis is the toughest regime we have had.\u201d The bill is due in February.",
                 {"There will be nowhere to hide", "This is the toughest regime we have had"}, id="reopened"),
    pytest.param("The Kremlin, the foreign secretary said, \u201chas not learned the lessons of history\u201d and an "
                 "\u201cinvasion will only lead to a terrible quagmire\u201d.",
                 {"has not learned the lessons of history", "invasion will only lead to a terrible quagmire"},
                 id="joined-by-and"),
])
def test_a_quotation_carried_on_from_an_officials(tagger: Tagger, text: str, expected: set[str]) -> None:
    found = {t for s, _r, _k, t in _said(tagger, "Truss on Russia", text, datetime(2022, 1, 31)) if s == "Liz Truss"}
    assert expected <= found


def test_a_quotation_after_an_officials_paraphrase_is_theirs(tagger: Tagger) -> None:
    text = ("Boris Johnson said the UK was bringing the west together against Russian aggression. \u201cHe is trying "
            "to redraw the security map of Europe.\u201d Later, he said sanctions were ready.\n\n"
            "The defence secretary said British troops would stay in Estonia. \u201cWe will not waver.\u201d a "
            "Ukrainian soldier said.")
    found = {(s, k, t) for s, _r, k, t in _said(tagger, "Johnson in Kyiv", text, datetime(2022, 2, 1))}
    assert ("Boris Johnson", "direct", "He is trying to redraw the security map of Europe") in found
    assert not any("waver" in t for *_, t in found)  # its own attribution follows: a soldier's words


def test_framing_and_reporting_words_are_not_the_words_attributed(tagger: Tagger) -> None:
    text = ("Speaking to troops in Estonia on Friday, Ben Wallace praised their readiness. "
            "New frigates would be ordered within a year, Wallace added in a later reply to a Labour MP. "
            "If pressed, Wallace said he believed the Baltic states would hold, and he said Moscow should know it.")
    found = {t for s, _r, _k, t in _said(tagger, "Frigates", text) if s == "Ben Wallace"}
    assert "New frigates would be ordered within a year" in found
    assert "the Baltic states would hold" in found
    assert "Moscow should know it" in found
    assert not any(t.startswith(("Speaking", "in a later", "he believed")) for t in found)


def test_a_joint_statement_of_two_officials_is_read_once_each(tagger: Tagger) -> None:
    text = ("Boris Johnson and Ben Wallace said more British troops would go to Poland. \u201cWe are ready,\u201d "
            "they said.\n\n\u201cThe alliance is united.\u201d")
    found = _said(tagger, "Troops to Poland", text)
    assert {s for s, *_ in found} >= {"Boris Johnson", "Ben Wallace"}


def test_headline_attribution_without_a_comma_and_by_an_agent(tagger: Tagger) -> None:
    lead = "The defence secretary spoke after talks with Nato allies about Russian aggression."
    found = _said(tagger, "British jets will not patrol Ukrainian skies says Wallace", lead)
    assert ("Ben Wallace", "Defence Secretary", "indirect", "British jets will not patrol Ukrainian skies") in found
    found = _said(tagger, "Plea for more air defences turned down by defence secretary", lead)
    assert ("Ben Wallace", "Defence Secretary", "indirect", "Plea for more air defences turned down") in found


def test_press_review_paraphrases_of_an_official(tagger: Tagger) -> None:
    text = ("The Mirror leads with the defence secretary's \u201cpaper tiger\u201d jibe at the Kremlin over the war in "
            "Ukraine. The Times carries Ben Wallace's remarks likening Russia's generals to gamblers.")
    found = {(s, k, t) for s, _r, k, t in _said(tagger, "The papers", text)}
    assert ("Ben Wallace", "direct", "paper tiger") in found
    assert ("Ben Wallace", "indirect", "likening Russia's generals to gamblers") in found


def test_a_whole_quoted_sentence_after_an_officials_quote_on_the_same_line(tagger: Tagger) -> None:
    text = ("\u201cMoscow must understand that sanctions will follow any incursion,\u201d Ben Wallace said. \u201cWe "
            "are sending more anti-tank weapons to Ukraine this week.\u201d \u201cThat is provocation,\u201d said "
            "Mr Peskov. \u201cRussia will answer it.\u201d")
    found = {(s, t) for s, _r, _k, t in _said(tagger, "Weapons", text)}
    assert ("Ben Wallace", "We are sending more anti-tank weapons to Ukraine this week") in found
    assert not any("answer" in t or "provocation" in t for _s, t in found)


def test_a_participle_introducing_a_quote_after_a_pronoun_subject(tagger: Tagger) -> None:
    text = ("Ben Wallace flew to Tallinn on Friday. Keen to reassure the Baltic states, he met the Estonian prime "
            "minister, adding: \u201cBritain will defend every inch of Nato territory.\u201d")
    assert ("Ben Wallace", "direct", "Britain will defend every inch of Nato territory") in {
        (s, k, t) for s, _r, k, t in _said(tagger, "Tallinn", text)}


@pytest.mark.parametrize("text", [
    "According to the latest British intelligence assessment, Russian units near Kherson are short of fuel.",
    "The UK Ministry of Defence's newest intelligence update said Russian units near Kherson were short of fuel.",
    "Britain's defence ministry said Russian units near Kherson were short of fuel, in its daily update on Twitter.",
    "UK defence intelligence assessed that Russian units near Kherson were short of fuel.",
])
def test_the_mods_intelligence_updates_however_introduced(tagger: Tagger, text: str) -> None:
    found = _said(tagger, "Kherson", text)
    assert {(s, r.startswith("Ministry of Defence")) for s, r, *_ in found} == {(None, True)}
    assert all(t.startswith("Russian units near Kherson") and t.endswith("short of fuel") for *_, t in found)


def test_reporting_words_and_topics_alone_are_not_statements(tagger: Tagger) -> None:
    text = ("Ben Wallace said Russian reserves were exhausted. Pressed on the matter, Mr Wallace told reporters on "
            "Tuesday. The defence secretary's warning over the Russian build-up near Ukraine led the bulletins.")
    assert {t for *_, t in _said(tagger, "Reserves", text)} == {"Russian reserves were exhausted"}
    assert not _said(tagger, "Wallace's warning to Moscow over Ukraine border build-up", "")


def test_another_countrys_service_chief_named_so_before_is_not_ours(tagger: Tagger) -> None:
    text = ("The general resigned on Monday after a row over Ukraine. The army chief also said Russian troops had "
            "crossed into Belarus to prepare an invasion of Ukraine.")
    assert not _said(tagger, "Polish army chief quits over Ukraine row", text)
    assert _said(tagger, "Army chief quits over Ukraine row", text)  # without the foreign one before: ours
    ours = "The head of the British Army said the invasion of Ukraine meant the army must be ready to fight again."
    assert {r for _s, r, *_ in _said(tagger, "Army chief warns", ours)} == {"Chief of the General Staff"}


def test_spokespeople_speak_for_their_body(tagger: Tagger) -> None:
    text = ("An MoD spokesperson said two Typhoons had been scrambled to shadow Russian bombers. A No 10 spokeswoman "
            "said the prime minister had been told of the Russian incursion.")
    found = {r for _s, r, *_ in _said(tagger, "Typhoons scrambled", text)}
    assert found == {"UK defence source", "Downing Street"}


def test_a_pronoun_chain_runs_across_paragraph_breaks(tagger: Tagger) -> None:
    text = ("Liz Truss arrived in Vilnius on Sunday for talks with Baltic ministers.\n\n"
            "She said Britain would keep its jets in the region for as long as Russia threatened Nato.\n\n"
            "She added that sanctions on Moscow would be tightened further.")
    found = {(s, t) for s, _r, _k, t in _said(tagger, "Truss in Vilnius", text, datetime(2022, 3, 10))}
    assert ("Liz Truss", "Britain would keep its jets in the region for as long as Russia threatened Nato") in found
    assert ("Liz Truss", "sanctions on Moscow would be tightened further") in found


def test_bare_officials_right_after_a_uk_body_are_that_bodys(tagger: Tagger) -> None:
    text = ("Families of diplomats are being flown home from Kyiv as Russian troops mass on the border, the Foreign "
            "Office said. Officials said the embassy itself would stay open. US officials said an attack could "
            "come within days.")
    found = {(r, t) for _s, r, _k, t in _said(tagger, "Diplomats' families leave Kyiv", text)}
    assert ("Foreign Office", "the embassy itself would stay open") in found
    assert not any("attack" in t for _r, t in found)
    other = ("Vladimir Putin met the Belarusian leader on Monday.\n\nOfficials said the talks had covered joint "
             "military exercises near Ukraine's border.")
    assert not _said(tagger, "Talks", other)


def test_paragraph_tags_of_a_feed_description_end_the_statement(tagger: Tagger) -> None:
    text = ("<p>Ben Wallace said more anti-tank weapons would go to Ukraine</p><p>Shares in BAE rose 3% in London "
            "on Tuesday</p>")
    found = {t for *_, t in _said(tagger, "Weapons for Ukraine", text)}
    assert found == {"more anti-tank weapons would go to Ukraine"}
    cleaned = clean("a</p><p>b<br/>c <b>d</b> &amp;")
    assert len(cleaned) == len("a</p><p>b<br/>c <b>d</b> &amp;")  # offsets stay aligned
    assert cleaned.split() == ["a", "b", "c", "d"] and cleaned.count("\n") == 3  # <b> is inline: no break


def test_kind_of_a_quotation_after_a_short_lead_in_and_of_a_headline_colon(tagger: Tagger) -> None:
    text = ("Liz Truss spoke in Sydney on Friday. She urged Vladimir Putin to \u201cdesist and step back from Ukraine "
            "before he makes a massive strategic mistake\u201d. She said Russia had not learned from history.")
    kinds = {t: k for _s, _r, k, t in _said(tagger, "Truss in Sydney", text, datetime(2022, 1, 21))}
    quoted = [k for t, k in kinds.items() if "desist and step back" in t]
    assert quoted == ["direct"]  # nearly all the words attributed are inside the quotation marks
    assert kinds["Russia had not learned from history"] == "indirect"
    headline = {(t, k) for _s, _r, k, t in _said(tagger, "Boris Johnson: Putin would not have invaded Ukraine if he "
                                                  "were a woman", "", datetime(2022, 6, 29))}
    assert headline == {("Putin would not have invaded Ukraine if he were a woman", "indirect")}
    quoted_headline = {k for *_, k, _t in _said(tagger, "Ben Wallace: \u2018Russia will fail in Ukraine\u2019", "")}
    assert quoted_headline == {"direct"}


def test_a_defence_minister_on_domestic_rows_speaks_on_other_matters(tagger: Tagger) -> None:
    text = ("Armed forces minister James Heappey said there needed to be some reflection about the amount of "
            "alcohol consumed in No 10. He said the national insurance rise would go ahead.")
    analysis = tagger.analyse("Minister on the morning round", text, datetime(2022, 1, 19))
    statements = [c for tag in analysis.tags for c in tag.candidates]
    assert statements and all(c.features["other.statement"] >= 1.0 for c in statements)
    assert all(c.features["matter.statement"] == 0.0 for c in statements)
