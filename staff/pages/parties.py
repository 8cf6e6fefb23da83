"""Staff moderation of parties in the admin: a searchable party list, a party's page, ending a
party, removing a participant and lifting a ban; and the read-only moderation log.

Parties are MongoDB documents, so these are admin pages (``admin.site.register_view``), not
ModelAdmins; they call parties.services only. The admin site checks staff and CSRF for each."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods

from chat.services import message_search, presence_online
from core.errors import Forbidden, NotFound
from core.text import clean_single_line
from parties import services
from parties.models import ModerationAction
from parties.repository import PARTY_STATUSES
from staff.admin_pages import (
    confirm_with_reason,
    object_id_or_404,
    render_page,
    user_id_or_404,
)

PARTIES_PER_PAGE = 25
SEARCH_MAX_LENGTH = 100
RECENT_ACTIONS_SHOWN = 20


class PartySearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        help_text=(
            "A room code, a host, participant or banned user (user id, username or display name), "
            "a content id, or words of the title; any letter case."
        ),
    )
    status = forms.ChoiceField(
        choices=[("all", "All"), ("active", "Active"), ("ended", "Ended")],
        required=False,
        initial="all",
    )

    def clean_q(self) -> str:
        return clean_single_line(self.cleaned_data.get("q", ""))

    def clean_status(self) -> str:
        status = self.cleaned_data.get("status") or "all"
        return status if status in PARTY_STATUSES else "all"


def _party_or_404(party_id: str):
    try:
        return services.party_get_for_moderator(party_id=object_id_or_404(party_id))
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require_http_methods(["GET"])
def party_list_view(request, *, site):
    form = PartySearchForm(request.GET)
    if form.is_valid():
        text, status = form.cleaned_data["q"], form.cleaned_data["status"]
        results = services.party_search(text=text, status=status)
    else:
        text, status, results = "", "all", []
    page = Paginator(results, PARTIES_PER_PAGE).get_page(request.GET.get("page"))
    return render_page(
        request,
        site,
        "admin/parties/party_list.html",
        title="Parties",
        form=form,
        page=page,
        search_text=text,
        status=status,
        statuses=[("all", "All"), ("active", "Active"), ("ended", "Ended")],
    )


@require_http_methods(["GET"])
def party_detail_view(request, party_id: str, *, site):
    party = _party_or_404(party_id)
    online = set(presence_online(party_id=party.id)) if party.is_active else set()
    seats = [
        {
            "seat": seat,
            "role": "host" if seat.user_id == party.host_id else "co-host" if seat.user_id in party.co_host_ids else "",
            "online": seat.user_id in online,
            "muted": seat.user_id in party.muted_ids,
            "removable": party.is_active and seat.user_id != party.host_id,
        }
        for seat in party.participants
    ]
    return render_page(
        request,
        site,
        "admin/parties/party_detail.html",
        title=f"Party {party.room_code}",
        party=party,
        seats=seats,
        online_count=sum(1 for seat in seats if seat["online"]),
        bans=services.party_bans_for_staff(party=party),
        message_count=message_search(party_id=party.id).count(),
        actions=ModerationAction.objects.filter(party_id=party.id).select_related("moderator")[:RECENT_ACTIONS_SHOWN],
    )


@require_http_methods(["GET", "POST"])
def party_end_view(request, party_id: str, *, site):
    party = _party_or_404(party_id)
    detail_url = reverse(f"{site.name}:mongo_party_detail", args=[party.id])
    if not party.is_active:
        messages.info(request, f"Party {party.room_code} has already ended.")
        return redirect(detail_url)

    def act(reason: str) -> None:
        services.party_end_by_moderator(party_id=party.id, moderator=request.user, reason=reason)
        messages.success(request, f"Party {party.room_code} has ended; its participants were told.")

    return confirm_with_reason(
        request,
        site,
        act=act,
        done_url=detail_url,
        title=f"End party {party.room_code}?",
        party=party,
        question=(
            f"End party {party.room_code} ({party.content_title or party.content_id}), hosted by {party.host_name}? "
            f"Its {party.participant_count} participant(s) are told, and their sockets close."
        ),
        confirm_label="Yes, end the party",
        cancel_url=detail_url,
    )


@require_http_methods(["GET", "POST"])
def party_remove_participant_view(request, party_id: str, user_id: str, *, site):
    party = _party_or_404(party_id)
    user_id = user_id_or_404(user_id)
    seat = next((p for p in party.participants if p.user_id == user_id), None)
    if seat is None:
        raise Http404("That user holds no seat in this party.")
    detail_url = reverse(f"{site.name}:mongo_party_detail", args=[party.id])
    if user_id == party.host_id:
        # Not offered on the party page; a stale or typed link is told why before any form.
        messages.error(request, "The host cannot be removed from their own party; end the party instead.")
        return redirect(detail_url)

    def act(reason: str) -> None:
        try:
            services.party_remove_participant(party_id=party.id, user_id=user_id, moderator=request.user, reason=reason)
        except NotFound:
            messages.warning(request, f"{seat.user_name} no longer holds a seat in this party.")
        except Forbidden as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{seat.user_name} was removed from party {party.room_code}.")

    return confirm_with_reason(
        request,
        site,
        act=act,
        done_url=detail_url,
        title=f"Remove {seat.user_name}?",
        party=party,
        question=(
            f"Remove {seat.user_name} (user {seat.user_id}) from party {party.room_code}? "
            "The party is told, and their sockets close. They can join again with the room code."
        ),
        confirm_label="Yes, remove them",
        cancel_url=detail_url,
    )


@require_http_methods(["GET", "POST"])
def party_unban_view(request, party_id: str, user_id: str, *, site):
    party = _party_or_404(party_id)
    user_id = user_id_or_404(user_id)
    ban = next((b for b in services.party_bans_for_staff(party=party) if b.user_id == user_id), None)
    if ban is None:
        raise Http404("That user is not banned from this party.")
    detail_url = reverse(f"{site.name}:mongo_party_detail", args=[party.id])
    if not party.is_active:
        messages.info(request, f"Party {party.room_code} has ended; its bans no longer matter.")
        return redirect(detail_url)

    def act(reason: str) -> None:
        try:
            services.party_unban_by_moderator(party_id=party.id, user_id=user_id, moderator=request.user, reason=reason)
        except NotFound:
            messages.warning(request, f"{ban.user_name} is no longer banned from this party.")
        except Forbidden as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"The ban on {ban.user_name} was lifted; the room code admits them again.")

    return confirm_with_reason(
        request,
        site,
        act=act,
        done_url=detail_url,
        title=f"Lift the ban on {ban.user_name}?",
        party=party,
        question=(
            f"Lift the ban on {ban.user_name} (user {ban.user_id}) in party {party.room_code}? "
            "The room code admits them again; they are not told, and take a seat only if they join."
        ),
        confirm_label="Yes, lift the ban",
        cancel_url=detail_url,
    )


admin.site.register_view("mongo/parties/", party_list_view, name="mongo_party_list", link="Parties")
admin.site.register_view("mongo/parties/<str:party_id>/", party_detail_view, name="mongo_party_detail")
admin.site.register_view("mongo/parties/<str:party_id>/end/", party_end_view, name="mongo_party_end")
admin.site.register_view(
    "mongo/parties/<str:party_id>/participants/<str:user_id>/remove/",
    party_remove_participant_view,
    name="mongo_party_remove_participant",
)
admin.site.register_view(
    "mongo/parties/<str:party_id>/bans/<str:user_id>/lift/", party_unban_view, name="mongo_party_unban"
)


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The moderation log: every staff member may read it; nobody adds, edits or deletes it."""

    list_display = ("created_at", "moderator_link", "action", "party_link", "target_link", "short_detail")
    list_filter = ("action", "created_at", ("moderator", admin.RelatedOnlyFieldListFilter))
    search_fields = ("room_code", "party_id", "message_id", "target_user_id", "detail", "moderator__username")
    date_hierarchy = "created_at"
    list_select_related = ("moderator",)
    readonly_fields = (
        "created_at",
        "moderator_link",
        "action",
        "party_link",
        "message_link",
        "target_link",
        "detail",
    )
    fields = readonly_fields

    def _user_link(self, user_id: str, label: str):
        if not user_id or not user_id.isdigit():
            return label or "—"
        url = reverse(f"{self.admin_site.name}:auth_user_change", args=[user_id])
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="moderator", ordering="moderator__username")
    def moderator_link(self, obj: ModerationAction):
        return self._user_link(str(obj.moderator_id), obj.moderator.get_username())

    @admin.display(description="party", ordering="room_code")
    def party_link(self, obj: ModerationAction):
        url = reverse(f"{self.admin_site.name}:mongo_party_detail", args=[obj.party_id])
        return format_html('<a href="{}">{}</a>', url, obj.room_code or obj.party_id)

    @admin.display(description="user acted on", ordering="target_user_id")
    def target_link(self, obj: ModerationAction):
        if not obj.target_user_id:
            return "—"
        return self._user_link(obj.target_user_id, f"user {obj.target_user_id}")

    @admin.display(description="message")
    def message_link(self, obj: ModerationAction):
        if not obj.message_id:
            return "—"
        url = reverse(f"{self.admin_site.name}:mongo_party_messages", args=[obj.party_id])
        return format_html(
            '<a href="{}">{}</a> <span class="quiet">(deleted; its text is in the detail)</span>', url, obj.message_id
        )

    @admin.display(description="detail")
    def short_detail(self, obj: ModerationAction) -> str:
        return obj.detail if len(obj.detail) <= 120 else obj.detail[:119] + "…"

    def _is_staff(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request) -> bool:
        return self._is_staff(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._is_staff(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
