import io
from unittest import mock

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

PASSWORD = "pw-for-tests-1"
NEW_PASSWORD = "an-Other-pass-2026"


def obtain(username, password):
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def status_with(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/parties/").status_code


def test_password_change_revokes_the_token(make_user):
    """After a password change the old token answers 401, and the new password gets a new token."""
    user = make_user(username="scripter")
    old = obtain("scripter", PASSWORD)
    assert status_with(old) == 200
    user.set_password(NEW_PASSWORD)
    user.save()
    assert status_with(old) == 401
    new = obtain("scripter", NEW_PASSWORD)
    assert new != old and status_with(new) == 200


def test_admin_password_change_revokes_the_token(make_user):
    """A staff member setting a user's password in the admin revokes that user's token."""
    staff = make_user(username="boss", is_staff=True, is_superuser=True)
    target = make_user(username="scripter")
    old = obtain("scripter", PASSWORD)
    client = Client()
    client.force_login(staff)
    response = client.post(
        f"/admin/auth/user/{target.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(pk=target.pk).check_password(NEW_PASSWORD)
    assert status_with(old) == 401


def test_changepassword_command_revokes_the_token(make_user):
    """`manage.py changepassword` revokes the user's token too."""
    make_user(username="scripter")
    old = obtain("scripter", PASSWORD)
    with mock.patch("getpass.getpass", return_value=NEW_PASSWORD):
        call_command("changepassword", "scripter", stdout=io.StringIO())
    assert status_with(old) == 401


def test_other_saves_keep_the_token(make_user):
    """Saving a user without a new password (a login, a name change) keeps their token."""
    user = make_user(username="scripter")
    token = obtain("scripter", PASSWORD)
    user.first_name = "Renamed"
    user.save()
    assert Client().login(username="scripter", password=PASSWORD)
    assert status_with(token) == 200


def test_a_hash_upgrade_at_login_keeps_the_token(make_user, settings):
    """When a login re-hashes the same password with a newer hasher, the token stays valid."""
    make_user(username="scripter")  # hashed with MD5 (conftest)
    token = obtain("scripter", PASSWORD)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    obtain("scripter", PASSWORD)
    assert User.objects.get(username="scripter").password.startswith("scrypt$")
    assert status_with(token) == 200


def test_revoke_endpoint_ends_the_token(make_user):
    """POST /api/auth/token/revoke/ answers 204; the token then answers 401 and a new one can be had."""
    make_user(username="scripter")
    token = obtain("scripter", PASSWORD)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/token/revoke/").status_code == 204
    assert status_with(token) == 401
    assert client.post("/api/auth/token/revoke/").status_code == 401
    assert status_with(obtain("scripter", PASSWORD)) == 200


def test_revoke_needs_authentication(db):
    """An anonymous revoke is a 401 in the protocol's error shape."""
    response = APIClient().post("/api/auth/token/revoke/")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_revoke_touches_only_the_callers_token(make_user):
    """Revoking one's own token leaves other users' tokens working."""
    make_user(username="one")
    make_user(username="two")
    mine, theirs = obtain("one", PASSWORD), obtain("two", PASSWORD)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {mine}")
    assert client.post("/api/auth/token/revoke/").status_code == 204
    assert status_with(theirs) == 200


def test_schema_documents_the_token_endpoints(api_client):
    """The OpenAPI document has the token endpoint (with its 429) and the revoke endpoint."""
    import yaml

    document = yaml.safe_load(api_client().get("/api/schema/").content)
    paths = document["paths"]
    assert "429" in paths["/api/auth/token/"]["post"]["responses"]
    assert "204" in paths["/api/auth/token/revoke/"]["post"]["responses"]
