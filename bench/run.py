#!/usr/bin/env python
"""Watch Party chat benchmark: the app against two baselines, on this machine, in one run.

For each target it starts the server as a subprocess on the Redis channel layer (a Redis database
of its own, flushed first), opens N WebSocket clients spread over parties of a given size, drives
chat at a given total rate (never more than the protocol's per-user limit), and measures
deliveries per second, send-to-receive latency, lost and duplicated deliveries, and the server's
CPU and memory. Targets:

    app-<server>-<layer>        the Watch Party app (watchparty.asgi) on daphne or uvicorn, with
                                channels_redis core (RedisChannelLayer) or pubsub (RedisPubSubChannelLayer)
    appfix-<server>-<layer>     the app with the fixes docs/performance.md proposes (bench/app_fixed_asgi.py)
    app-uvicorn-<layer>:wN      the app in N processes on one port (uvicorn --workers N), each from a copy
                                of a seeded embedded database (bench/app_workers_asgi.py says why)
    channels-<server>-<layer>   bench/baseline_channels: the Channels tutorial's group chat
    websockets                  bench/baseline_websockets.py: a raw websockets broadcast server (the floor)

Results go to bench/results/<timestamp>/: results.json, results.md, latency.png and the server logs.
See bench/README.md for the options and docs/performance.md for the figures.

    .venv/bin/python bench/run.py                       # default: 100 clients, parties of 10, ~3 min
    .venv/bin/python bench/run.py --clients 1000 --party-size 10 --rate 30 --duration 60 \
        --targets app-uvicorn-core,channels-uvicorn-core,websockets
    .venv/bin/python bench/run.py --clients 0 --history-messages 10000 --history-target app-uvicorn-pubsub
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime as dt
import http.client
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"
SERVERS = ("daphne", "uvicorn")
APP_MODULES = {
    "app": "watchparty.asgi:application",
    "appfix": "bench.app_fixed_asgi:application",  # the app with the proposed fixes (bench-only patch)
    "channels": "bench.baseline_channels.asgi:application",
}
LAYERS = ("core", "pubsub")
DEFAULT_TARGETS = [
    *(f"app-{s}-{layer}" for s in SERVERS for layer in LAYERS),
    *(f"channels-{s}-{layer}" for s in SERVERS for layer in LAYERS),
    "websockets",
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- targets and server processes ------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # app | channels | websockets
    server: str | None = None
    layer: str | None = None
    fixes: str | None = None  # appfix only: BENCH_FIXES for this target ("appfix-uvicorn-pubsub@onethread+gclog")
    workers: int = 0  # app-uvicorn-<layer>:wN: N processes on one port, each from a copy of a seeded database

    @classmethod
    def parse(cls, name: str) -> Target:
        if name == "websockets":
            return cls(name, "websockets")
        rest, _, workers = name.partition(":")
        if workers:
            if not (workers[:1] == "w" and workers[1:].isdigit() and int(workers[1:]) >= 1):
                raise SystemExit(f"{name!r}: the worker count is written :wN, e.g. app-uvicorn-pubsub:w2")
            if not rest.startswith("app-uvicorn-"):
                raise SystemExit(f"{name!r}: only app-uvicorn-<layer> targets take :wN (uvicorn --workers)")
            return dataclasses.replace(cls.parse(rest), name=name, workers=int(workers[1:]))
        base, _, fixes = name.partition("@")
        parts = base.split("-")
        if len(parts) != 3 or parts[0] not in APP_MODULES or parts[1] not in SERVERS or parts[2] not in LAYERS:
            raise SystemExit(f"unknown target {name!r}: app|appfix|channels-daphne|uvicorn-core|pubsub, or websockets")
        if fixes and parts[0] != "appfix":
            raise SystemExit(f"{name!r}: only appfix targets take @fixes")
        return cls(name, parts[0], parts[1], parts[2], fixes.replace("+", ",") or None)

    @property
    def is_app(self) -> bool:
        return self.kind in ("app", "appfix")

    @property
    def pair(self) -> str:
        return f"{self.server}-{self.layer}"


class Server:
    """One server subprocess; stopped with SIGTERM (then SIGKILL) by its own pid only."""

    def __init__(self, target: Target, port: int, env: dict[str, str], log_path: Path):
        self.target, self.port, self.log_path = target, port, log_path
        if target.kind == "websockets":
            cmd = [sys.executable, str(ROOT / "bench" / "baseline_websockets.py"), "--port", str(port)]
        else:
            module = "bench.app_workers_asgi:application" if target.workers else APP_MODULES[target.kind]
            if target.server == "daphne":
                cmd = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), module]
            else:
                cmd = [
                    str(BIN / "uvicorn"),
                    module,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--lifespan",
                    "off",
                    *(["--workers", str(target.workers)] if target.workers else []),
                ]  # fmt: skip  (both servers with their default logging: an access line per connect, none per frame)
        self.cmd = cmd
        self.log_file = open(log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.target.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if not self.target.is_app:
                    return
                status, _ = http_json("GET", self.port, "/health/ready")
                # uvicorn --workers: every worker has loaded the app and listens (one line each).
                started = self.log_path.read_text(errors="replace").count("Started server process")
                if status == 200 and started >= self.target.workers:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.target.name} not ready after {timeout}s; see {self.log_path}")

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds of each process of the server (uvicorn --workers: the supervisor and each worker)."""
        out = {}
        for p in self.processes():
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return out

    def rss(self) -> int:
        total = 0
        for p in self.processes():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log_file.close()


