"""Statement extraction: quotes and attributed paraphrases linked to UK officials and bodies."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass, replace

from monitor.tagging.officials import HONORIFICS, Body, Officials, Person, Role
from monitor.tagging.text import PhraseMatcher

_VERBS = re.findall(
    r"\w+",
    "said say says saying told tell tells added adds warned warns warning stressed stresses insisted "
    "insists claimed claims announced announces confirmed confirms revealed reveals urged urges argued "
    "argues believes believed suggested suggests described describes branded brands admitted admits "
    "accused accuses rejected rejects declared declares dismissed dismisses denied denies explained "
    "explains estimated estimates assessed assesses concluded concludes noted notes acknowledged "
    "acknowledges conceded concedes indicated indicates signalled signals hinted hints pledged pledges "
    "vowed vows promised promises predicted predicts wrote writes tweeted tweets stated states reported "
    "reports thinks thought condemned condemns criticised criticises praised praises welcomed welcomes "
    "cautioned cautions questioned questions called calls blamed blames assured assures reiterated "
    "reiterates repeated repeats maintained maintains emphasised emphasises highlighted highlights "
    "observed observes remarked remarks replied replies responded responds answered answers issued "
    "issues released warn urge insist stress announce confirm argue pledge promise declare framed frames"
)
# A participle after a comma reports the speech of the clause's subject: "Ben Wallace visited Tapa, saying ...".
_PARTICIPLES = frozenset(("saying", "adding", "warning", "insisting", "arguing", "telling", "claiming", "urging",
                          "stressing", "declaring", "noting", "explaining", "acknowledging", "describing"))
# Multi-word predicates that report a position: "has been openly critical of", "made it clear that".
_PREDICATES = (
    r"critical\s+of", r"scathing\s+(?:of|about)", r"clear\s+that", r"adamant\s+that", r"made\s+(?:it\s+)?clear",
    r"makes?\s+(?:it\s+)?clear", r"making\s+(?:it\s+)?clear", r"set\s+out", r"sets\s+out", r"spelled\s+out",
    r"pointed\s+out", r"points\s+out", r"continu(?:es|ed)(?=\s*[:,])", r"went\s+on(?=\s*[:,])",
    r"(?:spoke|speaks|talked|talks)\s+(?:about|of)", r"(?:rattled|banged|went)\s+on\s+about",
    r"press(?:ed|es)\s+for",
)


def _trie_regex(words: list[str]) -> str:
    """One regex for many words as a prefix trie (much faster than a flat alternation; longest match wins)."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def source(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + source(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return source(root)


_VERB_RE = re.compile(r"(?<![\w’'])(?:" + "|".join(_PREDICATES) + "|" + _trie_regex(sorted({*_VERBS, *_PARTICIPLES}))
                      + r")(?![\w’'])")
# A speech noun heading a that-clause: "the Foreign Office revelation that ...", "his warning that ...". Found by
# looking back from each " that " (much faster than scanning for the nouns everywhere).
_THAT = re.compile(r"\sthat\s+(?!(?:was|is|were|are|has|had|have|will|would|could|can|may|might|should|did|does|"
                   r"came|comes)\b)")
_SPEECH_NOUN = re.compile(
    r"(?<![\w’'])(?:[Aa]nnouncement|[Rr]evelation|[Ww]arning|[Cc]laim|[Aa]ssessment|[Aa]dmission|[Aa]ssurance|"
    r"[Pp]ledge|[Ii]nsistence|[Cc]onfirmation|[Ss]tatement|[Pp]rediction|[Ee]stimate|[Dd]isclosure|"
    r"[Aa]cknowledgement|[Pp]romise)(?:\s+(?:on|at|in|last|this|earlier|yesterday|today)(?:\s+[\w’'\-]+){0,2}?)?\Z"
)
# An official's possessive, a speech noun and the words: "’s “full tonto” jibe", "’s remarks comparing ...".
_OWNER_PARTICIPLES = frozenset(("comparing", "calling", "saying", "suggesting", "likening", "describing", "urging",
                                "warning", "claiming", "insisting", "vowing", "pledging"))
_OWNER_NOUN = re.compile(
    r"['’]s\s+(?:[a-z][\w\-]*\s+){0,2}?(?:(?P<quote>[“\"‘'][^“”\"‘’\n]{2,80}[”\"’'])\s+)?"
    r"(?:remarks?|comments?|words|jibe|quip|claims?|warnings?|pledge|vow|promise|call|plea|suggestion|comparison|"
    r"description|boast|admission|threat|attack|criticism|insistence)"
    r"(?P<link>(?(quote)|\s+(?:" + "|".join(sorted(_OWNER_PARTICIPLES)) + r"|that)\s+))"
)
# A speech noun and who made it: "a warning made by the foreign secretary, Liz Truss, on Saturday of a plot".
_NOUN_BY = re.compile(r"(?<![\w’'])(?:[Ww]arning|[Ss]tatement|[Aa]nnouncement|[Aa]ssessment|[Cc]laim|[Pp]ledge|"
                      r"[Pp]romise|[Rr]emarks|[Cc]omments)\s+(?:(?:made|issued|given|delivered)\s+)?by\s+")
_NOUN_BY_BODY = re.compile(r"(?:\s*,[^,;:“”\"]{1,60},)?\s*,?\s*(?:on\s+\w+\s+|last\s+\w+\s+)?(?:of|that)\s+")
_NOUN_OWNER = re.compile(r"(?:['’]s)?(?:\s+[a-z][\w\-]*){0,2}\s+\Z")
_POSSESSIVE = re.compile(r"(?<![\w’'])([Hh]is|[Hh]er|[Ii]ts|[Tt]heir)(?:\s+[a-z][\w\-]*)?\s+\Z")
# "Liz Truss: We have no better friends ..." (a transcript / live-blog label); "hearing from X: ..."
_LABEL_AFTER = re.compile(r"\s*:\s+(?=\S)")
# A live blog's lead-in to a transcript: "Wallace continues, with direct reference to Russia: …", "He invokes the
# second world war, too: …", "Truss moves on to the technology partnership: …".
_LEAD_IN = re.compile(
    r"\s+(?:also\s+|then\s+|now\s+)?(?:continue[sd]|invoke[sd]|move[sd]\s+on|turn(?:s|ed)\s+to|go(?:es)?\s+on|went\s+on|"
    r"reiterate[sd]|conclude[sd]|begins|began|opens|opened)(?![\w’'])(?:(?!\bthat\b)[^:;“”\"\n.!?]){0,100}:\s+(?=[A-Z0-9“\"‘])"
)
_LEAD_IN_PRONOUN = re.compile(r"\s*([Hh]e|[Ss]he)(?=\s)")
# After "comments from Truss": " are quite pointed: ...".
_LABEL_REST = re.compile(r"(?:(?!\bthat\b)[^:;“”\"\n.!?]){0,60}:\s+(?=[A-Z0-9“\"‘])")
_LABEL_BEFORE = re.compile(
    r"(?i)(?:^|.*\b(?:hear(?:ing)?|heard|quotes?|quoting|statement|comments?|words|remarks|speech|update)\s+"
    r"(?:from|by)\s+)\Z", re.S
)
_JOINT_BEFORE = re.compile(r"([A-Z][\w’'\-]*)\s+(?:and|&)\s+\Z")
_PERSON_BEFORE = re.compile(r"(?:M[rs]s?|Dr|President|Chancellor|Senator)\b\.?\s+([A-Z][\w’'\-]+)")
_ACCORDING = re.compile(r"[Aa]ccording to\s+")
_ACCORDING_GAP = re.compile(r"(?i)(?:the\s+|a\s+|an\s+)?"
                            r"(?:(?:latest|most\s+recent|new|daily|regular|weekly|recent)\s+)?")
# An intelligence update or assessment a body's words come in: "the MoD's latest intelligence update said",
# "according to British intelligence assessments, ...".
_REPORT_NOUN = re.compile(r"(?:['’]s)?(?:\s+[a-z][\w\-]*){0,3}?\s+(?:updates?|assessments?|briefings?|reports?|"
                          r"estimates?|statements?)\b")
# A document or a spokesperson standing for the body named before: "a lengthy release from Downing Street … The
# release said …", "Its statement added …", "a British source said … Wallace, the source added, “…”".
_DOCUMENT_SUBJECT = re.compile(r"(?<![\w’'])(?:[Tt]he|[Ii]ts|[Tt]his)\s+(?:release|statement|readout|read-out|"
                               r"briefing|update|note|source|spokes(?:man|woman|person))"
                               r"(?:\s+(?:has|had|also|then|later|further))*\s+$")
