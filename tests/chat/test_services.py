import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import repository, services
from chat.serializers import MessageSerializer
from core.errors import ChatDisabled, Forbidden, Invalid, Muted, NotFound, RateLimited
from core.realtime.fanout import party_group
from core.timeutil import isoformat_z
from parties import services as party_services
from parties.models import ModerationAction
from parties.services import PartySettings


@pytest.fixture
def party(user):
    return party_services.party_create(user=user, data=PartySettings(content_id="film", content_type="vod"))


def listen(party_id):
    """A channel in the party's group, as a socket would have."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(party_group(party_id), channel)
    return lambda timeout=2: async_to_sync(_receive)(layer, channel, timeout)


async def _receive(layer, channel, timeout):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout)


def test_send_stores_then_broadcasts(user, party):
    """A sent message is in the database by the time the party hears of it."""
    receive = listen(party.id)
    result = services.message_send(party_id=party.id, user=user, text="hello", message_type="text", client_id="1")
    event = receive()
    assert event["type"] == "chat.message" and result.created and result.delivered
    assert '"message":"hello"' in event["frame"]
    assert repository.get_message(party.id, result.message.id).message == "hello"


def test_send_broadcasts_the_public_shape_without_building_a_serializer(user, party, monkeypatch):
    """A send's frame carries every public field of the message, and no serializer is built for it
    (building one deep-copies DRF's declared fields: most of a send's payload CPU)."""
    built = []
    original_init = MessageSerializer.__init__

    def counting_init(self, *args, **kwargs):
        built.append(args)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(MessageSerializer, "__init__", counting_init)
    receive = listen(party.id)
    result = services.message_send(party_id=party.id, user=user, text="hello", message_type="text", client_id="c1")
    frame = json.loads(receive()["frame"])
    stored = result.message
    assert frame["message"] == {
        "id": stored.id,
        "party_id": party.id,
        "user_id": str(user.pk),
        "user_name": stored.user_name,
        "message": "hello",
        "message_type": "text",
        "source_language": None,
        "translations": {},
        "reactions": {},
        "client_id": "c1",
        "timestamp": isoformat_z(stored.timestamp),
        "edited_at": None,
        "reply_to": None,
        "mentions": [],
        "at": None,  # a name ("film") plays no video
    }
    assert built == []


def test_send_to_chat_disabled_party(user):
    """Chat off: sends are refused with chat_disabled and nothing is stored."""
    party = party_services.party_create(
        user=user, data=PartySettings(content_id="f", content_type="vod", chat_enabled=False)
    )
    with pytest.raises(ChatDisabled):
        services.message_send(party_id=party.id, user=user, text="hi", message_type="text", client_id=None)
    assert repository.count_for_party(party.id) == 0


def test_send_to_ended_party_is_forbidden(user, party):
    """Nobody can chat in an ended party, but its history stays readable."""
    services.message_send(party_id=party.id, user=user, text="bye", message_type="text", client_id=None)
    party_services.party_end(party_id=party.id, user=user)
    with pytest.raises(Forbidden):
        services.message_send(party_id=party.id, user=user, text="hello?", message_type="text", client_id=None)
    messages, _ = services.message_history(party_id=party.id, user=user, before=None, limit=10)
    assert [m.message for m in messages] == ["bye"]


def test_resend_after_rate_limit_returns_stored_message(user, party, settings):
    """A resend of an already stored message is answered even when the sender is over the limit."""
    settings.CHAT_SEND_RATE_LIMIT = (1, 60)
    first = services.message_send(party_id=party.id, user=user, text="once", message_type="text", client_id="k")
    again = services.message_send(party_id=party.id, user=user, text="once", message_type="text", client_id="k")
    assert again.message.id == first.message.id and not again.created


def test_sends_are_limited_per_user_across_parties(user, make_user, party, settings):
    """The per-user send limit counts every party together: a user in many parties cannot multiply the per-party limit."""
    settings.CHAT_SEND_RATE_LIMIT = (100, 60)
    settings.CHAT_SEND_USER_RATE_LIMIT = (3, 60)
    other_host = make_user()
    other = party_services.party_create(user=other_host, data=PartySettings(content_id="film", content_type="vod"))
    party_services.party_join(room_code=other.room_code, user=user)
    for target, text in ((party, "a"), (party, "b"), (other, "c")):
        services.message_send(party_id=target.id, user=user, text=text, message_type="text", client_id=None)
    with pytest.raises(RateLimited) as excinfo:
        services.message_send(party_id=other.id, user=user, text="d", message_type="text", client_id=None)
    assert excinfo.value.retry_after >= 1
    messages, _ = services.message_history(party_id=other.id, user=user, before=None, limit=10)
    assert [m.message for m in messages] == ["c"]
    # Someone else in the same party still has a budget of their own.
    assert services.message_send(
        party_id=other.id, user=other_host, text="e", message_type="text", client_id=None
    ).created


def test_edits_are_limited_per_user_across_parties(user, make_user, party, settings):
    """Edits count against the per-user chat limit too: editing in many parties cannot multiply the per-party limit."""
    settings.CHAT_SEND_RATE_LIMIT = (100, 60)
    settings.CHAT_SEND_USER_RATE_LIMIT = (4, 60)
    other = party_services.party_create(user=make_user(), data=PartySettings(content_id="film", content_type="vod"))
    party_services.party_join(room_code=other.room_code, user=user)
    here, there = say(party, user, "a"), say(other, user, "b")
    services.message_edit(party_id=party.id, user=user, message_id=here.id, text="a2")
    services.message_edit(party_id=other.id, user=user, message_id=there.id, text="b2")
    with pytest.raises(RateLimited):
        services.message_edit(party_id=other.id, user=user, message_id=there.id, text="b3")
    assert repository.get_message(other.id, there.id).message == "b2"


def test_reaction_limit_is_an_invalid_error(user, party, settings):
    """Past the emoji limit the service answers `invalid` naming the emoji field."""
    settings.REACTIONS_MAX_EMOJI = 1
    message = services.system_message_send(party_id=party.id, text="x")
    services.reaction_add(party_id=party.id, message_id=message.id, user=user, emoji="👍")
    with pytest.raises(Invalid) as excinfo:
        services.reaction_add(party_id=party.id, message_id=message.id, user=user, emoji="🎉")
    assert "emoji" in excinfo.value.errors


def test_playback_update_stores_and_broadcasts_the_rate(user, party):
    """playback_update keeps the speed with the party and sends it in playback.state."""
    receive = listen(party.id)
    services.playback_update(party_id=party.id, user=user, state="playing", position=5.0, rate=0.5)
    assert party_services.party_get_for_member(party_id=party.id, user=user).playback.rate == 0.5
    assert '"rate":0.5' in receive()["frame"]


def test_moderation_delete_of_missing_message(user, party):
    """Deleting a message that does not exist is not_found."""
    with pytest.raises(NotFound):
        services.message_delete_by_moderator(party_id=party.id, message_id="65a1b2c3d4e5f60718293a4b", moderator=user)


# --- Authors' edits and deletions, in-room moderation of messages ----------------------------


@pytest.fixture
def guests(user, party, make_user):
    """A co-host and a plain guest seated in ``party`` (hosted by ``user``)."""
    co_host, guest = make_user(display_name="Co"), make_user(display_name="Guest")
    for member in (co_host, guest):
        party_services.party_join(room_code=party.room_code, user=member)
    party_services.co_host_set(party_id=party.id, user=user, target_id=str(co_host.pk), co_host=True)
    return co_host, guest


def say(party, user, text="hello"):
    return services.message_send(party_id=party.id, user=user, text=text, message_type="text", client_id=None).message


def test_muted_user_cannot_send_or_edit_until_unmuted(user, party, guests):
    """A muted participant's sends and edits are refused with `muted`; after unmuting they send."""
    _co_host, guest = guests
    before = say(party, guest, "before")
    party_services.participant_mute(party_id=party.id, user=user, target_id=str(guest.pk), muted=True)
    with pytest.raises(Muted):
        say(party, guest, "spam")
    with pytest.raises(Muted):
        services.message_edit(party_id=party.id, user=guest, message_id=before.id, text="edited spam")
    assert repository.count_for_party(party.id) == 1
    party_services.participant_mute(party_id=party.id, user=user, target_id=str(guest.pk), muted=False)
    assert say(party, guest, "back").message == "back"