class Sampler(threading.Thread):
    """Samples the server's CPU % and RSS every `interval` seconds until stopped."""

    def __init__(self, server: Server, interval: float = 0.5):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float, int]] = []  # (t, cpu %, rss bytes)
        self._halt = threading.Event()

    def run(self) -> None:
        last_t, last_cpu = time.perf_counter(), self.server.cpu_seconds()
        while not self._halt.wait(self.interval):
            now, cpu = time.perf_counter(), self.server.cpu_seconds()
            self.samples.append((now, 100 * (cpu - last_cpu) / max(now - last_t, 1e-9), self.server.rss()))
            last_t, last_cpu = now, cpu

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


# --- HTTP (stdlib, one connection per call or a kept-alive one) ------------------------------


def http_json(method: str, port: int, path: str, token: str | None = None, body: Any = None, conn=None):
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)
    finally:
        if own:
            conn.close()


def make_users(count: int, db_url: str, env: dict[str, str]) -> list[dict[str, str]]:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_users.py"), "--count", str(count), "--password", PASSWORD],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def create_parties(port: int, users: list[dict], sizes: list[int], party_max: int) -> list[dict]:
    """Party k is hosted by its first user; the others join by room code. All through the HTTP API."""
    groups, start = [], 0
    for size in sizes:
        groups.append(users[start : start + size])
        start += size

    def create(group):
        status, body = http_json(
            "POST", port, "/api/parties/", group[0]["token"],
            {"content_id": "bench", "content_type": "vod", "content_title": "bench", "max_participants": party_max},
        )  # fmt: skip
        if status != 201:
            raise RuntimeError(f"create party: {status} {body}")
        return body

    with ThreadPoolExecutor(8) as pool:
        parties = list(pool.map(create, groups))
        joins = [(p, u) for p, g in zip(parties, groups) for u in g[1:]]

        def join(pu):
            party, user = pu
            status, body = http_json(
                "POST", port, "/api/parties/join/", user["token"], {"room_code": party["room_code"]}
            )
            if status != 200:
                raise RuntimeError(f"join: {status} {body}")

        list(pool.map(join, joins))
    return [{"id": p["id"], "host_token": g[0]["token"], "members": g} for p, g in zip(parties, groups)]


def stored_client_ids(port: int, party: dict, prefix: str) -> set[str]:
    """Every client_id stored in the party (the ground truth of accepted sends), paging the history."""
    found: set[str] = set()
    before = None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for _ in range(100_000):
            path = f"/api/parties/{party['id']}/messages/?limit=100" + (f"&before={before}" if before else "")
            status, body = http_json("GET", port, path, party["host_token"], conn=conn)
            if status != 200:
                raise RuntimeError(f"history: {status} {body}")
            found.update(m["client_id"] for m in body["results"] if (m.get("client_id") or "").startswith(prefix))
            before = body["next_before"]
            if not before:
                break
    finally:
        conn.close()
    return found


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Stats:
    sent: dict[str, tuple[float, int]] = field(default_factory=dict)  # client_id -> (send time, party index)
    delivered: collections.Counter = field(default_factory=collections.Counter)  # client_id -> sockets reached
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (receive time, seconds)
    duplicates: int = 0
    echoed: set[str] = field(default_factory=set)  # the sender saw its own message come back
    refused: set[str] = field(default_factory=set)
    errors: collections.Counter = field(default_factory=collections.Counter)
    last_delivery: float = 0.0
    closed_early: int = 0


class BenchClient:
    def __init__(self, idx: int, party_idx: int, url: str, origin: str, token: str | None, stats: Stats, app: bool):
        self.idx, self.party_idx, self.url, self.origin, self.token = idx, party_idx, url, origin, token
        self.stats, self.app = stats, app
        self.ws = None
        self.seen: set[str] = set()
        self.ready = asyncio.Event()
        self.extensions = ""

    async def open(self, timeout: float) -> None:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        self.ws = await connect(
            self.url, origin=self.origin, additional_headers=headers, max_size=2**22,
            ping_interval=None, open_timeout=timeout, close_timeout=5,
        )  # fmt: skip
        self.extensions = self.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        self.reader = asyncio.get_running_loop().create_task(self.read())
        if not self.app:
            self.ready.set()
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def read(self) -> None:
        stats = self.stats
        try:
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "chat.message":
                    cid = frame["message"].get("client_id")
                    sent = stats.sent.get(cid)
                    if sent is None:
                        continue
                    if cid in self.seen:
                        stats.duplicates += 1
                        continue
                    self.seen.add(cid)
                    stats.delivered[cid] += 1
                    stats.latencies.append((now, now - sent[0]))
                    stats.last_delivery = now
                    if cid.split("-")[1] == str(self.idx):
                        stats.echoed.add(cid)
                elif kind == "party.state":
                    self.ready.set()
                elif kind == "error":
                    stats.errors[frame.get("code")] += 1
                    if frame.get("client_id"):
                        stats.refused.add(frame["client_id"])
        except Exception:  # noqa: BLE001 - a dropped socket is counted, not fatal
            pass
        if not getattr(self, "closing", False):
            stats.closed_early += 1

    async def send_loop(self, tag: str, t_start: float, t_end: float, period: float, limit: tuple[int, float]) -> None:
        count, seconds = limit
        window: collections.deque[float] = collections.deque()
        t_next = t_start + (self.idx * 0.618034 % 1.0) * period  # spread the clients over one period
        seq = 0
        while True:
            now = time.perf_counter()
            if t_next >= t_end:
                return
            if t_next > now:
                await asyncio.sleep(t_next - now)
            now = time.perf_counter()
            # Stay inside the per-user limit even when the loop runs late (never a burst of catch-up).
            while len(window) >= count and now - window[0] < seconds:
                await asyncio.sleep(seconds - (now - window[0]))
                now = time.perf_counter()
            if now >= t_end:
                return
            cid = f"{tag}-{self.idx}-{seq}"
            self.stats.sent[cid] = (time.perf_counter(), self.party_idx)
            try:
                await self.ws.send(
                    json.dumps({"type": "chat.send", "message": f"bench {self.idx} {seq}", "client_id": cid})
                )
            except Exception:  # noqa: BLE001
                del self.stats.sent[cid]
                return
            window.append(now)
            if len(window) > count:
                window.popleft()
            seq += 1
            t_next += period
            if t_next < now:
                t_next = now

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:  # noqa: BLE001
                pass


