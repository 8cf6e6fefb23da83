import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async

from chat import repository as chat_repository
from chat import services as chat_services
from chat.translation import Translator
from core.realtime.fanout import abroadcast
from core.timeutil import utcnow
from parties import repository as party_repository
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import close_code, drain, open_socket, receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)


class GatedTranslator(Translator):
    """Translates only when the test opens the gate, to show the original never waits."""

    gate = threading.Event()

    def detect(self, text):
        return "en"

    def translate(self, text, *, source, targets):
        self.gate.wait(5)
        return {lang: f"[{lang}] {text}" for lang in targets}


@pytest.fixture
def party_setup(make_user):
    """A party with a host and a guest, and their API tokens."""

    def make(**overrides):
        host = make_user(display_name="Host")
        guest = make_user(display_name="Guest")
        party = party_services.party_create(
            user=host, data=PartySettings(content_id="film", content_type="vod", **overrides)
        )
        party_services.party_join(room_code=party.room_code, user=guest)
        return {
            "party": party,
            "host": host,
            "guest": guest,
            "host_token": api_token(host),
            "guest_token": api_token(guest),
        }

    return make


async def joined(party_id, token):
    """An open socket past its party.state frame."""
    communicator, connected = await open_socket(party_id, token)
    assert connected
    state = await receive_type(communicator, "party.state")
    return communicator, state


async def test_connect_sends_party_state_with_last_50_messages(party_setup):
    """On connect the client gets the party and its last 50 messages, oldest first."""
    s = await sync_to_async(party_setup)()
    for i in range(55):
        await sync_to_async(chat_services.system_message_send)(party_id=s["party"].id, text=f"m{i}")
    communicator, state = await joined(s["party"].id, s["guest_token"])
    try:
        assert state["party"]["id"] == s["party"].id and state["party"]["participant_count"] == 2
        assert [m["message"] for m in state["messages"]] == [f"m{i}" for i in range(5, 55)]
    finally:
        await communicator.disconnect()


async def test_party_state_carries_the_newest_messages_that_fit_its_byte_budget(party_setup, settings):
    """party.state holds the newest messages within PARTY_STATE_MESSAGES_MAX_BYTES; history from its
    next_before brings the older ones, none missing."""
    settings.PARTY_STATE_MESSAGES_MAX_BYTES = 3000
    s = await sync_to_async(party_setup)()
    for i in range(20):
        await sync_to_async(chat_services.system_message_send)(party_id=s["party"].id, text=f"b{i:02d} " + "é" * 100)
    communicator, state = await joined(s["party"].id, s["guest_token"])
    try:
        kept = [m["message"][:3] for m in state["messages"]]
        assert 1 <= len(kept) < 20 and kept == [f"b{i:02d}" for i in range(20 - len(kept), 20)]
        assert len(json.dumps(state["messages"])) <= 3000
        assert state["next_before"] == state["messages"][0]["id"]
        await communicator.send_json_to({"type": "history", "before": state["next_before"], "limit": 50})
        older = await receive_type(communicator, "history")
        assert [m["message"][:3] for m in older["messages"]] == [f"b{i:02d}" for i in range(20 - len(kept))]
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("token", [None, "not-a-real-token"])
async def test_unauthenticated_is_closed_4401(party_setup, token):
    """Without a valid token (or session) the socket closes with 4401."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await open_socket(s["party"].id, token)
    assert await close_code(communicator) == 4401
    await communicator.disconnect()


async def test_outsider_is_closed_4403(party_setup, make_user):
    """A user without a seat is closed with 4403."""
    s = await sync_to_async(party_setup)()
    outsider = await sync_to_async(make_user)()
    token = await sync_to_async(api_token)(outsider)
    communicator, _ = await open_socket(s["party"].id, token)
    assert await close_code(communicator) == 4403
    await communicator.disconnect()


@pytest.mark.parametrize("party_id", ["65a1b2c3d4e5f60718293a4b", "not-an-id", "%24ne"])
async def test_missing_party_is_closed_4404(party_setup, party_id):
    """A party that does not exist (or a malformed id) closes with 4404."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await open_socket(party_id, s["host_token"])
    assert await close_code(communicator) == 4404
    await communicator.disconnect()


async def test_ended_party_is_closed_4404(party_setup):
    """An ended party closes new sockets with 4404."""
    s = await sync_to_async(party_setup)()
    await sync_to_async(party_services.party_end)(party_id=s["party"].id, user=s["host"])
    communicator, _ = await open_socket(s["party"].id, s["host_token"])
    assert await close_code(communicator) == 4404
    await communicator.disconnect()


