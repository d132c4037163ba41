"""The AIP-160 list filter: grammar, evaluation, errors and limits."""

from __future__ import annotations

import ast
import enum
import pickle
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jupyter_sessions.api import filter as filter_module
from jupyter_sessions.api.filter import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    SESSION_FILTER_FIELDS,
    TEMPLATE_FILTER_FIELDS,
    And,
    Comparator,
    FieldKind,
    Filter,
    FilterError,
    FilterField,
    HasKey,
    HasValue,
    LabelCompare,
    Not,
    Or,
    TextCompare,
    TimeCompare,
    compile_filter,
)

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)

Record = dict[str, object]


def session(
    session_id: str = "alpha",
    state: str = "ACTIVE",
    create_time: datetime | None = T0,
    labels: dict[str, str] | None = None,
    session_uuid: str = "0f0e-uuid",
) -> Record:
    """A session record keyed by canonical filter field names."""
    record: Record = {
        "session_id": session_id,
        "session_uuid": session_uuid,
        "state": state,
        "labels": labels if labels is not None else {},
    }
    if create_time is not None:
        record["create_time"] = create_time
    return record


def matches(text: str, record: Mapping[str, object]) -> bool:
    return Filter.parse(text, SESSION_FILTER_FIELDS).matches(record)


def parse_error(text: str, fields: tuple[FilterField, ...] = SESSION_FILTER_FIELDS) -> FilterError:
    with pytest.raises(FilterError) as info:
        Filter.parse(text, fields)
    return info.value


# --- fields and entry points -----------------------------------------------------------


def test_session_fields_match_the_spec() -> None:
    """Given the session field table, then it lists spec 3.3.1's fields and spellings."""
    by_name = {f.name: f for f in SESSION_FILTER_FIELDS}
    assert list(by_name) == ["session_id", "session_uuid", "state", "create_time", "labels"]
    assert by_name["session_id"].aliases == ("sessionId",)
    assert by_name["session_uuid"].aliases == ("sessionUuid",)
    assert by_name["create_time"].aliases == ("createTime",)
    assert by_name["state"].kind is FieldKind.ENUM
    assert by_name["state"].enum_values == (
        "STATE_UNSPECIFIED",
        "CREATING",
        "ACTIVE",
        "TERMINATING",
        "TERMINATED",
        "FAILED",
    )
    assert by_name["create_time"].kind is FieldKind.TIMESTAMP
    assert by_name["labels"].kind is FieldKind.MAP


def test_template_fields_match_the_spec() -> None:
    """Given the template field table, then it lists spec 6.2's fields."""
    kinds = {f.name: f.kind for f in TEMPLATE_FILTER_FIELDS}
    assert kinds == {
        "name": FieldKind.STRING,
        "create_time": FieldKind.TIMESTAMP,
        "creator": FieldKind.STRING,
        "labels": FieldKind.MAP,
    }


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_blank_filter_compiles_to_none(text: str | None) -> None:
    """Given no filter or a blank one, when compiled, then None means 'match everything'."""
    assert compile_filter(text, SESSION_FILTER_FIELDS) is None


def test_compile_filter_returns_a_filter_that_keeps_its_text() -> None:
    """Given a filter, when compiled, then the result keeps the text as written."""
    compiled = compile_filter("state = ACTIVE", SESSION_FILTER_FIELDS)
    assert isinstance(compiled, Filter)
    assert compiled.text == "state = ACTIVE"
    assert str(compiled) == "state = ACTIVE"
    assert compiled.matches(session(state="ACTIVE"))
    assert not compiled.matches(session(state="FAILED"))


def test_compile_filter_raises_on_bad_input() -> None:
    """Given a malformed filter, when compiled, then FilterError propagates."""
    with pytest.raises(FilterError):
        compile_filter("state = = ACTIVE", SESSION_FILTER_FIELDS)


def test_equal_filters_parse_to_equal_asts() -> None:
    """Given two spellings of one filter, when parsed, then the ASTs are equal."""
    a = Filter.parse("sessionId=x AND labels.env:*", SESSION_FILTER_FIELDS)
    b = Filter.parse('session_id = "x" and labels.env : *', SESSION_FILTER_FIELDS)
    assert a.node == b.node
    assert a.node == And((TextCompare("session_id", Comparator.EQ, "x"), HasKey("labels", "env")))


# --- logic and precedence --------------------------------------------------------------