# A subject standing for someone named before: a pronoun, or a bare description of an office-holder ("Ben
# Wallace visited Estonia. The minister said ...").
_PRONOUN_SUBJECT = re.compile(
    r"(?<![\w’'])([Hh]e|[Ss]he|[Ii]t|[Tt]hey|[Tt]he\s+(?:minister|secretary|politician))"
    r"(?:\s+(?:has|had|also|then|later|again|would|will))*\s+$"
)
# What leads a sentence up to its subject: nothing, or one introductory phrase ("On Monday, ", "Speaking in Kyiv, ").
_INTRO = re.compile(r"\s*(?:[^,;:“”\"\n]{1,60},\s*)?")
_SAID_BEFORE = re.compile(r"(?<![\w’'])([Hh]e|[Ss]he)\s+(?:said|says|added|adds|warned|insisted|told\s+[\w\s]{1,30}?)"
                         r"\s*,\s*\Z")
_INTRO_PRONOUN = re.compile(r"\s*(?:[^,;:“”\"\n]{1,60},\s*)?([Hh]e|[Ss]he)\s")
# "Truss addressed the Lowy Institute in Sydney and warned Russia that ...": the speech verb in the second of two
# verb phrases of one subject (nothing but the first phrase in between: no clause, quote or name).
_COORDINATED_GAP = re.compile(r"\s+(?:has\s+|had\s+)?[a-z][\w’'\-]*(?:\s+[^\s,;:“”\"]+){0,14}?\s+and\s+"
                              r"(?:also\s+|then\s+)?")
# "the UK prime minister flew to Kyiv to warn that ...": a purpose clause carrying the speech verb.
_PURPOSE_GAP = re.compile(r"\s+(?:[\w’'\-]+\s+){1,5}to\s+")
_THAT_NEXT = re.compile(r"\s+that\b")
# Someone else named with a description: "David Hannay, the former UK ambassador to the UN, described ..." (their
# "he" and "his" that follow are theirs, not those of an official named before).
_NAMED_APPOSITIVE = re.compile(
    r"([A-Z][\w’'\-]+)\s*,[^,;:“”\"]{1,100},(?:\s+(?:has|had|also|then|later|would|will))*\s+$")
_BARE_OFFICIALS = re.compile(r"\s*(?:(?:The|the|Senior|senior)\s+)?([Oo]fficials)(?:\s+(?:have|had|also))*\s+")
# Verbs of saying that are also plural nouns, read as nouns after a determiner ("the Baltic states").
_NOUN_LIKE = frozenset(("states", "reports", "claims", "calls", "questions", "issues", "notes", "remarks", "answers",
                        "highlights", "promises", "pledges", "signals", "hints", "thoughts"))
_DETERMINED = re.compile(r"(?i)(?<![\w’'])(?:the|a|an|his|her|its|their|these|those|our|many|some)\s+"
                         r"(?:[\w’'\-]+\s+)?\Z")
# Someone described, not named, speaking: "one veteran said", "a young recruit told the BBC".
_PERSON_NOUNS = (
    "recruit|soldier|veteran|resident|officer|commander|volunteer|refugee|woman|man|analyst|expert|diplomat|"
    "activist|witness|survivor|doctor|nurse|teacher|student|mother|father|son|daughter|wife|husband|friend|"
    "neighbour|colleague|fighter|pilot|sailor|marine|journalist|reporter|correspondent|academic|professor|"
    "historian|lawyer|campaigner|worker|farmer|villager|civilian|medic|paratrooper|reservist|trainee|instructor|"
    "serviceman|servicewoman|mp|peer|adviser|aide|ally|critic|insider|observer|politician|leader|chief|general|"
    "colonel|captain|sergeant|corporal|private|major|lieutenant")
_NOUN_SUBJECT = re.compile(r"(?<![\w’'])(?:(?:[Oo]ne|[Aa]nother)\s+(?:[a-z][\w\-]*\s+){0,2}?([a-z][\w\-]*)|"
                           r"(?:[Aa]n?|[Tt]he)\s+(?:[a-z][\w\-]*\s+){0,2}?(" + _PERSON_NOUNS + r"))"
                           r"(?:\s+(?:has|had|also|then|later|would|will))*\s+$")
# Someone else named: in apposition (", Dmitry Peskov,"), with a description after the name ("Vasyl Filipchuk, a
# former spokesperson"), as the subject of a verb of saying, or after one ('said David Clark'). Their "he" follows.
_NAME = re.compile(r"(?<![\w’'])[A-Z][\w’'\-]+(?:\s+[A-Z][\w’'\-]+){1,2}")
_NAME_BEFORE = re.compile(r"(?:,|\b(?:said|says|added|adds|wrote|writes))\s\Z")
_APPOSITIVE_VERB = re.compile(r"\s*,\s*(?:(?:has|had|also|then|later)\s+)?")
_NAME_AFTER_OTHER = re.compile(r"\s*,\s+(?:a|an|who|whose|one)\s|\s+(?:has\s+|had\s+|also\s+)?(?:said|says|told|"
                               r"tells|added|adds|claimed|claims|described|argued|insisted|warned)\b")
_NOT_A_NAME = frozenset(("The", "In", "On", "At", "But", "And", "As", "When", "After", "Before", "If", "It", "He",
                         "She", "They", "We", "This", "That", "A", "An", "Mr", "Mrs", "Ms", "Dr", "Sir", "Lord",
                         "President", "Prime", "Foreign", "Defence", "Home", "Downing", "British", "Russian",
                         "Ukrainian", "American", "European", "North", "South", "East", "West", "New", "United"))
# What may stand between a speaker and the speech verb: an appositive, auxiliaries, time phrases.
_GAP_RE = re.compile(
    r"(?:\s*,(?:[^,;:“”\"]{1,100},){1,2})?"
    r"(?:\s+(?:has|have|had|also|then|later|again|previously|repeatedly|recently|earlier|yesterday|today|"
    r"tonight|would|will|was|is|has\s+been|had\s+been|once|now|last\s+\w+|this\s+\w+|on\s+\w+|"
    r"in\s+london|in\s+a\s+statement|\w+\s+(?:days?|weeks?|months?|years?)\s+ago|at\s+the\s+weekend|in\s+an?\s+\w+|in\s+(?:his|her|its|their|the)\s+[\w\s\-]{1,30}?|"
    r"\w+ly))*\s*",
    re.IGNORECASE,
)
_STRAIGHT_QUOTE = re.compile(r'"')
# A quotation ends at its closing mark, at a paragraph break, or where the next paragraph of it opens again ('X
# said: “First paragraph. “Second paragraph.”', paragraphs flattened into one line).
_CURLY_QUOTE = re.compile(r"“[^“”]{1,3000}?(?:”|(?=\n\s*\n)|(?=\s*“)|$)")
_NAME_AFTER = re.compile(r"\s*,?\s+((?:[A-Z][\w’'\-]+\.?)(?:\s+[A-Z][\w’'\-]+\.?){1,4})")
_WORD_BEFORE = re.compile(r"([\w’'\.\-]+)\s*$")
_CAP_NAME = re.compile(r"[A-Z][a-zà-ÿ’'\-]+")
_UK_WORDS = frozenset({"uk", "uk's", "uk’s", "britain", "britain's", "britain’s", "british", "the", "a", "an",
                       "england's", "england’s", "government's", "government’s", "his", "her", "its", "new",
                       "said", "says", "told", "and", "but", "as", "while", "when", "after", "by", "with"})
_DETERMINER = re.compile(
    r"(?i)(?<![\w’'])(?:(?:the|a|an|one)\s+)?(?:(?:uk|britain)['’]s\s+|british\s+|uk\s+)?(?:new\s+|senior\s+|top\s+)?\Z"
)
_OBJECT = re.compile(
    r"\s*(?:the\s+)?(?:BBC(?:['’]s)?(?:\s+Radio\s+\d(?:['’]s)?)?(?:\s+Today(?:\s+programme)?)?|ITV(?:\s+News)?|"
    r"Sky(?:\s+News)?|LBC|Times\s+Radio|GB\s+News|CNN|MPs|peers|reporters|journalists|(?:House\s+of\s+)?Commons|"
    r"Lords|parliament|Parliament|Telegraph|Times|Guardian|Sun|Mail|Mirror|Independent|Observer|broadcasters|"
    r"the\s+programme|the\s+paper|the\s+newspaper|(?:the\s+|an\s+|a\s+)?(?:audience|crowd|conference|summit|"
    r"meeting|delegates|supporters|activists|students|troops|soldiers|committee|house|House|press\s+conference|"
    r"news\s+conference|interviewer|viewers|listeners|readers)|him|her|them|us)(?![\w’'])\s*(?:,\s*)?(?:that\s+)?"
)
_APPOSITION = re.compile(r"\s*,\s*(?:the\s+|britain['’]s\s+|the\s+uk['’]s\s+)?", re.IGNORECASE)
_APPOSITION_ANY = re.compile(r"\s*[,(]\s*(?:the\s+|a\s+|an\s+|one\s+|britain['’]s\s+|the\s+uk['’]s\s+)?",
                             re.IGNORECASE)
