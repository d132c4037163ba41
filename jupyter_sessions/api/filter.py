"""The AIP-160 filter subset accepted by ``sessions.list`` and ``sessionTemplates.list``.

Grammar (AIP-160; note that OR binds tighter than AND and than juxtaposition)::

    expression  := sequence { AND sequence }
    sequence    := factor { factor }                 juxtaposed factors mean AND
    factor      := term { OR term }
    term        := ( NOT | "-" ) term | simple
    simple      := restriction | "(" expression ")"
    restriction := field [ "." key ] comparator value
    comparator  := "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"

Keywords match in any case. Values are bare words or double-quoted strings with backslash
escapes, and compare case-sensitively. ``:`` means equality, except that a bare ``*`` means
"has a value" (a non-empty string, a set timestamp, a label key that is present); a quoted
``"*"`` is the literal star. ``labels.k != v`` also matches records without the key ``k``,
so it is exactly ``NOT labels.k = v``.
"""

from __future__ import annotations

import enum
import functools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "SESSION_FILTER_FIELDS",
    "TEMPLATE_FILTER_FIELDS",
    "And",
    "Comparator",
    "FieldKind",
    "Filter",
    "FilterError",
    "FilterField",
    "FilterNode",
    "HasKey",
    "HasValue",
    "LabelCompare",
    "Not",
    "Or",
    "TextCompare",
    "TimeCompare",
    "compile_filter",
]

MAX_FILTER_LENGTH = 2000
"""Longest filter text accepted, in characters."""

MAX_FILTER_DEPTH = 50
"""Deepest nesting accepted; each '(' and each NOT or '-' is one level."""


class FilterError(ValueError):
    """A filter that cannot be parsed; ``position`` is the 0-based offset of the bad token."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"Invalid filter at position {position}: {reason}")
        self.reason = reason
        self.position = position

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.position))


# --- fields ----------------------------------------------------------------------------


class FieldKind(enum.Enum):
    """How a field's values are written in a filter and compared."""

    STRING = "string"
    ENUM = "enum"
    TIMESTAMP = "timestamp"
    MAP = "map"


@dataclass(frozen=True)
class FilterField:
    """A field a filter may name; records carry it under ``name``."""

    name: str
    kind: FieldKind
    aliases: tuple[str, ...] = ()
    enum_values: tuple[str, ...] = ()


_SESSION_STATES = ("STATE_UNSPECIFIED", "CREATING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED")

SESSION_FILTER_FIELDS: tuple[FilterField, ...] = (
    FilterField("session_id", FieldKind.STRING, aliases=("sessionId",)),
    FilterField("session_uuid", FieldKind.STRING, aliases=("sessionUuid",)),
    FilterField("state", FieldKind.ENUM, enum_values=_SESSION_STATES),
    FilterField("create_time", FieldKind.TIMESTAMP, aliases=("createTime",)),
    FilterField("labels", FieldKind.MAP),
)
"""Fields of ``sessions.list`` (spec 3.3.1)."""

TEMPLATE_FILTER_FIELDS: tuple[FilterField, ...] = (
    FilterField("name", FieldKind.STRING),
    FilterField("create_time", FieldKind.TIMESTAMP, aliases=("createTime",)),
    FilterField("creator", FieldKind.STRING),
    FilterField("labels", FieldKind.MAP),
)
"""Fields of ``sessionTemplates.list`` (spec 6.2)."""


class Comparator(enum.Enum):
    """A restriction's comparator, by its filter spelling."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    HAS = ":"


_ORDERING = frozenset({Comparator.LT, Comparator.LE, Comparator.GT, Comparator.GE})

# HAS never reaches the AST: the parser turns it into EQ or a presence test.
_OPS: dict[Comparator, Callable[[Any, Any], bool]] = {
    Comparator.EQ: operator.eq,
    Comparator.NE: operator.ne,
    Comparator.LT: operator.lt,
    Comparator.LE: operator.le,
    Comparator.GT: operator.gt,
    Comparator.GE: operator.ge,
}


# --- record values ---------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NANOS = 1_000_000_000


def _text(value: object) -> str:
    """A STRING or ENUM record value as text; missing is the proto3 default ``""``."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, enum.Enum):  # State.ACTIVE (an IntEnum) must read "ACTIVE", not "2"
        return value.name
    return str(value)


