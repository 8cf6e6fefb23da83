"""The admin's chat moderation pages: a party's messages, searching them, deleting one."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from chat import repository, services
from chat.repository import NewMessage
from core.timeutil import utcnow
from parties import services as party_services
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


@pytest.fixture
def guest(make_user):
    return make_user(username="bob_g", display_name="Bob")


@pytest.fixture
def party(user, guest):
    party = party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))
    party_services.party_join(room_code=party.room_code, user=guest)
    return party


def say(party, user, text: str):
    return services.message_send(party_id=party.id, user=user, text=text, message_type="text", client_id=None).message


def messages_url(party, **params) -> str:
    return reverse("admin:mongo_party_messages", args=[party.id]) + ("?" + urlencode(params) if params else "")


def listed_ids(response) -> list[str]:
    """The message ids listed on a chat page, in page order."""
    return re.findall(r'<tr id="message-([0-9a-f]{24})">', response.content.decode())


def test_chat_page_lists_messages_newest_first(staff_client, party, user, guest):
    """A party's chat page shows its messages newest first, with author and a delete link each."""
    first, second = say(party, user, "hello"), say(party, guest, "hi <b>there</b>")
    response = staff_client.get(messages_url(party))
    assert response.status_code == 200
    assert listed_ids(response) == [second.id, first.id]
    page = response.content.decode()
    assert "hi &lt;b&gt;there&lt;/b&gt;" in page and "Bob" in page
    assert reverse("admin:mongo_message_delete", args=[party.id, first.id]) in page


def test_chat_page_shows_only_that_party(staff_client, party, user):
    """Another party's messages never appear on a party's chat page."""
    other = party_services.party_create(user=user, data=PartySettings(content_id="x", content_type="live"))
    mine, _theirs = say(party, user, "mine"), say(other, user, "theirs")
    assert listed_ids(staff_client.get(messages_url(party))) == [mine.id]


def test_chat_pages_hold_50_messages(staff_client, party, guest):
    """Sixty messages are shown on two pages of fifty and ten, newest first."""
    start = utcnow()
    stored = [
        repository.insert_message(
            NewMessage(
                party_id=party.id,
                user_id=str(guest.pk),
                user_name="Bob",
                message=f"message {i}",
                message_type="text",
                client_id=None,
                timestamp=start + timedelta(milliseconds=i),
            )
        )
        for i in range(60)
    ]
    newest_first = [m.id for m in reversed(stored)]
    first = staff_client.get(messages_url(party))
    assert listed_ids(first) == newest_first[:50] and "Page 1 of 2" in first.content.decode()
    assert listed_ids(staff_client.get(messages_url(party, page=2))) == newest_first[50:]


def test_search_by_text_is_literal_and_ignores_case(staff_client, party, user, guest):
    """Text search finds messages containing the text in any case; pattern characters are literal."""
    plain = say(party, user, "Spoiler: the butler did it")
    pattern = say(party, guest, "a.*b is not a spoiler")
    say(party, guest, "nothing to see")
    assert listed_ids(staff_client.get(messages_url(party, q="SPOILER"))) == [pattern.id, plain.id]
    assert listed_ids(staff_client.get(messages_url(party, q=".*"))) == [pattern.id]
    assert listed_ids(staff_client.get(messages_url(party, q="butler did"))) == [plain.id]
    for text in ("(", "[", "\\", '{"$ne": null}', "$where"):
        response = staff_client.get(messages_url(party, q=text))
        assert response.status_code == 200 and listed_ids(response) == []
    assert "No messages match." in staff_client.get(messages_url(party, q="zebra")).content.decode()


def test_search_by_user_id_or_name(staff_client, party, user, guest):
    """User search finds a user's messages by user id or by the name shown in chat (any case)."""
    by_alice, by_bob = say(party, user, "from alice"), say(party, guest, "from bob")
    system = services.system_message_send(party_id=party.id, text="Welcome")
    assert listed_ids(staff_client.get(messages_url(party, user=str(guest.pk)))) == [by_bob.id]
    assert listed_ids(staff_client.get(messages_url(party, user="alice"))) == [by_alice.id]
    assert listed_ids(staff_client.get(messages_url(party, user="BOB"))) == [by_bob.id]
    assert listed_ids(staff_client.get(messages_url(party, user="bo"))) == []  # names match whole
    assert listed_ids(staff_client.get(messages_url(party, user="system"))) == [system.id]
    assert listed_ids(staff_client.get(messages_url(party, user="Bob", q="ALICE"))) == []
    assert listed_ids(staff_client.get(messages_url(party, user="Bob", q="from"))) == [by_bob.id]