def test_or_binds_tighter_than_and() -> None:
    """Given `a AND b OR c`, when parsed, then it means `a AND (b OR c)` (AIP-160)."""
    parsed = Filter.parse(
        "state = ACTIVE AND session_id = a OR session_id = b", SESSION_FILTER_FIELDS
    )
    assert parsed.node == And(
        (
            TextCompare("state", Comparator.EQ, "ACTIVE"),
            Or(
                (
                    TextCompare("session_id", Comparator.EQ, "a"),
                    TextCompare("session_id", Comparator.EQ, "b"),
                )
            ),
        )
    )
    # With the usual precedence this record would match through `OR session_id = b`.
    assert not parsed.matches(session(session_id="b", state="FAILED"))
    assert parsed.matches(session(session_id="b", state="ACTIVE"))


def test_or_binds_tighter_than_juxtaposition() -> None:
    """Given `a b OR c`, when evaluated, then it means `a AND (b OR c)`."""
    text = "state=FAILED session_id=a OR session_id=b"
    assert not matches(text, session(session_id="b", state="ACTIVE"))
    assert matches(text, session(session_id="b", state="FAILED"))
    assert matches(text, session(session_id="a", state="FAILED"))


def test_parentheses_override_precedence() -> None:
    """Given `(a AND b) OR c`, when evaluated, then c alone suffices."""
    text = "(state = ACTIVE AND session_id = a) OR session_id = b"
    assert matches(text, session(session_id="b", state="FAILED"))
    assert matches(text, session(session_id="a", state="ACTIVE"))
    assert not matches(text, session(session_id="a", state="FAILED"))


def test_juxtaposed_terms_mean_and() -> None:
    """Given two restrictions separated by a space, then both must hold."""
    text = "state=ACTIVE labels.env=prod"
    assert matches(text, session(state="ACTIVE", labels={"env": "prod"}))
    assert not matches(text, session(state="ACTIVE", labels={"env": "dev"}))
    assert not matches(text, session(state="FAILED", labels={"env": "prod"}))


def test_chains_flatten_into_n_ary_nodes() -> None:
    """Given a chain of ORs, when parsed, then one flat Or node holds every term."""
    parsed = Filter.parse(
        "state = CREATING OR state = ACTIVE OR state = TERMINATING", SESSION_FILTER_FIELDS
    )
    assert isinstance(parsed.node, Or)
    assert [t.value for t in parsed.node.terms if isinstance(t, TextCompare)] == [
        "CREATING",
        "ACTIVE",
        "TERMINATING",
    ]


@pytest.mark.parametrize("keyword", ["AND", "and", "And", "aNd"])
def test_and_keyword_in_any_case(keyword: str) -> None:
    """Given AND spelled in any case, then it is the AND operator."""
    text = f"state = ACTIVE {keyword} session_id = a"
    assert matches(text, session(session_id="a", state="ACTIVE"))
    assert not matches(text, session(session_id="b", state="ACTIVE"))


@pytest.mark.parametrize("keyword", ["OR", "or", "Or"])
def test_or_keyword_in_any_case(keyword: str) -> None:
    """Given OR spelled in any case, then it is the OR operator."""
    text = f"session_id = a {keyword} session_id = b"
    assert matches(text, session(session_id="b"))
    assert not matches(text, session(session_id="c"))


@pytest.mark.parametrize("keyword", ["NOT", "not", "Not"])
def test_not_keyword_in_any_case(keyword: str) -> None:
    """Given NOT spelled in any case, then it negates the next term."""
    text = f"{keyword} state = ACTIVE"
    assert not matches(text, session(state="ACTIVE"))
    assert matches(text, session(state="FAILED"))


def test_dataproc_documented_example_with_lowercase_and() -> None:
    """Given Dataproc's own example, then it parses and selects by state and time."""
    text = 'state = ACTIVE and create_time < "2023-01-01T00:00:00Z"'
    assert matches(text, session(state="ACTIVE", create_time=datetime(2022, 12, 31, tzinfo=UTC)))
    assert not matches(text, session(state="ACTIVE", create_time=datetime(2023, 1, 1, tzinfo=UTC)))
    assert not matches(text, session(state="FAILED", create_time=datetime(2022, 1, 1, tzinfo=UTC)))


@pytest.mark.parametrize(
    "text", ["-state=ACTIVE", "- state = ACTIVE", "NOT state=ACTIVE", "NOT(state=ACTIVE)"]
)
def test_minus_and_not_negate(text: str) -> None:
    """Given a negated restriction, then it matches exactly the records the restriction does not."""
    assert Filter.parse(text, SESSION_FILTER_FIELDS).node == Not(
        TextCompare("state", Comparator.EQ, "ACTIVE")
    )
    assert not matches(text, session(state="ACTIVE"))
    assert matches(text, session(state="TERMINATED"))


