"""Text helpers: the user pattern syntax, length-preserving clean-up and sentence splitting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

_HTML = re.compile(r"<[^<>]{0,2000}>|&(?:[a-zA-Z]{2,8}|#\d{2,5}|#x[0-9a-fA-F]{2,4});")
# Block-level tags end a paragraph ("</p><p>" in a feed's description): they become a line break, not a space.
_BLOCK_TAG = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|blockquote|tr|table|section|article|header|footer|figure|"
                        r"figcaption|hr|pre|dl|dt|dd|aside)\b", re.IGNORECASE)
_BOUNDARY = re.compile(r"\n\s*|[.!?][\"”’'\)]?\s+")
_SENTENCE_START = re.compile(r"[\"“‘'(\[]?[A-Z0-9£$€]")
_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "No.", "U.S.", "U.K.", "Gen.", "Lt.", "Col.", "Adm.", "Sgt.")


class PatternError(ValueError):
    """A pattern in a config file is not valid."""


def pattern_regex(pattern: str) -> str:
    """Translate one user pattern (see config/tags.toml) into regex source."""
    if pattern.startswith("re:"):
        source = pattern[3:]
    else:
        words = pattern.strip().lower()
        if not words:
            raise PatternError("empty pattern")
        wildcard = words.endswith("*")
        words = words.rstrip("*")
        parts = []
        for ch in words:
            if ch.isspace() or ch == "-":
                if not parts or parts[-1] != r"[\s\-]+":
                    parts.append(r"[\s\-]+")
            elif ch in "'’":
                parts.append("['’]")
            else:
                parts.append(re.escape(ch))
        source = "".join(parts) + (r"[\w\-]*" if wildcard else "")
        source = rf"(?<![\w]){source}(?![\w])" if not wildcard else rf"(?<![\w]){source}"
    try:
        re.compile(source)
    except re.error as exc:
        raise PatternError(f"invalid pattern {pattern!r}: {exc}") from exc
    return source


def clean(text: str) -> str:
    """Blank out HTML tags and entities without changing the length (offsets stay valid); a block-level tag
    (paragraph, line break, list item, heading, …) becomes a line break, so it ends a sentence and a paragraph."""
    if "<" not in text and "&" not in text:
        return text
    return _HTML.sub(_blank_markup, text)


def _blank_markup(m: re.Match[str]) -> str:
    found = m.group()
    if _BLOCK_TAG.match(found):
        return "\n" + " " * (len(found) - 1)
    return " " * len(found)


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the given spans by spaces (length-preserving)."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of ``text``; paragraph breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        newline = m.group().startswith("\n")
        if not newline and not _SENTENCE_START.match(text, m.end()):
            continue
        end = m.start() if newline else m.end()
        chunk = text[start:end]
        if newline or not chunk.rstrip().endswith(_ABBREVIATIONS):
            if chunk.strip():
                spans.append(_trim(text, start, end))
            start = m.end()
    if text[start:].strip():
        spans.append(_trim(text, start, len(text)))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_WILD = r"[\w\-]*"
_WORD_CHAR = re.compile(r"\w")


def lower_same_length(text: str) -> str:
    """``text.lower()``, keeping characters whose lower case is longer (so offsets stay valid)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


