"""Frames from the server larger than the 16 KiB limit on frames from clients, on each server."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.reliability.harness import http
from tests.reliability.wsclient import open_raw

MESSAGE_MAX_LENGTH = 500  # CHAT_MESSAGE_MAX_LENGTH
SENDERS = 12  # 5 messages each: within every per-user send limit
PER_SENDER = 5


async def test_a_party_with_60_messages_of_the_maximum_length_opens(server):
    """A fresh socket to a party holding 60 messages of 500 characters gets its party.state (about
    150 KB), not close 1011, while a frame of that size from the client is still closed with 1009."""
    tokens = server.take_tokens(SENDERS)
    party = server.party_with(tokens)
    url = f"{server.base_url}/api/parties/{party['id']}/messages/"
    sent = []
    for i, token in enumerate(tokens):
        for j in range(PER_SENDER):
            text = f"{i:02d}{j}" + "é" * (MESSAGE_MAX_LENGTH - 3)  # \u00e9 in JSON: 6 bytes each
            status, body = await asyncio.to_thread(http, "POST", url, token=token, body={"message": text})
            assert status == 201, (status, body)
            sent.append(body["id"])
    ws = await open_raw(server, party["id"], tokens[0], max_size=2**22)
    try:
        raw = await asyncio.wait_for(ws.recv(), 10)
        assert len(raw.encode()) > 16 * 1024
        state = json.loads(raw)
        assert state["type"] == "party.state"
        assert [m["id"] for m in state["messages"]] == sent[-50:]
        assert state["next_before"] == sent[-50]
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 16 * 1024}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        if ws.transport is not None:
            ws.transport.abort()
