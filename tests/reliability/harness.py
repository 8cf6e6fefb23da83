"""Processes for the reliability tests: a private redis-server and a real server (daphne or uvicorn).

Both listen on free loopback ports chosen here; the system Redis on 6379 is never touched. Every
wait is bounded in time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30
USERS = 64  # each test takes users of its own, so rate limits per user never leak between tests


def http(method: str, url: str, *, token: str | None = None, body=None, timeout: float = 5):
    """(status, parsed JSON or None) for one request; never raises on an HTTP error status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def free_port_in(ports: range) -> int:
    """A loopback port of ``ports`` nothing listens on (at the moment of asking)."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port in {ports.start}-{ports.stop - 1}")


class PrivateRedis:
    """A redis-server of our own, on a port of our own (or the one given), that a test may stop and
    start again on the same port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        self.port = port or free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{(self.workdir / 'redis.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer within 10 s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill it outright, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


# The ASGI servers and channel layers the suite runs against: daphne (still supported) with the
# core layer, and what ./dev serve and docker-compose.yml run. Each refuses a frame over 16 KiB from
# its header: uvicorn by ws_max_size (watchparty/serve.py), daphne by core.realtime.daphne_compat,
# which applies WEBSOCKET_MAX_FRAME_BYTES to every daphne server.
STACKS = {
    "daphne-core": (["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "watchparty.asgi:application"], "core"),
    # As ./dev serve, the Dockerfile and docker-compose.yml start it (watchparty/serve.py).
    "uvicorn-pubsub": (["-m", "watchparty.serve", "127.0.0.1:{port}"], "pubsub"),
}


class LiveServer:
    """An ASGI server (a STACKS entry) serving watchparty.asgi in a subprocess, with its own SQLite
    file and users."""

    def __init__(self, workdir: Path, redis_url: str, stack: str = "daphne-core") -> None:
        self.command, layer = STACKS[stack]
        self.workdir = workdir
        self.port = free_port()
        self.extra_ports: list[int] = []  # TwinServers' second server
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.origin = self.base_url
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key
            not in {
                "MONGODB_URI",
                "REDIS_URL",
                "DATABASE_URL",
                "DJANGO_SETTINGS_MODULE",
                "SECRET_KEY",
                "CHANNEL_LAYER_REDIS_URLS",
            }
        }
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "watchparty.settings",
                "DEBUG": "true",
                "ALLOWED_HOSTS": "127.0.0.1",
                "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
                "EMBEDDED_DB_PATH": str(workdir / "embedded-db.sqlite3"),  # never the developer's data
                "PYTHONPATH": str(ROOT) + os.pathsep + self.env.get("PYTHONPATH", ""),
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING",
                "CHANNEL_LAYER_BACKEND": layer,
                # test_faults builds a backlog for a stalled socket out of 300 playback updates.
                "PLAYBACK_RATE_LIMIT_COUNT": "1000",
            }
        )
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "server.log"
        self.tokens: list[str] = []
        self.user_ids: dict[str, str] = {}  # token -> user id
        self._next_user = 0

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def prepare(self) -> None:
        self.manage("migrate", "--noinput", "-v", "0")
        script = (
            "import json\n"
            "from django.contrib.auth.models import User\n"
            "from accounts.tokens import issue_token\n"
            "keys = {}\n"
            f"for i in range({USERS}):\n"
            "    u = User.objects.create_user(username=f'rel{i}', password='Reliability-2026!', first_name=f'R{i}')\n"
            "    keys[issue_token(user=u)[1]] = str(u.pk)\n"
            "print('TOKENS=' + json.dumps(keys))\n"
        )
        out = self.manage("shell", "-c", script)
        line = next(line for line in out.splitlines() if line.startswith("TOKENS="))
        self.user_ids = json.loads(line.removeprefix("TOKENS="))
        self.tokens = list(self.user_ids)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *(arg.format(port=self.port) for arg in self.command), *map(str, self.extra_ports)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"The server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if all(
                    http("GET", f"http://127.0.0.1:{port}/health/live", timeout=1)[0] == 200
                    for port in (self.port, *self.extra_ports)
                ):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"The server did not answer /health/live:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return ""

    def take_tokens(self, count: int) -> list[str]:
        """Tokens of users no other test has used."""
        if self._next_user + count > len(self.tokens):
            raise RuntimeError("Out of test users: raise USERS in tests/reliability/harness.py")
        taken = self.tokens[self._next_user : self._next_user + count]
        self._next_user += count
        return taken

    def party_with(self, tokens: list[str], **settings) -> dict:
        """A party hosted by tokens[0] that every other token has joined, created over HTTP."""
        status, party = http(
            "POST",
            f"{self.base_url}/api/parties/",
            token=tokens[0],
            body={"content_id": "film", "content_type": "vod", "max_participants": 50, **settings},
        )
        assert status == 201, (status, party)
        for token in tokens[1:]:
            status, body = http(
                "POST", f"{self.base_url}/api/parties/join/", token=token, body={"room_code": party["room_code"]}
            )
            assert status == 200, (status, body)
        return party

    def ws_url(self, party_id: str) -> str:
        return f"{self.ws_base}/ws/parties/{party_id}/"

    def ws_headers(self, token: str | None, *, origin: str | None = "same") -> dict[str, str]:
        headers = {}
        if origin == "same":
            headers["Origin"] = self.origin
        elif origin is not None:
            headers["Origin"] = origin
        if token:
            headers["Authorization"] = f"Token {token}"
        return headers


class TwinServers(LiveServer):
    """Two app servers sharing one database, each on its own port and event loop, so each with its
    own channel layer: tests/reliability/twin_servers.py says why they are not two processes.
    ``at(i)`` is server i as a LiveServer-like view for wsclient.Client."""

    def __init__(self, workdir: Path, redis_url: str, channel_layer_redis_urls: list[str]) -> None:
        super().__init__(workdir, redis_url, "uvicorn-pubsub")
        self.command = ["-m", "tests.reliability.twin_servers", "{port}"]
        self.extra_ports = [free_port()]
        self.env["CHANNEL_LAYER_REDIS_URLS"] = ",".join(channel_layer_redis_urls)

    def at(self, index: int) -> ServerView:
        return ServerView(self, (self.port, *self.extra_ports)[index])


class ServerView:
    """One of TwinServers' servers: its addresses, and the users they share."""

    def __init__(self, twins: TwinServers, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_base = f"ws://127.0.0.1:{port}"
        self.origin = self.base_url
        self.user_ids = twins.user_ids

    def ws_url(self, party_id: str) -> str:
        return f"{self.ws_base}/ws/parties/{party_id}/"