@pytest.mark.parametrize("origin", ["http://evil.example", None])
async def test_foreign_or_missing_origin_is_rejected(party_setup, origin):
    """A handshake from a foreign Origin, or with none, is refused before it is accepted."""
    s = await sync_to_async(party_setup)()
    communicator, connected = await open_socket(s["party"].id, s["host_token"], origin=origin)
    assert not connected
    await communicator.disconnect()


@pytest.mark.parametrize(
    "host,origin,accepted",
    [
        ("localhost:8000", "http://localhost:8000", True),
        ("localhost:8000", "http://localhost:9999", False),  # another port
        ("localhost:8000", "http://localhost", False),
        ("localhost:8000", "https://localhost:8000", False),  # another scheme
        ("localhost:8000", "http://127.0.0.1:8000", False),  # another allowed host, but not this site
        ("evil.example", "http://evil.example", False),  # a Host outside ALLOWED_HOSTS
        ("testserver", "https://app.example.com", True),  # CSRF_TRUSTED_ORIGINS, by wildcard
        ("testserver", "http://app.example.com", False),
        ("testserver", "https://app.example.com:8443", False),
        ("testserver", "https://partner.example", True),  # CSRF_TRUSTED_ORIGINS, exactly
    ],
)
async def test_origin_must_match_scheme_host_and_port(party_setup, settings, host, origin, accepted):
    """The Origin must be the site's own (scheme, host and port of the handshake) or a CSRF trusted origin."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com", "https://partner.example"]
    s = await sync_to_async(party_setup)()
    communicator, connected = await open_socket(s["party"].id, s["host_token"], origin=origin, host=host)
    try:
        assert connected is accepted
        if accepted:
            await receive_type(communicator, "party.state")
    finally:
        await communicator.disconnect()


async def test_a_process_at_its_socket_cap_closes_the_next_socket_1013(party_setup, settings):
    """With WEBSOCKET_MAX_SOCKETS_PER_PROCESS sockets open the next one closes 1013; once one closes, a new one opens."""
    s = await sync_to_async(party_setup)()
    settings.WEBSOCKET_MAX_SOCKETS_PER_PROCESS = 1
    first, _ = await joined(s["party"].id, s["host_token"])
    try:
        refused, _ = await open_socket(s["party"].id, s["guest_token"])
        assert await close_code(refused) == 1013
        await refused.disconnect()
    finally:
        await first.disconnect()
    again, _ = await joined(s["party"].id, s["guest_token"])
    await again.disconnect()


async def test_chat_send_reaches_every_socket_including_sender(party_setup):
    """A message is stored, then delivered to every socket of the party, sender included."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await guest.send_json_to({"type": "chat.send", "message": "שלום 👋", "message_type": "text", "client_id": "a1"})
        for communicator in (host, guest):
            frame = await receive_type(communicator, "chat.message")
            assert frame["message"]["message"] == "שלום 👋"
            assert frame["message"]["client_id"] == "a1" and frame["message"]["user_id"] == str(s["guest"].pk)
        stored = await sync_to_async(chat_repository.count_for_party)(s["party"].id)
        assert stored == 1
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_repeated_client_id_stores_once_and_returns_same_id(party_setup):
    """Sending the same client_id twice stores one message and answers with the same id."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        frame = {"type": "chat.send", "message": "hi", "message_type": "text", "client_id": "same"}
        await communicator.send_json_to(frame)
        first = await receive_type(communicator, "chat.message")
        await communicator.send_json_to(frame)
        second = await receive_type(communicator, "chat.message")
        assert first["message"]["id"] == second["message"]["id"]
        assert await sync_to_async(chat_repository.count_for_party)(s["party"].id) == 1
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    "frame,field",
    [
        ({"type": "chat.send", "message": "", "client_id": "x"}, "message"),
        ({"type": "chat.send", "message": "x" * 501, "client_id": "x"}, "message"),
        ({"type": "chat.send", "message": "hi", "message_type": "system", "client_id": "x"}, "message_type"),
        ({"type": "chat.send", "message": "<script>alert(1)</script>", "client_id": "x"}, "message"),
        ({"type": "chat.send", "message": {"$ne": None}, "client_id": "x"}, "message"),
        ({"type": "chat.send", "message": "hi", "client_id": "x" * 65}, "client_id"),
        ({"type": "reaction.add", "message_id": "nope", "emoji": "👍"}, "message_id"),
        ({"type": "reaction.add", "message_id": "65a1b2c3d4e5f60718293a4b", "emoji": "a"}, "emoji"),
        ({"type": "playback.update", "state": "rewinding", "position": 1}, "state"),
        ({"type": "playback.update", "state": "playing", "position": "12"}, "position"),
        ({"type": "playback.update", "state": "playing", "position": 1, "rate": 4}, "rate"),
        ({"type": "playback.update", "state": "playing", "position": 1, "rate": 0}, "rate"),
        ({"type": "playback.update", "state": "playing", "position": 1, "rate": "1.5"}, "rate"),
        ({"type": "history", "before": {"$gt": ""}}, "before"),
        ({"type": "history", "limit": 1000}, "limit"),
        ({"type": "resume"}, "after"),
        ({"type": "launch.missiles"}, "type"),
        ({"message": "no type"}, "type"),
    ],
)
async def test_bad_frames_get_invalid_and_socket_stays_open(party_setup, frame, field):
    """A bad frame gets an `invalid` error naming the field; the socket stays open."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_json_to(frame)
        error = await receive_type(communicator, "error")
        assert error["code"] == "invalid" and field in error["errors"], error
        if frame.get("client_id") == "x":
            assert error["client_id"] == "x"
        await communicator.send_json_to({"type": "ping"})
        assert (await receive_type(communicator, "pong"))["type"] == "pong"
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "42", '"text"'])
async def test_non_object_frames_get_invalid(party_setup, raw):
    """Text that is not a JSON object is answered with `invalid`."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_to(text_data=raw)
        assert (await receive_type(communicator, "error"))["code"] == "invalid"
        await communicator.send_to(bytes_data=b"\x00\x01")
        assert (await receive_type(communicator, "error"))["code"] == "invalid"
    finally:
        await communicator.disconnect()


async def test_frame_over_16_kib_closes_1009(party_setup):
    """A frame over 16 KiB closes the socket with 1009."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    await communicator.send_to(text_data=json.dumps({"type": "chat.send", "message": "x" * 17000}))
    assert await close_code(communicator) == 1009
    await communicator.disconnect()


