"""hypothesis-generated requests against the emulator and through the extension's proxy:
never a 5xx, every error in the google.rpc.Status envelope, every success shaped as the
OpenAPI document says; afterwards the store is intact and every session readable."""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from jsonschema import Draft202012Validator

from jupyter_sessions.openapi import SpecKind, load_spec

from ..support import EmulatorProcess
from .conftest import QUICK, start_stack
from .harness import (
    RawClient,
    Reply,
    api_path,
    assert_envelope,
    integrity_check,
    record_figures,
    stored_sessions,
)
from .strategies import Call, emulator_requests, extension_requests

SHORT = {"emulator": 300, "extension": 200}
LONG = {"emulator": 3000, "extension": 1500}


def fuzz_settings(examples: int, stress: bool) -> settings:
    # The default run is reproducible (derandomize); the stress run explores new ground.
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not stress,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


_validators: dict[int, Draft202012Validator] = {}


def check_success(kind: SpecKind, call: Call, reply: Reply) -> None:
    """A 200 to a documented operation matches the operation's documented schema."""
    if call.operation is None or reply.status != 200:
        return
    content = call.operation["responses"]["200"].get("content", {})
    if "application/json" not in content:
        return
    schema = content["application/json"]["schema"]
    validator = _validators.get(id(schema))
    if validator is None:
        spec = load_spec(kind)
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        _validators[id(schema)] = validator
    problems = [e.message for e in validator.iter_errors(reply.json())]
    assert not problems, (call, problems[:3])


def regressions(prefix: str) -> list[Call]:
    """Requests that once got a 500: always sent first (hypothesis explicit examples)."""
    parent = f"{prefix}/v1/projects/fz-project/locations/us-central1"
    deep = b"[" * 50_000 + b"]" * 50_000
    token = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    json_ = {"Content-Type": "application/json"}
    return [
        # A timestamp past the last UTC instant once overflowed datetime (codec).
        Call(
            "POST",
            f"{parent}/sessions?sessionId=fz-alpha",
            b'{"createTime": "9999-12-31T23:59:59-23:59"}',
            json_,
            None,
        ),
        # A page token holding deeply nested JSON once hit the recursion limit (engine).
        Call("GET", f"{parent}/sessions?pageToken={token}", None, {}, None),
        # A deeply nested body once crashed the request log's requestId lookup (auth).
        Call(
            "POST",
            f"{parent}/sessions/fz-alpha:terminate",
            b'{"requestId": ' + deep + b"}",
            json_,
            None,
        ),
    ] + (
        [
            # A malformed multipart header on the emulator's kernel websocket once got
            # tornado's HTML 400.
            Call(
                "GET",
                "/api/kernels/e3e70682-c209-4cac-629f-6fbed82c07cd/channels",
                None,
                {"Content-Type": "multipart/form-data; boundary=zz"},
                None,
            )
        ]
        if not prefix
        else []
    )


def fuzz(
    client: RawClient, kind: SpecKind, strategy: Any, examples: int, stress: bool, prefix: str = ""
) -> Counter[int]:
    """Send ``examples`` generated requests; check every answer; count statuses."""
    statuses: Counter[int] = Counter()
    succeeded: Counter[str] = Counter()

    def one_request(call: Call) -> None:
        reply = client.request(call.method, call.target, call.body, call.headers)
        statuses[reply.status] += 1
        if call.operation is not None and reply.status == 200:
            succeeded[call.operation["operationId"]] += 1
        assert reply.status < 500, (call, reply.status, reply.body[:500])
        if call.method == "HEAD":
            return
        if not 200 <= reply.status < 300:
            assert_envelope(reply, call)
        else:
            check_success(kind, call, reply)

    for call in regressions(prefix):
        one_request = example(call=call)(one_request)
    fuzz_settings(examples, stress)(given(call=strategy)(one_request))()
    # The requests must reach the API methods, not only the router's 404s.
    for op_id in ("projects.locations.sessions.create", "projects.locations.sessions.list"):
        assert succeeded[op_id], (op_id, succeeded)
    return statuses