def _instant(value: object) -> int | None:
    """A TIMESTAMP record value as nanoseconds since the epoch, or None when unset."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - _EPOCH
        return (delta.days * 86400 + delta.seconds) * _NANOS + delta.microseconds * 1000
    if isinstance(value, str):
        try:
            return _parse_timestamp(value)
        except ValueError:
            return None
    return None


_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def _parse_timestamp(text: str) -> int:
    """Parse RFC 3339 into nanoseconds since the epoch, keeping all 9 fractional digits."""
    m = _RFC3339_RE.fullmatch(text)
    if m is None:
        raise ValueError("not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    whole = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    nanos = int(((m.group(7) or "") + "000000000")[:9])
    offset = 0
    if m.group(9):
        hours, minutes = int(m.group(10)), int(m.group(11))
        if hours > 23 or minutes > 59:
            raise ValueError("UTC offset out of range")
        offset = (hours * 60 + minutes) * 60 * (1 if m.group(9) == "+" else -1)
    delta = whole - _EPOCH
    return (delta.days * 86400 + delta.seconds - offset) * _NANOS + nanos


# --- AST -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterNode:
    """Base of the filter AST."""

    def matches(self, record: Mapping[str, object]) -> bool:
        """Whether ``record`` satisfies this node."""
        raise NotImplementedError


@dataclass(frozen=True)
class And(FilterNode):
    """All terms hold."""

    terms: tuple[FilterNode, ...]

    def matches(self, record: Mapping[str, object]) -> bool:
        return all(term.matches(record) for term in self.terms)


@dataclass(frozen=True)
class Or(FilterNode):
    """At least one term holds."""

    terms: tuple[FilterNode, ...]

    def matches(self, record: Mapping[str, object]) -> bool:
        return any(term.matches(record) for term in self.terms)


@dataclass(frozen=True)
class Not(FilterNode):
    """The term does not hold."""

    term: FilterNode

    def matches(self, record: Mapping[str, object]) -> bool:
        return not self.term.matches(record)


@dataclass(frozen=True)
class TextCompare(FilterNode):
    """A STRING or ENUM field compared with a string (lexicographically)."""

    field: str
    op: Comparator
    value: str

    def matches(self, record: Mapping[str, object]) -> bool:
        return _OPS[self.op](_text(record.get(self.field)), self.value)


@dataclass(frozen=True)
class TimeCompare(FilterNode):
    """A TIMESTAMP field compared as an instant; an unset timestamp only matches '!='."""

    field: str
    op: Comparator
    nanos: int

    def matches(self, record: Mapping[str, object]) -> bool:
        instant = _instant(record.get(self.field))
        if instant is None:
            return self.op is Comparator.NE
        return _OPS[self.op](instant, self.nanos)


@dataclass(frozen=True)
class LabelCompare(FilterNode):
    """A MAP entry compared with a string; a missing key only matches '!='."""

    field: str
    key: str
    op: Comparator
    value: str

    def matches(self, record: Mapping[str, object]) -> bool:
        labels = record.get(self.field)
        found = labels.get(self.key) if isinstance(labels, Mapping) else None
        if found is None:
            return self.op is Comparator.NE
        return _OPS[self.op](_text(found), self.value)


@dataclass(frozen=True)
class HasKey(FilterNode):
    """A MAP field has ``key`` (``labels.key:*`` or ``labels:key``)."""

    field: str
    key: str

    def matches(self, record: Mapping[str, object]) -> bool:
        labels = record.get(self.field)
        return isinstance(labels, Mapping) and labels.get(self.key) is not None


@dataclass(frozen=True)
class HasValue(FilterNode):
    """``field:*``: a non-empty string, a set timestamp, or a non-empty map."""

    field: str
    kind: FieldKind

    def matches(self, record: Mapping[str, object]) -> bool:
        value = record.get(self.field)
        if self.kind is FieldKind.TIMESTAMP:
            return _instant(value) is not None
        if self.kind is FieldKind.MAP:
            return isinstance(value, Mapping) and len(value) > 0
        return _text(value) != ""


# --- tokens ----------------------------------------------------------------------------


class _Kind(enum.Enum):
    WORD = "word"
    STRING = "string"
    COMPARATOR = "comparator"
    LPAREN = "("
    RPAREN = ")"
    DOT = "."
    MINUS = "-"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # as written, quotes included
    value: str  # decoded (escapes applied) for strings
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


_SPACE_RE = re.compile(r"\s+")
_COMPARATOR_RE = re.compile(r"<=|>=|!=|[=<>:]")
# Names stop at '.' and at operators, so `labels.env=prod` needs no spaces; a leading '-'
# is negation, an inner one is part of the name (label keys may contain '-').
_NAME_RE = re.compile(r'[^\s()"=<>!:.\-][^\s()"=<>!:.]*')
# Values keep ':', '.', '+' and '-' so that bare timestamps lex as one word.
_VALUE_RE = re.compile(r'[^\s()"=<>!]+')
_STRING_CHUNK_RE = re.compile(r'[^"\\]+')
_KEYWORDS = {"AND": _Kind.AND, "OR": _Kind.OR, "NOT": _Kind.NOT}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def _show(text: str) -> str:
    """Quote a piece of filter text for an error message, shortened if long."""
    if len(text) > 40:
        text = text[:37] + "..."
    return f"'{text}'" if text.isprintable() else repr(text)


def _lex_string(text: str, start: int) -> tuple[str, int]:
    """Decode the quoted string opening at ``start``; return its value and end offset."""
    parts: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            return "".join(parts), i + 1
        if char == "\\":
            if i + 1 >= n:
                break
            escaped = _ESCAPES.get(text[i + 1])
            if escaped is None:
                raise FilterError(f"invalid escape {_show(text[i : i + 2])} in quoted string", i)
            parts.append(escaped)
            i += 2
            continue
        chunk = _STRING_CHUNK_RE.match(text, i)
        assert chunk is not None  # text[i] is neither '"' nor '\\'
        parts.append(chunk.group())
        i = chunk.end()
    raise FilterError(f"unterminated quoted string {_show(text[start:])}", start)


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens, ending with an END token.

    The word rules depend on the previous token: right after a comparator a bare value may
    contain ':' (timestamps); elsewhere ':' and '.' separate a field from what follows.
    """
    tokens: list[_Token] = []
    pos, n = 0, len(text)
    prev: _Kind | None = None
    while True:
        space = _SPACE_RE.match(text, pos)
        if space is not None:
            pos = space.end()
        if pos >= n:
            tokens.append(_Token(_Kind.END, "", "", n))
            return tokens
        char = text[pos]
        token: _Token
        if char == '"':
            value, end = _lex_string(text, pos)
            token = _Token(_Kind.STRING, text[pos:end], value, pos)
        elif prev is _Kind.COMPARATOR and (m := _VALUE_RE.match(text, pos)) is not None:
            token = _Token(_Kind.WORD, m.group(), m.group(), pos)
        elif char == "(":
            token = _Token(_Kind.LPAREN, char, char, pos)
        elif char == ")":
            token = _Token(_Kind.RPAREN, char, char, pos)
        elif char == ".":
            token = _Token(_Kind.DOT, char, char, pos)
        elif (m := _COMPARATOR_RE.match(text, pos)) is not None:
            token = _Token(_Kind.COMPARATOR, m.group(), m.group(), pos)
        elif char == "-":
            token = _Token(_Kind.MINUS, char, char, pos)
        elif (m := _NAME_RE.match(text, pos)) is not None:
            word = m.group()
            kind = _Kind.WORD
            # After '.', a word is a label key: `labels.and` names the key "and".
            if prev is not _Kind.DOT and word.isascii():
                kind = _KEYWORDS.get(word.upper(), _Kind.WORD)
            token = _Token(kind, word, word, pos)
        else:  # only a lone '!' gets here
            raise FilterError(f"unexpected character {_show(char)}", pos)
        tokens.append(token)
        prev = token.kind
        pos = token.end


