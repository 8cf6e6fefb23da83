"""The in-room moderation frames and authors' edits over the party WebSocket (docs/PROTOCOL.md)."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chat import repository as chat_repository
from chat import services as chat_services
from core.realtime.fanout import channel_event, party_group
from parties import repository as party_repository
from parties import services as party_services
from parties.models import ModerationAction
from parties.services import PartySettings
from tests.chat.wsutil import close_code, open_socket, receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(make_user):
    """A party with a host and two guests, and their API tokens."""

    def make():
        host, guest, other = (
            make_user(display_name="Host"),
            make_user(display_name="Guest"),
            make_user(display_name="Other"),
        )
        party = party_services.party_create(user=host, data=PartySettings(content_id="film", content_type="vod"))
        for member in (guest, other):
            party_services.party_join(room_code=party.room_code, user=member)
        tokens = {name: api_token(u) for name, u in (("host", host), ("guest", guest), ("other", other))}
        return {"party": party, "host": host, "guest": guest, "other": other, "tokens": tokens}

    return make


async def joined(s, who):
    communicator, connected = await open_socket(s["party"].id, s["tokens"][who])
    assert connected
    state = await receive_type(communicator, "party.state")
    return communicator, state


async def say(s, who, text):
    result = await sync_to_async(chat_services.message_send)(
        party_id=s["party"].id, user=s[who], text=text, message_type="text", client_id=None
    )
    return result.message


async def test_host_removes_a_guest_whose_sockets_close_and_who_cannot_rejoin(room, api_client):
    """participant.remove: the party hears participant.left (removed), the guest's socket closes
    4403, a new socket is refused, and joining by code answers 403 `banned`."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        await host.send_json_to({"type": "participant.remove", "user_id": str(s["guest"].pk)})
        left = await receive_type(host, "participant.left")
        assert left["user_id"] == str(s["guest"].pk) and left["reason"] == "removed" and left["banned"] is True
        assert (await receive_type(guest, "participant.left"))["reason"] == "removed"
        assert await close_code(guest) == 4403
        again, _ = await open_socket(s["party"].id, s["tokens"]["guest"])
        assert await close_code(again) == 4403
        await again.disconnect()
        response = await sync_to_async(api_client(s["guest"]).post)(
            "/api/parties/join/", {"room_code": s["party"].room_code}, format="json"
        )
        assert response.status_code == 403 and response.json()["code"] == "banned"
        assert await sync_to_async(ModerationAction.objects.filter(action="remove_participant").count)() == 1
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_host_lifts_a_ban_over_the_socket_and_the_user_joins_again(room, api_client):
    """participant.unban answers the sender alone with party.bans (the bans left), and the room
    code admits the user again; GET /api/parties/{id}/bans/ lists bans for the host only."""
    s = await sync_to_async(room)()
    guest_id = str(s["guest"].pk)
    await sync_to_async(party_services.participant_remove)(party_id=s["party"].id, user=s["host"], target_id=guest_id)
    bans_url = f"/api/parties/{s['party'].id}/bans/"
    response = await sync_to_async(api_client(s["host"]).get)(bans_url)
    assert response.status_code == 200 and response.json() == {"banned": [{"user_id": guest_id, "user_name": "Guest"}]}
    response = await sync_to_async(api_client(s["other"]).get)(bans_url)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    host, _ = await joined(s, "host")
    other, _ = await joined(s, "other")
    try:
        await other.send_json_to({"type": "participant.unban", "user_id": guest_id})
        assert (await receive_type(other, "error"))["code"] == "forbidden"
        await host.send_json_to({"type": "participant.unban", "user_id": guest_id})
        assert await receive_type(host, "party.bans") == {"type": "party.bans", "banned": []}
        assert await other.receive_nothing(timeout=0.2)  # bans are never sent to the party
        await host.send_json_to({"type": "participant.unban", "user_id": guest_id})
        assert (await receive_type(host, "error"))["code"] == "not_found"
        response = await sync_to_async(api_client(s["guest"]).post)(
            "/api/parties/join/", {"room_code": s["party"].room_code}, format="json"
        )
        assert response.status_code == 200
    finally:
        await host.disconnect()
        await other.disconnect()