class PhraseMatcher:
    """Fast matcher for many patterns: literal patterns share one prefix-trie regex; each "re:" pattern is
    its own regex (so a literal start keeps Python's fast prefix search).

    With ``lowered`` (the default) patterns are case-insensitive and ``find`` must be given lower-cased text
    (see :func:`lower_same_length`); otherwise matching is case-sensitive. ``find`` returns
    (start, end, index into ``patterns``); literal matches are identified by their normalised text, wildcard
    patterns by their longest matching prefix.
    """

    def __init__(self, patterns: list[str], *, lowered: bool = True, hyphen_is_space: bool = True) -> None:
        self.lowered = lowered
        self.hyphen_is_space = hyphen_is_space
        self.literal: dict[str, int] = {}
        self.prefixes: list[tuple[str, int]] = []
        self.raw: list[tuple[int, re.Pattern[str]]] = []
        trie: dict[str, dict] = {}
        for i, pattern in enumerate(patterns):
            if pattern.startswith("re:"):
                self.raw.append((i, re.compile(pattern_regex(pattern))))
                continue
            words = pattern.strip()
            if not words or words == "*":
                raise PatternError("empty pattern")
            wildcard = words.endswith("*")
            key = self._norm(words.rstrip("*"))
            if "*" in key:
                raise PatternError(f"invalid pattern {pattern!r}: * is only allowed at the end")
            if wildcard:
                self.prefixes.append((key, i))
            else:
                self.literal.setdefault(key, i)
            node = trie
            for ch in key:
                node = node.setdefault(ch, {})
            node = node.setdefault(_WILD, {}) if wildcard else node
            node[""] = {}
        self.prefixes.sort(key=lambda p: -len(p[0]))
        self.regex = re.compile(self._regex_source(trie)) if trie else None

    def _regex_source(self, trie: dict[str, dict]) -> str:
        """The trie as one regex matching whole words: ``\\b`` + trie + ``(?![\\w])``.

        Case-sensitive patterns (names) start with capitals, rare in text: there each first character carries
        the word-boundary check after it ("W(?<!\\w\\w)allace", the same condition), so the regex starts with
        a set of characters and the engine skips every position not starting with one of them. (In lower-cased
        text most letters start some pattern, and a leading ``\\b`` is the faster filter.)
        """
        if self.lowered:
            return rf"\b{self._trie_source(trie)}(?![\w])"
        return rf"{self._trie_source(trie, first=True)}(?![\w])"

    def _norm(self, text: str) -> str:
        text = text.replace("’", "'")
        text = re.sub(r"[\s\-]+" if self.hyphen_is_space else r"\s+", " ", text)
        return text.lower() if self.lowered else text

    def _trie_source(self, node: dict[str, dict], *, first: bool = False) -> str:
        """Regex source of a trie node; ``first``: the root, each atom with the word-boundary check."""
        atoms = sorted((a for a in node if a), key=lambda a: (a == _WILD, a))
        alts = [(self._first_atom(a) if first else self._atom(a)) + self._trie_source(node[a]) for a in atoms]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    def _first_atom(self, atom: str) -> str:
        """An atom at the start of a match, with the word-boundary check (after it for a word character)."""
        return self._atom(atom) + r"(?<!\w\w)" if _WORD_CHAR.fullmatch(atom) else r"\b" + self._atom(atom)

    def _atom(self, atom: str) -> str:
        if atom == _WILD:
            return _WILD
        if atom == " ":
            return r"[\s\-]+" if self.hyphen_is_space else r"\s+"
        if atom == "'":
            return "['’]"
        return re.escape(atom)

    def identify(self, matched: str) -> int | None:
        key = self._norm(matched)
        if key in self.literal:
            return self.literal[key]
        for prefix, i in self.prefixes:
            if key.startswith(prefix):
                return i
        return None

    def find(self, text: str) -> list[tuple[int, int, int]]:
        out = []
        if self.regex is not None:
            for m in self.regex.finditer(text):
                idx = self.identify(m.group())
                if idx is not None:
                    out.append((m.start(), m.end(), idx))
        for idx, regex in self.raw:
            out.extend((m.start(), m.end(), idx) for m in regex.finditer(text) if m.end() > m.start())
        return out


