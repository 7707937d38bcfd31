"""Ministers' tenures from the dated public record: the importer, the ministers file, and dates at the boundaries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from monitor.core.errors import MonitorError
from monitor.tagging import Tagger, TaggingConfigError
from monitor.tagging.ministers import convert, role_for, write
from tests.test_cli import monitor

CONFIG = Path(__file__).resolve().parents[1] / "config"
HEADER = "person,post,rank,organisation,start_date,end_date,appointment_id,person_id,post_id,organisation_id\n"
# Rows in the Ministers Database's own layout (made up ids; real posts and dates).
ROWS = [
    "Ben Wallace,Secretary of State for Defence,SoS,Ministry of Defence,2019-07-24,2023-08-31,a,b,c,d",
    "Grant Shapps,Secretary of State for Defence,SoS,Ministry of Defence,2023-08-31,2024-07-05,a,b,c,d",
    "Liz Truss,Prime Minister,PM,Prime Minister's Office,2022-09-06,2022-10-25,a,b,c,d",
    "Liz Truss,Secretary of State for Foreign and Commonwealth Affairs,SoS,FCO,2021-09-15,2022-09-06,a,b,c,d",
    "Baroness Taylor of Bolton,Minister of State,MoS,Ministry of Defence,2008-01-01,2010-05-11,a,b,c,d",
    "Jane Doe,Secretary of State for Health,SoS,Department of Health,2020-01-01,,a,b,c,d",
    "Dan Jarvis,Secretary of State for Defence,SoS,Ministry of Defence,2026-06-11,,a,b,c,d",
]


def test_import_keeps_followed_offices_and_maps_posts_to_roles(tmp_path: Path) -> None:
    source = tmp_path / "appointments_joined.csv"
    source.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    tenures = convert(source)
    assert [(t.person, t.role, t.start, t.end) for t in tenures] == [
        ("Baroness Taylor of Bolton", "defence_minister_other", "2008-01-01", "2010-05-11"),
        ("Ben Wallace", "defence_secretary", "2019-07-24", "2023-08-31"),
        ("Liz Truss", "foreign_secretary", "2021-09-15", "2022-09-06"),
        ("Liz Truss", "prime_minister", "2022-09-06", "2022-10-25"),
        ("Grant Shapps", "defence_secretary", "2023-08-31", "2024-07-05"),
        ("Dan Jarvis", "defence_secretary", "2026-06-11", ""),
    ]
    assert role_for("Minister for Veterans' Affairs", "Cabinet Office") == "veterans_minister"
    assert role_for("Minister for Veterans", "Department of Health") is None
    out = tmp_path / "ministers.csv"
    write(tenures, out)
    assert out.read_text().splitlines()[0] == "person,role,start,end,post"


def test_import_refuses_a_file_that_is_not_the_database(tmp_path: Path) -> None:
    source = tmp_path / "other.csv"
    source.write_text("name,office\nA,B\n", encoding="utf-8")
    with pytest.raises(MonitorError, match="not the Ministers Database's appointments table"):
        convert(source)
    result = monitor("officials", "import-ifg", str(source), "--out", str(tmp_path / "m.csv"), check=False)
    assert result.returncode == 2 and result.stderr.startswith("monitor: error: ")
    assert not (tmp_path / "m.csv").exists()


def test_imported_file_drives_statement_attribution(tmp_path: Path) -> None:
    source = tmp_path / "appointments_joined.csv"
    source.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    result = monitor("officials", "import-ifg", str(source), "--out", str(tmp_path / "ministers.csv"))
    assert "wrote 6 tenures of 4 offices" in result.stdout
    officials = (CONFIG / "officials.toml").read_text(encoding="utf-8")
    (tmp_path / "officials.toml").write_text(officials, encoding="utf-8")
    tagger = Tagger.from_files(CONFIG / "tags.toml", tmp_path / "officials.toml")
    said = "The defence secretary said more troops would be sent to Estonia to deter Russia."
    assert [s.speaker for s in tagger.tag("Troops", said, datetime(2026, 7, 1)).statements] == ["Dan Jarvis"]
    # A peer known only from the record is found by the name the press uses.
    peer = "Baroness Taylor said the helicopters would reach Afghanistan by the spring."
    assert [s.speaker for s in tagger.tag("Helicopters", peer, datetime(2009, 3, 1)).statements] == \
        ["Baroness Taylor of Bolton"]


@pytest.mark.parametrize(("when", "role_text", "holder"), [
    (datetime(2023, 8, 30), "defence secretary", "Ben Wallace"),
    (datetime(2023, 8, 31), "defence secretary", "Grant Shapps"),
    (datetime(2026, 6, 10), "defence secretary", "John Healey"),
    (datetime(2026, 6, 11), "defence secretary", "Dan Jarvis"),
    (datetime(2022, 9, 5), "UK prime minister", "Boris Johnson"),
    (datetime(2022, 9, 6), "UK prime minister", "Liz Truss"),
    (datetime(2022, 10, 25), "UK prime minister", "Rishi Sunak"),
    (datetime(2019, 7, 23), "UK prime minister", "Theresa May"),
])
def test_shipped_record_resolves_offices_at_the_boundaries(when: datetime, role_text: str, holder: str) -> None:
    tagger = Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml")
    text = f"The {role_text} said British troops would stay in Estonia to deter Russian aggression."
    assert [s.speaker for s in tagger.tag("Estonia", text, when).statements] == [holder]


def test_a_person_speaks_in_the_office_of_the_date_or_the_one_the_text_gives() -> None:
    tagger = Tagger.from_files(CONFIG / "tags.toml", CONFIG / "officials.toml")
    said = " said Russian troops on the border with Ukraine were a threat to Europe."
    dated = tagger.tag("Talks", "Liz Truss" + said, datetime(2022, 2, 10))  # February 2022: not yet PM
    assert {(s.speaker, s.role) for s in dated.statements} == {("Liz Truss", "Foreign Secretary")}
    for text in ("Foreign Secretary Liz Truss" + said, "Liz Truss, the foreign secretary," + said):
        undated = tagger.tag("Talks", text, None)  # no date: the office named beside her, not her last one
        assert {(s.speaker, s.role) for s in undated.statements} == {("Liz Truss", "Foreign Secretary")}, text


@pytest.mark.parametrize(("csv_text", "message"), [
    (None, "ministers file not found"),
    ("person,role,start,end,post\nA Person,no_such_role,2020-01-01,,Post\n", "ministers.csv:2: role 'no_such_role'"),
    ("person,role,start,end,post\nA Person,defence_secretary,20-01-01,,Post\n", "ministers.csv:2: start must be"),
    ("person,role,start,end,post\nA Person,defence_secretary,2020-01-01,2019-01-01,P\n", "end is before start"),
])
def test_broken_ministers_file_is_a_one_line_error(tmp_path: Path, csv_text: str | None, message: str) -> None:
    (tmp_path / "officials.toml").write_text((CONFIG / "officials.toml").read_text(encoding="utf-8"))
    if csv_text is not None:
        (tmp_path / "ministers.csv").write_text(csv_text, encoding="utf-8")
    with pytest.raises(TaggingConfigError) as info:
        Tagger.from_files(CONFIG / "tags.toml", tmp_path / "officials.toml")
    assert message in str(info.value) and "\n" not in str(info.value)
