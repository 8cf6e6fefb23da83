"""Timeline chat over the party WebSocket: chat.message and party.state carry each message's
moment, and message.seek takes the party to it (docs/PROTOCOL.md, "Timeline chat and replay")."""

import pytest
from asgiref.sync import sync_to_async

from core.timeutil import utcnow
from parties import repository as party_repository
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import drain, open_socket, receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(make_user):
    def make():
        host, guest, co_host = make_user(display_name="Host"), make_user(display_name="Guest"), make_user()
        party = party_services.party_create(
            user=host, data=PartySettings(content_id="/static/e2e/clip.webm", content_type="vod")
        )
        for person in (guest, co_host):
            party_services.party_join(room_code=party.room_code, user=person)
        party_services.co_host_set(party_id=party.id, user=host, target_id=str(co_host.pk), co_host=True)
        return {
            "party": party,
            "tokens": {"host": api_token(host), "guest": api_token(guest), "co_host": api_token(co_host)},
        }

    return make


async def joined(s, who):
    communicator, connected = await open_socket(s["party"].id, s["tokens"][who])
    assert connected
    return communicator, await receive_type(communicator, "party.state")


async def paused_at(party_id, seconds):
    """The party's video paused at ``seconds``, as the host's player would report it."""
    await sync_to_async(party_repository.set_playback)(party_id, state="paused", position=seconds, updated_at=utcnow())


async def test_chat_message_and_party_state_carry_the_moment(room):
    """A message sent while the video is paused at 12.5 s reaches every socket with that moment, and
    a socket opened later finds it in party.state."""
    s = await sync_to_async(room)()
    await paused_at(s["party"].id, 12.5)
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        await guest.send_json_to({"type": "chat.send", "message": "the twist!", "client_id": "t1"})
        for socket in (host, guest):
            frame = await receive_type(socket, "chat.message")
            assert frame["message"]["at"] == {"item_id": s["party"].current_item_id, "seconds": 12.5}
        late, state = await joined(s, "co_host")
        await late.disconnect()
        assert state["messages"][-1]["at"]["seconds"] == 12.5
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_a_co_hosts_seek_from_a_message_moves_everyone_and_a_guests_is_refused(room):
    """The guest's message.seek answers forbidden and moves nothing; the co-host's sends every socket
    playback.state at the message's moment, naming the message."""
    s = await sync_to_async(room)()
    await paused_at(s["party"].id, 30.0)
    guest, _ = await joined(s, "guest")
    co_host, _ = await joined(s, "co_host")
    try:
        await guest.send_json_to({"type": "chat.send", "message": "at thirty", "client_id": "m1"})
        message = (await receive_type(guest, "chat.message"))["message"]
        await paused_at(s["party"].id, 95.0)
        await drain(co_host)

        await guest.send_json_to({"type": "message.seek", "message_id": message["id"]})
        refused = await receive_type(guest, "error")
        assert refused["code"] == "forbidden"
        assert await co_host.receive_nothing(timeout=0.2)  # nobody's video moved
        party = await sync_to_async(party_repository.get_party)(s["party"].id)
        assert party.playback.position == 95.0

        await co_host.send_json_to({"type": "message.seek", "message_id": message["id"]})
        for socket in (guest, co_host):
            frame = await receive_type(socket, "playback.state")
            assert frame["position"] == 30.0 and frame["state"] == "paused"
            assert frame["message_id"] == message["id"]
    finally:
        await guest.disconnect()
        await co_host.disconnect()


@pytest.mark.parametrize(
    "frame,field",
    [
        ({"type": "message.seek"}, "message_id"),
        ({"type": "message.seek", "message_id": {"$ne": None}}, "message_id"),
        ({"type": "message.seek", "message_id": "12"}, "message_id"),
    ],
)
async def test_malformed_seek_frames_are_invalid(room, frame, field):
    """A message.seek without a well-formed message id is invalid, naming the field."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        await host.send_json_to(frame)
        error = await receive_type(host, "error")
        assert error["code"] == "invalid" and field in error["errors"]
    finally:
        await host.disconnect()


async def test_seeks_from_messages_share_the_playback_limit(room, settings):
    """message.seek counts against PLAYBACK_RATE_LIMIT with playback.update."""
    settings.PLAYBACK_RATE_LIMIT = (1, 60)
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        await host.send_json_to({"type": "playback.update", "state": "paused", "position": 1.0})
        await receive_type(host, "playback.state")
        await host.send_json_to({"type": "message.seek", "message_id": "65a1b2c3d4e5f60718293a4b"})
        assert (await receive_type(host, "error"))["code"] == "rate_limited"
    finally:
        await host.disconnect()
