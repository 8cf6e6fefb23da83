"""accounts.wsauth: who a party socket belongs to (session cookie or token), and the per-frame account check."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.wsauth import account_is_active
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import close_code, receive_type
from watchparty.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _logged_in_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _open_with_cookie(party_id: str, cookie: str):
    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/parties/{party_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def test_a_browser_socket_is_its_logged_in_user_and_can_chat(make_user):
    """A socket opened with a logged-in session cookie gets party.state and its chat.send is stored under that user."""
    host = await sync_to_async(make_user)(display_name="Cookie Host")
    party = await sync_to_async(party_services.party_create)(
        user=host, data=PartySettings(content_id="film", content_type="vod")
    )
    cookie = await sync_to_async(_logged_in_cookie)(host)
    communicator = await _open_with_cookie(party.id, cookie)
    try:
        state = await receive_type(communicator, "party.state")
        assert state["online"] == [str(host.pk)]
        await communicator.send_json_to({"type": "chat.send", "message": "from the browser", "client_id": "b1"})
        message = (await receive_type(communicator, "chat.message"))["message"]
        assert (message["user_id"], message["message"]) == (str(host.pk), "from the browser")
    finally:
        await communicator.disconnect()


async def test_a_socket_with_a_stale_session_cookie_is_refused(make_user):
    """A cookie whose session was logged out opens nothing: close 4401."""
    host = await sync_to_async(make_user)()
    party = await sync_to_async(party_services.party_create)(
        user=host, data=PartySettings(content_id="film", content_type="vod")
    )
    communicator = await _open_with_cookie(party.id, "no-such-session")
    try:
        assert await close_code(communicator) == 4401
    finally:
        await communicator.disconnect()


def test_account_is_active_reads_the_account_table(make_user):
    """The check is true for an active account, false once it is deactivated, and false for an unknown id."""
    from asgiref.sync import async_to_sync

    user = make_user()
    assert async_to_sync(account_is_active)(user.pk) is True
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert async_to_sync(account_is_active)(user.pk) is False
    assert async_to_sync(account_is_active)(user.pk + 1000) is False