_TOKEN = re.compile(r"\w+(?:['’]\w+)*")
_SPLIT_TOKENS = re.compile(f"({_TOKEN.pattern})")  # split() gives gap, token, gap, ..., token, gap
_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class Tokens:
    """Word tokens of a (lower-cased) text: offsets, normalised strings, and whether token i and i+1 are
    separated only by spaces or hyphens (so a phrase may run across them)."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    words: tuple[str, ...]
    joined: tuple[bool, ...]


def tokenize(lowered: str) -> Tokens:
    parts = _SPLIT_TOKENS.split(lowered)
    bounds = tuple(accumulate(map(len, parts)))  # end of each part: even index = a token's start
    words = parts[1::2]
    if "’" in lowered:
        words = [w.replace("’", "'") for w in words]
    # The gaps between tokens are never empty (tokens are maximal), so a phrase may run across one of only
    # spaces and hyphens (mostly a single space).
    joined = [gap == " " or not gap.strip(" \t\r\n-") for gap in parts[2:-1:2]]
    return Tokens(bounds[:-1:2], bounds[1::2], tuple(words), (*joined, False))


class Lexicon:
    """Word-level matcher for many patterns at once (dictionary look-ups on tokens, no regex scan).

    Literal patterns are word sequences (spaces and hyphens between words are interchangeable); a trailing
    ``*`` makes the last word a prefix. "re:" patterns are separate regexes run on the lower-cased text.
    Every pattern carries an owner (any hashable value) returned with its matches.
    """

    def __init__(self) -> None:
        self._first: dict[str, list[tuple[tuple[str, ...], bool, object]]] = {}
        self._prefix: dict[str, list[object]] = {}
        self._raw: list[tuple[re.Pattern[str], object]] = []
        self._cache: dict[str, tuple[tuple[int, tuple[str, ...], bool, object], ...]] = {}

    def add(self, pattern: str, owner: object) -> None:
        if pattern.startswith("re:"):
            self._raw.append((re.compile(pattern_regex(pattern)), owner))
            return
        text = pattern.strip().lower().replace("’", "'")
        wildcard = text.endswith("*")
        words = tuple(w for w in re.split(r"[\s\-]+", text.rstrip("*")) if w)
        if not words or any(not _TOKEN.fullmatch(w) for w in words):
            raise PatternError(f"invalid pattern {pattern!r}: use words, spaces, hyphens, apostrophes and a "
                               "trailing *, or a \"re:\" regular expression")
        if wildcard and len(words) == 1:
            self._prefix.setdefault(words[0], []).append(owner)
        else:
            self._first.setdefault(words[0], []).append((words[1:], wildcard, owner))
        self._cache.clear()

    def _candidates(self, word: str) -> tuple[tuple[int, tuple[str, ...], bool, object], ...]:
        """Patterns that can start at a token ``word``: (matched length in the token, rest, wildcard, owner)."""
        found = []
        keys = (word, word.split("'", 1)[0]) if "'" in word else (word,)
        for key in keys:
            found.extend((len(key), rest, wild, owner) for rest, wild, owner in self._first.get(key, ()))
        for length in range(1, len(word) + 1):
            for owner in self._prefix.get(word[:length], ()):
                found.append((len(word), (), False, owner))
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        result = self._cache[word] = tuple(found)
        return result

    def find(self, tokens: Tokens, lowered: str) -> list[tuple[int, int, object]]:
        out: list[tuple[int, int, object]] = []
        words, joined, starts, ends = tokens.words, tokens.joined, tokens.starts, tokens.ends
        cache = self._cache
        n = len(words)
        for i, word in enumerate(words):
            candidates = cache.get(word)
            if candidates is None:
                candidates = self._candidates(word)
            for length, rest, wildcard, owner in candidates:
                if not rest:
                    out.append((starts[i], starts[i] + length, owner))
                    continue
                j = i
                for k, part in enumerate(rest):
                    if j + 1 >= n or not joined[j]:
                        break
                    j += 1
                    if not (words[j] == part or (wildcard and k == len(rest) - 1 and words[j].startswith(part))):
                        break
                else:
                    out.append((starts[i], ends[j], owner))
        for regex, owner in self._raw:
            out.extend((m.start(), m.end(), owner) for m in regex.finditer(lowered) if m.end() > m.start())
        return out
