"""The admin's party moderation pages, the database page and the moderation log, driven as staff."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from parties import repository, services
from parties.models import ModerationAction
from parties.services import PartySettings
from tests.adminutil import assert_redirects_to_admin_login, listen, nothing_heard

MISSING_ID = "65a1b2c3d4e5f60718293a4b"


@pytest.fixture
def staff(make_user):
    return make_user(username="mod_ann", is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def create(user, content_id="film-1", **overrides):
    return services.party_create(user=user, data=PartySettings(content_id=content_id, content_type="vod", **overrides))


def list_url(**params) -> str:
    return reverse("admin:mongo_party_list") + ("?" + urlencode(params) if params else "")


def room_codes(response) -> list[str]:
    """The room codes listed on a party list page, in page order."""
    return re.findall(r'/admin/mongo/parties/[0-9a-f]{24}/">([A-Z0-9]{6})</a>', response.content.decode())


@pytest.fixture
def party_with_guest(user, make_user):
    guest = make_user(display_name="Bob")
    party = create(user)
    services.party_join(room_code=party.room_code, user=guest)
    return party, guest


# --- the index and the list -------------------------------------------------------------------


def test_admin_index_links_to_parties_and_database(staff_client):
    """The admin home page has a "MongoDB data" section linking to the parties and database pages."""
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "MongoDB data" in page
    assert f'href="{reverse("admin:mongo_party_list")}"' in page
    assert f'href="{reverse("admin:mongo_database")}"' in page
    assert f'href="{reverse("admin:parties_moderationaction_changelist")}"' in page


def test_party_list_is_newest_first_with_status_filter(staff_client, user):
    """The list shows every party newest first; the status filter keeps active or ended ones."""
    first, second, third = create(user), create(user), create(user)
    services.party_end(party_id=second.id, user=user)
    response = staff_client.get(list_url())
    assert response.status_code == 200
    assert room_codes(response) == [third.room_code, second.room_code, first.room_code]
    assert room_codes(staff_client.get(list_url(status="active"))) == [third.room_code, first.room_code]
    assert room_codes(staff_client.get(list_url(status="ended"))) == [second.room_code]


def test_party_list_search_by_room_code_host_and_content(staff_client, user, make_user):
    """Search finds parties by room code (any case), host id, host username or name, and content id."""
    other_host = make_user(username="carol_h", display_name="Carol")
    mine = create(user, content_id="film-A")
    carols = create(other_host, content_id="film-B")
    carols_ended = create(other_host, content_id="film-A")
    services.party_end(party_id=carols_ended.id, user=other_host)

    assert room_codes(staff_client.get(list_url(q=mine.room_code.lower()))) == [mine.room_code]
    assert room_codes(staff_client.get(list_url(q=str(other_host.pk)))) == [carols_ended.room_code, carols.room_code]
    assert room_codes(staff_client.get(list_url(q="CAROL_H"))) == [carols_ended.room_code, carols.room_code]
    assert room_codes(staff_client.get(list_url(q="carol"))) == [carols_ended.room_code, carols.room_code]
    assert room_codes(staff_client.get(list_url(q="film-A"))) == [carols_ended.room_code, mine.room_code]
    assert room_codes(staff_client.get(list_url(q="film-A", status="active"))) == [mine.room_code]
    assert room_codes(staff_client.get(list_url(q="Carol", status="ended"))) == [carols_ended.room_code]
    assert room_codes(staff_client.get(list_url(q="nothing-like-this"))) == []


def test_party_list_search_by_participant_and_title_words_in_any_case(staff_client, user, make_user):
    """Search finds a party by a seated participant's username, display name or id, and by title words in any case."""
    guest = make_user(username="dana_p", display_name="Dana")
    matrix = create(user, content_id="m-1", content_title="The Matrix Reloaded")
    services.party_join(room_code=matrix.room_code, user=guest)
    create(user, content_id="m-2", content_title="Matrices for beginners")
    for term in ("DANA_P", "dana", str(guest.pk)):
        assert room_codes(staff_client.get(list_url(q=term))) == [matrix.room_code], term
    assert room_codes(staff_client.get(list_url(q="matrix"))) == [matrix.room_code]
    assert room_codes(staff_client.get(list_url(q="RELOADED the"))) == [matrix.room_code]
    assert room_codes(staff_client.get(list_url(q="matrix beginners"))) == []  # every word must be there
    services.party_leave(party_id=matrix.id, user=guest)
    assert room_codes(staff_client.get(list_url(q="dana"))) == []  # seat holders only