# --- parser ----------------------------------------------------------------------------

_TERM_START = frozenset({_Kind.WORD, _Kind.LPAREN, _Kind.NOT, _Kind.MINUS})
_COMPARATORS = {c.value: c for c in Comparator}


def _describe(token: _Token) -> str:
    if token.kind is _Kind.END:
        return "end of filter"
    if token.kind in (_Kind.AND, _Kind.OR, _Kind.NOT):
        return f"keyword {_show(token.text)}"
    return _show(token.text)


def _join(cls: type[And] | type[Or], parts: list[FilterNode]) -> FilterNode:
    """Combine ``parts`` into one n-ary node, flattening nested nodes of the same kind."""
    if len(parts) == 1:
        return parts[0]
    flat: list[FilterNode] = []
    for part in parts:
        if isinstance(part, cls):
            flat.extend(part.terms)
        else:
            flat.append(part)
    return cls(tuple(flat))


@functools.lru_cache(maxsize=16)
def _field_index(fields: tuple[FilterField, ...]) -> Mapping[str, FilterField]:
    index: dict[str, FilterField] = {}
    for field in fields:
        index[field.name] = field
        for alias in field.aliases:
            index[alias] = field
    return index


class _Parser:
    """Recursive descent over the token list; depth is bounded by MAX_FILTER_DEPTH."""

    def __init__(self, tokens: list[_Token], fields: tuple[FilterField, ...]) -> None:
        self._tokens = tokens
        self._i = 0
        self._fields = fields
        self._index = _field_index(fields)

    def _peek(self) -> _Token:
        return self._tokens[self._i]

    def _next(self) -> _Token:
        token = self._tokens[self._i]
        if token.kind is not _Kind.END:
            self._i += 1
        return token

    def parse(self) -> FilterNode:
        if self._peek().kind is _Kind.END:
            raise FilterError("empty filter", 0)
        node = self._expression(0, None)
        token = self._peek()
        if token.kind is _Kind.RPAREN:
            raise FilterError("unbalanced parentheses: unexpected ')'", token.pos)
        assert token.kind is _Kind.END  # sequences run until AND, ')' or the end
        return node

    def _expression(self, depth: int, after: _Token | None) -> FilterNode:
        parts = [self._sequence(depth, after)]
        while self._peek().kind is _Kind.AND:
            keyword = self._next()
            parts.append(self._sequence(depth, keyword))
        return _join(And, parts)

    def _sequence(self, depth: int, after: _Token | None) -> FilterNode:
        parts = [self._factor(depth, after)]
        while (token := self._peek()).kind not in (_Kind.AND, _Kind.RPAREN, _Kind.END):
            if token.kind not in _TERM_START:
                previous = self._tokens[self._i - 1]
                raise FilterError(
                    f"unexpected {_describe(token)} after {_show(previous.text)}", token.pos
                )
            parts.append(self._factor(depth, None))
        return _join(And, parts)

    def _factor(self, depth: int, after: _Token | None) -> FilterNode:
        parts = [self._term(depth, after)]
        while self._peek().kind is _Kind.OR:
            keyword = self._next()
            parts.append(self._term(depth, keyword))
        return _join(Or, parts)

    def _term(self, depth: int, after: _Token | None) -> FilterNode:
        # NOT chains loop rather than recurse, so a long run of '-' cannot exhaust the stack.
        negations = 0
        token = self._peek()
        while token.kind in (_Kind.NOT, _Kind.MINUS):
            depth += 1
            if depth > MAX_FILTER_DEPTH:
                raise FilterError(
                    f"filter is nested deeper than {MAX_FILTER_DEPTH} levels at {_describe(token)}",
                    token.pos,
                )
            negations += 1
            after = self._next()
            token = self._peek()
        node = self._simple(depth, after)
        for _ in range(negations):
            node = Not(node)
        return node

    def _simple(self, depth: int, after: _Token | None) -> FilterNode:
        token = self._peek()
        if token.kind is _Kind.LPAREN:
            if depth + 1 > MAX_FILTER_DEPTH:
                raise FilterError(
                    f"filter is nested deeper than {MAX_FILTER_DEPTH} levels at '('", token.pos
                )
            self._next()
            node = self._expression(depth + 1, token)
            close = self._peek()
            if close.kind is not _Kind.RPAREN:
                raise FilterError(
                    f"unbalanced parentheses: '(' is never closed (found {_describe(close)})",
                    token.pos,
                )
            self._next()
            return node
        if token.kind is _Kind.WORD:
            return self._restriction()
        where = f" after {_show(after.text)}" if after is not None else ""
        raise FilterError(
            f"expected a field name, NOT or '('{where}, found {_describe(token)}", token.pos
        )

    def _restriction(self) -> FilterNode:
        name = self._next()
        field = self._index.get(name.value)
        if field is None:
            supported = ", ".join(f.name for f in self._fields)
            raise FilterError(
                f"unknown field {_show(name.value)} (supported: {supported})", name.pos
            )
        key: str | None = None
        label = name.text
        if self._peek().kind is _Kind.DOT:
            dot = self._next()
            if field.kind is not FieldKind.MAP:
                raise FilterError(
                    f"field {_show(name.text)} has no members (only map fields such as "
                    f"labels take '.key')",
                    dot.pos,
                )
            key_token = self._peek()
            if key_token.kind not in (_Kind.WORD, _Kind.STRING) or not key_token.value:
                raise FilterError(
                    f"expected a key after {_show(name.text + '.')}, found {_describe(key_token)}",
                    key_token.pos,
                )
            self._next()
            key = key_token.value
            label = f"{name.text}.{key_token.text}"
            if self._peek().kind is _Kind.DOT:
                extra = self._peek()
                raise FilterError(
                    f"unexpected '.' after {_show(label)}: quote a key that contains dots, "
                    f'as in {name.text}."a.b"',
                    extra.pos,
                )
        comparator_token = self._peek()
        if comparator_token.kind is not _Kind.COMPARATOR:
            raise FilterError(
                f"expected a comparator (=, !=, <, <=, >, >=, :) after {_show(label)}, "
                f"found {_describe(comparator_token)}",
                comparator_token.pos,
            )
        self._next()
        op = _COMPARATORS[comparator_token.text]
        if field.kind is FieldKind.ENUM and op in _ORDERING:
            raise FilterError(
                f"comparator {_show(op.value)} is not supported for {_show(label)}; "
                f"use '=' or '!='",
                comparator_token.pos,
            )
        if field.kind is FieldKind.MAP and key is None and op is not Comparator.HAS:
            raise FilterError(
                f"field {_show(name.text)} needs a key before {_show(op.value)}: write "
                f"{name.text}.KEY{op.value}VALUE, or {name.text}:KEY to test for a key",
                comparator_token.pos,
            )
        value_token = self._peek()
        if value_token.kind is not _Kind.STRING and (
            value_token.kind is not _Kind.WORD or value_token.text.upper() in _KEYWORDS
        ):
            hint = ""
            if value_token.kind is _Kind.WORD:  # a keyword lexed as a value
                hint = f' (write "{value_token.text}" to compare with the word itself)'
                found = f"keyword {_show(value_token.text)}"
            else:
                found = _describe(value_token)
            raise FilterError(
                f"expected a value after {_show(comparator_token.text)}, found {found}{hint}",
                value_token.pos,
            )
        self._next()
        return self._build(field, key, op, value_token)

    def _build(
        self, field: FilterField, key: str | None, op: Comparator, token: _Token
    ) -> FilterNode:
        value = token.value
        # Only a bare '*' is the wildcard, so `"*"` still compares with a literal star.
        wildcard = op is Comparator.HAS and token.kind is _Kind.WORD and value == "*"
        if op is Comparator.HAS and not wildcard:
            op = Comparator.EQ
            if field.kind is FieldKind.MAP and key is None:
                return HasKey(field.name, value)  # labels:KEY
        if field.kind is FieldKind.MAP:
            if key is None:
                return HasValue(field.name, field.kind)  # labels:*
            if wildcard:
                return HasKey(field.name, key)
            return LabelCompare(field.name, key, op, value)
        if wildcard:
            return HasValue(field.name, field.kind)
        if field.kind is FieldKind.TIMESTAMP:
            try:
                nanos = _parse_timestamp(value)
            except ValueError:
                raise FilterError(
                    f"invalid timestamp {_show(token.text)} for {field.name} "
                    f'(expected RFC 3339, such as "2024-01-31T12:00:00Z")',
                    token.pos,
                ) from None
            return TimeCompare(field.name, op, nanos)
        if field.kind is FieldKind.ENUM and value not in field.enum_values:
            allowed = ", ".join(field.enum_values)
            hint = ""
            if value.upper() in field.enum_values:
                hint = f"; values are case-sensitive, did you mean {value.upper()}?"
            raise FilterError(
                f"invalid value {_show(token.text)} for {field.name} (allowed: {allowed}){hint}",
                token.pos,
            )
        return TextCompare(field.name, op, value)


# --- public entry points ---------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A parsed filter: ``text`` as given and the AST ``node`` that ``matches`` evaluates."""

    text: str
    node: FilterNode

    @classmethod
    def parse(cls, text: str, fields: Sequence[FilterField]) -> Filter:
        """Parse ``text`` against ``fields``; raise FilterError on any bad input."""
        if len(text) > MAX_FILTER_LENGTH:
            raise FilterError(
                f"filter is too long ({len(text)} characters; the limit is {MAX_FILTER_LENGTH})",
                MAX_FILTER_LENGTH,
            )
        node = _Parser(_tokenize(text), tuple(fields)).parse()
        return cls(text, node)

    def matches(self, record: Mapping[str, object]) -> bool:
        """Whether ``record`` (keyed by canonical field names) satisfies the filter."""
        return self.node.matches(record)

    def __str__(self) -> str:
        return self.text


def compile_filter(text: str | None, fields: Sequence[FilterField]) -> Filter | None:
    """Parse ``text``, or return None (match everything) when it is None or blank."""
    if text is None or not text.strip():
        return None
    return Filter.parse(text, fields)