def test_negation_applies_to_one_term_only() -> None:
    """Given `-a b`, then the minus applies to a alone."""
    text = "-state=ACTIVE session_id=x"
    assert matches(text, session(state="FAILED", session_id="x"))
    assert not matches(text, session(state="FAILED", session_id="y"))
    assert not matches(text, session(state="ACTIVE", session_id="x"))


def test_negated_group() -> None:
    """Given `-(a OR b)`, then neither a nor b may hold."""
    text = "-(state = TERMINATED OR state = FAILED)"
    assert matches(text, session(state="ACTIVE"))
    assert not matches(text, session(state="FAILED"))
    assert not matches(text, session(state="TERMINATED"))


def test_double_negation_cancels() -> None:
    """Given NOT NOT a, then it behaves as a."""
    assert matches("NOT NOT state=ACTIVE", session(state="ACTIVE"))
    assert not matches("NOT -state=ACTIVE", session(state="FAILED"))


def test_inner_hyphen_is_part_of_a_value_not_negation() -> None:
    """Given a hyphenated id, then the hyphens belong to the value."""
    assert matches("session_id=my-session-1", session(session_id="my-session-1"))
    assert matches("-session_id=my-session-1", session(session_id="my-session-2"))
    assert not matches("-session_id=my-session-1", session(session_id="my-session-1"))


@pytest.mark.parametrize(
    "text",
    [
        "labels.env=prod",
        "labels.env = prod",
        "labels.env= prod",
        "labels.env =prod",
        "labels.env\t=\nprod",
        'labels.env="prod"',
    ],
)
def test_spaces_around_operators_are_optional(text: str) -> None:
    """Given any spacing around '=', then the restriction is the same."""
    assert Filter.parse(text, SESSION_FILTER_FIELDS).node == LabelCompare(
        "labels", "env", Comparator.EQ, "prod"
    )


# --- field spellings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snake", "camel", "value"),
    [
        ("session_id", "sessionId", "alpha"),
        ("session_uuid", "sessionUuid", "0f0e-uuid"),
        ("create_time", "createTime", '"2024-01-01T00:00:00Z"'),
    ],
)
def test_both_spellings_of_a_field_mean_the_same(snake: str, camel: str, value: str) -> None:
    """Given the snake_case and camelCase names, then both parse to the canonical field."""
    a = Filter.parse(f"{snake} = {value}", SESSION_FILTER_FIELDS)
    b = Filter.parse(f"{camel} = {value}", SESSION_FILTER_FIELDS)
    assert a.node == b.node
    assert a.matches(session())
    assert b.matches(session())
    assert not b.matches(
        session(session_id="beta", session_uuid="x", create_time=T0.replace(year=2020))
    )


def test_field_names_are_case_sensitive() -> None:
    """Given a field name in the wrong case, then it is an unknown field."""
    err = parse_error("State = ACTIVE")
    assert err.position == 0
    assert "'State'" in str(err)


# --- strings ---------------------------------------------------------------------------


def test_quoted_and_bare_strings_are_equal() -> None:
    """Given the same id quoted and bare, then both match it."""
    assert matches('session_id = "alpha"', session(session_id="alpha"))
    assert matches("session_id = alpha", session(session_id="alpha"))


def test_string_values_are_case_sensitive() -> None:
    """Given a value in another case, then it does not match."""
    assert not matches("session_id = Alpha", session(session_id="alpha"))


def test_quoted_string_escapes() -> None:
    """Given backslash escapes in a quoted string, then they decode."""
    assert matches(r'session_id = "a\"b\\c"', session(session_id='a"b\\c'))
    assert matches(r'session_id = "tab\there"', session(session_id="tab\there"))


def test_quoted_string_may_hold_operators_and_keywords() -> None:
    """Given a quoted value with spaces, operators and keywords, then it is one value."""
    assert matches('session_id = "x AND (y OR z) = 1"', session(session_id="x AND (y OR z) = 1"))
    assert matches('session_id = "and"', session(session_id="and"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("session_id < m", True),
        ("session_id <= alpha", True),
        ("session_id > alpha", False),
        ("session_id >= alpha", True),
        ("session_id != alpha", False),
        ("session_id != beta", True),
        ("session_id > a", True),
        ("session_id < alph", False),
    ],
)
def test_string_ordering_is_lexicographic(text: str, expected: bool) -> None:
    """Given an ordering comparator on a string field, then it compares lexicographically."""
    assert matches(text, session(session_id="alpha")) is expected


def test_has_on_a_string_means_equality_not_substring() -> None:
    """Given `session_id:alp`, then a longer id does not match."""
    assert not matches("session_id:alp", session(session_id="alpha"))
    assert matches("session_id:alpha", session(session_id="alpha"))


