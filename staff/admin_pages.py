"""Shared pieces of the admin's MongoDB pages: rendering inside the admin, ids from the URL and
the moderation confirmation form. Imported by the apps' ``admin.py`` modules."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from core.http.api import OBJECT_ID_RE
from core.text import clean_message_text

# Django user ids as the parties store them (``str(user.pk)``).
USER_ID_RE = re.compile(r"^[0-9]{1,19}$")
REASON_MAX_LENGTH = 500


def object_id_or_404(value: str) -> str:
    """A party or message id from the URL: 24 lowercase hex characters, else a 404 page."""
    if not isinstance(value, str) or not OBJECT_ID_RE.match(value):
        raise Http404("No such id.")
    return value


def user_id_or_404(value: str) -> str:
    if not isinstance(value, str) or not USER_ID_RE.match(value):
        raise Http404("No such user id.")
    return value


def render_page(request, site, template: str, *, title: str, **context: Any) -> TemplateResponse:
    """A page inside the admin: its header, sidebar, breadcrumbs and look (``each_context``)."""
    request.current_app = site.name
    return TemplateResponse(request, template, {**site.each_context(request), "title": title, **context})


class ModerationReasonForm(forms.Form):
    """The confirmation of a moderation action, with an optional reason for the log."""

    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional. Kept in the moderation log with the action.",
    )

    def clean_reason(self) -> str:
        return clean_message_text(self.cleaned_data.get("reason", ""))


def confirm_with_reason(request, site, *, act, done_url: str, **page: Any):
    """A staff action asked for once more with a reason: on a valid POST ``act(reason)`` runs (it
    tells staff the outcome through django.contrib.messages) and the browser goes to ``done_url``;
    otherwise the confirmation page, with ``page`` as its context (title, question,
    confirm_label, cancel_url, ...)."""
    form = ModerationReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        act(form.cleaned_data["reason"])
        return redirect(done_url)
    return render_page(request, site, "admin/watchparty/confirm_action.html", form=form, **page)
