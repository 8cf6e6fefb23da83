"""WebSocket calls to MongoDB-only services run on the database call pool (core/realtime/dbcalls.py):
they do not queue on the shared sync thread, and a socket's sends keep their order and their
idempotency while the (simulated) database makes every call wait."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat import repository as chat_repository
from chat import services as chat_services
from parties import services as party_services
from tests.chat.test_consumers import joined, party_setup  # noqa: F401 - party_setup is a fixture
from tests.chat.wsutil import receive_type
from tests.support import api_token

pytestmark = pytest.mark.django_db(transaction=True)


async def chat_messages(communicator, count: int, *, timeout: float = 10) -> list[dict]:
    return [(await receive_type(communicator, "chat.message", timeout=timeout))["message"] for _ in range(count)]


async def test_sends_from_many_sockets_wait_on_the_database_side_by_side(party_setup, make_user, settings):
    """With a slow database, 8 sockets sending at once are served together, not one round trip after another."""
    s = await sync_to_async(party_setup)()

    def seat_more(count):
        users = [make_user() for _ in range(count)]
        for user in users:
            party_services.party_join(room_code=s["party"].room_code, user=user)
        return [api_token(user) for user in users]

    tokens = [s["host_token"], s["guest_token"], *await sync_to_async(seat_more)(6)]
    sockets = [(await joined(s["party"].id, token))[0] for token in tokens]
    try:
        settings.EMBEDDED_DB_LATENCY_MS = latency_ms = 250
        started = asyncio.get_running_loop().time()
        for n, communicator in enumerate(sockets):
            await communicator.send_json_to({"type": "chat.send", "message": "at once", "client_id": f"p{n}"})
        for communicator in sockets:
            await chat_messages(communicator, len(sockets))
        elapsed = asyncio.get_running_loop().time() - started
        # Each send waits for two round trips (the party, the insert): 4 s for 8 in a row.
        assert elapsed < len(sockets) * 2 * latency_ms / 1000 / 2, elapsed
    finally:
        for communicator in sockets:
            await communicator.disconnect()


async def test_quick_sends_of_one_socket_keep_their_order_under_db_latency(party_setup, db_latency, settings):
    """50 sends from one socket, without waiting, reach every socket and history in the order sent."""
    settings.CHAT_SEND_RATE_LIMIT = (1000, 5)
    settings.CHAT_SEND_USER_RATE_LIMIT = (1000, 5)
    s = await sync_to_async(party_setup)()
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    host_again, _ = await joined(s["party"].id, s["host_token"])
    sent = [f"m{i:02d}" for i in range(50)]
    try:
        for client_id in sent:
            await host.send_json_to({"type": "chat.send", "message": client_id, "client_id": client_id})
        for communicator in (host, guest, host_again):
            assert [m["client_id"] for m in await chat_messages(communicator, 50)] == sent
        history, _ = await sync_to_async(chat_services.message_history)(
            party_id=s["party"].id, user=s["host"], before=None, limit=50
        )
        assert [m.client_id for m in history] == sent
    finally:
        for communicator in (host, guest, host_again):
            await communicator.disconnect()


async def test_one_client_id_sent_from_two_sockets_at_once_is_stored_once(party_setup, db_latency, settings):
    """The same client_id sent at the same moment from two sockets of one user is stored once, one id for both."""
    settings.CHAT_SEND_RATE_LIMIT = (1000, 5)
    settings.CHAT_SEND_USER_RATE_LIMIT = (1000, 5)
    s = await sync_to_async(party_setup)()
    first, _ = await joined(s["party"].id, s["host_token"])
    second, _ = await joined(s["party"].id, s["host_token"])
    client_ids = [f"twice{i}" for i in range(10)]
    try:
        for client_id in client_ids:
            frame = {"type": "chat.send", "message": client_id, "client_id": client_id}
            await asyncio.gather(first.send_json_to(frame), second.send_json_to(frame))
        # Each socket hears every stored message once by broadcast, plus a reply for its repeats.
        ids = {}
        for communicator in (first, second):
            while not await communicator.receive_nothing(timeout=0.5):
                frame = await receive_type(communicator, "chat.message")
                ids.setdefault(frame["message"]["client_id"], set()).add(frame["message"]["id"])
        assert sorted(ids) == sorted(client_ids)
        assert all(len(message_ids) == 1 for message_ids in ids.values())
        assert await sync_to_async(chat_repository.count_for_party)(s["party"].id) == len(client_ids)
    finally:
        await first.disconnect()
        await second.disconnect()