async def loop_lag_monitor(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        out.append(time.perf_counter() - t - 0.05)


async def drive(target: Target, port: int, parties: list[dict], args, tag: str, server: Server) -> dict[str, Any]:
    stats = Stats()
    app = target.is_app
    origin = f"http://127.0.0.1:{port}"
    clients: list[BenchClient] = []
    for p_idx, party in enumerate(parties):
        for member in party["members"]:
            clients.append(
                BenchClient(len(clients), p_idx, f"ws://127.0.0.1:{port}/ws/parties/{party['id']}/", origin,
                            member.get("token"), stats, app)
            )  # fmt: skip
    sem = asyncio.Semaphore(args.connect_concurrency)
    failures: collections.Counter = collections.Counter()

    async def open_one(c: BenchClient):
        async with sem:
            try:
                await c.open(args.connect_timeout)
                return True
            except Exception as exc:  # noqa: BLE001
                failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                return False

    t0 = time.perf_counter()
    ok = await asyncio.gather(*(open_one(c) for c in clients))
    connect_seconds = time.perf_counter() - t0
    live = [c for c, good in zip(clients, ok) if good]
    sockets_per_party = collections.Counter(c.party_idx for c in live)
    log(
        f"  {len(live)}/{len(clients)} sockets open in {connect_seconds:.1f}s"
        + (f"; failures {dict(failures)}" if failures else "")
    )
    await asyncio.sleep(args.settle)  # let the presence frames of the connects go by

    per_client_rate = args.rate / max(len(live), 1)
    period = 1 / per_client_rate if per_client_rate > 0 else float("inf")
    limit = (args.user_limit_count, args.user_limit_seconds + args.limit_margin)
    lag: list[float] = []
    lag_stop = asyncio.Event()
    lag_task = asyncio.get_running_loop().create_task(loop_lag_monitor(lag_stop, lag))
    me = psutil.Process()
    my_cpu0 = sum(me.cpu_times()[:2])
    redis_cpu0 = redis_cpu(args.redis_url)
    sampler = Sampler(server)
    server_cpu0 = server.cpu_seconds()
    per_process0 = server.cpu_by_process()
    machine0 = psutil.cpu_times()
    rss0 = server.rss()
    sampler.start()
    profiler = None
    if args.profile and target.kind != "websockets":
        profiler = start_profiler(
            server, args.out_dir / f"profile-{target.name}", min(args.profile, args.duration), args.profile_gil
        )
    t_start = time.perf_counter() + 0.5
    t_end = t_start + args.duration
    await asyncio.gather(*(c.send_loop(tag, t_start, t_end, period, limit) for c in live))
    # Drain: wait until every send that was not refused has reached every socket of its party.
    drain_deadline = time.perf_counter() + args.drain_timeout
    while time.perf_counter() < drain_deadline:
        expected = sum(sockets_per_party[p] for cid, (_, p) in stats.sent.items() if cid not in stats.refused)
        if sum(stats.delivered.values()) >= expected:
            break
        await asyncio.sleep(0.1)
    t_done = time.perf_counter()
    sampler.stop()
    server_cpu = server.cpu_seconds() - server_cpu0
    per_process = {pid: cpu - per_process0.get(pid, 0.0) for pid, cpu in server.cpu_by_process().items()}
    redis_cpu_used = redis_cpu(args.redis_url) - redis_cpu0 if redis_cpu0 is not None else None
    my_cpu = sum(me.cpu_times()[:2]) - my_cpu0
    machine1 = psutil.cpu_times()
    machine_busy = sum(machine1) - sum(machine0) - (machine1.idle - machine0.idle) - (machine1.iowait - machine0.iowait)
    others_cpu = machine_busy - server_cpu - my_cpu - (redis_cpu_used or 0)
    window_s = max(t_done - (t_start - 0.5), 1e-9)
    lag_stop.set()
    await lag_task
    if profiler is not None:
        await asyncio.get_running_loop().run_in_executor(None, profiler.wait)
    await asyncio.gather(*(c.close() for c in live))
    closed_early = stats.closed_early

    # Which sends did the server accept? The app: what it stored. The baselines store nothing and
    # refuse nothing, so every send is expected to reach the whole room.
    if app and target.workers:
        accepted = stored_client_ids_in_copies(args.out_dir, tag + "-")
    elif app:
        with ThreadPoolExecutor(4) as pool:
            accepted = set().union(*pool.map(lambda p: stored_client_ids(port, p, tag + "-"), parties))
    else:
        accepted = set(stats.sent)
    expected = sum(sockets_per_party[stats.sent[cid][1]] for cid in accepted if cid in stats.sent)
    reached = sum(stats.delivered[cid] for cid in accepted)
    unexpected = sum(n for cid, n in stats.delivered.items() if cid not in accepted)
    lost = expected - reached
    lat = [lt for _, lt in stats.latencies]
    active = max((stats.last_delivery or t_end) - t_start, 1e-9)
    cpu_pct = [c for t, c, _ in sampler.samples if t_start <= t <= t_done]
    rss = [r for t, _, r in sampler.samples]
    series = collections.defaultdict(list)
    for t, lt in stats.latencies:
        series[int(t - t_start)].append(lt)
    result = {
        "target": target.name,
        "kind": target.kind,
        "server": target.server,
        "layer": target.layer,
        "fixes": target.fixes,
        "clients": len(clients),
        "sockets_open": len(live),
        "connect_failures": dict(failures),
        "connect_seconds": round(connect_seconds, 2),
        "ws_extensions": collections.Counter(c.extensions or "none" for c in live).most_common(1)[0][0]
        if live
        else None,
        "parties": len(parties),
        "duration_s": args.duration,
        "offered_rate_msgs": args.rate,
        "sent": len(stats.sent),
        "sent_per_s": round(len(stats.sent) / args.duration, 2),
        "accepted": len(accepted),
        "refused": len(stats.refused),
        "unacknowledged": len(set(stats.sent) - accepted - stats.refused),
        "errors": dict(stats.errors),
        "expected_deliveries": expected,
        "deliveries": reached,
        "deliveries_per_s": round(reached / active, 1),
        "lost": lost,
        "duplicated": stats.duplicates,
        "unexpected_deliveries": unexpected,
        "sockets_closed_during_run": closed_early,
        "latency_ms": {
            f"p{p}": (round(1000 * v, 2) if (v := percentile(lat, p)) is not None else None)
            for p in (50, 90, 95, 99, 99.9)
        }
        | {
            "max": round(1000 * max(lat), 2) if lat else None,
            "mean": round(1000 * statistics.fmean(lat), 2) if lat else None,
        },
        "latency_p99_ms_per_second": {str(k): round(1000 * percentile(v, 99), 2) for k, v in sorted(series.items())},
        "server_cpu_s": round(server_cpu, 2),
        "workers": target.workers or 1,
        "server_cpu_s_per_process": sorted((round(c, 2) for c in per_process.values()), reverse=True),
        "server_cpu_pct_mean": round(statistics.fmean(cpu_pct), 1) if cpu_pct else None,
        "server_cpu_pct_max": round(max(cpu_pct), 1) if cpu_pct else None,
        "server_cpu_ms_per_1000_deliveries": round(1000 * server_cpu / reached * 1000, 1) if reached else None,
        "server_rss_mb_before": round(rss0 / 2**20, 1),
        "server_rss_mb_max": round(max(rss) / 2**20, 1) if rss else None,
        "redis_cpu_s": round(redis_cpu_used, 2) if redis_cpu_used is not None else None,
        "harness_cpu_s": round(my_cpu, 2),
        "machine_busy_pct": round(100 * machine_busy / window_s, 1),  # of one core; 200% = both cores
        "others_cpu_pct": round(100 * others_cpu / window_s, 1),  # processes not in this benchmark
        "harness_loop_lag_ms_p99": round(1000 * percentile(lag, 99), 2) if lag else None,
        "cpu_samples": [(round(t - t_start, 2), round(c, 1), r) for t, c, r in sampler.samples],
        "_latencies": lat,
    }
    return result


def run_async(coro):
    """Run on uvloop when it is installed (less client overhead per frame), else on asyncio."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def redis_cpu(url: str) -> float | None:
    import redis

    try:
        info = redis.Redis.from_url(url, socket_timeout=2).info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except Exception:  # noqa: BLE001
        return None


class Profiler:
    def __init__(self, proc: subprocess.Popen, path: Path):
        self.proc, self.path = proc, path

    def wait(self) -> None:
        try:
            self.proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_profiler(server: Server, stem: Path, seconds: float, gil: bool = False) -> Profiler | None:
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not os.path.exists(py_spy):
        log("  py-spy not installed; no profile")
        return None
    raw = stem.with_suffix(".collapsed.txt")
    proc = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.proc.pid), "--duration", str(int(seconds)), "--rate", "100",
         "--format", "raw", "--output", str(raw), *(["--gil"] if gil else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return Profiler(proc, raw)


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_c: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        n = int(n)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")" for f in stack.split(";")[1:]
        ]
        frames = [f for f in frames if f]
        total += n
        if frames:
            self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return {
        "samples": total,
        "self_top": [(f, round(100 * n / total, 1)) for f, n in self_c.most_common(top)] if total else [],
        "inclusive_top": [(f, round(100 * n / total, 1)) for f, n in incl.most_common(top * 2)] if total else [],
    }


# --- the history benchmark --------------------------------------------------------------------


async def history_seed(name: str, port: int, party: dict, args) -> dict[str, Any]:
    """Store N messages in one party over its WebSocket (the send limit is lifted for this server by
    env), keeping --history-window sends in flight. Returns the open socket and the message ids."""
    host = party["members"][0]
    url = f"ws://127.0.0.1:{port}/ws/parties/{party['id']}/"
    ws = await connect(url, origin=f"http://127.0.0.1:{port}", additional_headers={"Authorization": f"Token {host['token']}"},
                       max_size=2**24, ping_interval=None, open_timeout=30)  # fmt: skip
    first = json.loads(await ws.recv())
    assert first["type"] == "party.state", first
    ids: list[str] = []
    window = asyncio.Semaphore(args.history_window)
    done = asyncio.Event()
    target_n = args.history_messages
    t0 = time.perf_counter()
    deadline = t0 + args.history_seed_timeout
    errors: collections.Counter = collections.Counter()

    async def reader():
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "chat.message":
                ids.append(frame["message"]["id"])
                window.release()
                if len(ids) % 1000 == 0:
                    log(f"  {name}: seeded {len(ids)} messages ({len(ids) / (time.perf_counter() - t0):.0f}/s)")
                if len(ids) >= target_n:
                    done.set()
                    return
            elif frame["type"] == "error":
                errors[frame.get("code")] += 1
                window.release()

    rtask = asyncio.get_running_loop().create_task(reader())
    for i in range(target_n):
        if time.perf_counter() > deadline:
            break
        try:
            await asyncio.wait_for(window.acquire(), max(deadline - time.perf_counter(), 0.1))
        except asyncio.TimeoutError:
            break
        await ws.send(json.dumps({"type": "chat.send", "message": f"history seed {i}", "client_id": f"h-{i}"}))
    try:
        await asyncio.wait_for(done.wait(), max(deadline - time.perf_counter(), 1))
    except asyncio.TimeoutError:
        pass
    seed_s = time.perf_counter() - t0
    rtask.cancel()
    try:
        await rtask
    except (asyncio.CancelledError, Exception):  # noqa: BLE001
        pass
    log(f"  {name}: seeded {len(ids)} messages in {seed_s:.0f}s; errors {dict(errors)}")
    return {"ws": ws, "ids": ids, "seed_s": seed_s, "errors": dict(errors)}


async def history_measure(name: str, port: int, party: dict, seeded: dict, args, server: Server) -> dict[str, Any]:
    """Time history pages of 50 at random `before` cursors: the `history` frame on the open socket,
    then GET /api/parties/{id}/messages/ over one kept-alive HTTP connection (in a thread, so that
    the event loop keeps answering the server's pings)."""
    ws, ids = seeded["ws"], seeded["ids"]
    host = party["members"][0]
    rng = random.Random(7)
    cursors = [rng.choice(ids[50:]) for _ in range(args.history_fetches)] if len(ids) > 50 else []
    profiler = (
        start_profiler(server, args.out_dir / f"profile-history-{name}", args.profile, args.profile_gil)
        if args.profile
        else None
    )
    cpu0 = server.cpu_seconds()
    ws_lat: list[float] = []
    for cur in cursors:
        t = time.perf_counter()
        await ws.send(json.dumps({"type": "history", "before": cur, "limit": 50}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame["type"] == "history":
                break
        ws_lat.append(time.perf_counter() - t)
        assert len(frame["messages"]) == 50, len(frame["messages"])

    def http_fetches() -> list[float]:
        out: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        http_json("GET", port, f"/api/parties/{party['id']}/messages/?limit=50", host["token"], conn=conn)  # warm-up
        for cur in cursors:
            t = time.perf_counter()
            path = f"/api/parties/{party['id']}/messages/?limit=50&before={cur}"
            status, body = http_json("GET", port, path, host["token"], conn=conn)
            out.append(time.perf_counter() - t)
            assert status == 200 and len(body["results"]) == 50, (status, body and len(body.get("results", [])))
        conn.close()
        return out

    http_lat = await asyncio.get_running_loop().run_in_executor(None, http_fetches)
    cpu = server.cpu_seconds() - cpu0
    await ws.close()
    if profiler is not None:
        await asyncio.get_running_loop().run_in_executor(None, profiler.wait)

    def pct(values):
        return (
            {f"p{p}": round(1000 * percentile(values, p), 2) for p in (50, 95, 99)}
            | {"max": round(1000 * max(values), 2)}
            if values
            else {}
        )

    seed_s = seeded["seed_s"]
    return {
        "target": name,
        "messages_seeded": len(ids),
        "seed_seconds": round(seed_s, 1),
        "seed_msgs_per_s": round(len(ids) / seed_s, 1) if seed_s else None,
        "seed_errors": seeded["errors"],
        "fetches": len(cursors),
        "http_page50_ms": pct(http_lat),
        "ws_history50_ms": pct(ws_lat),
        "server_cpu_ms_per_fetch": round(1000 * cpu / max(len(http_lat) + len(ws_lat), 1), 2),
        "_http": http_lat,
        "_ws": ws_lat,
    }


# --- one target, the report -------------------------------------------------------------------


def server_env(args, target: Target, db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MONGODB_URI", "DJANGO_SETTINGS_MODULE", "CHANNEL_LAYER_REDIS_URLS", "BENCH_EMBEDDED_SEED")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        REDIS_URL=args.redis_url,
        CHANNEL_LAYER_BACKEND=target.layer or "core",
        DATABASE_URL=db_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),  # the settings refuse a short key with DEBUG off
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="bench.baseline_channels.settings"
        if target.kind == "channels"
        else "watchparty.settings",
    )
    for item in args.server_env:
        k, _, v = item.partition("=")
        env[k] = v
    if target.is_app:  # the baselines have no database
        env["EMBEDDED_DB_LATENCY_MS"] = str(args.db_latency_ms)
        # Each server process its own, empty embedded data file (one writer per file).
        env["EMBEDDED_DB_PATH"] = str(args.out_dir / f"embedded-{secrets.token_hex(6)}.sqlite3")
    if target.fixes:
        env["BENCH_FIXES"] = target.fixes
    env.update(extra or {})
    return env


def stored_client_ids_in_copies(out_dir: Path, prefix: str) -> set[str]:
    """The client_ids stored by the workers of a :wN target, each in its own copy of the seed
    (bench/app_workers_asgi.py), read without their locks (bench/stored_client_ids.py)."""
    found: set[str] = set()
    for copy in sorted(out_dir.glob("seed-*.sqlite3.worker-*.sqlite3")):
        env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
        env.update(PYTHONPATH=str(ROOT), EMBEDDED_DB_PATH=str(copy), LOG_LEVEL="WARNING")
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "stored_client_ids.py"), re.escape(prefix)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        found.update(json.loads(out.stdout))
    return found


def seed_parties(target: Target, port: int, users: list[dict], args, db_url: str) -> tuple[list[dict], Path]:
    """For a :wN target: the parties created and joined over HTTP on a one-process server of their
    own, whose embedded file then seeds every worker (bench/app_workers_asgi.py)."""
    for old in args.out_dir.glob("seed-*.sqlite3*"):
        old.unlink()  # the previous target's seed and its workers' copies
    seed = args.out_dir / f"seed-{secrets.token_hex(4)}.sqlite3"
    one = Target(target.name.partition(":")[0], target.kind, target.server, target.layer, target.fixes)
    env = server_env(args, one, db_url, {"EMBEDDED_DB_PATH": str(seed)})
    server = Server(one, port, env, args.out_dir / f"server-seed-{port}.log")
    try:
        server.wait_ready()
        parties = create_parties(port, users, party_sizes(args.clients, args.party_size), max(args.party_size, 2))
    finally:
        server.stop()
    return parties, seed


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_timeout=5).flushdb()


def party_sizes(clients: int, size: int) -> list[int]:
    full, rest = divmod(clients, size)
    return [size] * full + ([rest] if rest else [])


def run_target(target: Target, port: int, users: list[dict], args, db_url: str) -> dict[str, Any]:
    flush_redis(args.redis_url)
    seeded = None
    if target.workers:
        t = time.perf_counter()
        seeded, seed = seed_parties(target, port, users, args, db_url)
        log(f"  {len(seeded)} parties seeded over HTTP in {time.perf_counter() - t:.1f}s into {seed.name}")
        flush_redis(args.redis_url)  # the seeding server's rate-limit windows and presence
    env = server_env(args, target, db_url, {"BENCH_EMBEDDED_SEED": str(seed)} if seeded else None)
    server = Server(target, port, env, args.out_dir / f"server-{target.name.replace(':', '-')}-{port}.log")
    try:
        server.wait_ready()
        sizes = party_sizes(args.clients, args.party_size)
        if seeded:
            parties = seeded
        elif target.is_app:
            t = time.perf_counter()
            parties = create_parties(port, users, sizes, max(args.party_size, 2))
            log(f"  {len(parties)} parties created and joined over HTTP in {time.perf_counter() - t:.1f}s")
        else:
            it = iter(range(args.clients))
            parties = [{"id": secrets.token_hex(12), "members": [{"n": next(it)} for _ in range(s)]} for s in sizes]
        tag = "b" + secrets.token_hex(3)
        return run_async(drive(target, port, parties, args, tag, server))
    finally:
        server.stop()


def run_history(targets: list[Target], port: int, users: list[dict], args, db_url: str) -> list[dict[str, Any]]:
    """One server per target, seeded at the same time; then each is measured alone, in turn."""
    flush_redis(args.redis_url)
    servers: list[tuple[Target, int, Server]] = []
    try:
        for i, target in enumerate(targets):
            # Seeding and timing only: the per-user send and history limits are lifted for THIS server
            # process (env override), so that one socket can store N messages and fetch
            # --history-fetches pages; the product's default limits are unchanged.
            env = server_env(
                args,
                target,
                db_url,
                {
                    "CHAT_SEND_RATE_LIMIT_COUNT": "100000000",
                    "CHAT_SEND_USER_RATE_LIMIT_COUNT": "100000000",
                    "HISTORY_RATE_LIMIT_COUNT": "100000000",
                },
            )
            p = port + i
            servers.append((target, p, Server(target, p, env, args.out_dir / f"server-history-{target.name}-{p}.log")))
        parties = []
        for target, p, server in servers:
            server.wait_ready()
            parties.append(create_parties(p, users[:1], [1], 2)[0])

        async def go():
            seeded = await asyncio.gather(
                *(history_seed(t.name, p, party, args) for (t, p, _), party in zip(servers, parties))
            )
            results = []
            for (t, p, server), party, sd in zip(servers, parties, seeded):
                log(f"  {t.name}: timing {args.history_fetches} history pages of 50")
                results.append(await history_measure(t.name, p, party, sd, args, server))
            return results

        return run_async(go())
    finally:
        for _, _, server in servers:
            server.stop()


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio(a, b, digits=2):
    if a is None or b in (None, 0):
        return "–"
    return f"{a / b:.{digits}f}×"


def median_result(runs: list[dict]) -> dict:
    """The run with the median p99 latency stands for the target (all runs are in the JSON)."""
    ordered = sorted(runs, key=lambda r: (r["latency_ms"]["p99"] is None, r["latency_ms"]["p99"] or 0))
    return ordered[len(ordered) // 2]


def markdown(summary: dict[str, dict], history: list[dict] | None, args, meta: dict) -> str:
    lines = [
        f"# Bench run {meta['started']}",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['cpus']} CPUs, load average at start {meta['loadavg']}, nice {args.nice}; {args.clients} clients in parties of "
        f"{args.party_size}, {args.rate} msg/s offered in total for {args.duration} s per target; Redis "
        f"`{args.redis_url}`; app on the embedded mongomock database (MONGODB_URI unset), "
        f"simulated round trip {args.db_latency_ms} ms per database operation (--db-latency-ms).",
    ]
    if summary:
        lines += [
            "",
            "| target | sockets | sent/s | accepted | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | lost | dup | "
            "refused | server CPU % (mean/max) | CPU ms / 1000 deliv. | RSS MB (max) | Redis CPU s | harness lag p99 ms | "
            "other processes' CPU % |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
    for name, r in summary.items():
        lat = r["latency_ms"]
        lines.append(
            f"| {name} | {r['sockets_open']}/{r['clients']} | {fmt(r['sent_per_s'])} | {fmt(r['accepted'])} | "
            f"{fmt(r['deliveries_per_s'])} | {fmt(lat['p50'])} | {fmt(lat['p95'])} | {fmt(lat['p99'])} | "
            f"{fmt(lat['max'])} | {fmt(r['lost'])} | {fmt(r['duplicated'])} | {fmt(r['refused'])} | "
            f"{fmt(r['server_cpu_pct_mean'])} / {fmt(r['server_cpu_pct_max'])} | "
            f"{fmt(r['server_cpu_ms_per_1000_deliveries'])} | {fmt(r['server_rss_mb_max'])} | {fmt(r['redis_cpu_s'], 2)} | "
            f"{fmt(r['harness_loop_lag_ms_p99'])} | {fmt(r.get('others_cpu_pct'))} |"
        )
    apps = [r for r in summary.values() if r["kind"] in ("app", "appfix")]
    if apps:
        lines += [
            "",
            "Ratios of each app target to the baselines (the Channels tutorial app on the same server and layer; "
            "the raw websockets server). Deliveries/s above 1× is better; latency, CPU and memory below 1× are better.",
            "",
            "| app target | vs | deliveries/s | p50 | p99 | CPU ms / 1000 deliv. | RSS |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in apps:
            for base_name in (f"channels-{r['server']}-{r['layer']}", "websockets", f"app-{r['server']}-{r['layer']}"):
                if base_name == r["target"] or (r["kind"] == "app" and base_name.startswith("app-")):
                    continue
                b = summary.get(base_name)
                if not b:
                    continue
                lines.append(
                    f"| {r['target']} | {base_name} | {ratio(r['deliveries_per_s'], b['deliveries_per_s'])} | "
                    f"{ratio(r['latency_ms']['p50'], b['latency_ms']['p50'])} | {ratio(r['latency_ms']['p99'], b['latency_ms']['p99'])} | "
                    f"{ratio(r['server_cpu_ms_per_1000_deliveries'], b['server_cpu_ms_per_1000_deliveries'])} | "
                    f"{ratio(r['server_rss_mb_max'], b['server_rss_mb_max'])} |"
                )
    if history:
        h0 = history[0]
        lines += [
            "",
            f"History: {fmt(h0['messages_seeded'])} messages seeded in one party per server (send limit lifted for "
            f"those servers only, by `CHAT_SEND_RATE_LIMIT_COUNT`; all servers seeded at the same time), then, one "
            f"server at a time, {h0['fetches']} pages of 50 at random `before` cursors with the `history` frame, "
            "then the same over HTTP.",
            "",
            "| target | messages | seeding s (msg/s) | fetch | p50 ms | p95 ms | p99 ms | max ms | server CPU ms / fetch |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for h in history:
            for key, label in (
                ("http_page50_ms", "`GET …/messages/?limit=50&before=…`"),
                ("ws_history50_ms", "`history` frame, limit 50"),
            ):
                v = h[key]
                lines.append(
                    f"| {h['target']} | {fmt(h['messages_seeded'])} | {fmt(h['seed_seconds'])} ({fmt(h['seed_msgs_per_s'])}) | "
                    f"{label} | {fmt(v.get('p50'))} | {fmt(v.get('p95'))} | {fmt(v.get('p99'))} | {fmt(v.get('max'))} | "
                    f"{fmt(h['server_cpu_ms_per_fetch'])} |"
                )
    lines.append("")
    return "\n".join(lines)


def plot(summary: dict[str, dict], history: list[dict] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if history else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.8))
    for name, r in summary.items():
        lat = sorted(1000 * x for x in r["_latencies"])
        if lat:
            ys = [100 * (i + 1) / len(lat) for i in range(len(lat))]
            axes[0].plot(lat, ys, label=name, lw=1.2)
        per_s = r["latency_p99_ms_per_second"]
        axes[1].plot([int(k) for k in per_s], list(per_s.values()), label=name, lw=1.2)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("send-to-receive latency (ms, log)")
    axes[0].set_ylabel("% of deliveries at or below")
    axes[0].set_title("Latency CDF")
    axes[0].grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("seconds since the load started")
    axes[1].set_ylabel("p99 latency in that second (ms, log)")
    axes[1].set_title("p99 latency over time")
    axes[1].grid(True, which="both", alpha=0.3)
    if history:
        for h in history:
            for key, label in (("_http", "HTTP"), ("_ws", "history frame")):
                lat = sorted(1000 * x for x in h[key])
                if lat:
                    axes[2].plot(
                        lat, [100 * (i + 1) / len(lat) for i in range(len(lat))], label=f"{h['target']}, {label}"
                    )
        axes[2].set_xlabel("page of 50 fetch latency (ms)")
        axes[2].set_title(f"History, {history[0]['messages_seeded']} messages in the party")
        axes[2].grid(True, alpha=0.3)
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients per target (0: history only)")
    parser.add_argument("--party-size", type=int, default=10, help="clients per party (2-50)")
    parser.add_argument("--rate", type=float, default=50, help="chat messages per second, all clients together")
    parser.add_argument("--duration", type=float, default=15, help="seconds of load per target")
    parser.add_argument(
        "--targets", default=",".join(DEFAULT_TARGETS), help="comma-separated (see the top of this file)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over the targets (order rotated); the median-p99 run is reported"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="flushed before each target")
    parser.add_argument("--port", type=int, default=8710, help="first port; each server gets the next one")
    parser.add_argument("--drain-timeout", type=float, default=10, help="seconds to wait for late deliveries")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between the last connect and the load")
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--connect-timeout", type=float, default=60)
    parser.add_argument("--user-limit-count", type=int, default=5, help="the protocol's per-user send limit ...")
    parser.add_argument("--user-limit-seconds", type=float, default=5, help="... in this many seconds")
    parser.add_argument(
        "--limit-margin", type=float, default=0.25, help="extra seconds the clients leave in the window"
    )
    parser.add_argument(
        "--allow-over-limit", action="store_true", help="let --rate exceed one message a second per client"
    )
    parser.add_argument(
        "--db-latency-ms",
        type=float,
        default=0,
        metavar="MS",
        help="app only: the embedded database "
        "waits this long before every operation, simulating a remote MongoDB's round trip (e.g. 2 or 5)",
    )
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="extra server environment"
    )
    parser.add_argument(
        "--profile", type=float, default=0, metavar="SECONDS", help="py-spy the server for this long during the load"
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="profile only the thread holding the GIL (where the CPU goes)"
    )
    parser.add_argument(
        "--history-messages", type=int, default=0, help="seed this many messages and time history pages"
    )
    parser.add_argument(
        "--history-target",
        default="",
        help="comma-separated app/appfix targets for the history bench (default: first app target)",
    )
    parser.add_argument("--history-fetches", type=int, default=300)
    parser.add_argument("--history-window", type=int, default=16, help="sends in flight while seeding")
    parser.add_argument("--history-seed-timeout", type=float, default=1200)
    parser.add_argument(
        "--nice", type=int, default=0, help="renice the harness and its servers (e.g. -10 on a shared machine)"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    targets = [Target.parse(t.strip()) for t in args.targets.split(",") if t.strip()]
    if args.clients and not 2 <= args.party_size <= 50:
        raise SystemExit("--party-size must be 2-50 (the app's max_participants bound)")
    if args.clients and args.rate / args.clients > 1.0 and not args.allow_over_limit:
        raise SystemExit("--rate over --clients messages/s would exceed the per-user limit (1/s on average)")
    if args.nice:
        os.nice(args.nice)  # the servers inherit it
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, 65536)) if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the servers
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out_dir = Path(args.out) / stamp
    args.out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "started": stamp,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(),
        "loadavg": tuple(round(x, 2) for x in os.getloadavg()),
        "nice": args.nice,
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "python": sys.version.split()[0],
    }
    log(f"results -> {args.out_dir}")

    tmp = Path(tempfile.mkdtemp(prefix="watchparty-bench-"))
    db_url = f"sqlite:///{tmp / 'db.sqlite3'}"
    users: list[dict] = []
    need_users = max(args.clients, 1 if args.history_messages else 0)
    if any(t.is_app for t in targets) or args.history_messages:
        t = time.perf_counter()
        users = make_users(
            need_users, db_url, server_env(args, Target("app-daphne-core", "app", "daphne", "core"), db_url)
        )
        log(f"{len(users)} users with tokens in {time.perf_counter() - t:.1f}s ({db_url})")

    runs: dict[str, list[dict]] = collections.defaultdict(list)
    port = args.port
    try:
        if args.clients:
            for rnd in range(args.repeat):
                order = targets[rnd % len(targets) :] + targets[: rnd % len(targets)]
                for target in order:
                    log(f"round {rnd + 1}/{args.repeat}: {target.name} on port {port}")
                    res = run_target(target, port, users, args, db_url)
                    port += 1
                    res["round"] = rnd + 1
                    runs[target.name].append(res)
                    log(
                        f"  {res['deliveries_per_s']} deliveries/s, p50 {res['latency_ms']['p50']} ms, "
                        f"p99 {res['latency_ms']['p99']} ms, lost {res['lost']}, dup {res['duplicated']}, "
                        f"refused {res['refused']}, server CPU {res['server_cpu_pct_mean']}%, "
                        f"others' CPU {res['others_cpu_pct']}%"
                    )
        history = None
        if args.history_messages:
            hts = [Target.parse(t.strip()) for t in args.history_target.split(",") if t.strip()] or [
                next((t for t in targets if t.is_app), Target.parse("app-daphne-core"))
            ]
            if not all(t.is_app for t in hts):
                raise SystemExit("--history-target takes app or appfix targets")
            log(
                f"history bench on {', '.join(t.name for t in hts)} from port {port}: seeding {args.history_messages} messages each"
            )
            history = run_history(hts, port, users, args, db_url)
            for h in history:
                log(f"  {h['target']}: HTTP page {h['http_page50_ms']}; history frame {h['ws_history50_ms']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    summary = {name: median_result(rs) for name, rs in runs.items()}
    profiles = {}
    for prof in sorted(args.out_dir.glob("profile-*.collapsed.txt")):
        profiles[prof.name.split(".")[0]] = summarize_profile(prof)
    out = {
        "meta": meta,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "summary": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in summary.items()},
        "runs": {k: [{kk: vv for kk, vv in r.items() if not kk.startswith("_")} for r in v] for k, v in runs.items()},
        "history": [{k: v for k, v in h.items() if not k.startswith("_")} for h in history] if history else None,
        "profiles": profiles,
    }
    (args.out_dir / "results.json").write_text(json.dumps(out, indent=2))
    md = markdown(summary, history, args, meta)
    if profiles:
        md += "\n## Server profiles (py-spy, % of samples)\n"
        for name, p in profiles.items():
            md += f"\n### {name} ({p['samples']} samples)\n\n| self | % |\n|---|---|\n"
            md += "".join(f"| `{f}` | {pct} |\n" for f, pct in p["self_top"][:15])
            md += "\n| inclusive | % |\n|---|---|\n"
            md += "".join(f"| `{f}` | {pct} |\n" for f, pct in p["inclusive_top"][:30])
    (args.out_dir / "results.md").write_text(md)
    if summary or history:
        plot(summary, history, args.out_dir / "latency.png")
    print(md)
    log(f"wrote {args.out_dir}/results.json, results.md, latency.png")


if __name__ == "__main__":
    main()