def test_has_star_means_non_empty_string() -> None:
    """Given `field:*`, then only a non-empty value matches."""
    assert Filter.parse("session_uuid:*", SESSION_FILTER_FIELDS).node == HasValue(
        "session_uuid", FieldKind.STRING
    )
    assert matches("session_uuid:*", session(session_uuid="u"))
    assert not matches("session_uuid:*", session(session_uuid=""))
    assert not matches("session_uuid:*", {"session_id": "x"})


def test_quoted_star_is_a_literal_star() -> None:
    """Given `field:"*"`, then it compares with the string '*'."""
    assert matches('session_id:"*"', session(session_id="*"))
    assert not matches('session_id:"*"', session(session_id="alpha"))


def test_missing_string_field_reads_as_empty() -> None:
    """Given a record without the field, then it compares as the empty string."""
    assert matches('session_uuid = ""', {"session_id": "x"})
    assert not matches("session_uuid = x", {"session_id": "x"})


def test_template_fields_filter_templates() -> None:
    """Given template fields, then name and creator filter a template record."""
    template = {
        "name": "projects/p/locations/l/sessionTemplates/t1",
        "creator": "me@example.com",
        "create_time": T0,
        "labels": {"team": "data"},
    }
    parsed = Filter.parse(
        'creator = "me@example.com" AND name:* AND labels.team = data AND createTime >= '
        "2024-01-01T00:00:00Z",
        TEMPLATE_FILTER_FIELDS,
    )
    assert parsed.matches(template)
    assert not parsed.matches({**template, "creator": "you@example.com"})


def test_session_field_is_unknown_for_templates() -> None:
    """Given a session-only field in a template filter, then the error lists template fields."""
    err = parse_error("state = ACTIVE", TEMPLATE_FILTER_FIELDS)
    assert err.position == 0
    assert "'state'" in str(err)
    assert "supported: name, create_time, creator, labels" in str(err)


# --- enums -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["STATE_UNSPECIFIED", "CREATING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED"]
)
def test_every_state_is_accepted(value: str) -> None:
    """Given each state name, then `state = NAME` selects exactly that state."""
    assert matches(f"state = {value}", session(state=value))
    assert not matches(f"state != {value}", session(state=value))


def test_state_accepts_has_as_equality() -> None:
    """Given `state:ACTIVE`, then it is equality."""
    assert matches("state:ACTIVE", session(state="ACTIVE"))
    assert not matches("state:ACTIVE", session(state="CREATING"))


class _State(enum.IntEnum):
    ACTIVE = 2
    FAILED = 5


def test_enum_member_in_a_record_reads_as_its_name() -> None:
    """Given a record holding an IntEnum member, then it compares by name, not number."""
    assert matches("state = ACTIVE", {"state": _State.ACTIVE})
    assert not matches("state = ACTIVE", {"state": _State.FAILED})


# --- labels ----------------------------------------------------------------------------


def test_label_equality() -> None:
    """Given `labels.env=prod`, then only that key and value match."""
    assert matches("labels.env=prod", session(labels={"env": "prod", "team": "x"}))
    assert not matches("labels.env=prod", session(labels={"env": "Prod"}))
    assert not matches("labels.env=prod", session(labels={"team": "prod"}))


def test_label_inequality_matches_records_without_the_key() -> None:
    """Given `labels.env!=prod`, then records lacking env match too (it is NOT labels.env=prod)."""
    assert matches("labels.env!=prod", session(labels={}))
    assert matches("labels.env!=prod", session(labels={"env": "dev"}))
    assert not matches("labels.env!=prod", session(labels={"env": "prod"}))


@pytest.mark.parametrize("text", ["labels.env:*", "labels:env", 'labels:"env"'])
def test_label_presence(text: str) -> None:
    """Given a presence test, then a record matches only when it has the key."""
    assert Filter.parse(text, SESSION_FILTER_FIELDS).node == HasKey("labels", "env")
    assert matches(text, session(labels={"env": ""}))
    assert not matches(text, session(labels={"team": "env"}))
    assert not matches(text, {"session_id": "x"})


def test_label_absence() -> None:
    """Given `-labels.env:*`, then only records without the key match."""
    assert matches("-labels.env:*", session(labels={"team": "a"}))
    assert not matches("-labels.env:*", session(labels={"env": "a"}))


def test_labels_star_means_any_label() -> None:
    """Given `labels:*`, then a record with at least one label matches."""
    assert matches("labels:*", session(labels={"a": "b"}))
    assert not matches("labels:*", session(labels={}))