async def test_chat_send_rate_limited(party_setup, settings):
    """The sixth message within 5 seconds is refused with rate_limited and retry_after."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        for i in range(5):
            await communicator.send_json_to({"type": "chat.send", "message": f"m{i}", "client_id": f"r{i}"})
            await receive_type(communicator, "chat.message")
        await communicator.send_json_to({"type": "chat.send", "message": "one too many", "client_id": "r5"})
        error = await receive_type(communicator, "error")
        assert error["code"] == "rate_limited" and 1 <= error["retry_after"] <= 5 and error["client_id"] == "r5"
    finally:
        await communicator.disconnect()


async def test_a_resend_past_the_limit_gets_the_stored_message(party_setup):
    """Resending an already stored message after the limit is reached returns that message, not an error."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        sent = []
        for i in range(5):
            await communicator.send_json_to({"type": "chat.send", "message": f"m{i}", "client_id": f"r{i}"})
            sent.append((await receive_type(communicator, "chat.message"))["message"])
        await communicator.send_json_to({"type": "chat.send", "message": "m0", "client_id": "r0"})
        again = (await receive_type(communicator, "chat.message"))["message"]
        assert again["id"] == sent[0]["id"] and again["client_id"] == "r0"
        assert await sync_to_async(chat_repository.count_for_party)(s["party"].id) == 5
    finally:
        await communicator.disconnect()


async def test_chat_disabled(party_setup):
    """In a party with chat off, chat.send gets chat_disabled."""
    s = await sync_to_async(party_setup)(chat_enabled=False)
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_json_to({"type": "chat.send", "message": "hello?", "client_id": "z"})
        assert (await receive_type(communicator, "error"))["code"] == "chat_disabled"
    finally:
        await communicator.disconnect()