_HONOR_BEFORE = re.compile(r"(?<![\w])(?:" + "|".join(HONORIFICS) + r")\.?\s+\Z")
_SERVICE_CHIEFS = frozenset(("chief_of_defence_staff", "chief_of_general_staff", "first_sea_lord",
                             "chief_of_air_staff"))
_STATEMENT_TRIM = " \t\n,;:-–—\"“”‘’'"


@dataclass(frozen=True)
class Speaker:
    """Who a mention refers to: an official (person+role), a body, or someone else (``other``)."""

    person: Person | None
    role: Role | None
    body: Body | None
    other: bool = False

    @property
    def voice(self) -> str | None:
        if self.other:
            return None
        if self.body is not None:
            return self.body.voice
        return self.role.voice if self.role else None

    @property
    def name(self) -> str | None:
        return self.person.name if self.person else None

    @property
    def role_title(self) -> str | None:
        if self.body is not None:
            return self.body.title
        return self.role.title if self.role else None


OTHER = Speaker(None, None, None, other=True)


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    speaker: Speaker
    kind: str  # "person" or "body" (for pronoun agreement)


@dataclass(frozen=True)
class Scan:
    """Raw matches in one text: full names, surnames (index) and role/body aliases (kind, entry)."""

    full: tuple[tuple[int, int, Person], ...]
    surname: tuple[tuple[int, int, int], ...]
    alias: tuple[tuple[int, int, str, Role | Body], ...]


@dataclass(frozen=True)
class RawStatement:
    """An extracted statement with the sentence it was found in (used for the matter check)."""

    speaker: Speaker
    start: int
    end: int
    sentence: tuple[int, int]
    mention: tuple[int, int]
    kind: str = "indirect"  # "direct": in quotation marks or a block quote after "said:" (see _kind)


