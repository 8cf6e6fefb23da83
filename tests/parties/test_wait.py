"""Wait for everyone (parties.services player_*): a buffering viewer pauses the party for all, the
last one ready resumes it, the timeout goes on without them, and the host can turn it off."""

from datetime import timedelta

import pytest

from chat import services as chat_services
from parties import repository, services
from parties.services import PartySettings


@pytest.fixture
def playing(user, make_user):
    """A party playing from 10 s, with a host and two guests."""
    party = services.party_create(user=user, data=PartySettings(content_id="/m/a.mp4", content_type="vod"))
    guests = [make_user(display_name=name) for name in ("Bea", "Cy")]
    for guest in guests:
        services.party_join(room_code=party.room_code, user=guest)
    chat_services.playback_update(party_id=party.id, user=user, state="playing", position=10.0)
    return repository.get_party(party.id), user, guests


def test_a_buffering_viewer_pauses_the_party_and_the_last_one_ready_resumes_it(playing):
    """Two viewers buffer: the party pauses at its position and waits for both; one ready keeps
    it waiting; the second ready plays on from the same position."""
    party, _host, (bea, cy) = playing
    since = services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id)
    assert since is not None
    services.player_buffering(party_id=party.id, user=cy, item_id=party.current_item_id)
    waiting = repository.get_party(party.id)
    assert waiting.playback.state == "paused" and waiting.playback.position >= 10.0
    assert waiting.waiting == (str(bea.pk), str(cy.pk))
    assert [w["user_name"] for w in services.waiting_payload(waiting)["waiting"]] == ["Bea", "Cy"]
    services.player_ready(party_id=party.id, user=bea)
    assert repository.get_party(party.id).playback.state == "paused"
    services.player_ready(party_id=party.id, user=cy)
    resumed = repository.get_party(party.id)
    assert resumed.playback.state == "playing" and resumed.playback.position == waiting.playback.position
    assert resumed.waiting == () and resumed.wait_since is None


def test_the_timeout_goes_on_without_the_slow_viewer(playing):
    """After the timeout the party plays on; the slow viewer's reports no longer pause it for this item."""
    party, _host, (bea, _cy) = playing
    since = services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id)
    services.wait_expire(party_id=party.id, since=since - timedelta(seconds=1))  # another wait: nothing
    assert repository.get_party(party.id).playback.state == "paused"
    services.wait_expire(party_id=party.id, since=since)
    after = repository.get_party(party.id)
    assert after.playback.state == "playing" and after.wait_skipped == (str(bea.pk),)
    assert services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id) is None
    assert repository.get_party(party.id).playback.state == "playing"


def test_a_wait_whose_timer_was_lost_ends_at_the_next_report(playing, settings, monkeypatch):
    """The process that began a wait stopped before its timeout (its timer is gone): the next
    viewer's report after the timeout plays the party on without the slow viewer."""
    party, _host, (bea, cy) = playing
    settings.PARTY_WAIT_TIMEOUT_SECONDS = 5
    services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id)
    services.player_buffering(party_id=party.id, user=cy, item_id=party.current_item_id)
    since = repository.get_party(party.id).wait_since
    monkeypatch.setattr(services, "utcnow", lambda: since + timedelta(seconds=10))  # no timer ran
    services.player_ready(party_id=party.id, user=cy)
    after = repository.get_party(party.id)
    assert after.playback.state == "playing" and after.wait_skipped == (str(bea.pk),)


def test_the_host_turns_waiting_off_and_a_wait_under_way_ends(playing):
    """With wait_for_all off a buffering viewer pauses nobody; turning it off mid-wait plays on."""
    party, host, (bea, cy) = playing
    services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id)
    services.queue_settings(party_id=party.id, user=host, wait_for_all=False)
    assert repository.get_party(party.id).playback.state == "playing"
    assert services.player_buffering(party_id=party.id, user=cy, item_id=party.current_item_id) is None
    assert repository.get_party(party.id).playback.state == "playing"


def test_the_hosts_play_or_pause_ends_the_wait(playing):
    """The host's own playback.update decides: the wait is over."""
    party, host, (bea, _cy) = playing
    services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id)
    chat_services.playback_update(party_id=party.id, user=host, state="playing", position=12.0)
    after = repository.get_party(party.id)
    assert after.wait_since is None and after.waiting == ()


def test_a_muted_viewer_or_another_item_pauses_nobody(playing):
    """A muted viewer's buffering, or a report about an item no longer playing, changes nothing."""
    party, host, (bea, cy) = playing
    services.participant_mute(party_id=party.id, user=host, target_id=str(bea.pk), muted=True)
    assert services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id) is None
    assert services.player_buffering(party_id=party.id, user=cy, item_id="0123456789ab") is None
    assert repository.get_party(party.id).playback.state == "playing"


def test_leaving_the_room_while_buffering_ends_the_wait(playing):
    """The viewer's last socket closing counts as ready: the party plays on."""
    party, _host, (bea, _cy) = playing
    services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id)
    services.player_gone(party_id=party.id, user_id=str(bea.pk))
    assert repository.get_party(party.id).playback.state == "playing"


def test_a_paused_party_does_not_wait(playing):
    """Buffering while the party is paused pauses nothing and starts no wait."""
    party, host, (bea, _cy) = playing
    chat_services.playback_update(party_id=party.id, user=host, state="paused", position=12.0)
    assert services.player_buffering(party_id=party.id, user=bea, item_id=party.current_item_id) is None
    assert repository.get_party(party.id).wait_since is None