def assert_store_intact(emulator: EmulatorProcess) -> int:
    """Every stored session answers GET 200; after a graceful stop the database passes
    PRAGMA integrity_check. Returns the number of sessions."""
    sessions = stored_sessions(emulator.db)
    with RawClient(emulator.url) as client:
        for name in sessions:
            reply = client.request("GET", api_path(name))
            assert reply.status == 200, (name, reply.status, reply.body[:300])
            assert reply.json()["name"] == name
    emulator.stop()
    assert emulator.proc is not None and emulator.proc.returncode == 0
    assert integrity_check(emulator.db) == "ok"
    return len(sessions)


def assert_no_tracebacks(*logs: Path) -> None:
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[text.index("Traceback") - 500 :][:3000]


def fuzz_emulator(workdir: Path, examples: int, stress: bool) -> None:
    log = workdir / "requests.jsonl"
    emulator = EmulatorProcess(workdir, *QUICK, "--record-requests", str(log)).start()
    try:
        with RawClient(emulator.url) as client:
            statuses = fuzz(client, "emulator", emulator_requests(auth=True), examples, stress)
        sessions = assert_store_intact(emulator)
    finally:
        emulator.stop()
    assert_no_tracebacks(emulator.log_path)
    assert statuses[200] and statuses[400] and statuses[404], statuses
    record_figures(
        f"fuzz-emulator-{examples}",
        {"requests": sum(statuses.values()), "sessions_in_store": sessions, **_by_class(statuses)},
        write=stress,
    )


def fuzz_proxy(workdir: Path, examples: int, stress: bool) -> None:
    stack = start_stack(workdir)
    try:
        headers = {"Authorization": f"token {stack.server.token}"}
        with RawClient(stack.server.url, headers) as client:
            statuses = fuzz(
                client, "extension", extension_requests(), examples, stress, "/jupyter-sessions"
            )
        stack.server.stop()
        assert stack.server.proc is not None and stack.server.proc.returncode == 0
        sessions = assert_store_intact(stack.emulator)
    finally:
        stack.server.stop()
        stack.emulator.stop()
    assert_no_tracebacks(stack.emulator.log_path, stack.server.log_path)
    assert statuses[200] and statuses[404], statuses
    record_figures(
        f"fuzz-proxy-{examples}",
        {"requests": sum(statuses.values()), "sessions_in_store": sessions, **_by_class(statuses)},
        write=stress,
    )


def _by_class(statuses: Counter[int]) -> dict[str, int]:
    return {str(code): n for code, n in sorted(statuses.items())}


def test_fuzz_emulator(tmp_path: Path) -> None:
    """Given a few hundred generated requests (fixed seed) straight to the emulator, none
    gets a 5xx, every error is an envelope, and the store is intact afterwards."""
    fuzz_emulator(tmp_path, SHORT["emulator"], stress=False)


def test_fuzz_proxy(tmp_path: Path) -> None:
    """Given a couple of hundred generated requests (fixed seed) through the extension,
    none gets a 5xx, every error is an envelope, and the backend's store is intact."""
    fuzz_proxy(tmp_path, SHORT["extension"], stress=False)


@pytest.mark.stress
def test_fuzz_emulator_long(tmp_path: Path) -> None:
    fuzz_emulator(tmp_path, LONG["emulator"], stress=True)


@pytest.mark.stress
def test_fuzz_proxy_long(tmp_path: Path) -> None:
    fuzz_proxy(tmp_path, LONG["extension"], stress=True)


def test_strategies_reach_every_documented_operation() -> None:
    """The generator's templates cover every documented operation (so the fuzzer hits
    each route), and its requests are plain ASCII on the wire."""
    seen: set[str] = set()

    for strategy in (emulator_requests(), extension_requests()):

        @settings(max_examples=1500, derandomize=True, database=None, deadline=None)
        @given(call=strategy)
        def collect(call: Call) -> None:
            call.target.encode("ascii")
            if call.operation is not None:
                seen.add(call.operation["operationId"])

        collect()
    wanted = {
        op["operationId"]
        for kind in ("emulator", "extension")
        for path, item in load_spec(kind)["paths"].items()  # type: ignore[arg-type]
        if path != "/jupyter-sessions/events"
        for op in item.values()
    }
    assert wanted <= seen, wanted - seen