def test_label_has_value_is_equality() -> None:
    """Given `labels.env:prod`, then it is equality on the value."""
    assert matches("labels.env:prod", session(labels={"env": "prod"}))
    assert not matches("labels.env:prod", session(labels={"env": "production"}))


def test_quoted_label_key_with_dots() -> None:
    """Given `labels."odd.key"=v`, then the dotted key is looked up whole."""
    assert matches('labels."odd.key"=v', session(labels={"odd.key": "v"}))
    assert not matches('labels."odd.key"=v', session(labels={"odd": "v"}))


def test_label_key_may_be_a_keyword_or_hyphenated() -> None:
    """Given keys spelled like keywords or with hyphens, then they are keys."""
    assert matches("labels.and=x labels.not=y", session(labels={"and": "x", "not": "y"}))
    assert matches("labels.my-key_1=v", session(labels={"my-key_1": "v"}))


def test_label_ordering_is_lexicographic_and_false_when_missing() -> None:
    """Given `labels.tier > b`, then values compare as strings and a missing key fails."""
    assert matches("labels.tier > b", session(labels={"tier": "c"}))
    assert not matches("labels.tier > b", session(labels={"tier": "a"}))
    assert not matches("labels.tier > b", session(labels={}))


# --- timestamps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    [
        '"2024-01-01T00:00:00Z"',
        "2024-01-01T00:00:00Z",
        '"2024-01-01T05:30:00+05:30"',
        "2023-12-31T16:00:00-08:00",
        '"2024-01-01t00:00:00z"',
        '"2024-01-01T00:00:00.000000000Z"',
        '"2024-01-01 00:00:00Z"',
    ],
)
def test_timestamps_compare_as_instants(literal: str) -> None:
    """Given the same instant written several ways, then `=` matches it."""
    assert matches(f"create_time = {literal}", session(create_time=T0))
    assert not matches(f"create_time = {literal}", session(create_time=T0 + timedelta(seconds=1)))


@pytest.mark.parametrize(
    ("op", "before", "same", "after"),
    [
        ("=", False, True, False),
        ("!=", True, False, True),
        ("<", True, False, False),
        ("<=", True, True, False),
        (">", False, False, True),
        (">=", False, True, True),
        (":", False, True, False),
    ],
)
def test_every_comparator_on_timestamps(op: str, before: bool, same: bool, after: bool) -> None:
    """Given each comparator, then records before, at and after the instant compare right."""
    text = f'create_time {op} "2024-01-01T09:00:00+09:00"'  # = 2024-01-01T00:00:00Z
    assert matches(text, session(create_time=T0 - timedelta(microseconds=1))) is before
    assert matches(text, session(create_time=T0)) is same
    assert matches(text, session(create_time=T0 + timedelta(microseconds=1))) is after


def test_fractional_seconds_are_honoured() -> None:
    """Given milli- and nanosecond literals, then comparisons keep that precision."""
    t = datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert matches('create_time = "2024-01-01T00:00:00.123456Z"', session(create_time=t))
    assert matches('create_time > "2024-01-01T00:00:00.123Z"', session(create_time=t))
    # 0.1234561 s lies strictly between 123456 us and 123457 us.
    assert not matches('create_time >= "2024-01-01T00:00:00.1234561Z"', session(create_time=t))
    assert matches(
        'create_time >= "2024-01-01T00:00:00.1234561Z"',
        session(create_time=t + timedelta(microseconds=1)),
    )
    assert not matches('create_time = "2024-01-01T00:00:00.1234561Z"', session(create_time=t))


def test_timestamp_literal_parses_to_epoch_nanoseconds() -> None:
    """Given an offset timestamp, when parsed, then the AST holds the UTC instant in ns."""
    parsed = Filter.parse('create_time < "1970-01-01T01:00:01.5+01:00"', SESSION_FILTER_FIELDS)
    assert parsed.node == TimeCompare("create_time", Comparator.LT, 1_500_000_000)


def test_record_time_in_another_zone_compares_as_an_instant() -> None:
    """Given a record time with a non-UTC offset, then it compares by instant."""
    tokyo = timezone(timedelta(hours=9))
    assert matches(
        'create_time = "2024-01-01T00:00:00Z"',
        session(create_time=datetime(2024, 1, 1, 9, 0, tzinfo=tokyo)),
    )


def test_record_time_as_rfc3339_string() -> None:
    """Given a record time stored as an RFC 3339 string, then it is parsed."""
    assert matches('create_time < "2025-01-01T00:00:00Z"', {"create_time": "2024-06-01T00:00:00Z"})


