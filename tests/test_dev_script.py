"""The ./dev entry point."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support import free_port

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


def _dev_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MONGODB_URI", "REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # Never the developer's data, nor the file a ./dev serve of theirs holds while the tests run.
        EMBEDDED_DB_PATH=str(tmp_path / "embedded-db.sqlite3"),
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


_serving_group: dict[str, int] = {}  # base URL -> the process group of the ./dev serve answering there


@contextlib.contextmanager
def dev_serve(tmp_path: Path, **extra: str):
    """./dev serve on a free port (its migrate included); yields the base URL, then stops its process group."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["./dev", "serve", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=_dev_env(tmp_path, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        _serving_group[base_url] = process.pid
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"./dev serve exited:\n{log_path.read_text()}"
                try:
                    with urllib.request.urlopen(f"{base_url}/health/live", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"./dev serve did not answer:\n{log_path.read_text()}"
                time.sleep(0.2)
            yield base_url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_serve_answers_a_range_request_for_a_static_file_with_206(tmp_path):
    """Seeking a video served by the site works: Range: bytes=0-99 answers 206 with those 100 bytes."""
    on_disk = (ROOT / "web" / "static" / "watchparty" / "js" / "player.js").read_bytes()
    with dev_serve(tmp_path) as base_url:
        request = urllib.request.Request(f"{base_url}/static/watchparty/js/player.js", headers={"Range": "bytes=0-99"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes 0-99/{len(on_disk)}"
            assert response.read() == on_disk[:100]


def _peak_memory_kib(process_group: int) -> int:
    """The largest peak resident size (VmHWM) among the processes of the group: the reloader and its server."""
    peaks = []
    for pid in subprocess.run(["pgrep", "-g", str(process_group)], capture_output=True, text=True).stdout.split():
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            peaks += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
    return max(peaks)


def test_seeking_in_a_large_site_video_streams_it_instead_of_loading_it(tmp_path):
    """A seek in a 256 MiB video on this site (Range: bytes=N-) answers 206 with the rest of the file
    while the server's memory grows by far less than the file: it is read in blocks, not whole."""
    static = tmp_path / "static"
    static.mkdir()
    size = 256 * 1024 * 1024
    with (static / "film.mp4").open("wb") as film:
        film.truncate(size)  # sparse: nothing to write, and it reads as zeros
    env = {"DJANGO_SETTINGS_MODULE": "tests.static_settings", "TEST_STATIC_DIR": str(static)}
    with dev_serve(tmp_path, **env) as base_url:
        group = _serving_group[base_url]
        before = _peak_memory_kib(group)
        request = urllib.request.Request(f"{base_url}/static/t/film.mp4", headers={"Range": "bytes=1000-"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes 1000-{size - 1}/{size}"
            received = 0
            while block := response.read(1024 * 1024):
                received += len(block)
        grown_mib = (_peak_memory_kib(group) - before) / 1024
    assert received == size - 1000
    assert grown_mib < 64, f"serving the 256 MiB file raised the server's peak memory by {grown_mib:.0f} MiB"


def test_serve_ignores_a_forged_x_forwarded_for_from_localhost(tmp_path):
    """Through ./dev serve, a made-up X-Forwarded-For per login attempt from 127.0.0.1 still counts
    every attempt against 127.0.0.1: the third attempt over a limit of 2 is refused with 429."""
    statuses = []
    with dev_serve(tmp_path, LOGIN_RATE_LIMIT_IP_COUNT="2") as base_url:
        for attempt in range(3):
            body = json.dumps({"username": f"nobody{attempt}", "password": "wrong"}).encode()
            request = urllib.request.Request(
                f"{base_url}/api/auth/token/",
                data=body,
                headers={"Content-Type": "application/json", "X-Forwarded-For": f"192.0.2.{attempt + 1}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
    assert statuses == [400, 400, 429]


def test_dev_test_stops_on_an_import_against_the_layers(tmp_path):
    """./dev test fails before any test runs when a lower layer imports a higher one (parties -> chat),
    naming the import (import-linter's contracts in pyproject.toml)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        source = ROOT / name
        if source.is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(source.read_bytes())
    (tmp_path / "dev").chmod(0o755)
    (tmp_path / ".venv").symlink_to((ROOT / ".venv").resolve())
    with (tmp_path / "parties" / "models.py").open("a") as models:
        models.write("\n\nfrom chat import services  # noqa: E402, F401\n")
    result = subprocess.run(["./dev", "test", "--co", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "parties.models -> chat.services" in result.stdout
    assert "collected" not in result.stdout