async def test_reactions_are_broadcast(party_setup):
    """reaction.add and reaction.remove send reaction.update to the whole party."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await host.send_json_to({"type": "chat.send", "message": "react to me", "client_id": "m"})
        message_id = (await receive_type(host, "chat.message"))["message"]["id"]
        await guest.send_json_to({"type": "reaction.add", "message_id": message_id, "emoji": "🎉"})
        for communicator in (host, guest):
            update = await receive_type(communicator, "reaction.update")
            assert update == {
                "type": "reaction.update",
                "message_id": message_id,
                "reactions": {"🎉": [str(s["guest"].pk)]},
            }
        await guest.send_json_to({"type": "reaction.remove", "message_id": message_id, "emoji": "🎉"})
        assert (await receive_type(host, "reaction.update"))["reactions"] == {}
        await guest.send_json_to({"type": "reaction.add", "message_id": "65a1b2c3d4e5f60718293a4b", "emoji": "🎉"})
        assert (await receive_type(guest, "error"))["code"] == "not_found"
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_playback_is_host_only(party_setup):
    """The host's playback.update reaches everyone; a guest's is forbidden."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await host.send_json_to({"type": "playback.update", "state": "playing", "position": 42.5})
        state = await receive_type(guest, "playback.state")
        assert state["state"] == "playing" and state["position"] == 42.5 and state["by"] == str(s["host"].pk)
        assert state["updated_at"].endswith("Z") and state["rate"] == 1  # no rate: normal speed
        await guest.send_json_to({"type": "playback.update", "state": "paused", "position": 1})
        assert (await receive_type(guest, "error"))["code"] == "forbidden"
        party = await sync_to_async(party_repository.get_party)(s["party"].id)
        assert party.playback.state == "playing" and party.playback.position == 42.5
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_playback_rate_reaches_everyone_and_new_sockets(party_setup):
    """The host's speed (rate) goes out in playback.state and is in the party a new socket gets."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await host.send_json_to({"type": "playback.update", "state": "playing", "position": 10, "rate": 1.5})
        state = await receive_type(guest, "playback.state")
        assert (state["state"], state["position"], state["rate"]) == ("playing", 10, 1.5)
        await guest.disconnect()
        guest, first = await joined(s["party"].id, s["guest_token"])
        assert first["party"]["playback"]["rate"] == 1.5
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_typing_goes_to_others_only_and_is_rate_limited(party_setup):
    """typing reaches the other sockets, not the sender; a second within a second is rate limited."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await drain(host)
        await guest.send_json_to({"type": "typing"})
        frame = await receive_type(host, "typing")
        assert frame == {"type": "typing", "user_id": str(s["guest"].pk), "user_name": "Guest"}
        await guest.send_json_to({"type": "typing"})
        assert (await receive_type(guest, "error"))["code"] == "rate_limited"
        assert all(f["type"] != "typing" for f in await drain(guest))
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_history_pages_by_cursor(party_setup):
    """history returns the page just older than `before`, oldest first, with next_before."""
    s = await sync_to_async(party_setup)()
    for i in range(12):
        await sync_to_async(chat_services.system_message_send)(party_id=s["party"].id, text=f"h{i}")
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_json_to({"type": "history", "limit": 5})
        newest = await receive_type(communicator, "history")
        assert [m["message"] for m in newest["messages"]] == [f"h{i}" for i in range(7, 12)]
        await communicator.send_json_to({"type": "history", "before": newest["next_before"], "limit": 5})
        older = await receive_type(communicator, "history")
        assert [m["message"] for m in older["messages"]] == [f"h{i}" for i in range(2, 7)]
        await communicator.send_json_to({"type": "history", "before": "65a1b2c3d4e5f60718293a4b"})
        assert (await receive_type(communicator, "error"))["code"] == "not_found"
    finally:
        await communicator.disconnect()


async def test_resume_returns_exactly_the_missed_messages(party_setup):
    """A socket that disconnects, misses 5 messages and resumes gets exactly those 5, in order."""
    s = await sync_to_async(party_setup)()
    guest, _ = await joined(s["party"].id, s["guest_token"])
    await guest.send_json_to({"type": "chat.send", "message": "last seen", "client_id": "seen"})
    last_seen = (await receive_type(guest, "chat.message"))["message"]["id"]
    await guest.disconnect()
    missed = []
    for i in range(5):
        result = await sync_to_async(chat_services.message_send)(
            party_id=s["party"].id, user=s["host"], text=f"missed {i}", message_type="text", client_id=f"x{i}"
        )
        missed.append(result.message.id)
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await guest.send_json_to({"type": "resume", "after": last_seen})
        history = await receive_type(guest, "history")
        assert [m["id"] for m in history["messages"]] == missed
    finally:
        await guest.disconnect()


async def test_http_message_and_join_reach_sockets(party_setup, make_user, api_client):
    """A message sent over HTTP and a join over HTTP reach the party's sockets."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    try:
        client = api_client(s["guest"])
        response = await sync_to_async(client.post)(
            f"/api/parties/{s['party'].id}/messages/", {"message": "from http", "client_id": "h1"}, format="json"
        )
        assert response.status_code == 201
        assert (await receive_type(host, "chat.message"))["message"]["message"] == "from http"
        newcomer = await sync_to_async(make_user)(display_name="Newcomer")
        await sync_to_async(api_client(newcomer).post)(
            "/api/parties/join/", {"room_code": s["party"].room_code}, format="json"
        )
        joined_frame = await receive_type(host, "participant.joined")
        assert joined_frame["user_name"] == "Newcomer" and joined_frame["participant_count"] == 3
    finally:
        await host.disconnect()


async def test_party_ended_closes_every_socket_4000(party_setup):
    """When the host ends the party every socket gets party.ended, then closes with 4000."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    await sync_to_async(party_services.party_end)(party_id=s["party"].id, user=s["host"])
    for communicator in (host, guest):
        assert (await receive_type(communicator, "party.ended"))["party_id"] == s["party"].id
        assert await close_code(communicator) == 4000
        await communicator.disconnect()


