"""UK officials, roles and bodies (config/officials.toml) and their resolution by date."""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.tagging.errors import TaggingConfigError

VOICES = ("defence", "government")
HONORIFICS = (
    "Mr", "Mrs", "Ms", "Miss", "Dr", "Sir", "Lord", "Lady", "Dame", "Baroness", "Earl", "General", "Gen",
    "Admiral", "Adm", "Air", "Chief", "Marshal", "Field", "Vice", "Rear", "Lieutenant", "Lt", "Colonel",
    "Secretary", "Minister", "Rt", "Hon",
)


@dataclass(frozen=True)
class Role:
    """An office held by one person at a time."""

    key: str
    title: str
    voice: str
    aliases: tuple[str, ...]
    needs_uk_context: bool = False


@dataclass(frozen=True)
class Body:
    """An institution or unnamed source that speaks (a statement's speaker is None, its role the title)."""

    key: str
    title: str
    voice: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Tenure:
    role: str
    start: dt.date
    end: dt.date | None

    def covers(self, when: dt.date) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


@dataclass(frozen=True)
class Person:
    name: str
    surname: str
    first: tuple[str, ...]
    aliases: tuple[str, ...]
    tenures: tuple[Tenure, ...]


@dataclass(frozen=True)
class Officials:
    """Everything in officials.toml, with lookups used by statement extraction."""

    roles: dict[str, Role]
    bodies: dict[str, Body]
    people: tuple[Person, ...]
    foreign_qualifiers: frozenset[str]
    not_current: frozenset[str]
    foreign_places: frozenset[str] = frozenset()

    def role_at(self, person: Person, when: dt.date | None) -> Role | None:
        """The role ``person`` held on ``when``; without a date, their most recent role."""
        if when is None:
            latest = max(person.tenures, key=lambda t: t.start, default=None)
            return self.roles[latest.role] if latest else None
        for tenure in person.tenures:
            if tenure.covers(when):
                return self.roles[tenure.role]
        return None

    def holder(self, role_key: str, when: dt.date | None) -> Person | None:
        """Who held ``role_key`` on ``when`` (None without a date or if unknown)."""
        if when is None:
            return None
        for person in self.people:
            for tenure in person.tenures:
                if tenure.role == role_key and tenure.covers(when):
                    return person
        return None

    def held(self, person: Person, role_key: str) -> bool:
        return any(t.role == role_key for t in person.tenures)


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaggingConfigError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _entry(table: Any, key: str, where: str) -> tuple[str, str, tuple[str, ...]]:
    if not isinstance(table, dict):
        raise TaggingConfigError(f"{where} must be a table")
    title = table.get("title")
    if not isinstance(title, str) or not title:
        raise TaggingConfigError(f"{where}.title must be a non-empty string")
    voice = table.get("voice")
    if voice not in VOICES:
        raise TaggingConfigError(f"{where}.voice must be one of {', '.join(VOICES)} (got {voice!r})")
    aliases = _str_list(table.get("aliases", []), f"{where}.aliases")
    return title, voice, (*(a.lower() for a in aliases), title.lower())


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise TaggingConfigError(f"{where} must be a date like 2019-07-24 (got {value!r})")


