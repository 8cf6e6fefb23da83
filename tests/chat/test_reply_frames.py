"""Replies and mentions over the party WebSocket (chat.send with reply_to)."""

import pytest
from asgiref.sync import sync_to_async

from chat import repository as chat_repository
from chat import services as chat_services
from tests.chat.test_consumers import joined, party_setup  # noqa: F401 - the fixture is used by name
from tests.chat.wsutil import receive_type

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_reply_with_a_mention_reaches_both_sockets(party_setup):  # noqa: F811
    """The guest replies to the host naming them; both sockets get the quote and the mention."""
    s = await sync_to_async(party_setup)()
    original = await sync_to_async(chat_services.message_send)(
        party_id=s["party"].id, user=s["host"], text="Start at 10?", message_type="text", client_id=None
    )
    host, _ = await joined(s["party"].id, s["host_token"])
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await guest.send_json_to(
            {"type": "chat.send", "message": "@Host yes", "reply_to": original.message.id, "client_id": "r1"}
        )
        for communicator in (host, guest):
            message = (await receive_type(communicator, "chat.message"))["message"]
            assert message["reply_to"]["id"] == original.message.id
            assert message["reply_to"]["text"] == "Start at 10?" and message["reply_to"]["user_name"] == "Host"
            assert message["mentions"] == [str(s["host"].pk)]
    finally:
        await host.disconnect()
        await guest.disconnect()


async def test_a_bad_reply_to_gets_a_clear_error_and_stores_nothing(party_setup):  # noqa: F811
    """A reply_to that is no id, or no message of this party, is answered with an invalid error."""
    s = await sync_to_async(party_setup)()
    guest, _ = await joined(s["party"].id, s["guest_token"])
    try:
        await guest.send_json_to({"type": "chat.send", "message": "re", "reply_to": {"$ne": 1}, "client_id": "a"})
        error = await receive_type(guest, "error")
        assert error["code"] == "invalid" and "reply_to" in error["errors"] and error["client_id"] == "a"
        await guest.send_json_to(
            {"type": "chat.send", "message": "re", "reply_to": "65a1b2c3d4e5f60718293a4b", "client_id": "b"}
        )
        error = await receive_type(guest, "error")
        assert error["code"] == "invalid" and "not in this party" in error["errors"]["reply_to"][0]
        assert await sync_to_async(chat_repository.count_for_party)(s["party"].id) == 0
    finally:
        await guest.disconnect()
