"""What permessage-deflate costs and saves on the party socket's frames, per frame sent.

    .venv/bin/python bench/deflate.py [--frames 20000]

Encodes a stream of ``chat.message`` frames (built by the app's own serializer and encoder, texts of
2-50 words, at most 300 characters, from a fixed seed) the way uvicorn sends them (websockets' sans-I/O
``ServerProtocol``, with uvicorn's deflate settings: 12 window bits, memLevel 5, context takeover),
once with the extension and once without, for one socket; prints CPU microseconds and bytes on the
wire per frame for each. Fan-out pays this once per socket per frame.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchparty.settings")

import django  # noqa: E402

django.setup()

from bson import ObjectId  # noqa: E402
from websockets.extensions.permessage_deflate import PerMessageDeflate  # noqa: E402
from websockets.server import ServerProtocol  # noqa: E402

WORDS = (
    "the a and to of is it in that you this was for on are with as i his they be at one have "
    "lol wait what omg did you see that scene music plot twist ending again pause play skip ok "
    "yes no maybe later haha great love hate best worst actor director sequel trailer"
).split()


def frames(count: int) -> list[bytes]:
    """``chat.message`` frames as the app sends them (its serializer and encoder)."""
    from chat.repository import Message
    from chat.services import message_payload
    from core.realtime.fanout import encode_frame

    rng = random.Random(21)
    start = datetime(2026, 12, 6, 21, 0, tzinfo=timezone.utc)
    out = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 50)))[:300]
        message = Message(
            id=str(ObjectId()), party_id="6750f2a1c3e4b5a6d7e8f901", user_id=str(1 + i % 50),
            user_name=f"viewer{i % 50}", message=text, message_type="text", source_language=None,
            translations={}, reactions={}, client_id=f"c{i}", timestamp=start + timedelta(seconds=i / 3),
        )  # fmt: skip
        out.append(encode_frame("chat.message", {"message": message_payload(message)}).encode())
    return out


def protocol(deflate: bool) -> ServerProtocol:
    proto = ServerProtocol()
    if deflate:
        # What uvicorn's ServerPerMessageDeflateFactory(server_max_window_bits=12,
        # client_max_window_bits=12, compress_settings={"memLevel": 5}) negotiates.
        proto.extensions = [PerMessageDeflate(False, False, 12, 12, {"memLevel": 5})]
    from websockets.protocol import OPEN

    proto.state = OPEN
    return proto


def measure(deflate: bool, payloads: list[bytes]) -> tuple[float, float]:
    proto = protocol(deflate)
    sent = 0
    start = time.process_time()
    for payload in payloads:
        proto.send_text(payload)
        sent += sum(len(chunk) for chunk in proto.data_to_send())
    seconds = time.process_time() - start
    return seconds / len(payloads) * 1e6, sent / len(payloads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    payloads = frames(args.frames)
    raw = sum(map(len, payloads)) / len(payloads)
    print(f"{args.frames} chat.message frames, {raw:.0f} bytes of JSON each on average")
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(args.rounds):
        for deflate in (False, True):
            results[deflate].append(measure(deflate, payloads))
    for deflate in (False, True):
        cpu = sorted(r[0] for r in results[deflate])
        wire = results[deflate][0][1]
        name = "permessage-deflate" if deflate else "no compression    "
        print(
            f"{name}: {cpu[len(cpu) // 2]:.2f} us CPU per frame (median of {args.rounds}), {wire:.0f} bytes on the wire"
        )
    off, on = sorted(r[0] for r in results[False]), sorted(r[0] for r in results[True])
    print(
        f"deflate costs {on[len(on) // 2] - off[len(off) // 2]:.2f} us more per frame per socket and saves "
        f"{(1 - results[True][0][1] / results[False][0][1]) * 100:.0f}% of the bytes"
    )


if __name__ == "__main__":
    main()
