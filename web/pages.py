"""The browser client's pages: home, the party room, its replay and invite links. The JSON API is
parties/views.py and chat/views.py.

The room page is a shell: it carries the party id and the signed-in user, and the browser client
(web/static/watchparty/js/room.js) fetches the party from the API and opens the WebSocket.
Nothing here reads the database, so whether the party exists or the user holds a seat is decided
by the API (a 404 there makes the page show a notice).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from core.http.api import OBJECT_ID_RE
from core.http.csp import YOUTUBE_SOURCES, allow_sources
from core.text import user_display_name
from parties.serializers import PartyJoinSerializer


@login_required
def home(request):
    return render(request, "home.html")


@require_safe
@login_required
@ensure_csrf_cookie  # the client reads the csrftoken cookie for its API POSTs (leave, end)
def party_room(request, party_id: str):
    if not OBJECT_ID_RE.match(party_id):
        raise Http404("No such party.")
    response = render(
        request,
        "parties/room.html",
        {
            "party_id": party_id,
            "user_id": str(request.user.pk),
            "user_name": user_display_name(request.user),
            "wait_timeout": settings.PARTY_WAIT_TIMEOUT_SECONDS,
        },
    )
    # Any party may play a YouTube video (the page does not read the party): only this page
    # lets the YouTube player in.
    return allow_sources(response, YOUTUBE_SOURCES)


@require_safe
@login_required
def party_replay(request, party_id: str):
    """The replay of a party: its videos played here alone (never synced, no control frames), the
    messages appearing at the moments they were written, loaded by position from the history API
    (which decides who may read them: the party's members, as for its history)."""
    if not OBJECT_ID_RE.match(party_id):
        raise Http404("No such party.")
    response = render(request, "parties/replay.html", {"party_id": party_id, "user_id": str(request.user.pk)})
    # Its videos may be YouTube's, as in the room: only these two pages let the YouTube player in.
    return allow_sources(response, YOUTUBE_SOURCES)


@require_safe
@login_required  # a logged-out visitor logs in (or signs up) and comes back here
def party_invite(request, code: str):
    """An invite link, /join/<room code>/: the home page with the join form filled in. Joining
    stays a click on "Join party" (a POST), so a link alone never takes anyone's seat."""
    serializer = PartyJoinSerializer(data={"room_code": code})
    if serializer.is_valid():
        invite_code = serializer.validated_data["room_code"]
        message = f"You are invited to party {invite_code}: press Join party to take a seat."
    else:
        invite_code = ""
        message = " ".join(str(error) for error in serializer.errors["room_code"])
    return render(request, "home.html", {"invite_code": invite_code, "invite_message": message})