async def test_leaving_over_http_closes_that_users_sockets(party_setup):
    """A user who leaves over HTTP is announced to the party, and their own sockets close (4403)."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    await sync_to_async(party_services.party_leave)(party_id=s["party"].id, user=s["guest"])
    left = await receive_type(host, "participant.left")
    assert left["user_id"] == str(s["guest"].pk) and left["participant_count"] == 1
    assert await close_code(guest) == 4403
    await guest.disconnect()
    await host.disconnect()


async def test_every_frame_is_authorized(party_setup):
    """A user whose seat is gone can do nothing more on a socket that is still open."""
    s = await sync_to_async(party_setup)()
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        # Remove the seat without any broadcast, so only the per-frame check can stop the user.
        await sync_to_async(party_repository.remove_participant)(s["party"].id, str(s["guest"].pk), utcnow())
        for frame in [
            {"type": "chat.send", "message": "still here?", "client_id": "q"},
            {"type": "typing"},
            {"type": "history"},
            {"type": "reaction.add", "message_id": "65a1b2c3d4e5f60718293a4b", "emoji": "👍"},
        ]:
            await guest.send_json_to(frame)
            assert (await receive_type(guest, "error"))["code"] == "not_found", frame
        assert await sync_to_async(chat_repository.count_for_party)(s["party"].id) == 0
    finally:
        await guest.disconnect()


async def test_moderation_delete_is_broadcast(party_setup):
    """A moderator's delete reaches the party as message.deleted."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    try:
        result = await sync_to_async(chat_services.message_send)(
            party_id=s["party"].id, user=s["guest"], text="oops", message_type="text", client_id="d"
        )
        await sync_to_async(chat_services.message_delete_by_moderator)(
            party_id=s["party"].id, message_id=result.message.id, moderator=s["host"]
        )
        assert (await receive_type(host, "message.deleted"))["message_id"] == result.message.id
    finally:
        await host.disconnect()


async def test_presence_on_connect_and_disconnect(party_setup):
    """Other sockets hear participant.joined when a user connects and participant.left when they go."""
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    try:
        guest, _ = await joined(s["party"].id, s["guest_token"])
        frame = await receive_type(host, "participant.joined")
        assert frame["user_id"] == str(s["guest"].pk) and frame["reason"] == "connected"
        await guest.disconnect()
        frame = await receive_type(host, "participant.left")
        assert frame["user_id"] == str(s["guest"].pk) and frame["reason"] == "disconnected"
    finally:
        await host.disconnect()


async def test_translations_arrive_after_the_original(party_setup, settings):
    """The original is delivered at once; its translations follow as message.translated."""
    settings.CHAT_TRANSLATOR = "tests.chat.test_consumers.GatedTranslator"
    settings.CHAT_TRANSLATION_LANGUAGES = ["he", "fr"]
    GatedTranslator.gate.clear()
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_json_to({"type": "chat.send", "message": "hello", "client_id": "t"})
        message = (await receive_type(communicator, "chat.message"))["message"]  # translator still blocked
        assert message["translations"] == {}
        GatedTranslator.gate.set()
        update = await receive_type(communicator, "message.translated", timeout=2)
        assert update == {
            "type": "message.translated",
            "message_id": message["id"],
            "source_language": "en",
            "translations": {"he": "[he] hello", "fr": "[fr] hello"},
        }
        await communicator.send_json_to({"type": "history", "lang": "fr"})
        history = await receive_type(communicator, "history")
        assert history["messages"][-1]["translations"] == {"fr": "[fr] hello"}
    finally:
        GatedTranslator.gate.set()
        await communicator.disconnect()


async def test_delivery_does_not_wait_for_the_busy_sync_thread(party_setup):
    """A broadcast reaches a socket while the shared sync thread (which runs every chat.send) is busy."""
    s = await sync_to_async(party_setup)()
    guest, _ = await joined(s["party"].id, s["guest_token"])
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)(10))
    try:
        await abroadcast(s["party"].id, "chat.message", {"message": {"message": "while busy"}})
        frame = await receive_type(guest, "chat.message", timeout=2)
        assert frame["message"]["message"] == "while busy"
        assert not busy.done()
    finally:
        release.set()
        await busy
        await guest.disconnect()


def sockets_open() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("watchparty_websockets_open") or 0