class StatementExtractor:
    """Finds statements and their speakers; built once from :class:`Officials` (regexes precompiled)."""

    def __init__(self, officials: Officials) -> None:
        self.officials = officials
        entries: dict[str, tuple[str, Role | Body]] = {}
        for role in officials.roles.values():
            for alias in role.aliases:
                entries.setdefault(_norm(alias), ("role", role))
        for body in officials.bodies.values():
            for alias in body.aliases:
                entries.setdefault(_norm(alias), ("body", body))
        self._alias_entries = list(entries.values())
        self._alias = PhraseMatcher(list(entries), hyphen_is_space=False)
        full: dict[str, Person] = {}
        surnames: dict[str, list[Person]] = {}
        for person in officials.people:
            for form in {person.name, *person.aliases, *(f"{f} {person.surname}" for f in person.first)}:
                full.setdefault(" ".join(form.split()), person)
            surnames.setdefault(person.surname, []).append(person)
        self._full_people = list(full.values())
        self._full_names = frozenset(_norm(n) for n in full)
        self._full = PhraseMatcher(list(full), lowered=False, hyphen_is_space=False)
        self._surname_keys = list(surnames)
        self._surname_people = [surnames[k] for k in self._surname_keys]
        self._surname = PhraseMatcher(self._surname_keys, lowered=False, hyphen_is_space=False)
        self._surname_set = frozenset(self._surname_keys)

    # -- mentions ------------------------------------------------------------------------------------------
    def scan(self, text: str, lowered: str) -> Scan:
        """Raw name and alias matches of ``text`` (``lowered`` = its lower-cased form), computed once."""
        return Scan(
            tuple(sorted(((a, b, self._full_people[i]) for a, b, i in self._full.find(text)), key=_span)),
            tuple(sorted(self._surname.find(text))),
            tuple(sorted(((a, b, *self._alias_entries[i]) for a, b, i in self._alias.find(lowered)), key=_span)),
        )

    @staticmethod
    def introduced(scans: list[Scan]) -> set[Person]:
        """People introduced by full name in any scanned text (surname-only mentions need this)."""
        return {person for scan in scans for _a, _b, person in scan.full}

    def introduce_by_role(self, texts: list[str], scans: list[Scan], when: dt.date | None,
                          people: set[Person]) -> set[Person]:
        """Add role holders referred to by role ("the defence secretary") to the introduced ``people``."""
        found = set(people)
        surnames = {self._surname_keys[i] for scan in scans for _a, _b, i in scan.surname}
        for text, scan in zip(texts, scans, strict=True):
            for start, _end, kind, entry in scan.alias:
                if kind == "role" and isinstance(entry, Role) and not self._qualified(text, start):
                    holder = self._resolve_role(entry, when, people)
                    # "the prime minister" introduces the UK holder only if the article also names them.
                    if holder is not None and (not entry.needs_uk_context or holder.surname in surnames):
                        found.add(holder)
        return found

    def mentions(self, text: str, scan: Scan, when: dt.date | None, introduced: set[Person],
                 context: dict[str, str] | None = None) -> list[Mention]:
        """Official mentions in ``text``, each resolved to a :class:`Speaker`.

        ``context`` carries, across the fields of one article, whether the last explicitly qualified mention
        of an ambiguous office ("the defence ministry", "the defence minister") was foreign or UK: after
        "Ukraine's defence ministry", a bare "the defence ministry" is Ukraine's, not the UK's.
        """
        context = {} if context is None else context
        found: list[Mention] = []
        taken: list[tuple[int, int]] = []
        for start, end, person in scan.full:
            found.append(Mention(start, end, self._person_speaker(person, when, text, scan, start, end), "person"))
            taken.append((start, end))
        for start, end, idx in scan.surname:
            if _overlaps(taken, start, end):
                continue
            candidates = [p for p in self._surname_people[idx] if p in introduced]
            if not candidates or self._other_first_name(text, start, candidates):
                continue
            honor = _HONOR_BEFORE.search(text, max(0, start - 16), start)
            start = honor.start() if honor else start
            person = next((p for p in candidates if self.officials.role_at(p, when)), candidates[0])
            found.append(Mention(start, end, self._person_speaker(person, when, text, scan, start, end), "person"))
            taken.append((start, end))
        for a_start, end, kind, entry in scan.alias:
            if _overlaps(taken, a_start, end):
                continue
            if kind == "role" and _describes(text, taken, a_start, end):
                continue  # "James Heappey, a defence minister, said": the office describes the person named
            lead = _DETERMINER.search(text, max(0, a_start - 30), a_start)
            start = lead.start() if lead else a_start
            family = self._ambiguous_family(text, a_start, end, entry)
            if self._qualified(text, a_start) or self._qualified_after(text, end):
                speaker = OTHER
                if family:
                    context[family] = "foreign"
            elif family and self._uk_marked(text, a_start, end, lead):
                context[family] = "uk"
                speaker = Speaker(None, None, entry) if isinstance(entry, Body) else \
                    Speaker(self._resolve_role(entry, when, introduced), entry, None)
            elif family and context.get(family) == "foreign":
                speaker = OTHER
            elif family == "mod" and context.get(family) != "uk" and "defence ministry" in text[a_start:end].lower():
                speaker = OTHER  # a bare "the defence ministry" (a war briefing's, often not the UK's) needs UK context
            elif isinstance(entry, Body):
                speaker = Speaker(None, None, entry)
            else:
                after = _NAME_AFTER.match(text, end)
                if after and self._someone_else(after.group(1)):
                    speaker = OTHER
                else:
                    holder = self._resolve_role(entry, when, introduced)
                    # "the UK's prime minister", "the British prime minister", "the UK prime minister"
                    said = (lead.group() if lead else "") + text[a_start:end]
                    uk_marked = re.search(r"(?i)\b(?:uk|britain|british)", said) is not None
                    if entry.needs_uk_context and not uk_marked and holder not in introduced:
                        speaker = OTHER
                    else:
                        speaker = Speaker(holder, entry, None)
            found.append(Mention(start, end, speaker, "person" if kind == "role" else "body"))
        found.sort(key=lambda x: (x.start, -x.end))
        return found

    @staticmethod
    def _ambiguous_family(text: str, start: int, end: int, entry: Role | Body) -> str:
        """Offices whose bare name often means another country's: the defence ministry, "defence minister" and the
        service chiefs."""
        if isinstance(entry, Body):
            return "mod" if entry.key == "mod" else ""
        if entry.key == "defence_secretary" and "minister" in text[start:end].lower():
            return "defence_minister"
        # "Germany's navy chief ... The navy chief also said": every country has service chiefs.
        return entry.key if entry.key in _SERVICE_CHIEFS else ""

    @staticmethod
    def _uk_marked(text: str, start: int, end: int, lead: re.Match[str] | None) -> bool:
        """ "UK Ministry of Defence", "Britain's defence ministry", "the MoD in London"."""
        marked = f"{lead.group() if lead else ''} {text[start:end]}"
        if re.search(r"(?i)\b(?:uk|britain|british)\b", marked):
            return True
        return re.match(r"\s+in\s+(?:London|Whitehall)\b", text[end : end + 20]) is not None

    def _someone_else(self, words: str) -> bool:
        """True for the name of someone not among the officials right after an office ("the chief of the defence
        staff, Gen Angus Campbell,": Australia's); honorifics and ranks in front are passed over."""
        names = [w for w in words.split() if w.rstrip(".") not in HONORIFICS]
        if len(names) < 2 or _norm(" ".join(names[:2])) in self._full_names:
            return False
        return not any(w in self._surname_set for w in names) and _looks_like_name(" ".join(names))

    def _qualified_after(self, text: str, end: int) -> bool:
        """True for "the defence ministry in Kyiv" (a foreign place right after the mention)."""
        m = re.match(r"\s+(?:in|of)\s+([A-Z][\w’'\-]+)", text[end : end + 40])
        return m is not None and m.group(1).lower() in self.officials.foreign_places

    def _person_speaker(self, person: Person, when: dt.date | None, text: str, scan: Scan, start: int,
                        end: int) -> Speaker:
        """The office a person speaks in: the one the text gives them ("Foreign Secretary Liz Truss", "Liz Truss,
        the foreign secretary,") if they ever held it, else the one they held on the article's date."""
        for a_start, a_end, kind, entry in scan.alias:
            if kind != "role" or not isinstance(entry, Role) or not self.officials.held(person, entry.key):
                continue
            before = 0 <= start - a_end <= 1
            after = a_start >= end and _APPOSITION.fullmatch(text, end, a_start) is not None
            if (before or after) and not self._no_longer(text, a_start):
                return Speaker(person, entry, None)
        role = self.officials.role_at(person, when)
        return Speaker(person, role, None) if role else OTHER

    def _no_longer(self, text: str, start: int) -> bool:
        """True for an office the person named no longer holds: "former defence secretary Michael Fallon", "Lord
        Dannatt, the ex-head of the army" (they speak in the office they hold on the article's date, if any)."""
        before = re.split(r"[.,;:!?\n“”\"()]", text[max(0, start - 25) : start].replace("’", "'"))[-1]
        return any(w.lower() in self.officials.not_current for w in re.findall(r"[\w'\-]+", before)[-2:])

    def _resolve_role(self, role: Role, when: dt.date | None, introduced: set[Person]) -> Person | None:
        named = [p for p in introduced if self.officials.held(p, role.key)]
        if when is not None:
            for p in named:
                if any(t.role == role.key and t.covers(when) for t in p.tenures):
                    return p
            return self.officials.holder(role.key, when)
        return named[0] if len(named) == 1 else None

    def _qualified(self, text: str, start: int) -> bool:
        """True if the words before a role/body mention make it foreign, former or opposition."""
        before = re.split(r"[.,;:!?\n“”\"()]", text[max(0, start - 40) : start].replace("’", "'"))[-1]
        words = re.findall(r"[\w’'\-]+", before)[-2:]
        if words and words[-1].lower() in ("its", "their"):
            return True  # "Russia has mobilised troops. Its defence ministry said ...": another country's office
        for word in words:
            low = word.lower().strip(".")
            if low in self.officials.foreign_qualifiers or low in self.officials.not_current:
                return True
        if words:
            last = words[-1]
            if last[:1].isupper() and last.lower() not in _UK_WORDS and last.lower() not in ("mr", "ms", "mrs"):
                return last.endswith(("'s", "’s", "ian", "ese", "ish", "an", "i"))
        return False

    def _other_first_name(self, text: str, start: int, candidates: list[Person]) -> bool:
        """True for "Chris Wallace": a capitalised word before the surname that is not a known first name."""
        m = _WORD_BEFORE.search(text, max(0, start - 30), start)
        if not m or not _CAP_NAME.fullmatch(m.group(1)):
            return False
        word = m.group(1)
        if word in HONORIFICS or any(word in p.first for p in candidates):
            return False
        line_start = text.rfind("\n", 0, m.start()) + 1
        sentence_initial = not text[line_start : m.start()].strip() or text[: m.start()].rstrip().endswith((".", ":"))
        return not sentence_initial

    # -- statements ----------------------------------------------------------------------------------------
    def extract(self, text: str, sents: list[tuple[int, int]], scan: Scan, when: dt.date | None,
                introduced: set[Person], *, title: bool = False,
                context: dict[str, str] | None = None) -> list[RawStatement]:
        """Statements in ``text`` (cleaned/masked, same length as the original; ``sents`` its sentences)."""
        mentions = self.mentions(text, scan, when, introduced, context)
        if all(mn.speaker.other for mn in mentions):
            return []  # every statement is attributed to an official's mention (or to a pronoun standing for one)
        quotes = _quote_spans(text)
        quote_starts = [q[0] for q in quotes]
        events: list[tuple[int, str, Speaker]] = [(mn.start, mn.kind, mn.speaker) for mn in mentions]
        # Other people ("Mr Macron", "President Zelensky") take pronouns too ("he said", "his warning").
        events.extend((m.start(1), "other person", OTHER) for m in _PERSON_BEFORE.finditer(text)
                      if m.group(1) not in self._surname_set and _word_start(text, m.start())
                      and not _overlaps_any(mentions, m.start(), m.end()))
        for m in _NAME.finditer(text):
            if m.group().split()[0] in _NOT_A_NAME or _overlaps_any(mentions, m.start(), m.end()):
                continue
            verb_after = _APPOSITIVE_VERB.match(text, m.end())  # ", Dmitry Peskov, described ..."
            if (verb_after and _VERB_RE.match(text, verb_after.end())
                    and _NAME_BEFORE.search(text, max(0, m.start() - 8), m.start())) or \
                    _NAME_AFTER_OTHER.match(text, m.end()):
                events.append((m.start(), "other person", OTHER))
        events.sort(key=lambda e: e[0])
        # "Putin's spokesman, Dmitry Peskov, described Truss's plan ... he told reporters": a possessive in what
        # someone else said is not who "he" is.
        others = [e[0] for e in events if e[1] == "other person"]
        if others:
            possessive = {mn.start for mn in mentions if text.startswith(("’s", "'s"), mn.end)}
            events = [e for e in events if e[0] not in possessive or not _after_other(text, e[0], others)]
        starts = [mn.start for mn in mentions]
        out: list[RawStatement] = []
        for n, (s0, s1) in enumerate(sents):
            labelled = self._label_attribution(text, sents, n, mentions, starts, quotes, events)
            if labelled is not None:
                out.append(labelled)
                continue
            found_any, covered = False, -1
            for v in _VERB_RE.finditer(text, s0, s1):
                if v.start() < covered or _inside(quotes, quote_starts, v.start()):
                    continue
                found = self._attribution(text, v, s0, s1, mentions, starts, events)
                if found is None:
                    continue
                speaker, m0, m1, inverted = found
                m0 = _extend_subject(mentions, starts, m0)
                if speaker.other:
                    events.append((m0, "person", OTHER))
                    events.sort(key=lambda e: e[0])
                    continue
                span = _statement_span(text, s0, s1, m0, m1, v.start(), v.end(), inverted, quotes)
                if span is not None:
                    out.append(RawStatement(speaker, span[0], span[1], (s0, s1), (m0, m1)))
                    # "Boris Johnson and Ben Wallace said ...": a joint statement of two officials.
                    partner = next((x for x in mentions if s0 <= x.start and x.end < m0 and not x.speaker.other
                                    and re.fullmatch(r"\s*,?\s+(?:and|&)\s+", text[x.end : m0])), None)
                    if partner is not None:
                        out.append(RawStatement(partner.speaker, span[0], span[1], (s0, s1),
                                                (partner.start, partner.end)))
                    found_any = True
                    # Read on for another verb of saying after these words ("..., and he said the Kremlin should",
                    # "“…”, Johnson warned as he said a war was possible").
                    covered = max(span[1], v.end())
                    continue
                break
            if title and not found_any:
                out.extend(self._dash_attribution(text, s0, s1, mentions))
        for m in _ACCORDING.finditer(text):
            if _word_start(text, m.start()):
                out.extend(self._according(text, m, sents, mentions, quotes, quote_starts))
        for that in _THAT.finditer(text):
            window = max(0, that.start() - 60)
            m = _SPEECH_NOUN.search(text, window, that.start())
            if m is not None and not _inside(quotes, quote_starts, m.start()):
                out.extend(self._noun_attribution(text, m, that.end(), sents, mentions, events, quotes))
        for m in _OWNER_NOUN.finditer(text):
            if not _inside(quotes, quote_starts, m.start()):
                out.extend(self._owner_noun_attribution(text, m, sents, mentions, starts, quotes))
        for m in _NOUN_BY.finditer(text):
            if not _inside(quotes, quote_starts, m.start()):
                out.extend(self._noun_by_attribution(text, m, sents, mentions, starts))
        if title:
            out = [st for st in (_headline_clause(text, raw) for raw in out) if st is not None]
        elif quotes and out:
            out.extend(_carried_quotes(text, out, quotes, mentions,
                                       [e[0] for e in events if e[1] == "other person" or e[2].other]))
        return [replace(st, kind=_kind(text, st.start, st.end, quotes, quote_starts, title=title))
                for st in _dedupe(out)]

    def _label_attribution(self, text: str, sents: list[tuple[int, int]], n: int, mentions: list[Mention],
                           starts: list[int], quotes: list[tuple[int, int]],
                           events: list[tuple[int, str, Speaker]]) -> RawStatement | None:
        """A speaker label: "Truss: We are seeing increased aggression ...", "hearing from Ben Wallace: ..." or a
        live blog's lead-in ("Wallace continues, on Russia: ...", "He invokes the second world war, too: ...").

        Without a quotation after the label, the speech runs on over the next sentences (:func:`_speech_run`).
        """
        s0, s1 = sents[n]
        i = bisect.bisect_left(starts, s0)
        while i < len(mentions) and mentions[i].end < s1:
            mn = mentions[i]
            i += 1
            m0 = _extend_subject(mentions, starts, mn.start)
            lead = _LABEL_BEFORE.match(text[s0:m0].lstrip(" \t\"“‘'(")) if m0 >= s0 else None
            label = _LABEL_AFTER.match(text, mn.end, s1)
            if label is None and lead is not None:
                label = (_LABEL_REST if lead.group() else _LEAD_IN).match(text, mn.end, s1)
            if label is None:
                continue
            if lead is None or mn.speaker.other:
                return None
            return self._label_speech(text, sents, n, mentions, starts, quotes, mn.speaker, (m0, mn.end),
                                      label.end())
        pronoun = _LEAD_IN_PRONOUN.match(text, s0, s1)
        label = _LEAD_IN.match(text, pronoun.end(), s1) if pronoun is not None else None
        if pronoun is None or label is None:
            return None
        speaker = _antecedent(events, pronoun.start(1), "person")
        if speaker is None or speaker.other:
            return None
        return self._label_speech(text, sents, n, mentions, starts, quotes, speaker, pronoun.span(1), label.end())

    @staticmethod
    def _label_speech(text: str, sents: list[tuple[int, int]], n: int, mentions: list[Mention], starts: list[int],
                      quotes: list[tuple[int, int]], speaker: Speaker, mention: tuple[int, int],
                      begin: int) -> RawStatement | None:
        """The speech after a label: the quotation that opens there, else the sentences its unquoted speech runs
        over."""
        body = next(((a, b) for a, b in quotes if a == begin), None)
        end = sents[n][1] if body is not None else _speech_run(text, sents, n, mentions, starts)
        span = _trim_span(text, *(body or (begin, end)))
        if span is None:
            return None
        return RawStatement(speaker, span[0], span[1], (sents[n][0], end), mention)

    def _noun_attribution(self, text: str, m: re.Match[str], body: int, sents: list[tuple[int, int]],
                          mentions: list[Mention], events: list[tuple[int, str, Speaker]],
                          quotes: list[tuple[int, int]]) -> list[RawStatement]:
        """ "The Foreign Office revelation that ...", "the MoD's assessment that ...", "his warning that ..."."""
        sent = next(((a, b) for a, b in sents if a <= m.start() < b), None)
        if sent is None:
            return []
        s0, s1 = sent
        owner = _NOUN_OWNER.search(text, max(s0, m.start() - 40), m.start())
        speaker = None
        if owner is not None:
            mn = next((x for x in mentions if x.end == owner.start()), None)
            if mn is not None:
                speaker, mention = mn.speaker, (mn.start, mn.end)
        if speaker is None:
            pm = _POSSESSIVE.search(text, max(s0, m.start() - 30), m.start())
            if pm is None:
                return []
            kind = "person" if pm.group(1).lower() in ("his", "her") else "body"
            speaker = _antecedent(events, pm.start(), kind)
            mention = (pm.start(1), pm.end(1))
        if speaker is None or speaker.other:
            return []
        span = _trim_span(text, body, _paraphrase_end(text, body, s1, quotes))
        return [RawStatement(speaker, span[0], span[1], sent, mention)] if span else []

    @staticmethod
    def _owner_noun_attribution(text: str, m: re.Match[str], sents: list[tuple[int, int]], mentions: list[Mention],
                                starts: list[int], quotes: list[tuple[int, int]]) -> list[RawStatement]:
        """A press review's paraphrase: "the defence secretary's “full tonto” jibe", "the PM's remarks comparing
        X to Y" (an official's possessive, a speech noun, then a quote before it or a participle or "that" after it;
        "Wallace's warning over the build-up" names a topic, not the words)."""
        i = bisect.bisect_right(starts, m.start()) - 1
        if i < 0 or mentions[i].end != m.start() or mentions[i].speaker.other:
            return []
        mn = mentions[i]
        sent = next(((a, b) for a, b in sents if a <= m.start() < b), None)
        if sent is None:
            return []
        quoted = m.group("quote")
        if quoted:
            q0 = m.start("quote")
            span = _trim_span(text, q0, q0 + len(quoted))
        else:
            body = m.end() - (len(m.group("link")) if m.group("link").strip() in _OWNER_PARTICIPLES else 0)
            span = _trim_span(text, body, _paraphrase_end(text, body, sent[1], quotes))
        return [RawStatement(mn.speaker, span[0], span[1], sent, (mn.start, mn.end))] if span else []

    @staticmethod
    def _noun_by_attribution(text: str, m: re.Match[str], sents: list[tuple[int, int]], mentions: list[Mention],
                             starts: list[int]) -> list[RawStatement]:
        """ "a warning made by the foreign secretary, Liz Truss, on Saturday of a Kremlin plot ..."."""
        i = bisect.bisect_left(starts, m.end())
        if i >= len(mentions) or mentions[i].start != m.end() or mentions[i].speaker.other:
            return []
        mn = mentions[i]
        end = mn.end
        while i + 1 < len(mentions) and 0 <= mentions[i + 1].start - end <= 2:  # "the foreign secretary, Liz Truss"
            i += 1
            end = mentions[i].end
        sent = next(((a, b) for a, b in sents if a <= m.start() < b), None)
        body = _NOUN_BY_BODY.match(text, end)
        if sent is None or body is None or body.end() >= sent[1]:
            return []
        span = _trim_span(text, body.end(), sent[1])
        return [RawStatement(mentions[i].speaker, span[0], span[1], sent, (mn.start, end))] if span else []

    def _attribution(self, text: str, verb: re.Match[str], s0: int, s1: int, mentions: list[Mention],
                     starts: list[int],
                     events: list[tuple[int, str, Speaker]]) -> tuple[Speaker, int, int, bool] | None:
        v0, v1 = verb.start(), verb.end()
        # Subject before the verb: "Ben Wallace, the defence secretary, has said ..."
        i = bisect.bisect_left(starts, v0) - 1
        while i >= 0 and mentions[i].end > v0:
            i -= 1
        for k in range(i, max(-1, i - 3), -1):
            mn = mentions[k]
            report = _REPORT_NOUN.match(text, mn.end, v0) if mn.speaker.body is not None else None
            if mn.start >= s0 and (_GAP_RE.fullmatch(text, report.end() if report else mn.end, v0) is not None or (
                    _PURPOSE_GAP.fullmatch(text, mn.end, v0) and _THAT_NEXT.match(text, v1))):
                m0 = _extend_subject(mentions, starts, mn.start)
                joint = _JOINT_BEFORE.search(text, max(s0, m0 - 40), m0)
                if joint and not any(x.end == joint.end(1) for x in mentions[:k]):
                    # "the White House and Downing Street announced": a joint statement with a non-UK party.
                    return OTHER, mn.start, mn.end, False
                return mn.speaker, mn.start, mn.end, False
        # The sentence's subject, with a first verb phrase before this one: "Truss addressed … and warned …".
        first = next((mn for mn in mentions if s0 <= mn.start < v0), None)
        if (first is not None and not first.speaker.other and _INTRO.fullmatch(text, s0, first.start)
                and _COORDINATED_GAP.fullmatch(text, first.end, v0)
                and not any(first.end <= e[0] < v0 for e in events)):
            return first.speaker, first.start, first.end, False
        # Pronoun subject: "he said", "It added:"
        before = text[s0:v0]
        pm = _PRONOUN_SUBJECT.search(before)
        if pm:
            p0 = s0 + pm.start(1)
            kind = "body" if pm.group(1).lower() in ("it", "they") else "person"
            speaker = _antecedent(events, p0, kind)
            return speaker or OTHER, p0, s0 + pm.end(1), False
        if verb.group() in _PARTICIPLES and before.rstrip().endswith(","):
            return self._clause_subject(text, s0, v0, mentions, events)
        document = _DOCUMENT_SUBJECT.search(before)
        if document:
            p0 = s0 + document.start()
            return _antecedent(events, p0, "body") or OTHER, p0, s0 + document.end(), False
        # Inverted: '..., said Mr Wallace.' / '..., says the Ministry of Defence'
        j = bisect.bisect_left(starts, v1)
        if j < len(mentions) and mentions[j].end <= s1:
            mn = mentions[j]
            gap_text = text[v1 : mn.start]
            head = text[s0:v0].rstrip()
            at_end = not text[mn.end : s1].strip(" .!?'\"’”")  # "UK troops will not fight says Wallace" (headline)
            if re.fullmatch(r"\s+(?:the\s+|a\s+|an\s+|britain['’]s\s+|the\s+uk['’]s\s+|uk\s+)?", gap_text, re.I) and (
                head.endswith((",", "”", '"', "’", ":")) or not head or (at_end and len(head.split()) >= 3)
            ) and not text.startswith(("’s", "'s"), mn.end):  # "described Truss’s package": an object, not a subject
                return mn.speaker, mn.start, mn.end, True
        # A noun, not a verb: "the Baltic states", "the latest reports".
        if verb.group() in _NOUN_LIKE and _DETERMINED.search(before):
            return None
        # Bare "Officials said" right after a UK body spoke in the paragraph: that body's officials.
        bare = _BARE_OFFICIALS.fullmatch(before)
        if bare:
            body = _body_before(text, events, s0 + bare.start(1))
            if body is not None:
                return body, s0 + bare.start(1), s0 + bare.end(1), False
        # Someone else speaks (a non-official subject right before the verb).
        sub = re.search(r"([A-Z][\w’'\-]+|officials?|sources?|spokes\w+|minister|ministry|envoy|president)"
                        r"(?:\s+(?:has|had|also|then|later|would|will))*\s+$", before)
        sub = sub or _NAMED_APPOSITIVE.search(before) or _NOUN_SUBJECT.search(before)
        if sub:
            g = sub.lastindex or 0
            return OTHER, s0 + sub.start(g), s0 + sub.end(g), False
        return None

    @staticmethod
    def _clause_subject(text: str, s0: int, v0: int, mentions: list[Mention],
                        events: list[tuple[int, str, Speaker]]) -> tuple[Speaker, int, int, bool] | None:
        """The subject of the sentence a participle ("…, saying") hangs on: an official's mention or a pronoun
        standing for one at the start of the sentence (after at most one introductory phrase)."""
        first = next((mn for mn in mentions if s0 <= mn.start < v0), None)
        if first is not None and _INTRO.fullmatch(text, s0, first.start) and not text.startswith(("’", "'"), first.end):
            return first.speaker, first.start, first.end, False
        said = _SAID_BEFORE.search(text, s0, v0)  # '“…,” he said, adding that …': the one who said it
        if said is not None:
            speaker = _antecedent(events, said.start(1), "person")
            return speaker or OTHER, said.end(), said.end(), False  # (the words are those after the participle)
        pm = _INTRO_PRONOUN.match(text, s0, v0)
        if pm is None:
            return None
        speaker = _antecedent(events, pm.start(1), "person")
        return speaker or OTHER, pm.start(1), pm.end(1), False

    def _according(self, text: str, m: re.Match[str], sents: list[tuple[int, int]], mentions: list[Mention],
                   quotes: list[tuple[int, int]], quote_starts: list[int]) -> list[RawStatement]:
        mn = next((x for x in mentions if x.start == m.end() or (x.start > m.end() and
                   _ACCORDING_GAP.fullmatch(text, m.end(), x.start))), None)
        if mn is None or mn.speaker.other or _inside(quotes, quote_starts, m.start()):
            return []
        sent = next(((a, b) for a, b in sents if a <= m.start() < b), None)
        if sent is None:
            return []
        s0, s1 = sent
        report = _REPORT_NOUN.match(text, mn.end)  # "according to British intelligence assessments, ..."
        end = report.end() if report else mn.end
        after = text[end:s1].strip(_STATEMENT_TRIM + ".")
        if len(after.split()) >= 3 and text[end:s1].lstrip().startswith(","):
            a0 = text.index(after, end)
            return [RawStatement(mn.speaker, a0, a0 + len(after), sent, (m.start(), mn.end))]
        head = _trim_span(text, s0, m.start())
        if head and len(text[head[0] : head[1]].split()) >= 3:
            return [RawStatement(mn.speaker, head[0], head[1], sent, (m.start(), mn.end))]
        return []

    def _dash_attribution(self, text: str, s0: int, s1: int, mentions: list[Mention]) -> list[RawStatement]:
        """Headline attribution: "British troops 'unlikely' to fight - Truss"."""
        for mn in mentions:
            if s0 <= mn.start and mn.end <= s1 and not text[mn.end : s1].strip(" .'\"’”"):
                dash = re.search(r"\s[-–—]\s*$", text[s0 : mn.start]) or _BY_AGENT.search(text[s0 : mn.start])
                if dash and not mn.speaker.other:
                    span = _trim_span(text, s0, s0 + dash.start())
                    if span:
                        return [RawStatement(mn.speaker, span[0], span[1], (s0, s1), (mn.start, mn.end))]
        return []


