"""Session kernels: how fast a notebook gets a kernel in a new session (warm pool), beside
a local kernel; and what the gateway path adds to an execute round trip, beside ZMQ straight
to the same kernel."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import websocket
from jupyter_client.blocking import BlockingKernelClient

from tests.server.conftest import sessions_config
from tests.support import wait_for

from .common import JupyterServerProcess, Row, median, percentile, workdir

GROUP = "session kernels"


def _message(msg_type: str, content: dict[str, Any]) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "session": "bench",
        "username": "bench",
        "date": "2026-01-01T00:00:00Z",
        "version": "5.3",
    }
    body = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
    return msg_id, json.dumps({"channel": "shell", **body})


class Socket:
    """Jupyter's kernel websocket, as a notebook uses it."""

    def __init__(self, server: JupyterServerProcess, kernel_id: str) -> None:
        url = server.url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(
            url, timeout=60, header={"Authorization": f"token {server.token}"}
        )

    def until_idle(self, msg_type: str, content: dict[str, Any]) -> None:
        """Send a request and wait for the kernel to go idle after it."""
        msg_id, frame = _message(msg_type, content)
        self.ws.send(frame)
        while True:
            msg = json.loads(self.ws.recv())
            if (
                msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                return

    def close(self) -> None:
        self.ws.close()


def _start_to_idle(server: JupyterServerProcess, name: str) -> tuple[float, str]:
    """Seconds from POST /api/kernels to the kernel's answer over the websocket."""
    with server.client() as jp:
        t0 = time.perf_counter()
        r = jp.post("api/kernels", json={"name": name}, timeout=120)
        r.raise_for_status()
        kid = r.json()["id"]
        ws = Socket(server, kid)
        ws.until_idle("kernel_info_request", {})
        elapsed = time.perf_counter() - t0
        ws.close()
        return elapsed, kid


def _round_trips(run: Any, rounds: int) -> list[float]:
    for _ in range(5):
        run()
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run(quick: bool = False) -> list[Row]:
    starts = 3 if quick else 8
    rounds = 50 if quick else 200
    config = sessions_config(emulator_runtime="kernel", emulator_args=["--warm-pool", "2"])
    with workdir("kernels") as tmp:
        server = JupyterServerProcess(tmp, config=config).start()
        try:
            with server.client() as jp:
                # The gateway and the warm pool are ready once the spec list shows sessions.
                wait_for(lambda: "session" in jp.get("api/kernelspecs").json()["kernelspecs"], 60)
                session_starts, local_starts = [], []
                kids: list[str] = []
                for _ in range(starts):
                    time.sleep(1.5)  # let the pool refill, as between two notebook opens
                    elapsed, kid = _start_to_idle(server, "session")
                    session_starts.append(elapsed)
                    kids.append(kid)
                    elapsed, local = _start_to_idle(server, "python3")
                    local_starts.append(elapsed)
                    jp.delete(f"api/kernels/{local}")
                kid = kids[0]
                ws = Socket(server, kid)
                via = _round_trips(
                    lambda: ws.until_idle("execute_request", {"code": "x = 1", "silent": False}),
                    rounds,
                )
                ws.close()
                session_name = (
                    jp.get(f"api/kernels/{kid}")
                    .json()["metadata"]["endpointParentResource"]
                    .removeprefix("//dataproc.googleapis.com/")
                )
                endpoints = jp.get(f"jupyter-sessions/v1/{session_name}").json()["runtimeInfo"][
                    "endpoints"
                ]
                kc = BlockingKernelClient(
                    connection_file=endpoints["Jupyter Kernel Connection File"]
                )
                kc.load_connection_file()
                kc.start_channels()
                kc.wait_for_ready(timeout=30)
                direct = _round_trips(
                    lambda: kc.execute_interactive("x = 1", timeout=30, output_hook=lambda m: None),
                    rounds,
                )
                kc.stop_channels()
                for k in kids:
                    jp.delete(f"api/kernels/{k}")
        finally:
            server.stop()
    start_p50 = median(session_starts)
    local_p50 = median(local_starts)
    via_p50, direct_p50 = percentile(via, 50), percentile(direct, 50)
    return [
        Row(
            GROUP,
            "kernel start to idle, new session, warm pool (p50 / max)",
            f"{start_p50 * 1000:.0f} / {max(session_starts) * 1000:.0f}",
            "ms",
            f"local python3 kernel {local_p50 * 1000:.0f} ms ({start_p50 / local_p50:.2f}x); "
            "goal <= 500 ms",
        ),
        Row(
            GROUP,
            "execute round trip through the gateway (p50 / p95)",
            f"{via_p50:.1f} / {percentile(via, 95):.1f}",
            "ms",
            f"ZMQ straight to the kernel {direct_p50:.1f} / {percentile(direct, 95):.1f} ms "
            f"({via_p50 / direct_p50:.1f}x); goal <= 2x",
        ),
    ]