def test_one_users_messages_across_parties_newest_first_with_room_codes(staff_client, party, user, guest, make_user):
    """A user's page lists their messages in every party, newest first, each naming and linking its party; paged by 50."""
    second = party_services.party_create(
        user=user, data=PartySettings(content_id="x", content_type="vod", content_title="Dune")
    )
    party_services.party_join(room_code=second.room_code, user=guest)
    first_msg = say(party, guest, "in the first")
    say(party, user, "not bob")
    second_msg = say(second, guest, "in the second")
    response = staff_client.get(reverse("admin:mongo_user_messages", args=[str(guest.pk)]))
    assert response.status_code == 200
    assert listed_ids(response) == [second_msg.id, first_msg.id]
    page = response.content.decode()
    assert f'<a href="{reverse("admin:mongo_party_detail", args=[second.id])}">{second.room_code}</a>' in page
    assert "Dune" in page and "bob_g" in page
    start = utcnow()
    for i in range(50):
        repository.insert_message(
            NewMessage(
                party_id=second.id,
                user_id=str(guest.pk),
                user_name="Bob",
                message=f"more {i}",
                message_type="text",
                client_id=None,
                timestamp=start + timedelta(seconds=1, milliseconds=i),
            )
        )
    paged = staff_client.get(reverse("admin:mongo_user_messages", args=[str(guest.pk)]) + "?page=2")
    assert listed_ids(paged) == [second_msg.id, first_msg.id]  # 52: fifty newer on page 1
    assert staff_client.get(reverse("admin:mongo_user_messages", args=["x1"])).status_code == 404
    detail = staff_client.get(reverse("admin:mongo_party_detail", args=[party.id])).content.decode()
    assert reverse("admin:mongo_user_messages", args=[str(guest.pk)]) in detail


def search_url(**params) -> str:
    return reverse("admin:mongo_message_search") + ("?" + urlencode(params) if params else "")


def test_author_search_finds_messages_in_every_party_by_username_or_display_name(staff_client, party, user, guest):
    """The admin's "Chat messages" search finds an author's messages in every party, newest first,
    by username or display name in any letter case, or by user id; each names its party."""
    other = party_services.party_create(
        user=user, data=PartySettings(content_id="x", content_type="vod", content_title="Dune")
    )
    party_services.party_join(room_code=other.room_code, user=guest)
    first, _alice, second = say(party, guest, "one"), say(party, user, "not bob"), say(other, guest, "two")
    assert f'href="{search_url()}"' in staff_client.get(reverse("admin:index")).content.decode()
    for term in ("bob_g", "BOB_G", "bob", "bOb", str(guest.pk), "  Bob "):
        response = staff_client.get(search_url(author=term))
        assert response.status_code == 200
        assert listed_ids(response) == [second.id, first.id], term
    page = staff_client.get(search_url(author="BOB")).content.decode()
    assert f'<a href="{reverse("admin:mongo_party_detail", args=[other.id])}">{other.room_code}</a>' in page
    assert "Dune" in page and "2 messages in every party" in page
    assert reverse("admin:mongo_message_delete", args=[party.id, first.id]) in page


def test_author_search_matches_whole_names_and_never_a_pattern(staff_client, party, user, guest):
    """Part of a name, a pattern or an operator finds nobody; an empty search lists nothing."""
    say(party, guest, "hello")
    for term in ("bo", "b.*", ".*", "^bob", '{"$ne": null}', "$where", "(", "\\"):
        response = staff_client.get(search_url(author=term))
        assert response.status_code == 200 and listed_ids(response) == [], term
        assert "No messages." in response.content.decode()
    empty = staff_client.get(search_url())
    assert listed_ids(empty) == [] and "Name an author" in empty.content.decode()
    too_long = staff_client.get(search_url(author="b" * 101))
    assert too_long.status_code == 200 and listed_ids(too_long) == []
    assert "at most 100 characters" in too_long.content.decode()


def test_author_search_pages_hold_50_messages(staff_client, party, guest):
    """An author's 55 messages are shown 50 then 5, newest first."""
    start = utcnow()
    stored = [
        repository.insert_message(
            NewMessage(
                party_id=party.id,
                user_id=str(guest.pk),
                user_name="Bob",
                message=f"m{i}",
                message_type="text",
                client_id=None,
                timestamp=start + timedelta(milliseconds=i),
            )
        )
        for i in range(55)
    ]
    newest_first = [m.id for m in reversed(stored)]
    first = staff_client.get(search_url(author="bob"))
    assert listed_ids(first) == newest_first[:50] and "Page 1 of 2" in first.content.decode()
    assert listed_ids(staff_client.get(search_url(author="bob", page=2))) == newest_first[50:]


