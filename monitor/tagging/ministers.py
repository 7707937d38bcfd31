"""Ministerial tenures from the dated public record: the Institute for Government Ministers Database (CC BY 4.0).

``monitor officials import-ifg appointments_joined.csv`` turns the database's joined appointments table into
``config/ministers.csv`` — one row per tenure of an office that ``config/officials.toml`` knows (Prime Minister,
Foreign Secretary, Defence Secretary and the Ministry of Defence's ministers) — which the officials file names as
its ``ministers_file``. The military chiefs are not in the database; their tenures stay in officials.toml.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from monitor.core.errors import MonitorError

CREDIT = "Institute for Government Ministers Database (CC BY 4.0)"
COLUMNS = ("person", "role", "start", "end", "post")
_MOD = "Ministry of Defence"

# (post, organisation or "" for any) → officials.toml role key; checked in order, first match wins.
POSTS: tuple[tuple[str, str, str], ...] = (
    ("Prime Minister", "", "prime_minister"),
    ("Secretary of State for Defence", "", "defence_secretary"),
    ("Secretary of State for Foreign and Commonwealth Affairs", "", "foreign_secretary"),
    ("Secretary of State for Foreign, Commonwealth and Development Affairs", "", "foreign_secretary"),
    ("Secretary of State for Foreign Affairs", "", "foreign_secretary"),
    ("Minister for the Armed Forces", _MOD, "armed_forces_minister"),
    ("Minister for Armed Forces", _MOD, "armed_forces_minister"),
    ("Minister for Defence Procurement", _MOD, "procurement_minister"),
    ("Minister for Defence Procurement and Industry", _MOD, "procurement_minister"),
    ("Minister for Defence Equipment and Support", _MOD, "procurement_minister"),
    ("Minister for Defence Equipment, Support and Technology (including Defence Exports)", _MOD,
     "procurement_minister"),
    ("Minister for Strategic Defence Acquisition Reform", _MOD, "procurement_minister"),
    ("Minister for Veterans", _MOD, "veterans_minister"),
    ("Minister for Veterans and People", _MOD, "veterans_minister"),
    ("Minister for Defence People and Veterans", "", "veterans_minister"),
    ("Minister for Defence Personnel, Welfare and Veterans", _MOD, "veterans_minister"),
    ("Minister for Defence Veterans, Reserves and Personnel", _MOD, "veterans_minister"),
    ("Minister for Veterans' Affairs", "", "veterans_minister"),
    ("Minister for Defence People", _MOD, "veterans_minister"),
    ("Minister for Defence People and Families", _MOD, "veterans_minister"),
    ("", _MOD, "defence_minister_other"),  # every other Ministry of Defence post (MoS, PUSS, Reserves, …)
)
_REQUIRED = ("person", "post", "organisation", "start_date", "end_date")


@dataclass(frozen=True)
class MinisterTenure:
    person: str
    role: str
    start: str  # YYYY-MM-DD
    end: str  # YYYY-MM-DD, or "" while in office
    post: str


def role_for(post: str, organisation: str) -> str | None:
    """The officials.toml role key of an appointment, or None for a post the monitor does not follow."""
    for name, org, role in POSTS:
        if (not name or name == post) and (not org or org == organisation):
            return role
    return None


def convert(source: Path) -> list[MinisterTenure]:
    """The followed tenures of the database's ``appointments_joined.csv``, oldest first."""
    try:
        with Path(source).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise MonitorError(f"{source}: not the Ministers Database's appointments table (no column "
                                   f"{', '.join(missing)})")
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise MonitorError(f"{source}: cannot read: {exc}") from None
    except csv.Error as exc:
        raise MonitorError(f"{source}: not a valid CSV file: {exc}") from None
    out = []
    for row in rows:
        role = role_for(row["post"], row["organisation"])
        if role is None or not row["start_date"]:
            continue
        out.append(MinisterTenure(" ".join(row["person"].split()), role, row["start_date"], row["end_date"] or "",
                                  row["post"]))
    out.sort(key=lambda t: (t.start, t.role, t.person))
    return out


def write(tenures: list[MinisterTenure], out: Path) -> None:
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for t in tenures:
            writer.writerow((t.person, t.role, t.start, t.end, t.post))
    tmp.replace(out)