def test_party_list_search_finds_parties_by_a_banned_user(staff_client, user, make_user):
    """Search finds a party by someone the host removed and banned (username, display name or id,
    any case), in any status; a person who merely left is not found."""
    banned, leaver = make_user(username="eve_b", display_name="Eve"), make_user(display_name="Lee")
    party = create(user)
    for person in (banned, leaver):
        services.party_join(room_code=party.room_code, user=person)
    services.participant_remove(party_id=party.id, user=user, target_id=str(banned.pk))
    services.party_leave(party_id=party.id, user=leaver)
    for term in ("EVE_B", "eve", str(banned.pk)):
        assert room_codes(staff_client.get(list_url(q=term))) == [party.room_code], term
    assert room_codes(staff_client.get(list_url(q="eve", status="active"))) == [party.room_code]
    assert room_codes(staff_client.get(list_url(q="lee"))) == []
    services.party_end(party_id=party.id, user=user)
    assert room_codes(staff_client.get(list_url(q="eve", status="ended"))) == [party.room_code]


def test_party_search_text_is_never_an_operator(staff_client, user):
    """Search text that looks like a query operator or a pattern is taken literally and finds nothing."""
    create(user, content_id="film-1")
    for text in ('{"$ne": null}', "$ne", ".*", "film-.*"):
        response = staff_client.get(list_url(q=text))
        assert response.status_code == 200
        assert room_codes(response) == []


def test_party_list_pages_hold_25_parties(staff_client, user, settings):
    """Thirty parties are listed on two pages, newest first, with links between them."""
    settings.PARTY_MAX_ACTIVE_PER_HOST = 30
    parties = [create(user) for _ in range(30)]
    newest_first = [p.room_code for p in reversed(parties)]
    first = staff_client.get(list_url())
    assert room_codes(first) == newest_first[:25]
    assert "Page 1 of 2" in first.content.decode() and "?page=2" in first.content.decode()
    second = staff_client.get(list_url(page=2))
    assert room_codes(second) == newest_first[25:]
    assert "30 parties" in second.content.decode()
    assert room_codes(staff_client.get(list_url(page="not-a-number"))) == newest_first[:25]
    filtered = staff_client.get(list_url(status="active", page=2)).content.decode()
    assert "status=active" in filtered and "page=1" in filtered


def test_party_list_rejects_bad_input_with_a_message(staff_client, user):
    """A search that is too long or an unknown status shows the form's error, not a server error."""
    create(user)
    too_long = staff_client.get(list_url(q="x" * 101))
    assert too_long.status_code == 200 and "errorlist" in too_long.content.decode()
    assert room_codes(too_long) == []
    bad_status = staff_client.get(list_url(status="deleted"))
    assert bad_status.status_code == 200 and "errorlist" in bad_status.content.decode()


# --- the detail page --------------------------------------------------------------------------


def test_party_page_shows_participants_and_playback(staff_client, user, party_with_guest):
    """A party's page shows its code, host, participants, playback state and action links."""
    from chat import services as chat_services

    party, guest = party_with_guest
    chat_services.playback_update(party_id=party.id, user=user, state="playing", position=42.5)
    response = staff_client.get(reverse("admin:mongo_party_detail", args=[party.id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert party.room_code in page and "Alice" in page and "Bob" in page
    assert 'id="playback-state">playing<' in page and 'id="playback-position">42.5 s<' in page
    assert reverse("admin:mongo_party_end", args=[party.id]) in page
    assert reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)]) in page
    # The host's seat has no remove link: ending the party is how a host is stopped.
    assert reverse("admin:mongo_party_remove_participant", args=[party.id, str(user.pk)]) not in page
    assert reverse("admin:mongo_party_messages", args=[party.id]) in page