# "Calls for no-fly zone rejected by defence secretary": a headline's passive with the official as its agent.
_NARRATION = re.compile(r"(?<![\w’'])(?:[Hh]e|[Ss]he|[Hh]is|[Hh]er|[Tt]hey|says|said|adds|added|continues|"
                        r"[Ii]n\s+response|[Aa]sked)(?![\w’'])|[“”\"]")
_SPEECH_RUN = 8  # sentences of unquoted speech after a label, at most


def _speech_run(text: str, sents: list[tuple[int, int]], n: int, mentions: list[Mention], starts: list[int]) -> int:
    """Where a label's unquoted speech ends (a transcript in a live blog, its paragraphs often flattened): it runs
    on over the next sentences until a paragraph break, a sentence that names someone, introduces the next speaker
    (a colon), quotes, or speaks of someone in the third person or of saying ("he said", "Truss continues")."""
    end = sents[n][1]
    for a, b in sents[n + 1 : n + 1 + _SPEECH_RUN]:
        j = bisect.bisect_left(starts, a)
        if ("\n" in text[end:a] or (j < len(mentions) and mentions[j].start < b) or ":" in text[a:b]
                or _NARRATION.search(text, a, b)):
            break
        end = b
    return end


_BY_AGENT = re.compile(r"(?<=\w)(?<!\s\w)(?:(?<=ed)|(?<=en)|(?<=down)|(?<=out)|(?<=off))\s+by\s*$")


