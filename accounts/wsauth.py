"""WebSocket authentication: the session cookie (browsers) or ``Authorization: Token`` (apps)."""

from __future__ import annotations

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connections, router


@database_sync_to_async
def _authenticate(key: str):
    """(user, the token's group id) for a live token of an active user; (anonymous, None) otherwise."""
    from accounts.tokens import token_group_id, user_for_token

    found = user_for_token(key)
    if found is None:
        return AnonymousUser(), None
    user, token = found
    return user, token_group_id(token)


class AccountInactive(Exception):
    """The account was deactivated (or deleted) while its socket stayed open: the socket closes 4401."""


def account_active(user_id) -> bool:
    """Whether the account may still act, read from the account table, the one source of truth
    (also when the deactivation came from a process whose close never reached this socket).

    Asked before every frame that changes something, so it is one prepared statement rather than a
    queryset: building the ORM query cost fifteen times the query itself (docs/performance.md).
    Safe on any thread: Django keeps a connection per thread, and one that failed or outlived
    CONN_MAX_AGE is replaced first (what close_old_connections does for a request)."""
    user_model = get_user_model()
    connection = connections[router.db_for_read(user_model)]
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute(_active_sql(connection.alias), [user_id, True])
        return cursor.fetchone() is not None


# On the shared sync thread, for frames whose handler does not check the account itself.
account_is_active = database_sync_to_async(account_active)


_active_sql_by_alias: dict[str, str] = {}


def _active_sql(alias: str) -> str:
    sql = _active_sql_by_alias.get(alias)
    if sql is None:
        meta = get_user_model()._meta
        quote = connections[alias].ops.quote_name
        sql = _active_sql_by_alias[alias] = (
            f"SELECT 1 FROM {quote(meta.db_table)} "
            f"WHERE {quote(meta.pk.column)} = %s AND {quote(meta.get_field('is_active').column)} = %s"
        )
    return sql


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


class SocketSessionMiddleware(SessionMiddleware):
    """Channels' SessionMiddleware for sockets, without its wrapper around ``send``.

    That wrapper saves a modified session before an ``http.response.start``, which a socket never
    sends; yet it reads the session's state on every frame sent, about a fifth of the cost of a
    delivery to a socket in a party of 50 (docs/performance.md). The scope's session is the same;
    a socket that changed it would save it itself, as Channels' docs ask anyway."""

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):
    """Channels' AuthMiddlewareStack (cookie, session, user) with SocketSessionMiddleware, and the token."""
    return CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(TokenAuthMiddleware(inner))))
