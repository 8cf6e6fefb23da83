"""The ./dev entry point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_serve_on_a_busy_port_exits_with_a_clear_message():
    """./dev serve on a port another program listens on stops at once, non-zero, and says why."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # Its own session: if the server does start (the bug), the whole group is stopped below.
        process = subprocess.Popen(
            ["./dev", "serve", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            process.communicate()
            raise AssertionError("./dev serve kept running on a port already in use") from None
    assert process.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "Address already in use" in stderr
    assert "./dev serve 127.0.0.1:8001" in stderr
