"""API tokens (PROTOCOL.md "Identity and authentication"), stored by django-rest-knox.

knox keeps only a SHA-512 digest of each token and its first 15 characters (to find it), as
passwords are kept: nobody reading the database or the admin can act as the user. Each
``POST /api/auth/token/`` issues a new token (one per device or script), living API_TOKEN_TTL_SECONDS
and renewed by use (knox's AUTO_REFRESH); a user revokes one or all of them.

Tokens end with the password that obtained them. Django calls ``password_changed(password, user)``
on every configured password validator whenever a user saved after ``set_password()`` has a new
password: the admin's change-password form, the password change and reset views, ``manage.py
changepassword``, and any code that does the same. Hooking in there catches them all, and not a
hash upgrade at login (which keeps the password).
"""

from __future__ import annotations

import binascii

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from core.realtime.fanout import close_token_sockets, close_user_sockets


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "Token expired; POST /api/auth/token/ again for a new one."
    default_code = "token_expired"


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's ``Authorization: Token <token>``, finding the token by its digest (the table's key)
    and answering an expired one as such (401 ``token_expired``) rather than as unknown."""

    def authenticate_credentials(self, token: bytes):
        found = find_token(token.decode("latin-1"))
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if found.expiry is not None and found.expiry <= timezone.now():
            found.delete()
            raise TokenExpired()
        if knox_settings.AUTO_REFRESH and found.expiry is not None:
            self.renew_token(found)
        return self.validate_user(found)


def find_token(key: str) -> AuthToken | None:
    """The stored token ``key`` is, expired or not; None when there is none."""
    try:
        digest = hash_token(key)
    except (TypeError, ValueError, binascii.Error, UnicodeError):
        return None
    return (
        AuthToken.objects.select_related("user")
        .filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], digest=digest)
        .first()
    )


def user_for_token(key: str):
    """(user, token) for a live token of an active user, or None: the WebSocket handshake's check."""
    try:
        return TokenAuthentication().authenticate_credentials(key.encode("latin-1", "replace"))
    except exceptions.AuthenticationFailed:
        return None


def token_group_id(token: AuthToken) -> str:
    """A name for the token that is no secret and fits a channel-layer group name."""
    return token.digest[:64]


def issue_token(*, user) -> tuple[AuthToken, str]:
    """A new token for ``user`` (its plain value is returned once, here). The user's expired tokens
    are deleted, and past API_TOKENS_PER_USER live ones the oldest are, so that logging in again
    and again cannot grow the table without bound."""
    now = timezone.now()
    AuthToken.objects.filter(user=user, expiry__lte=now).delete()
    keep = max(settings.API_TOKENS_PER_USER - 1, 0)
    stale = list(AuthToken.objects.filter(user=user).order_by("-created").values_list("digest", flat=True)[keep:])
    if stale:
        AuthToken.objects.filter(digest__in=stale).delete()
    return AuthToken.objects.create(user=user)


def revoke_token(*, token: AuthToken) -> None:
    """Delete one token: requests carrying it answer 401, and sockets opened with it close 4401."""
    group = token_group_id(token)
    token.delete()
    close_token_sockets(group)


def revoke_tokens(*, user) -> None:
    """Delete every token of the user and close every socket of theirs opened with one."""
    groups = [token_group_id(token) for token in AuthToken.objects.filter(user=user)]
    AuthToken.objects.filter(user=user).delete()
    for group in groups:
        close_token_sockets(group)


class RevokeTokensOnPasswordChange:
    """Listed in AUTH_PASSWORD_VALIDATORS for its ``password_changed`` hook only: it refuses no password."""

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            revoke_tokens(user=user)
            # Sockets opened with the session cookie too: the old password's sessions end with it
            # (Django rotates the session hash), so their sockets end now rather than at reconnect.
            close_user_sockets(str(user.pk))

    def get_help_text(self) -> str:
        # Shown with the password rules on the forms that set a password.
        return (
            "Changing your password later signs out your apps, scripts and open rooms (their API tokens are revoked)."
        )


class TokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI document's security scheme for ``Authorization: Token <token>``, under the name
    (``tokenAuth``) DRF's token authentication had there before."""

    target_class = "accounts.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