def test_party_page_shows_seats_with_roles_presence_mutes_and_bans(staff_client, user, make_user):
    """The party page shows who is host, co-host, online and muted, and who is banned, with each one's actions."""
    from chat import services as chat_services

    party = create(user)
    co, muted, banned = make_user(display_name="Co"), make_user(display_name="Mo"), make_user(display_name="Ban")
    for person in (co, muted, banned):
        services.party_join(room_code=party.room_code, user=person)
    services.co_host_set(party_id=party.id, user=user, target_id=str(co.pk), co_host=True)
    services.participant_mute(party_id=party.id, user=user, target_id=str(muted.pk), muted=True)
    services.participant_remove(party_id=party.id, user=user, target_id=str(banned.pk))
    current = repository.get_party(party.id)
    chat_services.presence_connect(party=current, user=co, channel_name="specific.admin-test!1")
    try:
        page = staff_client.get(reverse("admin:mongo_party_detail", args=[party.id])).content.decode()
    finally:
        chat_services.presence_disconnect(party_id=party.id, user=co, channel_name="specific.admin-test!1")

    def row(prefix: str, user_id) -> str:
        return page.split(f'<tr id="{prefix}-{user_id}">')[1].split("</tr>")[0]

    assert "3, 1 online" in page
    assert '<td class="seat-role">host</td>' in row("seat", user.pk)
    assert "Remove" not in row("seat", user.pk)
    co_row = row("seat", co.pk)
    assert '<td class="seat-role">co-host</td>' in co_row and ">online<" in co_row and "Remove" in co_row
    muted_row = row("seat", muted.pk)
    assert "participant" in muted_row and "offline</span>, muted" in muted_row
    assert f"?user={muted.pk}" in muted_row  # their messages
    assert f'<tr id="seat-{banned.pk}">' not in page
    ban_row = row("ban", banned.pk)
    assert "Ban" in ban_row and f"?user={banned.pk}" in ban_row
    assert reverse("admin:auth_user_change", args=[banned.pk]) in ban_row


def test_ended_party_page_offers_no_actions(staff_client, user, party_with_guest):
    """An ended party's page shows it ended, with no end or remove links."""
    party, guest = party_with_guest
    services.party_end(party_id=party.id, user=user)
    page = staff_client.get(reverse("admin:mongo_party_detail", args=[party.id])).content.decode()
    assert "ended" in page
    assert reverse("admin:mongo_party_end", args=[party.id]) not in page
    assert reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)]) not in page


# --- ending a party ---------------------------------------------------------------------------