def test_unset_timestamp_only_matches_inequality() -> None:
    """Given a record without create_time, then only `!=` holds and `:*` does not."""
    record = session(create_time=None)
    assert matches('create_time != "2024-01-01T00:00:00Z"', record)
    for op in ("=", "<", "<=", ">", ">="):
        assert not matches(f'create_time {op} "2024-01-01T00:00:00Z"', record)
    assert not matches("create_time:*", record)
    assert matches("create_time:*", session(create_time=T0))


# --- errors ----------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, int, str]] = [
    # (filter, position, text the message must contain)
    ("foo = 1", 0, "unknown field 'foo'"),
    ("state = ACTIVE AND bogus = 1", 19, "unknown field 'bogus'"),
    ("labels.env = a OR sessionID = b", 18, "unknown field 'sessionID'"),
    ("state < ACTIVE", 6, "comparator '<' is not supported for 'state'"),
    ("state>=ACTIVE", 5, "'>='"),
    ("state <= ACTIVE", 6, "'<='"),
    ("state > ACTIVE", 6, "'>'"),
    ("state = RUNNING", 8, "invalid value 'RUNNING' for state"),
    ("state = active", 8, "did you mean ACTIVE?"),
    ('state = ""', 8, "invalid value '\"\"'"),
    ("(state = ACTIVE", 0, "'(' is never closed"),
    ("((state = ACTIVE)", 0, "'(' is never closed"),
    ("state = ACTIVE)", 14, "unexpected ')'"),
    ("(state = ACTIVE))", 16, "unexpected ')'"),
    ("()", 1, "found ')'"),
    ("state =", 7, "expected a value after '=', found end of filter"),
    ("state = AND session_id = a", 8, "found keyword 'AND'"),
    ("session_id:", 11, "expected a value after ':'"),
    ("session_id = (a)", 13, "found '('"),
    ("state == ACTIVE", 7, "expected a value after '=', found '='"),
    ("state", 5, "expected a comparator (=, !=, <, <=, >, >=, :) after 'state'"),
    ("state ACTIVE", 6, "after 'state', found 'ACTIVE'"),
    ("NOT", 3, "after 'NOT', found end of filter"),
    ("state = ACTIVE AND NOT", 22, "after 'NOT', found end of filter"),
    ("-", 1, "after '-', found end of filter"),
    ("NOT )", 4, "after 'NOT', found ')'"),
    ("state = ACTIVE AND", 18, "after 'AND', found end of filter"),
    ("state = ACTIVE OR", 17, "after 'OR', found end of filter"),
    ("AND state = ACTIVE", 0, "found keyword 'AND'"),
    ("state = ACTIVE OR OR state = FAILED", 18, "after 'OR', found keyword 'OR'"),
    ("state = ACTIVE = FAILED", 15, "unexpected '=' after 'ACTIVE'"),
    ('state = ACTIVE "x"', 15, "unexpected '\"x\"'"),
    ("state = ACTIVE .x", 15, "unexpected '.'"),
    ("labels = prod", 7, "field 'labels' needs a key before '='"),
    ("labels != prod", 7, "labels.KEY!=VALUE"),
    ("labels.a.b = 1", 8, "quote a key that contains dots"),
    ("labels. = x", 8, "expected a key after 'labels.'"),
    ('labels."" = x', 7, "expected a key after 'labels.'"),
    ("state.x = 1", 5, "field 'state' has no members"),
    ("session_id.x = 1", 10, "field 'session_id' has no members"),
    ('session_id = "abc', 13, "unterminated quoted string '\"abc'"),
    ('session_id = "abc\\', 13, "unterminated quoted string"),
    ('session_id = "a\\qb"', 15, "invalid escape '\\q'"),
    ("state ! ACTIVE", 6, "unexpected character '!'"),
    ('create_time > "2024-13-01T00:00:00Z"', 14, "invalid timestamp"),
    ('create_time > "yesterday"', 14, "invalid timestamp '\"yesterday\"' for create_time"),
    ("create_time > 2024-01-01", 14, "invalid timestamp '2024-01-01'"),
    ('create_time > "2024-01-01T00:00:00"', 14, "RFC 3339"),
    ('create_time > "2024-01-01T00:00:00+24:00"', 14, "invalid timestamp"),
    ('create_time > "2024-01-01T25:00:00Z"', 14, "invalid timestamp"),
    ("createTime = *", 13, "invalid timestamp '*'"),
    ("session_id = a b", 15, "unknown field 'b'"),
]


