"""Helpers for consumer tests: connect through the real ASGI application (origin check and auth
middleware included) and read frames."""

from __future__ import annotations

import asyncio
import json

from channels.testing import WebsocketCommunicator

from watchparty.asgi import application


async def open_socket(
    party_id: str, token: str | None, *, origin: str | None = "http://testserver", host: str = "testserver"
):
    headers = [(b"host", host.encode())]  # as every browser sends: the Origin check compares with it
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if token is not None:
        headers.append((b"authorization", f"Token {token}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/parties/{party_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def receive(communicator, *, timeout: float = 3) -> dict:
    return json.loads(await communicator.receive_from(timeout=timeout))


async def receive_type(communicator, frame_type: str, *, timeout: float = 3) -> dict:
    """The next frame of this type, skipping others (presence and the like)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await receive(communicator, timeout=max(0.05, deadline - loop.time()))
        if frame["type"] == frame_type:
            return frame


async def close_code(communicator, *, timeout: float = 3) -> int:
    """Read until the server closes; the close code."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        output = await communicator.receive_output(timeout=max(0.05, deadline - loop.time()))
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


async def drain(communicator, *, quiet: float = 0.1) -> list[dict]:
    frames = []
    while not await communicator.receive_nothing(timeout=quiet):
        frames.append(await receive(communicator))
    return frames