def _describes(text: str, people: list[tuple[int, int]], start: int, end: int) -> bool:
    """True when an office stands in apposition after a person's name: "James Heappey, a defence minister,"
    (an office in front, "Defence Secretary Ben Wallace", joins the name as one subject instead)."""
    return any(start >= p1 and _APPOSITION_ANY.fullmatch(text, p1, start) is not None
               and text[end : end + 1] in (",", ")", "", ".") for _p0, p1 in people)


def _after_other(text: str, start: int, others: list[int]) -> bool:
    """True where someone else was named shortly before ``start`` in the same paragraph."""
    i = bisect.bisect_left(others, start) - 1
    return i >= 0 and start - others[i] < 150 and "\n" not in text[others[i] : start]


def _extend_subject(mentions: list[Mention], starts: list[int], m0: int) -> int:
    """Start of the whole subject phrase: "Armed Forces Minister James Heappey" is one speaker mention."""
    i = bisect.bisect_left(starts, m0) - 1
    while i >= 0 and 0 <= m0 - mentions[i].end <= 2:
        m0 = mentions[i].start
        i -= 1
    return m0


def _body_before(text: str, events: list[tuple[int, str, Speaker]], pos: int) -> Speaker | None:
    """The UK body named last before ``pos`` in the same paragraph (within 300 characters), unless a person was
    named after it: whose officials a bare "Officials said" are."""
    for start, ekind, speaker in reversed(events):
        if start >= pos:
            continue
        if pos - start > 300 or "\n" in text[start:pos]:
            return None
        if ekind == "body":
            return None if speaker.other else speaker
        return None
    return None


def _antecedent(events: list[tuple[int, str, Speaker]], pos: int, kind: str) -> Speaker | None:
    """The most recent speaker-like mention before ``pos`` (within ~1,000 characters) agreeing with ``kind``."""
    for start, ekind, speaker in reversed(events):
        if start >= pos:
            continue
        if pos - start > 1000:
            return None
        if ekind == "other person" and kind != "person":
            continue
        if speaker.other or ekind == kind:
            return speaker
    return None


