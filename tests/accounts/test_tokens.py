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
    assert "204" in paths["/api/auth/token/revoke-all/"]["post"]["responses"]


def test_tokens_are_stored_as_digests_only(make_user):
    """The database holds no token in plain text: only a digest and the first 15 characters."""
    from knox.models import AuthToken

    make_user(username="scripter")
    token = obtain("scripter", PASSWORD)
    (stored,) = AuthToken.objects.filter(user__username="scripter")
    assert token not in stored.digest and token[:15] == stored.token_key and len(token) > 15


def test_each_login_gets_a_token_of_its_own_and_revoke_ends_only_that_one(make_user):
    """Two devices log in: each gets its own token; revoking one leaves the other working."""
    make_user(username="scripter")
    phone, laptop = obtain("scripter", PASSWORD), obtain("scripter", PASSWORD)
    assert phone != laptop
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {phone}")
    assert client.post("/api/auth/token/revoke/").status_code == 204
    assert status_with(phone) == 401 and status_with(laptop) == 200


def test_revoke_all_ends_every_token_of_the_user(make_user):
    """POST /api/auth/token/revoke-all/ ends all of the caller's tokens, and no one else's."""
    make_user(username="scripter")
    make_user(username="other")
    first, second, theirs = obtain("scripter", PASSWORD), obtain("scripter", PASSWORD), obtain("other", PASSWORD)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.post("/api/auth/token/revoke-all/").status_code == 204
    assert status_with(first) == 401 and status_with(second) == 401 and status_with(theirs) == 200


def test_an_expired_token_answers_401_token_expired(make_user):
    """Past its expiry a token answers 401 with code token_expired; a new login gets a working one."""
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    make_user(username="scripter")
    response = APIClient().post("/api/auth/token/", {"username": "scripter", "password": PASSWORD}, format="json")
    token = response.json()["token"]
    assert response.json()["expiry"].endswith("Z")
    AuthToken.objects.filter(user__username="scripter").update(expiry=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    expired = client.get("/api/parties/")
    assert expired.status_code == 401 and expired.json()["code"] == "token_expired"
    assert status_with(obtain("scripter", PASSWORD)) == 200


def test_use_renews_a_token(make_user, settings):
    """A token used before it expires gets a fresh lifetime of API_TOKEN_TTL_SECONDS."""
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    make_user(username="scripter")
    token = obtain("scripter", PASSWORD)
    soon = timezone.now() + timedelta(hours=2)
    AuthToken.objects.filter(user__username="scripter").update(expiry=soon)
    assert status_with(token) == 200
    renewed = AuthToken.objects.get(user__username="scripter").expiry
    assert renewed > timezone.now() + timedelta(seconds=settings.API_TOKEN_TTL_SECONDS - 60)


def test_live_tokens_per_user_are_capped_oldest_first(make_user, settings):
    """Past API_TOKENS_PER_USER, a new login signs out the user's oldest token."""
    settings.API_TOKENS_PER_USER = 2
    make_user(username="scripter")
    oldest, middle, newest = (obtain("scripter", PASSWORD) for _ in range(3))
    assert [status_with(t) for t in (oldest, middle, newest)] == [401, 200, 200]


def test_the_admin_shows_staff_a_prefix_only_and_mints_no_tokens(make_user):
    """The admin's API tokens page lists a user's token by its first 8 characters, never the token; staff cannot add one."""
    from knox.models import AuthToken

    staff = make_user(username="boss", is_staff=True, is_superuser=True)
    make_user(username="scripter")
    token = obtain("scripter", PASSWORD)
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/knox/authtoken/")
    assert page.status_code == 200
    html = page.content.decode()
    # The digest (the row's key, in its links) is no secret: the token cannot be worked out from it.
    assert token[:8] in html and token not in html and token[:15] not in html
    assert AuthToken.objects.filter(user__username="scripter").exists()
    assert client.get("/admin/knox/authtoken/add/").status_code == 403
    assert "/admin/authtoken/" not in client.get("/admin/").content.decode()


def test_tokens_made_before_knox_keep_working_until_they_expire(make_user, settings):
    """A token from DRF's plain-text table works after the migration, stored as a digest with an expiry; the plain-text row is gone."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    user = make_user(username="legacy")
    legacy = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime, user_id integer)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, CURRENT_TIMESTAMP, %s)", [legacy, user.pk])
    migration = importlib.import_module("accounts.migrations.0001_api_tokens_as_digests")
    # RunPython's function needs only the editor's connection (SQLite's editor cannot open inside a test's transaction).
    migration.tokens_to_digests(apps, SimpleNamespace(connection=connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute("DROP TABLE authtoken_token")
    assert status_with(legacy) == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef0123456x")
    assert client.get("/api/parties/").status_code == 401


def test_a_token_header_that_is_not_utf8_is_a_401(db):
    """A token with bytes that are not UTF-8 is refused as unknown, not a server error."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token caf\xe9")
    assert client.get("/api/parties/").status_code == 401
