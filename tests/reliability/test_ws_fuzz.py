"""A property-based fuzzer for the party WebSocket (in-process, through the real ASGI application):
arbitrary JSON frames, frames of every known type with random fields, and non-JSON text or bytes."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import services as chat_services
from core import ratelimit
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import open_socket, receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = int(os.environ.get("WS_FUZZ_MAX_EXAMPLES", "120"))
MAX_FRAME_BYTES = 16 * 1024
ID = "<message id>"  # replaced by a real message id of the party before sending

# Not participant.remove nor host.transfer: a fuzzed user id that happens to be the guest's would
# change who may open the later examples' sockets (tests/chat/test_moderation_frames.py covers them).
FRAME_TYPES = [
    "chat.send",
    "reaction.add",
    "reaction.remove",
    "playback.update",
    "typing",
    "history",
    "resume",
    "ping",
    "message.edit",
    "message.delete",
    "participant.mute",
    "participant.unmute",
    "co_host.add",
    "co_host.remove",
]
SERVER_FRAME_TYPES = {
    "party.state",
    "chat.message",
    "reaction.update",
    "playback.state",
    "typing",
    "history",
    "pong",
    "error",
    "participant.joined",
    "participant.left",
    "message.deleted",
    "message.translated",
    "party.ended",
    "message.edited",
    "party.roles",
}
ERROR_CODES = {
    "invalid",
    "forbidden",
    "not_found",
    "rate_limited",
    "chat_disabled",
    "muted",
}  # "unavailable": a server fault

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
plausible = st.one_of(
    st.sampled_from(
        [
            ID,
            "text",
            "emoji",
            "system",
            "playing",
            "paused",
            "👍",
            "🎉",
            "en",
            "pt-BR",
            "zz-ZZZZ",
            "",
            "65a1b2c3d4e5f60718293a4b",
            "0" * 24,
            "A" * 24,
            {"$ne": None},
            {"$gt": ""},
            [ID],
            0,
            -1,
            1,
            50,
            100,
            101,
            1e308,
            604800,
            604801,
            0.5,
            "<script>alert(1)</script>",
            "a < b",
            "\u202eevil",
            "x" * 600,
            "\x00",
        ]
    ),
    json_values,
)
FIELDS = [
    "message",
    "message_type",
    "client_id",
    "message_id",
    "emoji",
    "state",
    "position",
    "before",
    "limit",
    "lang",
    "after",
    "type",
    "party_id",
    "user_id",
]
typed_frames = st.builds(
    lambda frame_type, fields: {**fields, "type": frame_type},
    st.sampled_from(FRAME_TYPES),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), plausible, max_size=5),
)
odd_types = st.builds(
    lambda t, rest: {**rest, "type": t}, json_values, st.dictionaries(st.text(max_size=8), json_values, max_size=3)
)
frames = st.one_of(
    typed_frames.map(lambda f: ("json", f)),
    odd_types.map(lambda f: ("json", f)),
    json_values.map(lambda v: ("json", v)),
    st.text(max_size=60).map(lambda t: ("text", t)),
    st.binary(max_size=60).map(lambda b: ("bytes", b)),
    st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=MAX_FRAME_BYTES + 4096).map(lambda n: ("text", "x" * n)),
)


def _with_ids(value, message_id: str):
    if value == ID:
        return message_id
    if isinstance(value, list):
        return [_with_ids(v, message_id) for v in value]
    if isinstance(value, dict):
        return {k: _with_ids(v, message_id) for k, v in value.items()}
    return value


def _encode(kind: str, value, message_id: str) -> dict:
    """The ASGI message a server hands the app for this frame (empty frames included)."""
    if kind == "bytes":
        return {"type": "websocket.receive", "bytes": value}
    if kind == "text":
        return {"type": "websocket.receive", "text": value}
    # NaN and Infinity included, as Python writes them
    return {"type": "websocket.receive", "text": json.dumps(_with_ids(value, message_id))}


@pytest.fixture
def fuzz_party(make_user):
    host, guest = make_user(display_name="Host"), make_user(display_name="Guest")
    party = party_services.party_create(user=host, data=PartySettings(content_id="film", content_type="vod"))
    party_services.party_join(room_code=party.room_code, user=guest)
    message = chat_services.system_message_send(party_id=party.id, text="welcome")
    return party, message.id, [api_token(host), api_token(guest)]


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(frames, min_size=1, max_size=6), as_host=st.booleans())
async def test_arbitrary_frames_never_break_the_socket(fuzz_party, batch, as_host):
    """Whatever a client sends, replies are documented JSON frames and the socket stays open (1009 over 16 KiB)."""
    party, message_id, tokens = fuzz_party
    # Every example is a fresh client: the same two users' earlier examples must not use up the
    # frame limits (the sentinel ping must be answered with a pong).
    ratelimit.get_limiter().reset()
    communicator, connected = await open_socket(party.id, tokens[0 if as_host else 1])
    assert connected
    try:
        await receive_type(communicator, "party.state")
        encoded = [_encode(kind, value, message_id) for kind, value in batch]
        sizes = [len(e.get("text", "").encode("utf-8", "surrogatepass")) for e in encoded]
        oversize_at = next((i for i, size in enumerate(sizes) if size > MAX_FRAME_BYTES), None)
        for e in encoded:
            await communicator.send_input(e)
        await communicator.send_json_to({"type": "ping", "sentinel": True})
        pongs_expected = 1 + sum(
            1 for e in encoded[: oversize_at if oversize_at is not None else len(encoded)] if _is_ping(e.get("text"))
        )
        outputs, pongs, closed_with = [], 0, None
        while pongs < pongs_expected and closed_with is None:
            output = await communicator.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                closed_with = output.get("code", 1000)
                break
            outputs.append(output)
            text = output.get("text")
            if text is not None and json.loads(text).get("type") == "pong":
                pongs += 1
        while not await communicator.receive_nothing(timeout=0.02):
            output = await communicator.receive_output(timeout=1)
            if output["type"] == "websocket.close":
                closed_with = output.get("code", 1000)
                break
            outputs.append(output)

        if oversize_at is None:
            assert closed_with is None, f"closed with {closed_with} for {batch!r}"
        else:
            assert closed_with == 1009, f"closed with {closed_with} after an oversize frame"
        for output in outputs:
            assert output["type"] == "websocket.send" and "bytes" not in output, output
            text = output["text"]
            text.encode("utf-8")  # a real server must be able to put it on the wire
            frame = json.loads(text)
            assert isinstance(frame, dict) and frame.get("type") in SERVER_FRAME_TYPES, frame
            if frame["type"] == "error":
                assert frame["code"] in ERROR_CODES, (frame, batch)
                assert isinstance(frame.get("detail"), str)
                if "retry_after" in frame:
                    assert isinstance(frame["retry_after"], int) and frame["retry_after"] >= 1
    finally:
        await communicator.disconnect()


def _is_ping(text: str | None) -> bool:
    try:
        frame = json.loads(text)
    except (TypeError, ValueError):
        return False
    return isinstance(frame, dict) and frame.get("type") == "ping"
