import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from core.text import clean_display_name, user_display_name
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.wsutil import receive_type


def test_signup_creates_account_and_logs_in(db):
    """Signing up creates the user, logs them in, and keeps a cleaned display name."""
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "display_name": '<b>Dana</b> & "co"',
            "password1": "a-Long-pass-123",
            "password2": "a-Long-pass-123",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.first_name == "bDana/b  co"
    assert client.get("/api/parties/").status_code == 200  # the session authenticates the API


def test_signup_rejects_mismatched_passwords(db):
    """A sign-up with mismatched passwords shows the form again and creates nothing."""
    response = Client().post(
        "/accounts/signup/", {"username": "x", "password1": "a-Long-pass-123", "password2": "different-999"}
    )
    assert response.status_code == 200 and not User.objects.filter(username="x").exists()


SIGNUP_FIELDS = {
    "username": "invited",
    "display_name": "Ivy",
    "password1": "a-Long-pass-123",
    "password2": "a-Long-pass-123",
}


def test_an_invite_link_leads_a_new_user_through_sign_up_to_the_join_form(db):
    """/join/<code>/ -> login -> sign up -> back on /join/<code>/, `next` carried at every step."""
    client = Client()
    login_url = client.get("/join/ABC123/").url
    assert login_url == "/accounts/login/?next=/join/ABC123/"
    login_page = client.get(login_url).content.decode()
    assert 'href="/accounts/signup/?next=/join/ABC123/"' in login_page
    signup_page = client.get("/accounts/signup/?next=/join/ABC123/").content.decode()
    assert 'name="next" value="/join/ABC123/"' in signup_page
    assert 'href="/accounts/login/?next=/join/ABC123/"' in signup_page
    response = client.post("/accounts/signup/", {**SIGNUP_FIELDS, "next": "/join/ABC123/"})
    assert response.status_code == 302 and response.url == "/join/ABC123/"
    assert client.get(response.url).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/join/ABC123/", "//evil.example/", "javascript:alert(1)"])
def test_sign_up_never_sends_a_new_user_off_site(db, target):
    """A `next` to another site is dropped: the page does not carry it, and sign-up lands on home."""
    client = Client()
    assert target not in client.get("/accounts/signup/", {"next": target}).content.decode()
    response = client.post("/accounts/signup/", {**SIGNUP_FIELDS, "next": target})
    assert response.status_code == 302 and response.url == "/"


def test_login_page_and_logout(make_user):
    """A user logs in on the login page and out again."""
    make_user(username="carol")
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    assert client.post("/accounts/login/", {"username": "carol", "password": "pw-for-tests-1"}).status_code == 302
    assert client.get("/api/parties/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/api/parties/").status_code in (401, 403)


def test_browser_writes_need_csrf(make_user):
    """A logged-in browser cannot POST to the API without the CSRF token."""
    make_user(username="dave")
    client = Client(enforce_csrf_checks=True)
    client.login(username="dave", password="pw-for-tests-1")
    response = client.post("/api/parties/", {"content_id": "x", "content_type": "vod"}, content_type="application/json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "raw,clean",
    [("Alice", "Alice"), ("  Bob  ", "Bob"), ("<script>", "script"), ("a\x00b\u202ec", "abc"), ("x" * 80, "x" * 50)],
)
def test_display_names_are_cleaned(raw, clean):
    """Display names lose markup characters and control characters and are at most 50 long."""
    assert clean_display_name(raw) == clean


def test_display_name_falls_back_to_username(make_user):
    """A user without a display name is shown by username."""
    assert user_display_name(make_user(username="erin", display_name="<>&")) == "erin"


@pytest.mark.django_db(transaction=True)
async def test_websocket_accepts_the_session_cookie(make_user):
    """A browser's session cookie authenticates the WebSocket handshake."""
    user = await sync_to_async(make_user)(username="frank")
    party = await sync_to_async(party_services.party_create)(
        user=user, data=PartySettings(content_id="film", content_type="vod")
    )
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    from channels.testing import WebsocketCommunicator

    from watchparty.asgi import application

    communicator = WebsocketCommunicator(
        application,
        f"/ws/parties/{party.id}/",
        headers=[(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", cookie.encode())],
    )
    connected, _ = await communicator.connect()
    try:
        assert connected
        assert (await receive_type(communicator, "party.state"))["party"]["id"] == party.id
    finally:
        await communicator.disconnect()