def _statement_span(text: str, s0: int, s1: int, m0: int, m1: int, v0: int, v1: int, inverted: bool,
                    quotes: list[tuple[int, int]]) -> tuple[int, int] | None:
    before_end = m0 if not inverted else v0
    head = text[s0:before_end]
    rest = text[v1:s1] if not inverted else text[m1:s1]
    tail_quote = re.search(r"[”\"]\s*,?\s*(?:[-–—]\s*)?$", head)
    if tail_quote:
        q_end = s0 + tail_quote.start()
        for q0, q1 in quotes:
            if q0 < q_end <= q1:
                return _trim_span(text, q0, q_end)
        return _trim_span(text, s0, q_end)
    lead = _LEAD.match(rest)
    body_start = v1 + (lead.end() if lead else 0) if not inverted else m1 + (lead.end() if lead else 0)
    if not inverted and text[v0:v1] in ("told", "tells", "tell", "telling"):
        obj = _OBJECT.match(text, body_start)
        body_start = obj.end() if obj else body_start
    elif not inverted and text[v0:v1] in _OBJECT_THAT_VERBS:  # "warned Russia that ...", "assured allies that ..."
        obj = _OBJECT_THAT.match(text, body_start)
        body_start = obj.end() if obj else body_start
    if re.match(r"\s*[:,]?\s*[“\"]", rest):
        q = next(((a, b) for a, b in quotes if a >= body_start - 1 and a < s1), None)
        if q is not None:
            return _trim_span(text, q[0], q[1])
    head_words = len(head.split())
    rest_clause = re.split(r"[,;]", rest.strip(), maxsplit=1)[0]
    # "Sanctions would follow, Johnson added in a later answer to MPs.": the words are before the speaker when
    # what follows the verb is short or only says where (not when the head is framing: "Speaking in Kyiv, ...").
    at_end = inverted and not text[m1:s1].strip(" .!?'\"’”")
    if head_words >= 3 and at_end and not re.search(r"[,:]\s*$", head):
        return _trim_span(text, s0, before_end)  # a headline: "UK troops will not fight says Wallace"
    if head_words >= 4 and re.search(r"[,:]\s*$", head) and not _FRAMING_HEAD.match(head) and (
            len(rest_clause.split()) <= 4 or inverted or _WHERE_ONLY.fullmatch(rest_clause)):
        return _trim_span(text, s0, before_end)
    if inverted:
        return None
    mental = _MENTAL.match(text, body_start)  # "said he believed the Ukrainians would fight"
    body_start = mental.end() if mental else body_start
    return _trim_span(text, body_start, _paraphrase_end(text, body_start, s1, quotes))


_OBJECT_THAT_VERBS = frozenset(("warned", "warns", "warn", "warning", "assured", "assures", "reminded", "reminds",
                                "promised", "promises", "urged", "urges"))
_OBJECT_THAT = re.compile(r"\s*(?:[\w’'\-]+\s+){1,3}?that\s+")


# A head that frames the sentence rather than being the words attributed: a participle clause or a prepositional
# phrase ("Addressing Ukrainians in their language, Boris Johnson urged ...", "In a later answer, ...").
_FRAMING_HEAD = re.compile(r"\s*(?:[A-Z][a-z]+ing\b|[A-Z][a-z]+ed\s+(?:on|about|over|by|for|at|in|during|"
                           r"whether|if|again)\b|(?:In|On|At|During|After|Before|Asked|Speaking|Writing|Following|"
                           r"Ahead\s+of|Later|Earlier)\b)")
# After the verb, only where, when or to whom it was said: "in a later answer to Conservative MP Tom Tugendhat",
# "as he stood alongside the Ukrainian president".
_WHERE_ONLY = re.compile(r"(?:in|on|at|during|to|after|before|later|earlier|when|while|from|as|amid|alongside|"
                         r"despite|following|ahead)\b(?:(?!\bthat\b)[^“”\"])*")
_MENTAL = re.compile(r"(?:he|she|they|it)\s+(?:believed|believes|thought|thinks|felt|feels|hoped|hopes|expected|"
                     r"expects|feared|fears)\s+(?:that\s+)?")
# A new reporting clause that ends the words attributed: "..., and he said the Kremlin should understand that".
# A clause of its own after a comma, with a named subject: "the UK was in lockstep with the US, Johnson delivered
# some pointed barbs ...".
_NEW_SUBJECT = re.compile(r",\s+(?:[A-Z][\w’'\-]+\s+){1,3}(?:has\s+|had\s+)?(?:[a-z]+ed|said|told)\b")
_NEXT_REPORT = re.compile(r",?\s+(?:and|but)\s+(?:he|she|they|it)\s+(?:also\s+)?(?:said|says|added|adds|warned|"
                          r"insisted|argued|stressed|told)\b")


# What stands between a verb of saying and the words attributed: "said in its latest intelligence update that",
# "argued in the Telegraph that", "told MPs on Monday that" (a short phrase without punctuation before "that").
_LEAD = re.compile(r"\s*[:,]?\s*(?:(?:(?:in|on|to|at|during|for|via|after|before)\s+[^,;:“”\"\n]{1,60}?\s+)?"
                   r"that\b[\s,]*)?")


# The reporter's framing after a paraphrase: "..., amid concerns Russia could invade", "..., as the scandal looms".
_FRAMING = re.compile(r",\s+(?:amid|despite|as|while|after|following|before|when|with|in\s+(?:its|their|his|her))\s")


def _paraphrase_end(text: str, start: int, end: int, quotes: list[tuple[int, int]]) -> int:
    """Where the words attributed end: before a trailing framing clause of the reporter's (outside quotes), where
    at least four words are left before it, or before a new reporting clause (", and he said ...")."""
    nxt = _NEXT_REPORT.search(text, start, end)
    if nxt is not None and len(text[start : nxt.start()].split()) >= 2:
        end = nxt.start()
    for m in _NEW_SUBJECT.finditer(text, start, end):
        if len(text[start : m.start()].split()) >= 4 and not any(q0 < m.start() < q1 for q0, q1 in quotes):
            end = m.start()
            break
    for m in _FRAMING.finditer(text, start, end):
        if len(text[start : m.start()].split()) >= 4 and not any(q0 < m.start() < q1 for q0, q1 in quotes):
            return m.start()
    return end


_HEADLINE_MIN_WORDS = 4
_NEXT_STORY = re.compile(r"\s+(?:and|as|while|but)\s+(?=[A-Z])|\s*[;|]\s*")


def headline_context(text: str, scan: Scan) -> tuple[int, int]:
    """The part of a headline a feed entry's statements are read with: in a round-up headline ("PM defends
    premiership, and Ukraine's weapons pleas") the story that names an official, not the story beside it."""
    bounds = [0, *(i for m in _NEXT_STORY.finditer(text) for i in (m.start(), m.end())), len(text)]
    stories = list(zip(bounds[::2], bounds[1::2], strict=True))
    named = [(a, b) for a, b in stories
             if any(a <= m0 and m1 <= b for m0, m1, *_ in (*scan.full, *scan.surname, *scan.alias))]
    if len(stories) == 1 or len(named) != 1:
        return 0, len(text)
    return named[0]


def _headline_clause(text: str, st: RawStatement) -> RawStatement | None:
    """A headline statement ends where the next story of a round-up headline starts ("Truss rejects handouts and
    China cuts ties with US"), and is a clause, not a bare object ("Blair dismisses quit claim report")."""
    cut = _NEXT_STORY.search(text, st.start, st.end)
    span = _trim_span(text, st.start, cut.start() if cut else st.end)
    if span is None or len(text[span[0] : span[1]].split()) < _HEADLINE_MIN_WORDS:
        return None
    return replace(st, start=span[0], end=span[1])


# Words that report or frame but say nothing: a "statement" made only of them ("told reporters on Monday") is none.
_FRAMING_WORDS = frozenset((*_VERBS, *_PARTICIPLES, "he", "she", "it", "they", "the", "a", "an", "to", "on", "in",
                            "at", "that", "reporters", "journalists", "mps", "bbc", "monday", "tuesday", "wednesday",
                            "thursday", "friday", "saturday", "sunday", "yesterday", "today", "tonight", "last",
                            "week", "night", "earlier", "later", "also", "has", "had", "have", "was", "is"))