def test_end_party_asks_for_confirmation_first(staff_client, user):
    """Opening "End party" shows a confirmation form and changes nothing."""
    party = create(user)
    receive = listen(party.id)
    response = staff_client.get(reverse("admin:mongo_party_end", args=[party.id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "csrfmiddlewaretoken" in page and "Yes, end the party" in page
    assert repository.get_party(party.id).is_active
    assert nothing_heard(receive)


def test_staff_ends_a_party(staff_client, staff, user, party_with_guest):
    """Ending a party from the admin ends it, tells its sockets, and records who did it."""
    party, _guest = party_with_guest
    receive = listen(party.id)
    response = staff_client.post(reverse("admin:mongo_party_end", args=[party.id]), {"reason": "spam stream"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:mongo_party_detail", args=[party.id])
    ended = repository.get_party(party.id)
    assert ended.ended_at is not None
    frame = receive()
    assert frame["type"] == "party.ended" and frame["party_id"] == party.id
    record = ModerationAction.objects.get()
    assert record.moderator == staff and record.action == "end_party" and record.party_id == party.id
    assert party.room_code in record.detail and "Reason: spam stream" in record.detail
    assert record.created_at is not None
    # The page says so.
    page = staff_client.get(response["Location"]).content.decode()
    assert "has ended" in page and "End party" in page


def test_ending_an_ended_party_changes_nothing(staff_client, user):
    """Ending a party that has already ended records nothing and sends nothing."""
    party = create(user)
    services.party_end(party_id=party.id, user=user)
    receive = listen(party.id)
    response = staff_client.post(reverse("admin:mongo_party_end", args=[party.id]))
    assert response.status_code == 302
    assert not ModerationAction.objects.exists()
    assert nothing_heard(receive)


# --- removing a participant -------------------------------------------------------------------


def test_staff_removes_a_participant(staff_client, staff, party_with_guest):
    """Removing a participant frees their seat, tells the party (reason removed), and is recorded."""
    party, guest = party_with_guest
    receive = listen(party.id)
    url = reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)])
    confirm = staff_client.get(url)
    assert confirm.status_code == 200 and "Bob" in confirm.content.decode()
    response = staff_client.post(url, {"reason": "abusive"})
    assert response.status_code == 302
    after = repository.get_party(party.id)
    assert not after.has_participant(str(guest.pk)) and after.participant_count == 1
    frame = receive()
    assert frame["type"] == "participant.left"
    assert frame["user_id"] == str(guest.pk) and frame["reason"] == "removed" and frame["participant_count"] == 1
    assert frame["banned"] is False  # the room code still admits them: a staff removal is no ban
    # The channel-layer event names the user, so that their own sockets close (4403).
    assert frame["_event"]["user_id"] == str(guest.pk) and frame["_event"]["reason"] == "removed"
    record = ModerationAction.objects.get()
    assert (record.moderator, record.action, record.party_id, record.target_user_id) == (
        staff,
        "remove_participant",
        party.id,
        str(guest.pk),
    )
    assert "Bob" in record.detail and "Reason: abusive" in record.detail


def test_removing_the_host_is_refused(staff_client, user):
    """The host's seat cannot be removed (end the party instead); nothing changes or is recorded."""
    party = create(user)
    receive = listen(party.id)
    response = staff_client.post(
        reverse("admin:mongo_party_remove_participant", args=[party.id, str(user.pk)]), follow=True
    )
    assert "end the party instead" in response.content.decode()
    assert repository.get_party(party.id).has_participant(str(user.pk))
    assert not ModerationAction.objects.exists()
    assert nothing_heard(receive)


def test_removing_the_host_is_never_offered(staff_client, user, party_with_guest):
    """The party page offers "Remove" for the guest only; the host's remove link says why at once, with no form."""
    party, guest = party_with_guest
    page = staff_client.get(reverse("admin:mongo_party_detail", args=[party.id])).content.decode()
    assert reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)]) in page
    assert reverse("admin:mongo_party_remove_participant", args=[party.id, str(user.pk)]) not in page
    response = staff_client.get(
        reverse("admin:mongo_party_remove_participant", args=[party.id, str(user.pk)]), follow=True
    )
    page = response.content.decode()
    assert "end the party instead" in page and "Yes, remove them" not in page


def test_party_remove_participant_service_refuses_unknown_seat(staff, party_with_guest, make_user):
    """The service answers not_found for a user without a seat, and records nothing."""
    from core.errors import NotFound

    party, _guest = party_with_guest
    with pytest.raises(NotFound):
        services.party_remove_participant(party_id=party.id, user_id=str(make_user().pk), moderator=staff)
    assert not ModerationAction.objects.exists()


# --- lifting a ban ---------------------------------------------------------------------------


@pytest.fixture
def banned_party(user, make_user):
    """An active party whose host removed and banned "Ban"."""
    banned = make_user(display_name="Ban")
    party = create(user)
    services.party_join(room_code=party.room_code, user=banned)
    services.participant_remove(party_id=party.id, user=user, target_id=str(banned.pk))
    ModerationAction.objects.all().delete()  # the host's own act; the tests look at staff's
    return party, banned


