"""Replies (a quoted original) and @name mentions, in chat.services."""

import json

import pytest

from chat import repository, services
from core.errors import Invalid, Muted
from parties import services as party_services
from parties.services import PartySettings
from tests.chat.test_services import listen


@pytest.fixture
def party(user):
    return party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))


@pytest.fixture
def people(party, make_user):
    """Ada, Ada Lovelace and Bob, seated in ``party`` (hosted by Alice)."""
    seated = [make_user(display_name=name) for name in ("Ada", "Ada Lovelace", "Bob")]
    for member in seated:
        party_services.party_join(room_code=party.room_code, user=member)
    return seated


def send(party, user, text, **options):
    options.setdefault("client_id", None)
    return services.message_send(party_id=party.id, user=user, text=text, message_type="text", **options).message


def test_reply_quotes_its_original_and_is_broadcast(user, party, people):
    """A reply carries the original's id, author and the start of its text, to every socket."""
    bob = people[2]
    original = send(party, bob, "x" * 150)
    receive = listen(party.id)
    reply = send(party, user, "agreed", reply_to=original.id)
    frame = json.loads(receive()["frame"])
    quote = {"id": original.id, "user_id": str(bob.pk), "user_name": "Bob", "text": "x" * services.REPLY_SNIPPET_CHARS}
    assert frame["message"]["reply_to"] == quote | {"deleted": False}
    assert repository.get_message(party.id, reply.id).reply_to == quote


def test_reply_keeps_its_quote_after_an_edit_and_blanks_it_after_a_deletion(user, party, people):
    """The quote is what was replied to: an edit leaves it; a deletion empties it and marks it deleted."""
    bob = people[2]
    original = send(party, bob, "first words")
    reply = send(party, user, "yes", reply_to=original.id)
    services.message_edit(party_id=party.id, user=bob, message_id=original.id, text="other words")
    assert repository.get_message(party.id, reply.id).reply_to["text"] == "first words"
    services.message_delete(party_id=party.id, user=user, message_id=original.id)
    payload = services.message_payload(repository.get_message(party.id, reply.id))
    assert payload["reply_to"] == {
        "id": original.id,
        "user_id": str(bob.pk),
        "user_name": "Bob",
        "text": "",
        "deleted": True,
    }


def test_reply_to_a_message_of_another_party_or_a_missing_one_is_refused(user, party, make_user):
    """reply_to must name a message of the same party; nothing is stored otherwise."""
    other = party_services.party_create(user=user, data=PartySettings(content_id="other", content_type="vod"))
    elsewhere = send(other, user, "elsewhere")
    for target in (elsewhere.id, "65a1b2c3d4e5f60718293a4b"):
        with pytest.raises(Invalid) as caught:
            send(party, user, "re", reply_to=target)
        assert "reply_to" in caught.value.payload()["errors"]
    assert repository.count_for_party(party.id) == 0


def test_resend_of_a_reply_whose_original_was_deleted_returns_the_stored_reply(user, party, people):
    """A client resending after a timeout gets its stored reply back, even if the original went."""
    original = send(party, people[2], "hi")
    first = services.message_send(
        party_id=party.id, user=user, text="hey", message_type="text", client_id="c1", reply_to=original.id
    )
    services.message_delete(party_id=party.id, user=user, message_id=original.id)
    again = services.message_send(
        party_id=party.id, user=user, text="hey", message_type="text", client_id="c1", reply_to=original.id
    )
    assert not again.created and again.message.id == first.message.id


def test_mentions_resolve_names_of_participants_longest_first(user, party, people):
    """@Ada Lovelace names her, not Ada; case does not matter; an unknown @name and an e-mail name nobody."""
    ada, lovelace, bob = people
    message = send(party, user, "@ada lovelace and @BOB, see a@ada.org and @nobody")
    assert message.mentions == [str(lovelace.pk), str(bob.pk)]
    assert send(party, user, "hey @Ada!").mentions == [str(ada.pk)]
    assert send(party, user, "@Adam is not Ada").mentions == []


def test_mentions_leave_out_the_author_and_people_without_a_seat(user, party, people):
    """One's own @name and the name of someone who left mention nobody."""
    ada, _lovelace, bob = people
    party_services.party_leave(party_id=party.id, user=bob)
    assert send(party, ada, "@Ada @Bob @Alice").mentions == [str(user.pk)]


def test_mentions_are_bounded(user, make_user):
    """A message naming more than MENTIONS_MAX people mentions the first MENTIONS_MAX."""
    party = party_services.party_create(
        user=user, data=PartySettings(content_id="film", content_type="vod", max_participants=20)
    )
    names = [f"P{i}" for i in range(services.MENTIONS_MAX + 2)]
    members = [make_user(display_name=name) for name in names]
    for member in members:
        party_services.party_join(room_code=party.room_code, user=member)
    message = send(party, user, " ".join(f"@{name}" for name in names))
    assert message.mentions == [str(m.pk) for m in members[: services.MENTIONS_MAX]]


def test_an_edit_resolves_mentions_again(user, party, people):
    """Editing a message re-reads its @names, and message.edited carries them."""
    bob = people[2]
    message = send(party, user, "hi all")
    receive = listen(party.id)
    services.message_edit(party_id=party.id, user=user, message_id=message.id, text="hi @Bob")
    assert json.loads(receive()["frame"])["mentions"] == [str(bob.pk)]
    assert repository.get_message(party.id, message.id).mentions == [str(bob.pk)]


def test_a_muted_participant_can_neither_reply_nor_mention(user, party, people):
    """Muting still stops every send, a reply with a mention included."""
    bob = people[2]
    original = send(party, user, "hello")
    party_services.participant_mute(party_id=party.id, user=user, target_id=str(bob.pk), muted=True)
    with pytest.raises(Muted):
        send(party, bob, "@Alice hi", reply_to=original.id)
    assert repository.count_for_party(party.id) == 1
