"""Staff moderation of chat in the admin: a party's messages (searchable by text and by user),
messages in every party by author, and deleting a message. Messages are MongoDB documents, so these are admin pages
(``admin.site.register_view``) that call chat.services only; the admin site checks staff and CSRF."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from chat import services
from core.errors import NotFound
from core.text import clean_single_line
from parties.services import party_get_for_moderator, party_labels_for_staff
from staff.admin_pages import confirm_with_reason, object_id_or_404, render_page, user_id_or_404

MESSAGES_PER_PAGE = 50
SEARCH_MAX_LENGTH = 100


class MessageSearchForm(forms.Form):
    q = forms.CharField(
        label="Text",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        help_text="Messages containing this text (any letter case).",
    )
    user = forms.CharField(
        label="User",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        help_text="A user id, or the exact name shown in chat (any letter case).",
    )

    def clean_q(self) -> str:
        return clean_single_line(self.cleaned_data.get("q", ""))

    def clean_user(self) -> str:
        return clean_single_line(self.cleaned_data.get("user", ""))


# The list's filter and page, carried through "Delete" and back, so staff stay where they were.
LIST_STATE_KEYS = ("q", "user", "page")


def list_state(params) -> str:
    """The chat list's search and page from ``params`` as a query string ("" when none): only
    those keys, each a valid search value or page number, re-encoded."""
    form = MessageSearchForm(params)
    kept = {}
    if form.is_valid():
        kept = {key: form.cleaned_data[key] for key in ("q", "user") if form.cleaned_data[key]}
    page = params.get("page", "")
    if isinstance(page, str) and page.isdigit() and len(page) <= 6:
        kept["page"] = page
    return urlencode(kept)


def _party_or_404(party_id: str):
    try:
        return party_get_for_moderator(party_id=object_id_or_404(party_id))
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require_http_methods(["GET"])
def message_list_view(request, party_id: str, *, site):
    party = _party_or_404(party_id)
    form = MessageSearchForm(request.GET)
    if form.is_valid():
        results = services.message_search(
            party_id=party.id, text=form.cleaned_data["q"], user=form.cleaned_data["user"]
        )
    else:
        results = []
    page = Paginator(results, MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    return render_page(
        request,
        site,
        "admin/chat/message_list.html",
        title=f"Chat of party {party.room_code}",
        party=party,
        form=form,
        page=page,
        searching=bool(form.is_valid() and (form.cleaned_data["q"] or form.cleaned_data["user"])),
        list_state=list_state(request.GET),
    )


@require_http_methods(["GET", "POST"])
def message_delete_view(request, party_id: str, message_id: str, *, site):
    party = _party_or_404(party_id)
    message_id = object_id_or_404(message_id)
    state = list_state(request.GET)
    list_url = reverse(f"{site.name}:mongo_party_messages", args=[party.id]) + (f"?{state}" if state else "")
    try:
        message = services.message_get_for_moderator(party_id=party.id, message_id=message_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc

    def act(reason: str) -> None:
        try:
            services.message_delete_by_moderator(
                party_id=party.id, message_id=message.id, moderator=request.user, reason=reason
            )
        except NotFound:
            messages.warning(request, "That message was already deleted.")
        else:
            messages.success(request, f"The message by {message.user_name} was deleted; the party was told.")

    return confirm_with_reason(
        request,
        site,
        act=act,
        done_url=list_url,
        title="Delete this message?",
        party=party,
        chat_message=message,
        question=f"Delete this message by {message.user_name} (user {message.user_id}) for everyone in party {party.room_code}?",
        confirm_label="Yes, delete it",
        cancel_url=list_url,
    )


@require_http_methods(["GET"])
def user_messages_view(request, user_id: str, *, site):
    """One user's messages in every party, newest first, each with its party's room code."""
    user_id = user_id_or_404(user_id)
    account = get_user_model().objects.filter(pk=int(user_id)).first()
    page = Paginator(services.message_search_by_author(user_id=user_id), MESSAGES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = _rows_with_party_labels(page)
    name = account.get_username() if account is not None else f"user {user_id}"
    return render_page(
        request,
        site,
        "admin/chat/user_messages.html",
        title=f"Messages by {name}",
        account=account,
        user_id=user_id,
        page=page,
        rows=rows,
    )


class AuthorSearchForm(forms.Form):
    author = forms.CharField(
        label="Author",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        help_text="A user id, username or display name, any letter case: that user's messages in every party.",
    )

    def clean_author(self) -> str:
        return clean_single_line(self.cleaned_data.get("author", ""))


def _rows_with_party_labels(page) -> list[dict]:
    labels = party_labels_for_staff(party_ids=[m.party_id for m in page.object_list])
    return [
        {"message": m, "room_code": labels.get(m.party_id, ("", ""))[0], "title": labels.get(m.party_id, ("", ""))[1]}
        for m in page.object_list
    ]


@require_http_methods(["GET"])
def message_search_view(request, *, site):
    """Messages in every party by an author staff name (username or display name, any case)."""
    form = AuthorSearchForm(request.GET)
    author = form.cleaned_data["author"] if form.is_valid() else ""
    results = services.message_search_by_author_name(author=author) if author else []
    page = Paginator(results, MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    return render_page(
        request,
        site,
        "admin/chat/message_search.html",
        title="Chat messages by author",
        form=form,
        author=author,
        page=page,
        rows=_rows_with_party_labels(page),
    )


admin.site.register_view("mongo/parties/<str:party_id>/messages/", message_list_view, name="mongo_party_messages")
admin.site.register_view("mongo/users/<str:user_id>/messages/", user_messages_view, name="mongo_user_messages")
admin.site.register_view("mongo/messages/", message_search_view, name="mongo_message_search", link="Chat messages")
admin.site.register_view(
    "mongo/parties/<str:party_id>/messages/<str:message_id>/delete/", message_delete_view, name="mongo_message_delete"
)
