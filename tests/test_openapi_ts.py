"""The TypeScript types of the side panel are generated from the shipped OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "openapi_to_ts.py"
CHECKED_IN = ROOT / "labextension" / "src" / "generated" / "api.ts"


def _generate(out: Path) -> str:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.read_text(encoding="utf-8")


def test_the_checked_in_typescript_types_match_the_openapi_document(tmp_path: Path) -> None:
    # Given the shipped OpenAPI document, When the generator writes into a temporary file
    fresh = _generate(tmp_path / "api.ts")
    # Then it is the file the extension compiles against
    assert fresh == CHECKED_IN.read_text(encoding="utf-8"), (
        "labextension/src/generated/api.ts is out of date with "
        "jupyter_sessions/openapi/extension.json: run `make openapi-ts` and commit the result"
    )


def test_the_generator_writes_the_same_file_every_time(tmp_path: Path) -> None:
    # Given two runs on the same document, Then they write the same text
    assert _generate(tmp_path / "a.ts") == _generate(tmp_path / "b.ts")


def test_the_file_says_it_is_generated_and_how_to_regenerate(tmp_path: Path) -> None:
    head = _generate(tmp_path / "api.ts").splitlines()[:4]
    assert any("do not edit" in line for line in head)
    assert any("make openapi-ts" in line for line in head)


def test_check_mode_names_the_command_when_the_file_is_stale(tmp_path: Path) -> None:
    # Given a stale copy of the generated file
    stale = tmp_path / "api.ts"
    stale.write_text("// old\n", encoding="utf-8")
    # When the generator only checks it
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--out", str(stale)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Then it fails and says what to run, leaving the file as it was
    assert run.returncode == 1
    assert "make openapi-ts" in run.stderr
    assert stale.read_text(encoding="utf-8") == "// old\n"
