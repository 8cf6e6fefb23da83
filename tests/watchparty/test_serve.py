"""watchparty.serve: the options every deployment runs uvicorn with, over a real socket."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests.reliability.harness import LiveServer


async def _extensions_agreed(server: LiveServer) -> str:
    """What the server agreed to for a client offering permessage-deflate, as browsers do."""
    ws = await connect(
        server.ws_url("0" * 24), origin=server.origin, compression="deflate", open_timeout=10, proxy=None
    )
    try:
        return ws.response.headers.get("Sec-WebSocket-Extensions", "")
    finally:
        await ws.close()


@pytest.mark.parametrize("setting, agreed", [(None, True), ("false", False)])
def test_permessage_deflate_follows_the_setting(tmp_path, setting, agreed):
    """A browser's offer of permessage-deflate is taken by default and refused with WEBSOCKET_PER_MESSAGE_DEFLATE=false."""
    server = LiveServer(tmp_path, "", "uvicorn-pubsub")
    if setting is not None:
        server.env["WEBSOCKET_PER_MESSAGE_DEFLATE"] = setting
    server.manage("migrate", "--noinput", "-v", "0")
    server.start()
    try:
        extensions = asyncio.run(_extensions_agreed(server))  # accepted, then closed 4401: no user
        assert ("permessage-deflate" in extensions) is agreed, extensions
    finally:
        server.stop()
