"""A WebSocket client for the live server (the ``websockets`` library), as an app would use it:
it reads every frame in the background and remembers which messages it has seen. Every wait is
bounded."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

import websockets
from websockets.asyncio.client import connect

from tests.reliability.harness import LiveServer

OPEN_TIMEOUT_S = 5


async def open_raw(server: LiveServer, party_id: str, token: str | None, *, origin: str | None = "same", **kwargs):
    """A bare ``websockets`` connection (nobody reads it unless the caller does)."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    return await connect(
        server.ws_url(party_id),
        origin=(server.origin if origin == "same" else origin),
        additional_headers=headers,
        open_timeout=OPEN_TIMEOUT_S,
        close_timeout=2,
        ping_interval=None,
        compression=None,
        proxy=None,
        **kwargs,
    )


class Client:
    """One participant: a socket, a background reader and what it has seen."""

    def __init__(self, server: LiveServer, token: str, party_id: str, name: str = "") -> None:
        self.server, self.token, self.party_id, self.name = server, token, party_id, name
        self.user_id = server.user_ids[token]
        self.ws = None
        self.frames: list[tuple[float, dict[str, Any]]] = []  # (monotonic receive time, frame)
        self.seen: dict[str, dict] = {}  # message id -> message, from every frame that carries messages
        self.order: list[str] = []  # message ids in the order they first arrived
        # What the person sees, by the client rule of docs/PROTOCOL.md: a party.state replaces the
        # list (the first one, and the fresh one after a server-side outage); a chat.message whose id
        # is already there is dropped.
        self.shown: list[str] = []
        self.close_codes: list[int | None] = []
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Event()

    async def open(self) -> dict:
        """Connect and return the party.state frame."""
        self.ws = await open_raw(self.server, self.party_id, self.token)
        self._reader = asyncio.create_task(self._read(self.ws))
        frame = await self.wait_for(lambda f: f["type"] == "party.state", timeout=5, since=len(self.frames))
        assert frame is not None, f"{self.name}: no party.state (closed with {self.close_codes})"
        return frame

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self._reader is not None and not self._reader.done()

    def _remember(self, messages: list[dict]) -> None:
        for message in messages:
            if message["id"] not in self.seen:
                self.order.append(message["id"])
            self.seen[message["id"]] = message

    async def _read(self, ws) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.frames.append((time.monotonic(), frame))
                if frame["type"] == "chat.message":
                    self._remember([frame["message"]])
                    if frame["message"]["id"] not in self.shown:
                        self.shown.append(frame["message"]["id"])
                elif frame["type"] in {"party.state", "history"}:
                    self._remember(frame["messages"])
                    if frame["type"] == "party.state":
                        self.shown = [message["id"] for message in frame["messages"]]
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)
            self._changed.set()

    async def wait_for(self, predicate: Callable[[dict], bool], *, timeout: float, since: int = 0) -> dict | None:
        """The first frame at index >= ``since`` that matches, or None after ``timeout`` s (or once
        the socket is closed and nothing matched)."""
        deadline = time.monotonic() + timeout
        index = since
        while True:
            while index < len(self.frames):
                frame = self.frames[index][1]
                index += 1
                if predicate(frame):
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.is_open:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def send(self, frame: dict) -> int:
        """Send a frame; the index of the first frame that can be its reply."""
        mark = len(self.frames)
        await self.ws.send(json.dumps(frame))
        return mark

    async def send_chat(self, text: str, client_id: str, *, timeout: float) -> tuple[dict | None, float]:
        """Send a chat message; (its reply: the ack chat.message or an error for this client_id, or
        None when none came in time or the socket closed; seconds it took)."""
        started = time.monotonic()
        try:
            mark = await self.send({"type": "chat.send", "message": text, "client_id": client_id})
        except websockets.ConnectionClosed:
            return None, time.monotonic() - started
        reply = await self.wait_for(
            lambda f: (
                (
                    f["type"] == "chat.message"
                    and f["message"].get("client_id") == client_id
                    and f["message"]["user_id"] == self.user_id
                )
                or (f["type"] == "error" and f.get("client_id") == client_id)
            ),
            timeout=timeout,
            since=mark,
        )
        return reply, time.monotonic() - started

    async def close(self) -> None:
        """Drop the connection at once (no closing handshake to wait for)."""
        if self.ws is not None and self.ws.transport is not None:
            self.ws.transport.abort()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 2)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