def test_staff_lift_a_ban_from_the_party_page(staff_client, staff, banned_party):
    """ "Lift ban" on the party page asks first, then lifts the ban (the room code admits them again),
    records it with the reason, and tells the party nothing, as the in-room unban does."""
    party, banned = banned_party
    detail = reverse("admin:mongo_party_detail", args=[party.id])
    url = reverse("admin:mongo_party_unban", args=[party.id, str(banned.pk)])
    ban_row = staff_client.get(detail).content.decode().split(f'<tr id="ban-{banned.pk}">')[1].split("</tr>")[0]
    assert f'href="{url}"' in ban_row and "Lift ban" in ban_row
    receive = listen(party.id)
    confirm = staff_client.get(url).content.decode()
    assert "Ban" in confirm and "Yes, lift the ban" in confirm and "csrfmiddlewaretoken" in confirm
    assert str(banned.pk) in repository.get_party(party.id).banned_ids
    response = staff_client.post(url, {"reason": "appeal accepted"})
    assert response.status_code == 302 and response["Location"] == detail
    assert repository.get_party(party.id).banned_ids == ()
    record = ModerationAction.objects.get()
    assert (record.moderator, record.action, record.room_code, record.target_user_id) == (
        staff,
        "unban_participant",
        party.room_code,
        str(banned.pk),
    )
    assert "Ban" in record.detail and "Reason: appeal accepted" in record.detail
    assert nothing_heard(receive)
    page = staff_client.get(detail).content.decode()
    assert "was lifted" in page and "Nobody is banned." in page
    assert services.party_join(room_code=party.room_code, user=banned).has_participant(str(banned.pk))


def test_lifting_a_ban_needs_staff_and_the_csrf_token(client, make_user, staff, banned_party):
    """Anonymous and non-staff users are sent to the login, and a POST without the CSRF token is
    refused; the ban stays and nothing is recorded."""
    party, banned = banned_party
    url = reverse("admin:mongo_party_unban", args=[party.id, str(banned.pk)])
    assert_redirects_to_admin_login(client.get(url))
    assert_redirects_to_admin_login(client.post(url))
    client.force_login(make_user())
    assert_redirects_to_admin_login(client.post(url))
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff)
    assert csrf_client.post(url).status_code == 403
    assert repository.get_party(party.id).banned_ids == (str(banned.pk),)
    assert not ModerationAction.objects.exists()


def test_unban_service_refuses_non_staff_and_unknown_bans(banned_party, user, make_user, staff):
    """The service itself refuses a non-staff moderator (even the host) and a user who is not
    banned, and records nothing."""
    from core.errors import Forbidden, NotFound

    party, banned = banned_party
    with pytest.raises(Forbidden):
        services.party_unban_by_moderator(party_id=party.id, user_id=str(banned.pk), moderator=user)
    with pytest.raises(NotFound):
        services.party_unban_by_moderator(party_id=party.id, user_id=str(make_user().pk), moderator=staff)
    assert repository.get_party(party.id).banned_ids == (str(banned.pk),)
    assert not ModerationAction.objects.exists()


def test_lifting_a_ban_in_an_ended_party_or_of_no_one_is_refused(staff_client, user, banned_party, make_user):
    """An ended party offers no "Lift ban" and its link changes nothing; a user who is not banned
    (or a malformed id) is a 404 page."""
    party, banned = banned_party
    for user_id in ("abc", str(make_user().pk)):
        url = reverse("admin:mongo_party_unban", args=[party.id, user_id])
        assert staff_client.get(url).status_code == 404 and staff_client.post(url).status_code == 404
    services.party_end(party_id=party.id, user=user)
    url = reverse("admin:mongo_party_unban", args=[party.id, str(banned.pk)])
    assert url not in staff_client.get(reverse("admin:mongo_party_detail", args=[party.id])).content.decode()
    assert "has ended" in staff_client.post(url, follow=True).content.decode()
    assert repository.get_party(party.id).banned_ids == (str(banned.pk),)
    assert not ModerationAction.objects.exists()


# --- the moderation log -----------------------------------------------------------------------