def _trim_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start] in _STATEMENT_TRIM:
        start += 1
    while end > start and (text[end - 1] in _STATEMENT_TRIM or text[end - 1] == "."):
        end -= 1
    words = text[start:end].split()
    if len(words) < 2 or all(w.strip(",.;:’'\"”“").lower() in _FRAMING_WORDS for w in words):
        return None
    if text[end : end + 1] == "”" and text.count("“", start, end) > text.count("”", start, end):
        end += 1  # the closing mark of a quotation the words attributed end with stays with it
    return start, end


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Spans of double-quoted passages (curly pairs, and straight quotes paired within a paragraph)."""
    spans = [(m.start(), m.end()) for m in _CURLY_QUOTE.finditer(text)]
    if '"' in text:
        for para in re.finditer(r"[^\n]+", text):
            spans.extend(_straight_quotes(text, para.start(), para.end()))
    spans.sort()
    return spans


def _straight_quotes(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Straight-quoted spans of one paragraph, each mark read as opening or closing by what stands around it.

    Pairing marks in order goes wrong after one unclosed quote (a quote continued in the next paragraph opens
    there again): every later pair would be inverted, and the narration between quotes read as quoted.
    An opening mark follows a space or the paragraph's start; an unclosed quote runs to the paragraph's end.
    """
    spans = []
    opened: int | None = None
    for m in _STRAIGHT_QUOTE.finditer(text, start, end):
        i = m.start()
        before = text[i - 1] if i > start else " "
        after = text[i + 1] if i + 1 < end else " "
        if (before.isspace() or before in "([{–—-:") and not after.isspace():
            if opened is not None:
                spans.append((opened, i))  # the quote before was left open
            opened = i
        elif opened is not None:
            spans.append((opened, i + 1))
            opened = None
    if opened is not None:
        spans.append((opened, end))
    return spans


def _inside(quotes: list[tuple[int, int]], quote_starts: list[int], pos: int) -> bool:
    i = bisect.bisect_right(quote_starts, pos) - 1
    return i >= 0 and quotes[i][0] < pos < quotes[i][1] - 1


_COLON_BEFORE = re.compile(r":\s*[“\"‘']?\Z")


_AFTER_QUOTE_PARAGRAPH = re.compile(r"[\s.,;:!?…]*(?:\n|\Z)")


_SENTENCE_GAP = re.compile(r"[.!?]\s+\Z")
_STANDALONE_AFTER = re.compile(r"\s*(?:\Z|\n|[“\"]|[A-Z])")
_JOINED_QUOTE = re.compile(r"[”\"]?\s*,?\s+(?:and|but|or)\s+(?:[a-z][\w’'\-]*\s+){0,2}\Z")
_WORDS_AFTER = re.compile(r"[\s”\"]*([\w’'\-]+)")
_CLAUSE_END = re.compile(r"\s*[.,;]")


def _unattributed(text: str, q0: int, q1: int) -> bool:
    """Whether a quotation has no attribution of its own after it: it ends a sentence ('… step.”', not
    '…,” a soldier said'), and neither a verb of saying within three lower-case words ('… step.” he said') nor a
    name and a verb ending the sentence ('… step.” Zelensky said.') follows. ('… step.” Johnson stressed he …' is
    the next sentence.)"""
    if text[q0:q1].rstrip("”\" ")[-1:] not in (".", "!", "?", "…"):
        return False
    pos, named = q1, False
    for _ in range(4):
        word = _WORDS_AFTER.match(text, pos)
        if word is None:
            return True
        verb = _VERB_RE.match(text, word.start(1))
        if verb is not None:
            return named and _CLAUSE_END.match(text, verb.end()) is None
        named = named or word.group(1)[0].isupper()
        pos = word.end()
    return True


def _carried_quotes(text: str, out: list[RawStatement], quotes: list[tuple[int, int]],
                    mentions: list[Mention], others: list[int]) -> list[RawStatement]:
    """Quotations that carry on an official's statement without a new attribution: the next paragraph of a quote
    left open ('he said: “… “The next paragraph …”'); a paragraph or sentence that is only a quotation right after
    the official's quote or paraphrase ('“We will not be deterred,” the defence secretary said.' + '“Our support
    will continue.”'; 'He said the UK was bringing the west together. “He is trying to redraw the map of
    Europe.”'); a quotation joined to the official's by "and" ('the Kremlin, she said, “has not learned …” and
    an “invasion will only lead …”'). Another name or verb of saying in between, or after the quotation, ends the
    chain."""
    added: list[RawStatement] = []
    ordered = sorted(out, key=lambda st: (st.start, st.end))
    begins = [st.start for st in ordered]
    by_end = sorted(out, key=lambda st: st.end)
    ends = [st.end for st in by_end]
    quote_starts = [q[0] for q in quotes]
    prev: tuple[RawStatement, int, bool] | None = None  # the official's last statement, its end, whether quoted
    for q0, q1 in quotes:
        i = bisect.bisect_left(begins, q0)
        own = next((st for st in ordered[i : i + 3] if st.start < q1 and st.end <= q1 + 1), None)
        if own is not None:  # the quotation is an official's
            prev = (own, q1, True)
            continue
        j = bisect.bisect_right(ends, q0) - 1  # or the official's paraphrase just before it
        if j >= 0 and (prev is None or ends[j] > prev[1]) and not _inside(quotes, quote_starts, by_end[j].start):
            prev = (by_end[j], ends[j], False)
        if prev is None:
            continue
        st, p1, quoted = prev
        gap = text[p1:q0]
        nobody_else = (not any(p1 <= mn.start < q0 and (mn.start, mn.end) != st.mention for mn in mentions)
                       and not any(p1 <= o < q0 for o in others))
        unattributed = _unattributed(text, q0, q1)
        open_before = quoted and text[p1 - 1] not in "”\"" and not gap.strip()
        next_paragraph = ("\n" in gap and gap.count("\n") <= 2 and not text[gap.rfind("\n") + p1 : q0].strip()
                          and _AFTER_QUOTE_PARAGRAPH.match(text, q1) is not None and nobody_else
                          and (quoted or unattributed))
        # Paragraphs flattened into one line: '“…,” Johnson said. “We are bringing forward …”' (a whole sentence
        # quoted, with no attribution of its own, after the sentence of the official's statement).
        next_sentence = ("\n" not in gap and len(gap) <= 80 and _SENTENCE_GAP.search(gap) is not None
                         and _STANDALONE_AFTER.match(text, q1) is not None and nobody_else and unattributed)
        joined = quoted and len(gap) <= 30 and _JOINED_QUOTE.fullmatch(gap) is not None and nobody_else
        if not (open_before or next_paragraph or next_sentence or joined):
            prev = None
            continue
        span = _trim_span(text, q0, q1)
        if span is None:
            prev = None
            continue
        new = RawStatement(st.speaker, span[0], span[1], (q0, q1), st.mention)
        added.append(new)
        prev = (new, q1, True)
    return added


def _kind(text: str, start: int, end: int, quotes: list[tuple[int, int]], quote_starts: list[int], *,
          title: bool = False) -> str:
    """ "direct" for words inside one quotation (its marks may be trimmed off), words nearly all quoted (a short
    lead-in before the quotation: 'urged Putin to “desist and step back …”') or a block quote introduced by a
    colon ("He said: We will ..."), else "indirect". A headline's "Johnson: Putin would not have invaded …"
    without quotation marks is the paper's paraphrase, not a quotation."""
    i = bisect.bisect_right(quote_starts, start) - 1
    if i >= 0 and quotes[i][0] <= start and end <= quotes[i][1]:
        return "direct"
    colon = _COLON_BEFORE.search(text, max(0, start - 12), start)
    if colon is not None and (not title or colon.group().strip(": \t") or text[start:start + 1] in _QUOTE_MARKS):
        return "direct"
    if _quoted_share(text, start, end, quotes, quote_starts) >= _MOSTLY_QUOTED:
        return "direct"
    return "indirect"


_QUOTE_MARKS = "“\"‘'"
_MOSTLY_QUOTED = 0.8
_WORD = re.compile(r"\w+")


def _quoted_share(text: str, start: int, end: int, quotes: list[tuple[int, int]], quote_starts: list[int]) -> float:
    """The share of the words of ``text[start:end]`` that lie inside quotations."""
    lo = max(bisect.bisect_right(quote_starts, start) - 1, 0)
    hi = bisect.bisect_left(quote_starts, end)
    spans = [q for q in quotes[lo:hi] if q[1] > start]
    if not spans:
        return 0.0
    words = [m.start() for m in _WORD.finditer(text, start, end)]
    inside = sum(1 for w in words if any(a <= w < b for a, b in spans))
    return inside / len(words) if words else 0.0


def _dedupe(statements: list[RawStatement]) -> list[RawStatement]:
    out: list[RawStatement] = []
    for st in sorted(statements, key=lambda s: (s.start, -s.end)):
        if any(o.speaker == st.speaker and o.start <= st.start < o.end for o in out):
            continue
        out.append(st)
    return out


def _span(item: tuple) -> tuple[int, int]:
    return item[0], item[1]


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a < end and start < b for a, b in spans)


def _word_start(text: str, pos: int) -> bool:
    return pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] == "_")


def _overlaps_any(mentions: list[Mention], start: int, end: int) -> bool:
    return any(mn.start < end and start < mn.end for mn in mentions)


def _looks_like_name(words: str) -> bool:
    first = words.split()[0]
    common = {"the", "said", "says", "has", "told"}
    return first not in HONORIFICS and first.lower() not in common and not first.isupper()


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("’", "'")).strip().lower()
