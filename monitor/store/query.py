"""The search query language, parsed once into a syntax tree that storage compiles for SQLite FTS5 or PostgreSQL.

Grammar (case of the words does not matter; ``OR`` must be upper case)::

    query    := clause+                         all clauses must hold (AND)
    clause   := either ("OR" either)*           one of them must hold
    either   := "-" either | "(" query ")" | [field ":"] term
    term     := word | word* | "exact phrase"
    field    := title | speaker | tag | feed

``word*`` matches words starting with ``word``; ``-x`` excludes what ``x`` matches. Text terms search the title and
the text; ``title:`` the title alone. ``speaker:`` matches a statement's speaker or role and ``feed:`` a feed's URL
or title (case-insensitive substrings), ``tag:`` a tag's name.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from monitor.core.errors import InvalidParameter

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_DEPTH = 16  # nested parentheses and exclusions


class QueryError(InvalidParameter):
    """A search query that cannot be parsed; the message says where and why."""


class Field(enum.Enum):
    TEXT = "text"  # title and text
    TITLE = "title"
    SPEAKER = "speaker"
    TAG = "tag"
    FEED = "feed"

    @property
    def is_full_text(self) -> bool:
        return self in (Field.TEXT, Field.TITLE)


@dataclass(frozen=True)
class Term:
    """One search term: its words (one word, or the words of a phrase in order), whether the last is a prefix."""

    field: Field
    words: tuple[str, ...]
    prefix: bool = False

    @property
    def value(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or

_WORD = re.compile(r"[^\W_]+")  # as SQLite's unicode61 tokenizer: underscore separates
_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<phrase>"[^"]*"?)|(?P<minus>-)(?=\S)|(?P<bare>[^\s()"]+))')
_FIELDS = {f.value: f for f in Field if f is not Field.TEXT}


def words_of(text: str) -> list[str]:
    """The searchable words of a text, lower-cased (letters and digits; punctuation separates words)."""
    return [w.lower() for w in _WORD.findall(text)]


class _Parser:
    def __init__(self, query: str):
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        query = query.strip()
        while pos < len(query):
            m = _TOKEN.match(query, pos)
            if m is None or m.end() == pos:
                break
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(query) and query[pos].isspace():
                pos += 1
        self.pos = 0
        self.terms = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def query(self, nested: bool) -> Node | None:
        clauses: list[Node] = []
        while (token := self.peek()) is not None:
            if token[0] == "close":
                if not nested:
                    raise QueryError("unbalanced ')' in the query")
                break
            if token == ("bare", "OR"):
                raise QueryError("OR needs a term on each side")
            node = self.clause()
            if node is not None:
                clauses.append(node)
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else And(tuple(clauses))

    def clause(self) -> Node | None:
        options = [self.either()]
        while self.peek() == ("bare", "OR"):
            self.take()
            if self.peek() is None or self.peek() in (("close", ")"), ("bare", "OR")):
                raise QueryError("OR needs a term on each side")
            options.append(self.either())
        kept = [o for o in options if o is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))

    def either(self) -> Node | None:
        kind, text = self.take()
        if kind in ("minus", "open"):
            self.depth += 1  # each level is a frame of this recursive parser: bounded, never a RecursionError
            if self.depth > MAX_DEPTH:
                raise QueryError(f"the query nests too deeply (at most {MAX_DEPTH} levels of parentheses or '-')")
            try:
                return self._nested(kind)
            finally:
                self.depth -= 1
        return self._plain(kind, text)

    def _nested(self, kind: str) -> Node | None:
        if kind == "minus":
            if self.peek() is None:
                raise QueryError("'-' must be followed by a term to exclude")
            child = self.either()
            return None if child is None else Not(child)
        inner = self.query(nested=True)  # kind == "open"
        if self.peek() is None:
            raise QueryError("unbalanced '(' in the query")
        self.take()
        return inner

    def _plain(self, kind: str, text: str) -> Node | None:
        if kind == "close":
            raise QueryError("unbalanced ')' in the query")
        field = Field.TEXT
        if kind == "bare" and ":" in text:
            name, _, rest = text.partition(":")
            if name.lower() in _FIELDS:
                field = _FIELDS[name.lower()]
                if not rest:
                    following = self.peek()
                    if following is None or following[0] != "phrase":
                        raise QueryError(f"{name}: needs a value, e.g. {name}:word or {name}:\"two words\"")
                    kind, text = self.take()
                else:
                    text = rest
        return self.term(field, kind, text)

    def term(self, field: Field, kind: str, text: str) -> Term | None:
        if kind == "phrase":
            if len(text) < 2 or not text.endswith('"'):
                raise QueryError(f"unbalanced quote in the query: {text}")
            text, prefix = text[1:-1], False
        else:
            prefix = text.endswith("*")
            text = text.rstrip("*") if prefix else text
            if prefix and not field.is_full_text:
                raise QueryError(f"prefix search (word*) works on the title and text, not on {field.value}:")
            if prefix and not _WORD.fullmatch(text):
                raise QueryError(f"prefix search needs one word before '*', as in missile*: not {text}*")
        if field.is_full_text:
            words = tuple(words_of(text))
            if not words:
                return None  # punctuation alone: nothing to search for
        else:
            words = (text.strip().lower(),) if text.strip() else ()
            if not words:
                raise QueryError(f"{field.value}: needs a value")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"too many terms in the query (at most {MAX_TERMS})")
        return Term(field, words, prefix)


def parse_query(query: str) -> Node | None:
    """Parse a search query; None for a blank one. Raises QueryError when malformed, too deep, or when it has
    nothing to search for (punctuation alone)."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is too long (at most {MAX_QUERY_CHARS} characters)")
    parser = _Parser(query)
    node = parser.query(nested=False)
    if node is None and query.strip():
        raise QueryError(f"nothing to search for in {query.strip()[:40]!r}: give a word or a phrase")
    if node is not None and _only_exclusions(node):
        raise QueryError("the query only excludes: add a term to search for")
    return node


def _only_exclusions(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, And):
        return all(_only_exclusions(c) for c in node.children)
    if isinstance(node, Or):
        return any(_only_exclusions(c) for c in node.children)
    return False


def positive_terms(node: Node | None) -> list[Term]:
    """The full-text terms a result may match (not under an exclusion): for ranking and highlighting."""
    if node is None:
        return []
    if isinstance(node, Term):
        return [node] if node.field.is_full_text else []
    if isinstance(node, Not):
        return []
    return [t for c in node.children for t in positive_terms(c)]
