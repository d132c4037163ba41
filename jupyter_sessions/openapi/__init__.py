"""OpenAPI 3 descriptions of the emulator's REST API and of the server extension's routes.

Shipped as JSON beside this module (``emulator.json``, ``extension.json``) and served by
both (``GET /v1/openapi.json`` on the emulator, ``GET jupyter-sessions/openapi.json`` on
the extension). ``python -m jupyter_sessions.openapi`` regenerates them from the route
tables and the resource model; ``--check`` says whether the shipped files are current.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

SpecKind = Literal["emulator", "extension"]
SPEC_KINDS: tuple[SpecKind, ...] = ("emulator", "extension")


def spec_path(kind: SpecKind) -> Path:
    """Where the shipped document of ``kind`` lives."""
    return Path(__file__).with_name(f"{kind}.json")


@cache
def load_spec(kind: SpecKind) -> dict[str, Any]:
    """The shipped OpenAPI document (shared: copy it before changing anything)."""
    data: dict[str, Any] = json.loads(spec_path(kind).read_text(encoding="utf-8"))
    return data