@pytest.mark.parametrize("raw", ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000])
async def test_deeply_nested_frame_gets_invalid_and_socket_stays_open(party_setup, raw):
    """A frame nested too deeply to decode is answered `invalid` (field `frame`); the socket stays open."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_to(text_data=raw)
        error = await receive_type(communicator, "error")
        assert error["code"] == "invalid" and "frame" in error["errors"], error
        await communicator.send_json_to({"type": "ping"})
        assert (await receive_type(communicator, "pong"))["type"] == "pong"
    finally:
        await communicator.disconnect()


async def test_a_fault_that_ends_the_consumer_still_runs_disconnect(party_setup, monkeypatch):
    """Even an unforeseen exception that ends a socket releases it: the gauge drops back and the party hears participant.left."""
    from chat.consumers import PartyConsumer

    s = await sync_to_async(party_setup)()
    before = sockets_open()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        assert sockets_open() == before + 2

        async def broken(self, message):
            raise RuntimeError("a bug in frame handling")

        monkeypatch.setattr(PartyConsumer, "websocket_receive", broken)
        await guest.send_json_to({"type": "ping"})
        with pytest.raises(RuntimeError):
            await guest.receive_output(timeout=3)
        left = await receive_type(host, "participant.left")
        assert left["user_id"] == str(s["guest"].pk) and left["reason"] == "disconnected"
        assert sockets_open() == before + 1
    finally:
        await host.disconnect()
    assert sockets_open() == before


@pytest.mark.parametrize("refusal", ["unauthenticated", "outsider", "no party"])
async def test_frames_after_a_refused_handshake_are_dropped(party_setup, make_user, refusal):
    """Frames sent right after the server refused the socket get no answer at all: only the close code."""
    s = await sync_to_async(party_setup)()
    party_id, token, code = s["party"].id, None, 4401
    if refusal == "outsider":
        outsider = await sync_to_async(make_user)()
        token, code = await sync_to_async(api_token)(outsider), 4403
    elif refusal == "no party":
        party_id, token, code = "65a1b2c3d4e5f60718293a4b", s["host_token"], 4404
    communicator, _ = await open_socket(party_id, token)
    try:
        for frame in [
            {"type": "ping"},
            {"type": "history"},
            {"type": "chat.send", "message": "sneaking in", "client_id": "s"},
            {"type": "launch.missiles"},
        ]:
            await communicator.send_json_to(frame)
        await communicator.send_to(text_data="[" * 1000)
        assert await close_code(communicator) == code
        assert await communicator.receive_nothing(timeout=0.3)
    finally:
        await communicator.disconnect()


@pytest.fixture(params=["memory", "redis"])
def shared_state(request):
    """Presence and rate limits in this process, and shared in Redis (as between server processes)."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return request.param


async def test_sockets_per_user_are_capped_and_presence_is_per_user(party_setup, shared_state):
    """A user's 6th socket in a party closes with 4429; the others hear one joined and one left for the user, not one per socket."""
    s = await sync_to_async(party_setup)()
    before = sockets_open()
    guest, _ = await joined(s["party"].id, s["guest_token"])
    hosts = []
    try:
        for _ in range(5):
            hosts.append((await joined(s["party"].id, s["host_token"]))[0])
        sixth, connected = await open_socket(s["party"].id, s["host_token"])
        assert connected and await close_code(sixth) == 4429
        await sixth.disconnect()
        assert sockets_open() == before + 6
        for communicator in hosts[:4]:
            await communicator.disconnect()
        hosts = hosts[4:]
        frames = [f for f in await drain(guest, quiet=0.3) if f["type"].startswith("participant.")]
        assert [(f["type"], f["reason"]) for f in frames] == [("participant.joined", "connected")]
        await hosts.pop().disconnect()
        left = await receive_type(guest, "participant.left")
        assert left["user_id"] == str(s["host"].pk) and left["reason"] == "disconnected"
        assert not [f for f in await drain(guest, quiet=0.3) if f["type"].startswith("participant.")]
        assert sockets_open() == before + 1
    finally:
        for communicator in hosts:
            await communicator.disconnect()
        await guest.disconnect()
    assert sockets_open() == before


async def test_party_state_lists_who_is_online(party_setup, make_user, shared_state):
    """A latecomer's party.state names every user with a socket open, the latecomer included, and no one who closed theirs."""
    s = await sync_to_async(party_setup)()
    third = await sync_to_async(make_user)()
    await sync_to_async(party_services.party_join)(room_code=s["party"].room_code, user=third)
    third_token = await sync_to_async(api_token)(third)
    host, state = await joined(s["party"].id, s["host_token"])
    assert state["online"] == [str(s["host"].pk)]
    gone, _ = await joined(s["party"].id, third_token)
    await gone.disconnect()
    second_host, _ = await joined(s["party"].id, s["host_token"])
    try:
        guest, state = await joined(s["party"].id, s["guest_token"])
        await guest.disconnect()
        assert sorted(state["online"]) == sorted([str(s["host"].pk), str(s["guest"].pk)])
    finally:
        await host.disconnect()
        await second_host.disconnect()