@pytest.mark.parametrize(
    ("text", "position", "fragment"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_bad_filters_raise_with_position_and_token(text: str, position: int, fragment: str) -> None:
    """Given a malformed filter, when parsed, then FilterError names the token and its position."""
    err = parse_error(text)
    assert err.position == position
    assert str(err).startswith(f"Invalid filter at position {position}: ")
    assert fragment in str(err)
    assert isinstance(err, ValueError)


def test_unknown_field_message_lists_supported_fields() -> None:
    """Given an unknown field, then the message is exactly the documented one."""
    err = parse_error("state=ACTIVE foo=1")
    assert str(err) == (
        "Invalid filter at position 13: unknown field 'foo' "
        "(supported: session_id, session_uuid, state, create_time, labels)"
    )


def test_invalid_state_lists_allowed_values() -> None:
    """Given an unknown state, then the message lists every allowed value."""
    err = parse_error("state = RUNNING")
    assert "(allowed: STATE_UNSPECIFIED, CREATING, ACTIVE, TERMINATING, TERMINATED, FAILED)" in str(
        err
    )


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_of_an_empty_filter_is_an_error(text: str) -> None:
    """Given Filter.parse on blank text, then it fails (compile_filter is the lenient one)."""
    err = parse_error(text)
    assert err.position == 0
    assert "empty filter" in str(err)


def test_filter_error_keeps_reason_and_survives_pickling() -> None:
    """Given a FilterError, then reason and position survive a pickle round trip."""
    err = parse_error("state = NOPE")
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, FilterError)
    assert (copy.position, copy.reason, str(copy)) == (err.position, err.reason, str(err))


def test_long_tokens_are_shortened_in_messages() -> None:
    """Given a huge unknown field name, then the message shows only its start."""
    err = parse_error("x" * 500 + " = 1")
    assert "'" + "x" * 37 + "...'" in str(err)
    assert len(str(err)) < 250


# --- limits ----------------------------------------------------------------------------


def test_filter_of_exactly_the_maximum_length_is_accepted() -> None:
    """Given a filter of MAX_FILTER_LENGTH characters, then it parses."""
    text = "state = ACTIVE".ljust(MAX_FILTER_LENGTH)
    assert len(text) == 2000
    assert Filter.parse(text, SESSION_FILTER_FIELDS).matches(session(state="ACTIVE"))


def test_filter_longer_than_the_maximum_is_rejected() -> None:
    """Given 2001 characters, then FilterError reports the length limit at position 2000."""
    err = parse_error("state = ACTIVE".ljust(MAX_FILTER_LENGTH + 1))
    assert err.position == MAX_FILTER_LENGTH
    assert "too long (2001 characters; the limit is 2000)" in str(err)


def nested(depth: int) -> str:
    return "(" * depth + "state = ACTIVE" + ")" * depth


def test_nesting_up_to_the_limit_is_accepted() -> None:
    """Given 50 nested parentheses, then the filter parses and evaluates."""
    assert MAX_FILTER_DEPTH == 50
    parsed = Filter.parse(nested(50), SESSION_FILTER_FIELDS)
    assert parsed.matches(session(state="ACTIVE"))
    assert not parsed.matches(session(state="FAILED"))


def test_nesting_past_the_limit_is_rejected_at_the_offending_paren() -> None:
    """Given 51 nested parentheses, then the 51st '(' is reported."""
    err = parse_error(nested(51))
    assert err.position == 50
    assert "nested deeper than 50 levels" in str(err)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("NOT " * 480 + "state = ACTIVE", 200),
        ("-" * 1980 + "state = ACTIVE", 50),
        ("(" * 999 + "state = ACTIVE", 50),
        ("(NOT " * 300 + "state = ACTIVE", 125),
    ],
    ids=["not-chain", "minus-chain", "open-parens", "mixed"],
)
def test_deep_input_fails_cleanly_without_recursion_errors(text: str, position: int) -> None:
    """Given pathological nesting within the length limit, then FilterError, not RecursionError."""
    assert len(text) <= MAX_FILTER_LENGTH
    err = parse_error(text)
    assert err.position == position
    assert "nested deeper than 50 levels" in str(err)


def test_negations_count_toward_depth() -> None:
    """Given 50 negations, then it parses; 51 do not."""
    assert matches("-" * 50 + "state = ACTIVE", session(state="ACTIVE"))
    assert parse_error("-" * 51 + "state = ACTIVE").position == 50


# --- evaluation cost -------------------------------------------------------------------


class CountingRecord(Mapping[str, object]):
    """A record that counts field look-ups."""

    def __init__(self, data: Record) -> None:
        self._data = data
        self.lookups = 0

    def __getitem__(self, key: str) -> object:
        self.lookups += 1
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_evaluation_reads_each_restriction_at_most_once() -> None:
    """Given a deep, wide filter, when evaluated, then look-ups never exceed the leaf count."""
    leaves = 0
    text = "state = ACTIVE"
    for i in range(15):  # three levels each: 45 in all, under the limit
        text = f"(labels.k{i}:* OR NOT ({text})) AND session_id != x{i}"
        leaves += 2
    leaves += 1
    parsed = Filter.parse(text, SESSION_FILTER_FIELDS)
    for labels in ({}, {f"k{i}": "v" for i in range(0, 15, 2)}):
        record = CountingRecord(session(labels=labels))
        parsed.matches(record)
        assert 0 < record.lookups <= leaves