@pytest.mark.parametrize(
    "frame_type",
    [
        "participant.remove",
        "participant.mute",
        "participant.unmute",
        "co_host.add",
        "co_host.remove",
        "host.transfer",
        "participant.unban",
    ],
)
async def test_a_guest_sending_a_moderation_frame_is_refused(room, frame_type):
    """Every moderation frame from a plain guest gets `forbidden`; the party is unchanged."""
    s = await sync_to_async(room)()
    guest, _ = await joined(s, "guest")
    try:
        await guest.send_json_to({"type": frame_type, "user_id": str(s["other"].pk), "client_id": "m1"})
        error = await receive_type(guest, "error")
        assert error["code"] == "forbidden" and error["client_id"] == "m1"
        party = await sync_to_async(party_repository.get_party)(s["party"].id)
        assert party.host_id == str(s["host"].pk) and party.participant_count == 3
        assert party.co_host_ids == () and party.muted_ids == ()
    finally:
        await guest.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "participant.remove", "user_id": {"$ne": None}},
        {"type": "participant.mute", "user_id": 7},
        {"type": "participant.unban", "user_id": {"$in": ["1"]}},
        {"type": "co_host.add"},
        {"type": "message.delete", "message_id": {"$gt": ""}},
        {"type": "message.edit", "message_id": "65a1b2c3d4e5f60718293a4b", "message": "<script>x</script>"},
        {"type": "message.edit", "message_id": "65a1b2c3d4e5f60718293a4b", "message": "   "},
    ],
)
async def test_malformed_moderation_frames_are_invalid(room, frame):
    """Operators, numbers, missing ids and text chat.send would refuse are `invalid`."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    try:
        await host.send_json_to(frame)
        error = await receive_type(host, "error")
        assert error["code"] == "invalid", error
        assert (await sync_to_async(party_repository.get_party)(s["party"].id)).participant_count == 3
    finally:
        await host.disconnect()


async def test_mute_refuses_the_guests_chat_until_unmuted(room):
    """participant.mute: party.roles lists the guest muted, their chat.send gets `muted`; unmute lifts it."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    guest_id = str(s["guest"].pk)
    try:
        await host.send_json_to({"type": "participant.mute", "user_id": guest_id})
        roles = await receive_type(guest, "party.roles")
        assert roles["action"] == "muted" and roles["muted_ids"] == [guest_id] and roles["by"] == str(s["host"].pk)
        await guest.send_json_to({"type": "chat.send", "message": "let me talk", "client_id": "c1"})
        error = await receive_type(guest, "error")
        assert error["code"] == "muted" and error["client_id"] == "c1"
        await host.send_json_to({"type": "participant.unmute", "user_id": guest_id})
        assert (await receive_type(guest, "party.roles"))["muted_ids"] == []
        await guest.send_json_to({"type": "chat.send", "message": "thanks", "client_id": "c2"})
        assert (await receive_type(host, "chat.message"))["message"]["message"] == "thanks"
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_co_host_named_over_the_socket_can_then_moderate(room):
    """co_host.add: party.roles lists the co-host, party.state shows it, and they may mute a guest;
    co_host.remove takes that away."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    co, _ = await joined(s, "guest")
    co_id, other_id = str(s["guest"].pk), str(s["other"].pk)
    try:
        await host.send_json_to({"type": "co_host.add", "user_id": co_id})
        assert (await receive_type(co, "party.roles"))["co_host_ids"] == [co_id]
        late, state = await joined(s, "other")
        assert state["party"]["co_host_ids"] == [co_id] and state["party"]["muted_ids"] == []
        await late.disconnect()
        await co.send_json_to({"type": "participant.mute", "user_id": other_id})
        assert (await receive_type(co, "party.roles"))["muted_ids"] == [other_id]
        await co.send_json_to({"type": "participant.remove", "user_id": str(s["host"].pk)})
        assert (await receive_type(co, "error"))["code"] == "forbidden"
        await host.send_json_to({"type": "co_host.remove", "user_id": co_id})
        assert (await receive_type(co, "party.roles"))["co_host_ids"] == []
        await co.send_json_to({"type": "participant.unmute", "user_id": other_id})
        assert (await receive_type(co, "error"))["code"] == "forbidden"
    finally:
        await host.disconnect()
        await co.disconnect()


async def test_host_transfer_moves_playback_control(room):
    """host.transfer: party.roles names the new host, who now controls playback; the old host does not."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        await host.send_json_to({"type": "host.transfer", "user_id": str(s["guest"].pk)})
        roles = await receive_type(guest, "party.roles")
        assert roles["action"] == "host_transferred" and roles["host_id"] == str(s["guest"].pk)
        assert roles["host_name"] == "Guest"
        await host.send_json_to({"type": "playback.update", "state": "playing", "position": 3})
        assert (await receive_type(host, "error"))["code"] == "forbidden"
        await guest.send_json_to({"type": "playback.update", "state": "playing", "position": 3})
        assert (await receive_type(host, "playback.state"))["by"] == str(s["guest"].pk)
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_author_edits_and_the_other_sees_it(room):
    """message.edit: the other socket gets message.edited with the cleaned text; history shows edited_at."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        message = await say(s, "guest", "helo")
        await guest.send_json_to({"type": "message.edit", "message_id": message.id, "message": "  hello\u202e  "})
        edited = await receive_type(host, "message.edited")
        assert edited["message_id"] == message.id and edited["message"] == "hello"
        assert edited["edited_at"].endswith("Z")
        await host.send_json_to({"type": "history"})
        [stored] = (await receive_type(host, "history"))["messages"]
        assert stored["message"] == "hello" and stored["edited_at"] == edited["edited_at"]
        await host.send_json_to({"type": "message.edit", "message_id": message.id, "message": "hijack"})
        assert (await receive_type(host, "error"))["code"] == "forbidden"
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_message_delete_by_host_author_and_refused_guest(room):
    """message.delete: the host deletes a guest's message and an author their own (message.deleted
    to the party); a guest deleting another's message gets `forbidden`."""
    s = await sync_to_async(room)()
    host, _ = await joined(s, "host")
    guest, _ = await joined(s, "guest")
    try:
        rude, own, hosts = await say(s, "other", "rude"), await say(s, "guest", "typo"), await say(s, "host", "hi")
        await guest.send_json_to({"type": "message.delete", "message_id": hosts.id})
        assert (await receive_type(guest, "error"))["code"] == "forbidden"
        await host.send_json_to({"type": "message.delete", "message_id": rude.id})
        assert (await receive_type(guest, "message.deleted"))["message_id"] == rude.id
        assert (await receive_type(host, "message.deleted"))["message_id"] == rude.id
        await guest.send_json_to({"type": "message.delete", "message_id": own.id})
        assert (await receive_type(host, "message.deleted"))["message_id"] == own.id
        remaining = await sync_to_async(chat_repository.count_for_party)(s["party"].id)
        assert remaining == 1
    finally:
        await host.disconnect()
        await guest.disconnect()