def test_author_edits_own_message_and_the_party_hears(user, party):
    """An edit replaces the stored text, sets edited_at, clears stale translations and is broadcast."""
    message = say(party, user, "helo")
    repository.set_translations(party.id, message.id, source_language="en", translations={"fr": "salut"})
    receive = listen(party.id)
    edited = services.message_edit(party_id=party.id, user=user, message_id=message.id, text="hello")
    event = receive()
    assert event["type"] == "message.edited" and '"message":"hello"' in event["frame"]
    stored = repository.get_message(party.id, message.id, lang="fr")
    assert stored.message == "hello" and stored.edited_at == edited.edited_at is not None
    assert stored.translations == {} and stored.timestamp == message.timestamp


def test_edit_of_someone_elses_message_is_forbidden(user, party, guests):
    """Nobody, not even the host, edits another user's message."""
    _co_host, guest = guests
    message = say(party, guest, "mine")
    with pytest.raises(Forbidden):
        services.message_edit(party_id=party.id, user=user, message_id=message.id, text="yours now")
    assert repository.get_message(party.id, message.id).message == "mine"


def test_edit_window_closes(user, party, settings):
    """A message older than CHAT_MESSAGE_EDIT_SECONDS can no longer be edited."""
    message = say(party, user, "old")
    settings.CHAT_MESSAGE_EDIT_SECONDS = 0
    with pytest.raises(Forbidden) as excinfo:
        services.message_edit(party_id=party.id, user=user, message_id=message.id, text="new")
    assert "minutes" in excinfo.value.detail
    assert repository.get_message(party.id, message.id).edited_at is None