def test_wide_or_short_circuits() -> None:
    """Given a wide OR whose first term holds, then evaluation stops after one look-up."""
    text = " OR ".join(f"session_id = s{i}" for i in range(100))
    parsed = Filter.parse(text, SESSION_FILTER_FIELDS)
    record = CountingRecord(session(session_id="s0"))
    assert parsed.matches(record)
    assert record.lookups == 1
    assert parsed.matches(session(session_id="s99"))
    assert not parsed.matches(session(session_id="s100"))


# --- random records against hand-written predicates ------------------------------------

STATES = ["CREATING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED"]
JUNE_2024 = datetime(2024, 6, 1, tzinfo=UTC)

PROPERTY_CASES: list[tuple[str, Callable[[Record], bool]]] = [
    (
        "state = ACTIVE OR state = CREATING AND labels.env = prod",
        lambda r: r["state"] in ("ACTIVE", "CREATING") and _labels(r).get("env") == "prod",
    ),
    (
        '-labels.team:* createTime >= "2024-06-01T02:00:00+02:00"',
        lambda r: (
            "team" not in _labels(r) and r.get("create_time") is not None and _time(r) >= JUNE_2024
        ),
    ),
    (
        "NOT (sessionId < m OR session_uuid:*) and labels.env != dev",
        lambda r: (
            not (str(r["session_id"]) < "m" or r["session_uuid"] != "")
            and _labels(r).get("env") != "dev"
        ),
    ),
    (
        "state != TERMINATED AND (labels:owner OR session_id:*) create_time < 2024-09-01T00:00:00Z",
        lambda r: (
            r["state"] != "TERMINATED"
            and ("owner" in _labels(r) or r["session_id"] != "")
            and r.get("create_time") is not None
            and _time(r) < datetime(2024, 9, 1, tzinfo=UTC)
        ),
    ),
    (
        "-(state = FAILED OR state = TERMINATED) OR labels.env = prod labels.owner = ann",
        lambda r: (
            (r["state"] not in ("FAILED", "TERMINATED") or _labels(r).get("env") == "prod")
            and _labels(r).get("owner") == "ann"
        ),
    ),
]


def _labels(record: Record) -> dict[str, str]:
    labels = record.get("labels")
    assert isinstance(labels, dict)
    return labels


def _time(record: Record) -> datetime:
    value = record["create_time"]
    assert isinstance(value, datetime)
    return value


def random_record(rng: random.Random) -> Record:
    labels: dict[str, str] = {}
    for key, values in (
        ("env", ["prod", "dev", ""]),
        ("team", ["a", "b"]),
        ("owner", ["ann", "bo"]),
    ):
        if rng.random() < 0.5:
            labels[key] = rng.choice(values)
    create_time = None
    if rng.random() < 0.9:
        create_time = JUNE_2024 + timedelta(seconds=rng.randint(-200 * 86400, 200 * 86400))
        if rng.random() < 0.05:
            create_time = JUNE_2024  # the boundary itself
    return session(
        session_id=rng.choice(["", "alpha", "m", "mango", "zeta", "l-1"]),
        session_uuid=rng.choice(["", "", "u-1"]),
        state=rng.choice(STATES),
        create_time=create_time,
        labels=labels,
    )


@pytest.mark.parametrize(
    ("text", "predicate"), PROPERTY_CASES, ids=[str(i) for i in range(len(PROPERTY_CASES))]
)
def test_random_records_agree_with_python_predicates(
    text: str, predicate: Callable[[Record], bool]
) -> None:
    """Given many random records, when filtered, then results equal the hand-written predicate."""
    rng = random.Random(f"filter:{text}")
    parsed = Filter.parse(text, SESSION_FILTER_FIELDS)
    hits = 0
    for _ in range(600):
        record = random_record(rng)
        expected = predicate(record)
        assert parsed.matches(record) is expected, record
        hits += expected
    # The case must exercise both outcomes to prove anything.
    assert 0 < hits < 600


# --- module hygiene --------------------------------------------------------------------


def test_module_imports_only_the_standard_library() -> None:
    """Given the filter module's source, then every import is from the standard library."""
    tree = ast.parse(Path(filter_module.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            assert node.module is not None
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)
