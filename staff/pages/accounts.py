"""The admin's database page (document counts, indexes and the slowest recent MongoDB commands),
its API tokens page, and the user admin with deactivation in place of deleting a moderator."""

from __future__ import annotations

import json
import logging

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods
from knox.models import AuthToken
from pymongo.errors import PyMongoError

from accounts.tokens import revoke_token
from staff.admin_pages import render_page
from staff.dbinfo import database_overview

logger = logging.getLogger(__name__)

SLOW_COMMANDS_SHOWN = 20


def _slow_commands(limit: int) -> list[dict]:
    """The slowest recent commands of this process (core.db.monitoring), or none when that
    module does not offer them."""
    try:
        from core.db.monitoring import recent_slow_commands
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


# --- Users: a moderator's account is deactivated, not deleted -----------------------------------

User = get_user_model()


class WatchPartyUserAdmin(UserAdmin):
    """Django's user admin, except that deleting an account with moderation log entries (kept, with
    their moderator, by ``on_delete=PROTECT``) explains why it cannot be deleted and offers to
    deactivate it instead, where Django would say the superuser lacks a permission."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/deactivate/",
                self.admin_site.admin_view(self.deactivate_view),
                name="%s_%s_deactivate" % info,
            ),
        ] + super().get_urls()

    def _logged_actions(self, user) -> int:
        from parties.models import ModerationAction

        return ModerationAction.objects.filter(moderator=user).count()

    def delete_view(self, request, object_id, extra_context=None):
        user = self.get_object(request, object_id)
        if user is not None and self.has_delete_permission(request, user):
            count = self._logged_actions(user)
            if count:
                return self._keep_page(request, user, count)
        return super().delete_view(request, object_id, extra_context)

    def _keep_page(self, request, user, count: int):
        info = self.opts.app_label, self.opts.model_name
        return render_page(
            request,
            self.admin_site,
            "admin/watchparty/user_keep.html",
            title=f"{user.get_username()} cannot be deleted",
            account=user,
            action_count=count,
            opts=self.opts,
            log_url=reverse(f"{self.admin_site.name}:parties_moderationaction_changelist")
            + f"?moderator__id__exact={user.pk}",
            change_url=reverse(f"{self.admin_site.name}:%s_%s_change" % info, args=[user.pk]),
            deactivate_url=reverse(f"{self.admin_site.name}:%s_%s_deactivate" % info, args=[user.pk]),
        )

    def deactivate_view(self, request, object_id):
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404("No such user.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:auth_user_delete", args=[user.pk]))
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
            self.log_change(request, user, "Deactivated instead of deleted (moderation log entries).")
        messages.success(request, f"{user.get_username()} is deactivated: they can no longer sign in.")
        info = self.opts.app_label, self.opts.model_name
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:%s_%s_change" % info, args=[user.pk]))


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, WatchPartyUserAdmin)


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