async def send_and_hear(communicator, text, client_id):
    await communicator.send_json_to({"type": "chat.send", "message": text, "client_id": client_id})
    return await receive_type(communicator, "chat.message")


async def test_messages_in_a_row_read_the_party_once(room, settings, monkeypatch):
    """Five messages from one socket read the party once: while nothing changes it, the seat check reuses it."""
    settings.PARTY_SNAPSHOT_SECONDS = 60
    s = await sync_to_async(room)()
    guest, _ = await joined(s, "guest")
    reads = []
    real_get_party = party_repository.get_party
    monkeypatch.setattr(
        party_repository, "get_party", lambda party_id: reads.append(party_id) or real_get_party(party_id)
    )
    try:
        for i in range(5):
            await send_and_hear(guest, f"m{i}", f"c{i}")
        assert reads == [s["party"].id]
    finally:
        await guest.disconnect()


async def test_a_mute_made_in_this_process_refuses_the_very_next_message(room, settings, monkeypatch):
    """The process that stores a mute drops its copy of the party at once, before its broadcast
    comes back through the layer: the guest's next message is refused."""
    settings.PARTY_SNAPSHOT_SECONDS = 60
    s = await sync_to_async(room)()
    guest, _ = await joined(s, "guest")
    try:
        await send_and_hear(guest, "before", "c1")
        published = []

        async def still_on_its_way(group, message):
            published.append(message["type"])

        monkeypatch.setattr(get_channel_layer(), "group_send", still_on_its_way)
        await sync_to_async(party_services.participant_mute)(
            party_id=s["party"].id, user=s["host"], target_id=str(s["guest"].pk), muted=True
        )
        assert published == ["party.roles"]
        await guest.send_json_to({"type": "chat.send", "message": "after", "client_id": "c2"})
        error = await receive_type(guest, "error")
        assert error["code"] == "muted" and error["client_id"] == "c2"
    finally:
        await guest.disconnect()