async def test_the_11th_resume_in_the_window_is_rate_limited(party_setup):
    """Ten resume frames are served; the 11th within a minute gets rate_limited with retry_after, and nothing more is sent."""
    s = await sync_to_async(party_setup)()
    first = await sync_to_async(chat_services.system_message_send)(party_id=s["party"].id, text="first")
    communicator, _ = await joined(s["party"].id, s["guest_token"])
    try:
        for _ in range(10):
            await communicator.send_json_to({"type": "resume", "after": first.id})
            assert (await receive_type(communicator, "history"))["messages"] == []
        await communicator.send_json_to({"type": "resume", "after": first.id})
        error = await receive_type(communicator, "error")
        assert error["code"] == "rate_limited" and 1 <= error["retry_after"] <= 60
        assert all(f["type"] != "history" for f in await drain(communicator))
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    "setting,frames,served",
    [
        (
            "REACTION_RATE_LIMIT",
            [{"type": "reaction.add", "emoji": "👍"}, {"type": "reaction.remove", "emoji": "👍"}],
            "reaction.update",
        ),
        ("PLAYBACK_RATE_LIMIT", [{"type": "playback.update", "state": "playing", "position": 1}], "playback.state"),
        ("HISTORY_RATE_LIMIT", [{"type": "history"}], "history"),
        ("PING_RATE_LIMIT", [{"type": "ping"}], "pong"),
    ],
)
async def test_every_frame_type_is_rate_limited(party_setup, settings, setting, frames, served):
    """Each frame type has its limit (reaction.add and reaction.remove share one): past it, rate_limited and nothing served."""
    setattr(settings, setting, (3, 60))
    s = await sync_to_async(party_setup)()
    message = await sync_to_async(chat_services.system_message_send)(party_id=s["party"].id, text="react")
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        for i in range(3):
            await communicator.send_json_to({**frames[i % len(frames)], "message_id": message.id})
            await receive_type(communicator, served)
        await communicator.send_json_to({**frames[3 % len(frames)], "message_id": message.id, "client_id": "over"})
        error = await receive_type(communicator, "error")
        assert error["code"] == "rate_limited" and error["client_id"] == "over" and error["retry_after"] >= 1
        assert all(f["type"] != served for f in await drain(communicator))
    finally:
        await communicator.disconnect()


async def test_frame_limits_are_per_user_across_sockets(party_setup, shared_state):
    """A user's history frames count together on all their sockets (in Redis, across processes); another user has a window of their own."""
    s = await sync_to_async(party_setup)()
    one, _ = await joined(s["party"].id, s["host_token"])
    two, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        for i in range(10):
            communicator = (one, two)[i % 2]
            await communicator.send_json_to({"type": "history"})
            await receive_type(communicator, "history")
        for communicator in (one, two):
            await communicator.send_json_to({"type": "history"})
            assert (await receive_type(communicator, "error"))["code"] == "rate_limited"
        await guest.send_json_to({"type": "history"})
        await receive_type(guest, "history")
    finally:
        for communicator in (one, two, guest):
            await communicator.disconnect()


async def test_a_frame_type_without_its_own_limit_gets_the_default(party_setup, settings, monkeypatch):
    """A frame type added without a FRAME_RATE_LIMITS entry is still limited, by FRAME_RATE_LIMIT."""
    from chat.consumers import PartyConsumer

    async def on_echo(self, frame):
        await self.send_json({"type": "echo"})

    monkeypatch.setitem(PartyConsumer.FRAME_HANDLERS, "echo", on_echo)
    settings.FRAME_RATE_LIMIT = (2, 60)
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        for _ in range(2):
            await communicator.send_json_to({"type": "echo"})
            await receive_type(communicator, "echo")
        await communicator.send_json_to({"type": "echo"})
        assert (await receive_type(communicator, "error"))["code"] == "rate_limited"
    finally:
        await communicator.disconnect()


def _revoke_over_http(token: str) -> int:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.post("/api/auth/token/revoke/").status_code


