"""WebSocket authentication: the session cookie (browsers) or ``Authorization: Token`` (apps)."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _authenticate(key: str):
    """(user, the token's group id) for a live token of an active user; (anonymous, None) otherwise."""
    from accounts.tokens import token_group_id, user_for_token

    found = user_for_token(key)
    if found is None:
        return AnonymousUser(), None
    user, token = found
    return user, token_group_id(token)


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from an ``Authorization: Token <key>`` handshake header, and
    scope["auth_token_id"] so that revoking that token closes the socket. A header that is present
    but wrong or expired yields an anonymous user (refused with 4401), never the cookie's user."""

    async def __call__(self, scope, receive, send):
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, key = value.decode("latin-1").partition(" ")
                if scheme.lower() == "token":
                    user, token_id = await _authenticate(key.strip())
                    scope = dict(scope, user=user, auth_token_id=token_id)
                break
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