async def test_a_mute_heard_from_another_process_refuses_the_next_message(room, settings):
    """A change stored by another process reaches this one as its broadcast: the next message is checked against it."""
    settings.PARTY_SNAPSHOT_SECONDS = 60
    s = await sync_to_async(room)()
    guest, _ = await joined(s, "guest")
    guest_id = str(s["guest"].pk)
    try:
        await send_and_hear(guest, "before", "c1")
        # As another server process would: store, then broadcast through the channel layer only.
        await sync_to_async(party_repository.set_muted)(
            s["party"].id, actor_id=str(s["host"].pk), target_id=guest_id, muted=True
        )
        await get_channel_layer().group_send(
            party_group(s["party"].id), channel_event("party.roles", {"action": "muted", "muted_ids": [guest_id]})
        )
        await receive_type(guest, "party.roles")
        await guest.send_json_to({"type": "chat.send", "message": "after", "client_id": "c2"})
        assert (await receive_type(guest, "error"))["code"] == "muted"
    finally:
        await guest.disconnect()


async def test_a_change_never_broadcast_is_seen_once_the_snapshot_is_old(room, settings):
    """Even a change whose broadcast was lost applies to messages sent PARTY_SNAPSHOT_SECONDS later."""
    settings.PARTY_SNAPSHOT_SECONDS = 0.2
    s = await sync_to_async(room)()
    guest, _ = await joined(s, "guest")
    try:
        await send_and_hear(guest, "before", "c1")
        await sync_to_async(party_repository.set_muted)(
            s["party"].id, actor_id=str(s["host"].pk), target_id=str(s["guest"].pk), muted=True
        )
        await asyncio.sleep(0.3)
        await guest.send_json_to({"type": "chat.send", "message": "after", "client_id": "c2"})
        assert (await receive_type(guest, "error"))["code"] == "muted"
    finally:
        await guest.disconnect()


async def test_sends_refused_while_muted_do_not_use_up_the_limit(room):
    """A muted guest's refused messages count against no limit: unmuted, they may send the full five at once."""
    s = await sync_to_async(room)()
    guest, _ = await joined(s, "guest")
    mute = sync_to_async(party_services.participant_mute)
    try:
        await mute(party_id=s["party"].id, user=s["host"], target_id=str(s["guest"].pk), muted=True)
        for i in range(6):
            await guest.send_json_to({"type": "chat.send", "message": "let me talk", "client_id": f"m{i}"})
            assert (await receive_type(guest, "error"))["code"] == "muted"
        await mute(party_id=s["party"].id, user=s["host"], target_id=str(s["guest"].pk), muted=False)
        for i in range(5):
            await send_and_hear(guest, f"now {i}", f"u{i}")
    finally:
        await guest.disconnect()
