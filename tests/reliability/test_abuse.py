"""Abuse tests against a live server: the HTTP API under schemathesis, a chat flood, an oversize
frame and handshakes from foreign or missing origins."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

from tests.reliability.harness import http
from tests.reliability.wsclient import Client, open_raw

SCHEMATHESIS_MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
SCHEMATHESIS_SEED = os.environ.get("SCHEMATHESIS_SEED", "20261128")
SCHEMATHESIS_TIMEOUT_S = 300
ORIGIN_ATTEMPTS = 200
FOREIGN_ORIGINS = [
    "http://evil.example",
    "https://127.0.0.1.evil.example",
    "http://localhost",  # a fine host, but not in this server's ALLOWED_HOSTS
    "http://127.0.0.2",
    "null",
    "file://",
    "http://[::1]",
    "https://evil.example:443",
]


def test_http_api_never_answers_5xx_to_generated_requests(server, tmp_path):
    """Whatever a signed-in client sends to any documented endpoint, it never gets a server error (5xx)."""
    (token,) = server.take_tokens(1)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.base_url}/api/schema/",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Token {token}",
        # Revoking the token would turn every later generated request into a 401.
        "--exclude-path",
        "/api/auth/token/revoke/",
        "--exclude-path",
        "/api/auth/token/revoke-all/",
        "--max-examples",
        str(SCHEMATHESIS_MAX_EXAMPLES),
        "--seed",
        SCHEMATHESIS_SEED,
        "--request-timeout",
        "10",
        "--max-failures",
        "5",
        "--no-color",
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT_S,
        env={**os.environ, "NO_COLOR": "1"},
    )
    report = f"{result.stdout[-8000:]}\n{result.stderr[-2000:]}"
    assert result.returncode == 0, f"schemathesis found server errors:\n{report}"
    assert " passed" in result.stdout and "generated" in result.stdout, result.stdout[-3000:]


async def test_a_chat_flood_is_rate_limited(server):
    """Of 50 messages fired at once at most 5 are posted; each other one is answered rate_limited with retry_after."""
    (token,) = server.take_tokens(1)
    party = server.party_with([token])
    client = Client(server, token, party["id"], name="flooder")
    try:
        await client.open()
        mark = len(client.frames)
        for i in range(50):
            await client.send({"type": "chat.send", "message": f"flood {i}", "client_id": f"flood-{i}"})
        replies: dict[str, dict] = {}
        deadline = time.monotonic() + 10
        while len(replies) < 50 and time.monotonic() < deadline:
            frame = await client.wait_for(
                lambda f: (
                    (f["type"] == "error" and "client_id" in f)
                    or (f["type"] == "chat.message" and f["message"]["client_id"] not in replies)
                ),
                timeout=max(0.05, deadline - time.monotonic()),
                since=mark,
            )
            if frame is None:
                break
            mark = next(i for i in range(len(client.frames) - 1, -1, -1) if client.frames[i][1] is frame) + 1
            client_id = frame["client_id"] if frame["type"] == "error" else frame["message"]["client_id"]
            replies[client_id] = frame
        assert len(replies) == 50, f"{50 - len(replies)} sends were never answered"
        accepted = [f for f in replies.values() if f["type"] == "chat.message"]
        refused = [f for f in replies.values() if f["type"] == "error"]
        assert 1 <= len(accepted) <= 5
        assert all(
            f["code"] == "rate_limited" and isinstance(f["retry_after"], int) and f["retry_after"] >= 1 for f in refused
        ), refused[:3]
        status, body = await asyncio.to_thread(
            http, "GET", f"{server.base_url}/api/parties/{party['id']}/messages/?limit=100", token=token
        )
        assert status == 200 and len(body["results"]) == len(accepted) <= 5
    finally:
        await client.close()


async def test_a_frame_over_16_kib_closes_the_socket_with_1009(server):
    """A frame of exactly 16 KiB is served; one byte more closes the socket with 1009."""
    (token,) = server.take_tokens(1)
    party = server.party_with([token])
    ws = await open_raw(server, party["id"], token, max_size=2**22)
    try:
        await ws.recv()  # party.state
        base = json.dumps({"type": "ping", "pad": ""})
        at_limit = json.dumps({"type": "ping", "pad": "x" * (16 * 1024 - len(base))})
        assert len(at_limit.encode()) == 16 * 1024
        await ws.send(at_limit)
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "pong"
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (16 * 1024 + 1 - len(base))}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        if ws.transport is not None:
            ws.transport.abort()


def _masked_frame_header(opcode: int, length: int) -> bytes:
    """A client frame's header (RFC 6455 5.2): FIN, the opcode, the length in its shortest form, and
    an all-zero mask key (so the payload goes as it is)."""
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 2**16:
        size = bytes([0x80 | 126]) + length.to_bytes(2, "big")
    else:
        size = bytes([0x80 | 127]) + length.to_bytes(8, "big")
    return bytes([0x80 | opcode]) + size + b"\x00\x00\x00\x00"


@pytest.mark.parametrize("opcode", [0x1, 0x2], ids=["text", "binary"])
async def test_a_huge_frame_is_refused_from_its_header_without_being_buffered(server, opcode):
    """A frame announcing 15 MiB (text or binary) is closed with 1009 after its first bytes: the
    server refuses it from the header, instead of waiting to buffer it whole."""
    (token,) = server.take_tokens(1)
    party = server.party_with([token])
    ws = await open_raw(server, party["id"], token)
    try:
        await ws.recv()  # party.state
        # Only the header and 1 KiB of the announced 15 MiB are ever sent: a server that buffers
        # the frame before judging it would wait for the rest and never close.
        ws.transport.write(_masked_frame_header(opcode, 15 * 1024 * 1024) + b"x" * 1024)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        if ws.transport is not None:
            ws.transport.abort()


async def test_a_binary_frame_over_16_kib_closes_the_socket_with_1009(server):
    """A binary frame of 16 KiB is answered `invalid` (frames are JSON text); one byte more closes with 1009."""
    (token,) = server.take_tokens(1)
    party = server.party_with([token])
    ws = await open_raw(server, party["id"], token, max_size=2**22)
    try:
        await ws.recv()  # party.state
        await ws.send(b"x" * (16 * 1024))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "error" and frame["code"] == "invalid" and "frame" in frame["errors"]
        await ws.send(b"x" * (16 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        if ws.transport is not None:
            ws.transport.abort()


async def test_one_user_many_sockets_is_capped_and_announced_once(server):
    """A user's 6th socket in a party closes with 4429; another member hears that user join once and
    leave once, after their last socket is gone (presence counted in the server's Redis)."""
    watcher_token, many_token = server.take_tokens(2)
    party = server.party_with([watcher_token, many_token])
    watcher = Client(server, watcher_token, party["id"], name="watcher")
    many = [Client(server, many_token, party["id"], name=f"many{i}") for i in range(5)]
    try:
        await watcher.open()
        for client in many:
            state = await client.open()
        assert sorted(state["online"]) == sorted([watcher.user_id, many[0].user_id])
        sixth = Client(server, many_token, party["id"], name="sixth")
        with pytest.raises(AssertionError):
            await sixth.open()
        assert sixth.close_codes == [4429]
        for client in many:
            await client.close()
        left = await watcher.wait_for(lambda f: f["type"] == "participant.left", timeout=5)
        assert left is not None and left["user_id"] == many[0].user_id and left["reason"] == "disconnected"
        await asyncio.sleep(0.5)
        presence = [(f["type"], f["reason"]) for _, f in watcher.frames if f["type"].startswith("participant.")]
        assert presence == [("participant.joined", "connected"), ("participant.left", "disconnected")]
    finally:
        for client in [watcher, *many]:
            await client.close()


@pytest.mark.parametrize("refusal", [4401, 4403, 4404])
async def test_frames_right_after_a_refused_handshake_are_dropped_silently(server, refusal):
    """Frames a client fires right after its handshake, before the server's refusal (4401, 4403,
    4404) reaches it, get no reply, and the server logs no error (it never sends after its close)."""
    owner, outsider = server.take_tokens(2)
    party_id = server.party_with([owner])["id"]
    token = {4401: None, 4403: outsider, 4404: owner}[refusal]
    if refusal == 4404:
        party_id = "65a1b2c3d4e5f60718293a4b"
    frames = b"".join(
        _masked_frame_header(0x1, len(payload)) + payload
        for payload in (
            json.dumps(frame).encode()
            for frame in (
                {"type": "ping"},
                {"type": "history"},
                {"type": "chat.send", "message": "hi", "client_id": "x"},
            )
        )
    )
    log_before = len(server.log_path.read_bytes())
    for _ in range(10):
        ws = await open_raw(server, party_id, token)
        try:
            # Straight onto the wire, while the server may still be looking the party up (the
            # client library would refuse to send once it saw the close). A refusal that already
            # closed the connection leaves nothing to write to: that round proves nothing either way.
            if not ws.transport.is_closing():
                ws.transport.write(frames)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                frame = await asyncio.wait_for(ws.recv(), 5)
                pytest.fail(f"a frame after the refusal: {frame}")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == refusal
        finally:
            if ws.transport is not None:
                ws.transport.abort()
    await asyncio.sleep(0.5)  # a traceback, if any, is written after the close
    with server.log_path.open("rb") as log:
        log.seek(log_before)
        new_lines = log.read().decode(errors="replace")
    assert "Traceback" not in new_lines and "RuntimeError" not in new_lines, new_lines[-3000:]


async def test_handshakes_from_foreign_or_missing_origins_are_all_refused(server):
    """200 handshakes with a valid token but a foreign or missing Origin are all refused with HTTP 403."""
    tokens = server.take_tokens(1)
    party = server.party_with(tokens)
    limit = asyncio.Semaphore(20)
    outcomes: list[str] = []

    # The right host with another port or scheme is another origin too.
    foreign = [*FOREIGN_ORIGINS, f"http://127.0.0.1:{server.port + 1}", f"https://127.0.0.1:{server.port}"]

    async def attempt(i: int) -> None:
        origin = None if i % 2 else foreign[(i // 2) % len(foreign)]
        async with limit:
            try:
                ws = await open_raw(server, party["id"], tokens[0], origin=origin)
            except websockets.InvalidStatus as exc:
                outcomes.append(f"{exc.response.status_code}")
                return
            except Exception as exc:  # noqa: BLE001 - recorded and reported below
                outcomes.append(f"{origin!r}: {exc!r}")
                return
            ws.transport.abort()
            outcomes.append(f"{origin!r}: ACCEPTED")

    await asyncio.wait_for(asyncio.gather(*(attempt(i) for i in range(ORIGIN_ATTEMPTS))), 60)
    unexpected = [o for o in outcomes if o != "403"]
    assert len(outcomes) == ORIGIN_ATTEMPTS and not unexpected, unexpected[:10]
    assert (await asyncio.to_thread(http, "GET", f"{server.base_url}/health/live"))[0] == 200


async def test_handshakes_with_malformed_origins_are_refused_without_a_server_error(server):
    """An Origin whose port is no number is refused like a foreign one (403; daphne's own check answers 400), never a 500."""
    (token,) = server.take_tokens(1)
    party = server.party_with([token])
    log_before = len(server.log())
    outcomes = []
    for origin in [f"http://127.0.0.1:{server.port}.evil.example", "http://x:abc", f"http://127.0.0.1:{server.port}:1"]:
        try:
            ws = await open_raw(server, party["id"], token, origin=origin)
        except websockets.InvalidStatus as exc:
            outcomes.append((origin, exc.response.status_code))
            continue
        ws.transport.abort()
        outcomes.append((origin, "ACCEPTED"))
    assert all(status in {400, 403} for _, status in outcomes), outcomes
    assert "Traceback" not in server.log()[log_before:]