def load_officials(path: Path) -> Officials:
    """Read officials.toml and the ministers file it names (tenures from the dated public record)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise TaggingConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaggingConfigError(f"{path}: not valid TOML: {exc}") from None
    ministers_file = data.pop("ministers_file", "")
    if not isinstance(ministers_file, str):
        raise TaggingConfigError(f"{path}: ministers_file must be a file name")
    ministers = read_ministers(path.parent / ministers_file) if ministers_file else []
    return parse_officials(data, str(path), ministers)


def read_ministers(path: Path) -> list[tuple[str, Tenure, str]]:
    """(person, tenure, where) of every row of a ministers file (see monitor/tagging/ministers.py)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise TaggingConfigError(f"{path}: ministers file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TaggingConfigError(f"{path}: cannot read the ministers file: {exc}") from None
    out = []
    for n, row in enumerate(rows, 2):
        where = f"{path}:{n}"
        if not row.get("person") or not row.get("role"):
            raise TaggingConfigError(f"{where}: needs person, role, start and end columns")
        start = _date(row.get("start"), f"{where}: start")
        end = _date(row["end"], f"{where}: end") if row.get("end") else None
        out.append((" ".join(row["person"].split()), Tenure(row["role"], start, end), where))
    return out


def _name_key(name: str) -> str:
    return " ".join(w for w in name.replace("’", "'").split() if w not in HONORIFICS).lower()


def parse_officials(data: dict[str, Any], source: str,
                    ministers: list[tuple[str, Tenure, str]] | None = None) -> Officials:
    """Validate and build :class:`Officials` from parsed TOML and ministers' tenures; errors name the file and key.

    A minister's tenures join the [[people]] entry with the same name or alias (which gives first names,
    aliases and a surname); a minister without one becomes a person of their own.
    """

    def fail(msg: str) -> TaggingConfigError:
        return TaggingConfigError(f"{source}: {msg}")

    try:
        roles = {}
        for k, v in dict(data.get("roles", {})).items():
            roles[k] = Role(k, *_entry(v, k, f"roles.{k}"), needs_uk_context=bool(v.get("needs_uk_context", False)))
        bodies = {k: Body(k, *_entry(v, k, f"bodies.{k}")) for k, v in dict(data.get("bodies", {})).items()}
        people = []
        raw_people = data.get("people", [])
        if not isinstance(raw_people, list):
            raise TaggingConfigError("people must be an array of tables ([[people]])")
        for i, raw in enumerate(raw_people):
            where = f"people[{i}]"
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
                raise TaggingConfigError(f"{where}.name must be a non-empty string")
            name = raw["name"].strip()
            words = [w for w in name.split() if w not in HONORIFICS]
            surname = raw.get("surname", words[-1] if words else name)
            first = _str_list(raw.get("first", words[:1] or [name]), f"{where}.first ({name})")
            aliases = _str_list(raw.get("aliases", []), f"{where}.aliases ({name})")
            tenures = []
            raw_tenures = raw.get("tenure", [])
            if not isinstance(raw_tenures, list):
                raise TaggingConfigError(f"{where}.tenure ({name}) must be a list")
            for j, t in enumerate(raw_tenures):
                twhere = f"{where}.tenure[{j}] ({name})"
                if not isinstance(t, dict) or t.get("role") not in roles:
                    raise TaggingConfigError(f"{twhere}.role must name a [roles] key (got {t!r})")
                start = _date(t.get("start"), f"{twhere}.start")
                end = _date(t["end"], f"{twhere}.end") if "end" in t else None
                if end is not None and end < start:
                    raise TaggingConfigError(f"{twhere}: end is before start")
                tenures.append(Tenure(t["role"], start, end))
            people.append(Person(name, str(surname), first, aliases, tuple(tenures)))
        # An entry that only names a minister the ministers file does not list holds no office: nobody to resolve.
        people = [p for p in _with_ministers(people, ministers or [], roles) if p.tenures]
        foreign = frozenset(q.lower() for q in _str_list(data.get("foreign_qualifiers", []), "foreign_qualifiers"))
        not_current = frozenset(q.lower() for q in _str_list(data.get("not_current", []), "not_current"))
        places = frozenset(q.lower() for q in _str_list(data.get("foreign_places", []), "foreign_places"))
        for key in roles.keys() & bodies.keys():
            raise TaggingConfigError(f"key {key!r} is used both in [roles] and [bodies]")
    except TaggingConfigError as exc:
        raise fail(str(exc)) from None
    return Officials(roles, bodies, tuple(people), foreign, not_current, places)


def _with_ministers(people: list[Person], ministers: list[tuple[str, Tenure, str]],
                    roles: dict[str, Role]) -> list[Person]:
    by_name: dict[str, int] = {}
    for i, person in enumerate(people):
        for form in (person.name, *person.aliases):
            by_name.setdefault(_name_key(form), i)
    extra: dict[int, list[Tenure]] = {}
    for name, tenure, where in ministers:
        if tenure.role not in roles:
            raise TaggingConfigError(f"{where}: role {tenure.role!r} is not a [roles] key")
        if tenure.end is not None and tenure.end < tenure.start:
            raise TaggingConfigError(f"{where}: end is before start")
        i = by_name.get(_name_key(name))
        if i is None:
            people.append(_new_person(name))
            i = by_name[_name_key(name)] = len(people) - 1
        extra.setdefault(i, []).append(tenure)
    return [Person(p.name, p.surname, p.first, p.aliases, p.tenures + tuple(extra.get(i, ())))
            for i, p in enumerate(people)]


def _new_person(name: str) -> Person:
    """A minister known only from the ministers file: "Dan Jarvis"; a peer "Baroness Taylor of Bolton" is
    "Baroness Taylor" in text, "the Earl of Minto" "Minto"."""
    words = name.split()
    if words[0] in HONORIFICS and " of " in name:
        base = [w for w in name.split(" of ")[0].split() if w not in HONORIFICS]
        surname = base[-1] if base else name.rsplit(" of ", 1)[1].split()[0]
        return Person(name, surname, (words[0],), (f"{words[0]} {surname}",), ())
    plain = [w for w in words if w not in HONORIFICS] or words
    return Person(name, plain[-1], (words[0],) if words[0] in HONORIFICS else tuple(plain[:1]), (), ())