def test_moderation_log_lists_actions_read_only(staff_client, staff, party_with_guest):
    """Staff see every moderation action in the admin's log, and cannot add, edit or delete one."""
    party, guest = party_with_guest
    services.party_remove_participant(party_id=party.id, user_id=str(guest.pk), moderator=staff)
    services.party_end_by_moderator(party_id=party.id, moderator=staff)
    changelist = staff_client.get(reverse("admin:parties_moderationaction_changelist"))
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "Remove participant" in page and "End party" in page and "mod_ann" in page and party.id in page
    assert (
        staff_client.get(reverse("admin:parties_moderationaction_changelist") + "?action=end_party")
        .context["cl"]
        .result_count
        == 1
    )
    searched = staff_client.get(reverse("admin:parties_moderationaction_changelist") + f"?q={party.id}")
    assert searched.context["cl"].result_count == 2
    record = ModerationAction.objects.first()
    assert staff_client.get(reverse("admin:parties_moderationaction_change", args=[record.pk])).status_code == 200
    assert staff_client.get(reverse("admin:parties_moderationaction_add")).status_code == 403
    staff_client.post(reverse("admin:parties_moderationaction_change", args=[record.pk]), {"detail": "x"})
    staff_client.post(reverse("admin:parties_moderationaction_delete", args=[record.pk]), {"post": "yes"})
    assert ModerationAction.objects.count() == 2 and ModerationAction.objects.get(pk=record.pk).detail != "x"


def test_moderation_log_finds_every_action_of_a_party_by_room_code_and_links_it(
    staff_client, staff, user, party_with_guest, make_user
):
    """In-room and staff actions all record the room code, so searching it (any case) finds them all; each
    entry links to the party's page, the moderator and the user acted on."""
    from chat import services as chat_services

    party, guest = party_with_guest
    third = make_user(display_name="Cy")
    services.party_join(room_code=party.room_code, user=third)
    services.participant_mute(party_id=party.id, user=user, target_id=str(guest.pk), muted=True)  # in the room
    services.participant_mute(party_id=party.id, user=user, target_id=str(guest.pk), muted=False)
    said = chat_services.message_send(party_id=party.id, user=third, text="hm", message_type="text", client_id=None)
    chat_services.message_delete(party_id=party.id, user=user, message_id=said.message.id)  # the host, in the room
    services.party_remove_participant(party_id=party.id, user_id=str(guest.pk), moderator=staff)
    services.party_end_by_moderator(party_id=party.id, moderator=staff)
    other = create(user, content_id="other")
    services.party_end_by_moderator(party_id=other.id, moderator=staff)

    url = reverse("admin:parties_moderationaction_changelist")
    searched = staff_client.get(url + f"?q={party.room_code.lower()}")
    assert searched.context["cl"].result_count == 5
    page = searched.content.decode()
    detail = reverse("admin:mongo_party_detail", args=[party.id])
    assert page.count(f'<a href="{detail}">{party.room_code}</a>') == 5
    assert f'href="{reverse("admin:auth_user_change", args=[staff.pk])}"' in page
    assert f'href="{reverse("admin:auth_user_change", args=[user.pk])}"' in page  # the host, moderating in the room
    assert f'<a href="{reverse("admin:auth_user_change", args=[guest.pk])}">user {guest.pk}</a>' in page
    entry = ModerationAction.objects.get(action="delete_message")
    change = staff_client.get(reverse("admin:parties_moderationaction_change", args=[entry.pk])).content.decode()
    assert reverse("admin:mongo_party_messages", args=[party.id]) in change and entry.message_id in change


def test_party_page_shows_its_moderation_history(staff_client, staff, party_with_guest):
    """A party's page lists the moderation done to it, with who and what."""
    party, guest = party_with_guest
    services.party_remove_participant(party_id=party.id, user_id=str(guest.pk), moderator=staff)
    page = staff_client.get(reverse("admin:mongo_party_detail", args=[party.id])).content.decode()
    assert "Remove participant" in page and "mod_ann" in page


# --- the database page ------------------------------------------------------------------------


def test_database_page_shows_counts_indexes_and_slow_commands(staff_client, user, monkeypatch):
    """The database page shows each collection's document count, its indexes and slow commands."""
    from core.db import monitoring

    create(user)
    create(user)
    monkeypatch.setattr(
        monitoring,
        "recent_slow_commands",
        lambda limit=20: [
            {
                "command": "find",
                "collection": "parties",
                "duration_ms": 812.5,
                "filter_shape": {"host_id": "?"},
                "sort_shape": None,
                "failed": False,
                "at": "2026-11-28T14:03:07.512Z",
            }
        ],
    )
    response = staff_client.get(reverse("admin:mongo_database"))
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'id="collection-parties">\s*<h2>parties — <span class="documents">2</span>', page)
    assert 'id="collection-chat_messages"' in page
    for name in ("room_code_active_unique", "party_timestamp_id", "archived_at_ttl", "created_ended"):
        assert name in page
    assert "812.5" in page and "{&quot;host_id&quot;: &quot;?&quot;}" in page


