"""The admin's database page (document counts, indexes and the slowest recent MongoDB commands)
and its API tokens page."""

from __future__ import annotations

import json
import logging

from django.contrib import admin
from django.views.decorators.http import require_http_methods
from knox.models import AuthToken
from pymongo.errors import PyMongoError

from watchparty.admin_pages import render_page
from watchparty.auth_tokens import revoke_token
from watchparty.dbinfo import database_overview

logger = logging.getLogger(__name__)

SLOW_COMMANDS_SHOWN = 20


def _slow_commands(limit: int) -> list[dict]:
    """The slowest recent commands of this process (watchparty.monitoring), or none when that
    module does not offer them."""
    try:
        from watchparty.monitoring import recent_slow_commands
    except ImportError:
        return []
    rows = []
    for entry in recent_slow_commands(limit=limit):
        rows.append(
            {
                **entry,
                "filter_json": json.dumps(entry.get("filter_shape"), ensure_ascii=False, default=str),
                "sort_json": json.dumps(entry.get("sort_shape"), ensure_ascii=False, default=str)
                if entry.get("sort_shape") is not None
                else "",
            }
        )
    return rows


@require_http_methods(["GET"])
def database_view(request, *, site):
    overview, error = None, ""
    try:
        overview = database_overview()
    except PyMongoError:
        logger.warning("The admin's database overview failed", exc_info=True)
        error = "The database is not available just now; try again shortly."
    return render_page(
        request,
        site,
        "admin/watchparty/database.html",
        title="MongoDB database",
        overview=overview,
        error=error,
        slow_commands=_slow_commands(SLOW_COMMANDS_SHOWN),
    )


admin.site.register_view("mongo/database/", database_view, name="mongo_database", link="Database")

# knox's own admin lists digests and lets staff create a token for anyone, shown to them once.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens as staff may see them: whose, the first characters (enough to tell one device's
    from another's), when made and until when. Staff revoke tokens here; they cannot make one (the
    new token would be shown to them, and they could act as its user) or read a digest."""

    list_display = ("user", "prefix", "created", "expiry")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    ordering = ("-created",)
    fields = ("user", "prefix", "created", "expiry")
    readonly_fields = fields

    @admin.display(description="token starts with")
    def prefix(self, token: AuthToken) -> str:
        return f"{token.token_key[:8]}…"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        revoke_token(token=obj)

    def delete_queryset(self, request, queryset) -> None:
        for token in queryset:
            revoke_token(token=token)