def test_edit_of_missing_message_is_not_found(user, party):
    """Editing a message that does not exist is not_found."""
    with pytest.raises(NotFound):
        services.message_edit(party_id=party.id, user=user, message_id="65a1b2c3d4e5f60718293a4b", text="x")


def test_author_deletes_own_message_unlogged(user, party, guests):
    """A guest deletes their own message; the party hears message.deleted; it is not a moderation act."""
    _co_host, guest = guests
    message = say(party, guest, "oops")
    receive = listen(party.id)
    services.message_delete(party_id=party.id, user=guest, message_id=message.id)
    assert receive()["type"] == "message.deleted"
    assert repository.get_message(party.id, message.id) is None
    assert not ModerationAction.objects.filter(party_id=party.id, action="delete_message").exists()


def test_guest_cannot_delete_someone_elses_message(user, party, guests):
    """A plain guest deleting another's message is forbidden, and the message stays."""
    _co_host, guest = guests
    message = say(party, user, "host speaking")
    with pytest.raises(Forbidden):
        services.message_delete(party_id=party.id, user=guest, message_id=message.id)
    assert repository.get_message(party.id, message.id) is not None


def test_host_and_co_host_delete_a_guests_message_logged(user, party, guests):
    """The host and a co-host delete a guest's messages; each deletion is in the moderation log."""
    co_host, guest = guests
    first, second = say(party, guest, "rude"), say(party, guest, "ruder")
    services.message_delete(party_id=party.id, user=user, message_id=first.id)
    services.message_delete(party_id=party.id, user=co_host, message_id=second.id)
    records = ModerationAction.objects.filter(party_id=party.id, action="delete_message").order_by("id")
    assert [(r.moderator, r.message_id, r.target_user_id) for r in records] == [
        (user, first.id, str(guest.pk)),
        (co_host, second.id, str(guest.pk)),
    ]
    assert "ruder" in records[1].detail and "co-host" in records[1].detail


def test_co_host_cannot_delete_the_hosts_message(user, party, guests):
    """A co-host may not delete the host's messages."""
    co_host, _guest = guests
    message = say(party, user, "host")
    with pytest.raises(Forbidden):
        services.message_delete(party_id=party.id, user=co_host, message_id=message.id)
    assert repository.get_message(party.id, message.id) is not None


def test_a_party_copy_that_would_refuse_a_send_is_read_again_first(user, party, make_user):
    """A send is refused only by the party as stored: a copy from before the sender joined does not refuse them."""
    before_join = party_services.party_get_for_member(party_id=party.id, user=user)
    newcomer = make_user(display_name="Newcomer")
    party_services.party_join(room_code=party.room_code, user=newcomer)
    result, read = services._message_store(
        party_id=party.id,
        user=newcomer,
        text="made it",
        message_type="text",
        client_id="n1",
        reply_to=None,
        known_party=before_join,
    )
    assert result.created and repository.get_message(party.id, result.message.id).message == "made it"
    assert read is not None and read.has_participant(str(newcomer.pk))
