"""Baseline floor: a raw ``websockets`` broadcast server. Rooms live in memory; every text frame a
socket sends becomes a ``chat.message`` frame broadcast to its room (the sender included). No Django,
no channel layer, no storage, no validation, no auth.

    python bench/baseline_websockets.py --port 8790
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal

from websockets.asyncio.server import broadcast, serve

PATH_RE = re.compile(r"^/ws/parties/([0-9a-f]{24})/$")
rooms: dict[str, set] = {}


async def handler(websocket):
    match = PATH_RE.match(websocket.request.path)
    if not match:
        await websocket.close(code=4404)
        return
    room = rooms.setdefault(match.group(1), set())
    room.add(websocket)
    try:
        async for text in websocket:
            data = json.loads(text)
            frame = json.dumps(
                {
                    "type": "chat.message",
                    "message": {"message": data.get("message"), "client_id": data.get("client_id")},
                }
            )
            broadcast(room, frame)
    finally:
        room.discard(websocket)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, host, port, max_size=2**20, ping_interval=20):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