def test_delete_asks_for_confirmation_first(staff_client, party, guest):
    """Opening "Delete" shows the message and a confirmation form; nothing is deleted yet."""
    message = say(party, guest, "rude words")
    receive = listen(party.id)
    response = staff_client.get(reverse("admin:mongo_message_delete", args=[party.id, message.id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "rude words" in page and "Yes, delete it" in page and "csrfmiddlewaretoken" in page
    assert repository.get_message(party.id, message.id) is not None
    assert nothing_heard(receive)


def test_staff_deletes_a_message(staff_client, staff, party, guest):
    """Deleting a message removes it, tells the party's sockets, and records text and author."""
    message = say(party, guest, "rude words")
    receive = listen(party.id)
    url = reverse("admin:mongo_message_delete", args=[party.id, message.id])
    response = staff_client.post(url, {"reason": "insult"})
    assert response.status_code == 302 and response["Location"] == messages_url(party)
    assert repository.get_message(party.id, message.id) is None
    frame = receive()
    assert frame["type"] == "message.deleted" and frame["message_id"] == message.id
    record = ModerationAction.objects.get()
    assert (record.moderator, record.action, record.party_id, record.message_id, record.target_user_id) == (
        staff,
        "delete_message",
        party.id,
        message.id,
        str(guest.pk),
    )
    assert "rude words" in record.detail and "Bob" in record.detail and "Reason: insult" in record.detail
    # The list no longer shows it, and the log does.
    assert listed_ids(staff_client.get(messages_url(party))) == []
    log = staff_client.get(reverse("admin:parties_moderationaction_changelist") + f"?q={message.id}")
    assert log.context["cl"].result_count == 1 and "Delete message" in log.content.decode()
    entry = staff_client.get(reverse("admin:parties_moderationaction_change", args=[record.pk])).content.decode()
    assert "rude words" in entry and message.id in entry and "mod_ann" in entry


def test_deleting_from_a_search_returns_to_that_search(staff_client, party, user, guest):
    """Delete from a filtered, paged list: the link, the confirmation and the redirect keep the search and page."""
    rude = say(party, guest, "rude words")
    say(party, user, "rude too")
    say(party, guest, "kind words")
    listing = staff_client.get(messages_url(party, q="RUDE", user="bob", page="1"))
    delete_url = reverse("admin:mongo_message_delete", args=[party.id, rude.id]) + "?q=RUDE&user=bob&page=1"
    assert f'href="{delete_url.replace("&", "&amp;")}"' in listing.content.decode()
    confirm = staff_client.get(delete_url).content.decode()
    assert f'href="{messages_url(party, q="RUDE", user="bob", page="1").replace("&", "&amp;")}"' in confirm  # cancel
    response = staff_client.post(delete_url, {"reason": ""})
    assert response.status_code == 302
    assert response["Location"] == messages_url(party, q="RUDE", user="bob", page="1")
    # Only the list's own keys, re-encoded, travel back: nothing else is echoed into the redirect.
    response = staff_client.post(
        reverse("admin:mongo_message_delete", args=[party.id, say(party, guest, "x").id])
        + "?q=x&next=//evil.example&page=abc"
    )
    assert response["Location"] == messages_url(party, q="x")


def test_deleting_a_missing_message_records_nothing(staff, party):
    """The service refuses a message that is not there, and nothing is recorded."""
    from core.errors import NotFound

    with pytest.raises(NotFound):
        services.message_delete_by_moderator(party_id=party.id, message_id=MISSING_ID, moderator=staff)
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_non_staff_cannot_read_or_delete(client, make_user, party, guest, who):
    """Anonymous and non-staff users are sent to the admin login and cannot delete a message."""
    if who == "non-staff":
        client.force_login(make_user())
    message = say(party, guest, "still here")
    receive = listen(party.id)
    delete_url = reverse("admin:mongo_message_delete", args=[party.id, message.id])
    assert_redirects_to_admin_login(client.get(messages_url(party)))
    assert_redirects_to_admin_login(client.get(search_url(author=guest.username)))
    assert_redirects_to_admin_login(client.get(delete_url))
    assert_redirects_to_admin_login(client.post(delete_url))
    assert repository.get_message(party.id, message.id) is not None
    assert not ModerationAction.objects.exists()
    assert nothing_heard(receive)


def test_delete_needs_the_csrf_token(staff, party, guest):
    """A delete POST without the CSRF token is refused (403) and the message stays."""
    message = say(party, guest, "still here")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post(reverse("admin:mongo_message_delete", args=[party.id, message.id])).status_code == 403
    assert repository.get_message(party.id, message.id) is not None


def test_bad_or_unknown_ids_are_404(staff_client, party, user):
    """A malformed or unknown party or message id, or another party's message, is a 404 page."""
    other = party_services.party_create(user=user, data=PartySettings(content_id="x", content_type="live"))
    elsewhere = say(other, user, "elsewhere")
    assert staff_client.get(reverse("admin:mongo_party_messages", args=["nope"])).status_code == 404
    assert staff_client.get(reverse("admin:mongo_party_messages", args=[MISSING_ID])).status_code == 404
    for party_id, message_id in (
        (party.id, "nope"),
        (party.id, MISSING_ID.upper()),
        (party.id, MISSING_ID),
        (party.id, elsewhere.id),
        ("nope", elsewhere.id),
    ):
        url = reverse("admin:mongo_message_delete", args=[party_id, message_id])
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url).status_code == 404
    assert repository.get_message(other.id, elsewhere.id) is not None
    assert not ModerationAction.objects.exists()