def test_database_page_without_slow_command_log(staff_client, monkeypatch):
    """Without the monitoring module's slow-command log, the page shows an empty table."""
    from core.db import monitoring

    monkeypatch.delattr(monitoring, "recent_slow_commands")
    response = staff_client.get(reverse("admin:mongo_database"))
    assert response.status_code == 200
    assert "No slow commands recorded" in response.content.decode()


# --- who may do what --------------------------------------------------------------------------


def _pages(party, guest) -> list[str]:
    return [
        reverse("admin:mongo_party_list"),
        reverse("admin:mongo_party_detail", args=[party.id]),
        reverse("admin:mongo_party_end", args=[party.id]),
        reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)]),
        reverse("admin:mongo_database"),
        reverse("admin:parties_moderationaction_changelist"),
    ]


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_non_staff_get_no_page_and_no_action(client, make_user, party_with_guest, who):
    """Anonymous and non-staff users are sent to the admin login from every page and cannot act."""
    party, guest = party_with_guest
    if who == "non-staff":
        client.force_login(make_user())
    receive = listen(party.id)
    for url in _pages(party, guest):
        assert_redirects_to_admin_login(client.get(url))
    assert_redirects_to_admin_login(client.post(reverse("admin:mongo_party_end", args=[party.id])))
    assert_redirects_to_admin_login(
        client.post(reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)]))
    )
    after = repository.get_party(party.id)
    assert after.is_active and after.has_participant(str(guest.pk))
    assert not ModerationAction.objects.exists()
    assert nothing_heard(receive)


def test_actions_need_the_csrf_token(staff, party_with_guest):
    """A moderation POST without the CSRF token is refused (403) and changes nothing."""
    party, guest = party_with_guest
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post(reverse("admin:mongo_party_end", args=[party.id])).status_code == 403
    remove = reverse("admin:mongo_party_remove_participant", args=[party.id, str(guest.pk)])
    assert client.post(remove).status_code == 403
    after = repository.get_party(party.id)
    assert after.is_active and after.has_participant(str(guest.pk))
    # With the token from the confirmation page, the same POST works.
    client.get(remove)
    token = client.cookies["csrftoken"].value
    assert client.post(remove, {"csrfmiddlewaretoken": token}).status_code == 302
    assert not repository.get_party(party.id).has_participant(str(guest.pk))


@pytest.mark.parametrize(
    "name,args",
    [
        ("admin:mongo_party_detail", ["not-an-id"]),
        ("admin:mongo_party_detail", ["65A1B2C3D4E5F60718293A4B"]),
        ("admin:mongo_party_detail", [MISSING_ID]),
        ("admin:mongo_party_end", ["zzz"]),
        ("admin:mongo_party_end", [MISSING_ID]),
        ("admin:mongo_party_remove_participant", ["zzz", "1"]),
        ("admin:mongo_party_remove_participant", [MISSING_ID, "1"]),
    ],
)
def test_bad_or_unknown_party_id_is_404(staff_client, name, args):
    """A malformed or unknown party id is a 404 page, for viewing and for actions."""
    url = reverse(name, args=args)
    assert staff_client.get(url).status_code == 404
    if name != "admin:mongo_party_detail":  # the detail page takes no POST (405)
        assert staff_client.post(url).status_code == 404


def test_bad_or_seatless_user_id_is_404(staff_client, user, make_user):
    """Removing a malformed user id, or a user without a seat, is a 404 page."""
    party = create(user)
    for user_id in ("abc", "1" * 30, str(make_user().pk)):
        url = reverse("admin:mongo_party_remove_participant", args=[party.id, user_id])
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url).status_code == 404
    assert not ModerationAction.objects.exists()
