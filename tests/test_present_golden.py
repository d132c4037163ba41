"""The presentation core says what the golden file says; the jest tests read it too."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jupyter_sessions.api.model import State
from jupyter_sessions.notebook import present

GOLDEN: dict[str, Any] = json.loads(
    (Path(__file__).parent / "golden" / "format_cases.json").read_text(encoding="utf-8")
)


def _time(text: str) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@pytest.mark.parametrize("case", GOLDEN["durations"], ids=lambda c: str(c["seconds"]))
def test_durations(case: dict[str, Any]) -> None:
    assert present.format_duration(case["seconds"]) == case["text"]


@pytest.mark.parametrize("case", GOLDEN["ages"], ids=lambda c: c["text"] or "unknown")
def test_ages(case: dict[str, Any]) -> None:
    now = _time(case["now"])
    assert now is not None
    assert present.format_age(_time(case["time"]), now) == case["text"]


@pytest.mark.parametrize("case", GOLDEN["times"], ids=lambda c: c["time"])
def test_times_are_utc(case: dict[str, Any]) -> None:
    when, now = _time(case["time"]), _time(case["now"])
    assert now is not None
    assert present.format_time(when) == case["full"]
    assert present.format_time_short(when, now) == case["short"]


@pytest.mark.parametrize("case", GOLDEN["usage"], ids=lambda c: c["text"])
def test_usage_in_dcu_hours(case: dict[str, Any]) -> None:
    assert present.format_usage(case["milliDcuSeconds"]) == case["text"]


@pytest.mark.parametrize("case", GOLDEN["dcu"], ids=lambda c: c["text"])
def test_dcu(case: dict[str, Any]) -> None:
    assert present.format_dcu(case["milliDcu"]) == case["text"]


@pytest.mark.parametrize("case", GOLDEN["states"], ids=lambda c: c["state"])
def test_states(case: dict[str, Any]) -> None:
    style = present.state_style(State[case["state"]])
    assert (style.label, style.description, style.colour_var) == (
        case["label"],
        case["description"],
        case["colourVar"],
    )


def test_every_state_has_a_golden_case() -> None:
    assert {c["state"] for c in GOLDEN["states"]} == {s.name for s in State}


@pytest.mark.parametrize(
    "kind, check",
    [
        ("sessionId", present.validate_session_id),
        ("ttl", present.validate_ttl),
        ("labels", present.validate_labels_text),
    ],
)
def test_validation_messages(kind: str, check: Any) -> None:
    for case in GOLDEN["validation"][kind]:
        assert check(case["input"]) == case["message"], case["input"]