async def test_revoking_a_token_closes_its_sockets_4401_and_only_those(party_setup):
    """POST /api/auth/token/revoke/ closes the sockets opened with that token (4401); one opened with another token of the same user stays."""
    s = await sync_to_async(party_setup)()
    other_token = await sync_to_async(api_token)(s["guest"])
    revoked, _ = await joined(s["party"].id, s["guest_token"])
    kept, _ = await joined(s["party"].id, other_token)
    try:
        assert await sync_to_async(_revoke_over_http)(s["guest_token"]) == 204
        assert await close_code(revoked) == 4401
        await kept.send_json_to({"type": "ping"})
        assert (await receive_type(kept, "pong"))["type"] == "pong"
    finally:
        await revoked.disconnect()
        await kept.disconnect()


async def test_a_password_change_closes_every_socket_of_the_user_4401(party_setup):
    """After a password change, each of the user's open sockets closes with 4401; other users' stay."""
    s = await sync_to_async(party_setup)()
    guest_socket, _ = await joined(s["party"].id, s["guest_token"])
    host_socket, _ = await joined(s["party"].id, s["host_token"])
    try:

        def change_password():
            s["guest"].set_password("an-Other-pass-2026")
            s["guest"].save()

        await sync_to_async(change_password)()
        assert await close_code(guest_socket) == 4401
        await host_socket.send_json_to({"type": "ping"})
        await receive_type(host_socket, "pong")
    finally:
        await guest_socket.disconnect()
        await host_socket.disconnect()


async def test_deactivating_an_account_closes_its_sockets_4401(party_setup):
    """Saving the user with is_active=False (as the admin does) closes their sockets with 4401."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["guest_token"])
    try:

        def deactivate():
            s["guest"].is_active = False
            s["guest"].save()

        await sync_to_async(deactivate)()
        assert await close_code(communicator) == 4401
    finally:
        await communicator.disconnect()


async def test_a_frame_from_a_deactivated_account_changes_nothing(party_setup):
    """Deactivated without any signal (a bulk update), the account's next chat.send is not stored and the socket closes 4401."""
    from django.contrib.auth.models import User

    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await sync_to_async(User.objects.filter(pk=s["guest"].pk).update)(is_active=False)
        await communicator.send_json_to({"type": "chat.send", "message": "after deactivation", "client_id": "x1"})
        assert await close_code(communicator) == 4401
        messages, _ = await sync_to_async(chat_services.message_history)(
            party_id=s["party"].id, user=s["host"], before=None, limit=50
        )
        assert "after deactivation" not in [m.message for m in messages]
    finally:
        await communicator.disconnect()


async def test_a_socket_whose_client_stopped_reading_is_closed_1013_and_the_party_goes_on(party_setup, monkeypatch):
    """A socket with more than MAX_BACKLOG of the party's frames waiting on a full write buffer closes 1013; the others get every frame."""
    from channels.testing import WebsocketCommunicator

    from core.realtime import localgroups
    from watchparty.asgi import application

    monkeypatch.setattr(localgroups, "MAX_BACKLOG", 5)
    stalled = asyncio.Event()

    async def stalling_application(scope, receive, send):
        async def send_as_a_full_buffer_would(message):
            if stalled.is_set() and message["type"] == "websocket.send":
                await asyncio.Event().wait()  # the server's write waits for a client that never reads
            await send(message)

        await application(scope, receive, send_as_a_full_buffer_would)

    s = await sync_to_async(party_setup)()
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    slow = WebsocketCommunicator(
        stalling_application,
        f"/ws/parties/{s['party'].id}/",
        headers=[*headers, (b"authorization", f"Token {s['guest_token']}".encode())],
    )
    assert (await slow.connect(timeout=5))[0]
    await receive_type(slow, "party.state")
    host, _ = await joined(s["party"].id, s["host_token"])
    try:
        stalled.set()
        for n in range(8):
            await abroadcast(s["party"].id, "chat.message", {"message": {"message": f"m{n}"}})
        assert await close_code(slow) == 1013
        got = [(await receive_type(host, "chat.message"))["message"]["message"] for _ in range(8)]
        assert got == [f"m{n}" for n in range(8)]
    finally:
        await host.disconnect()
        await slow.disconnect()


async def test_frame_rules_read_from_settings_follow_a_change_of_setting(party_setup, settings):
    """A history frame's limit is checked against CHAT_HISTORY_MAX_LIMIT as it is now, also after frames were validated under the old value."""
    s = await sync_to_async(party_setup)()
    communicator, _ = await joined(s["party"].id, s["host_token"])
    try:
        await communicator.send_json_to({"type": "history", "limit": 20})
        assert (await receive_type(communicator, "history"))["type"] == "history"
        settings.CHAT_HISTORY_MAX_LIMIT = 10
        await communicator.send_json_to({"type": "history", "limit": 20})
        error = await receive_type(communicator, "error")
        assert error["code"] == "invalid" and "limit" in error["errors"], error
    finally:
        await communicator.disconnect()
