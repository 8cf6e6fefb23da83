"""Timeline chat and replay in the browser, with two people: the host takes everyone's video to the
moment a message was written, and after the party a replay shows each message when its video
reaches that moment (docs/PROTOCOL.md, "Timeline chat and replay")."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import CHAT_SEND_LIMIT, CHAT_SEND_WINDOW_S
from tests.e2e.helpers import (
    VIEWPORTS,
    assert_accessible,
    create_party_on_home,
    expect,
    join_on_home,
    message_item,
    messages,
    post_messages,
    send,
)

PLAYER = "document.querySelector('#player')"


def video_time(person) -> float:
    return person.page.evaluate(f"{PLAYER}.currentTime")


def wait_time(person, seconds: float, *, within: float = 0.6) -> None:
    """The person's video is at ``seconds`` (give or take ``within``)."""
    person.page.wait_for_function(
        f"([t, d]) => {PLAYER}.readyState >= 1 && Math.abs({PLAYER}.currentTime - t) <= d", arg=[seconds, within]
    )


def host_seeks(host, seconds: float) -> None:
    """The host drags the seek bar of the paused video (their player tells the party)."""
    host.page.wait_for_function(f"() => {PLAYER}.readyState >= 1")
    host.page.evaluate(f"{PLAYER}.currentTime = {seconds}")


def test_the_host_takes_everyone_to_the_moment_of_a_message(people, server):
    """Bob writes at 0:12; the video moves on; Alice presses the message's 0:12 and Bob's video goes
    back there too. Bob sees the time as text, not a control."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Clock")
    join_on_home(bob, code)
    host_seeks(alice, 12)
    wait_time(bob, 12)
    send(bob, "Look at the clock!")
    expect(message_item(alice, "Look at the clock!").locator("button.msg-at")).to_have_text("0:12")
    expect(message_item(bob, "Look at the clock!").locator(".msg-at [aria-hidden]")).to_have_text("0:12")
    expect(message_item(bob, "Look at the clock!").locator("button.msg-at")).to_have_count(0)
    expect(message_item(bob, "Look at the clock!").locator(".msg-at")).to_contain_text("Written at 0:12 into the video")

    host_seeks(alice, 3)
    wait_time(bob, 3)
    moment = message_item(alice, "Look at the clock!").get_by_role(
        "button", name="Go to 0:12 in the video, for everyone"
    )
    moment.focus()  # by keyboard: the message's controls, then Enter
    alice.page.keyboard.press("Enter")
    for person in (alice, bob):
        wait_time(person, 12)
    expect(bob.page.locator("#notices")).to_contain_text("Alice took the video to 0:12, from a message.")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_replay_shows_each_message_at_its_moment(people, server, artifacts_dir, viewport):
    """After the party, Bob opens the replay from the ended room and plays it: "At six" appears only
    once the video passes 0:06, "Near the end" not before 0:15; pressing a message's time takes
    the replay there, and messages written later go away again."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Clock")
    join_on_home(bob, code)
    host_seeks(alice, 6)
    wait_time(bob, 6)
    send(bob, "At six")
    host_seeks(alice, 15)
    wait_time(bob, 15)
    send(alice, "Near the end")
    alice.page.get_by_role("button", name="End party").click()
    alice.page.locator("#confirm-ok").click()

    bob.page.set_viewport_size(VIEWPORTS[viewport])
    bob.page.get_by_role("link", name="Watch the replay").click()
    expect(bob.page).to_have_url(f"{server}/parties/{party_id}/replay/")
    expect(bob.page.locator("#replay-title")).to_have_text("Replay: Clock")
    expect(bob.page.locator("#history-status")).to_have_text(
        "Messages appear as the video reaches the moment they were written."
    )
    page = bob.page
    page.wait_for_function("() => window.__watchparty.replay().loaded === 2")  # both in hand, neither shown
    expect(page.locator("#messages li.msg")).to_have_count(0)

    page.evaluate(f"{PLAYER}.currentTime = 3")
    page.get_by_role("button", name="▶ Play").click()
    page.wait_for_function(f"() => {PLAYER}.currentTime > 4.5")
    expect(messages(bob, "At six")).to_have_count(0)  # not before its moment
    expect(messages(bob, "At six")).to_have_count(1)
    assert video_time(bob) >= 5.9
    expect(messages(bob, "Near the end")).to_have_count(0)
    page.get_by_role("button", name="❚❚ Pause").click()
    assert_accessible(page, f"the replay ({viewport})")
    page.screenshot(path=str(artifacts_dir / f"replay-{viewport}.png"))

    page.evaluate(f"{PLAYER}.currentTime = 18")
    expect(messages(bob, "Near the end")).to_have_count(1)
    message_item(bob, "At six").get_by_role("button", name="Go to 0:06 in the video").click()
    wait_time(bob, 6, within=0.3)
    expect(messages(bob, "Near the end")).to_have_count(0)  # written later than where the replay is
    expect(messages(bob, "At six")).to_have_count(1)


def test_a_latecomer_replays_a_live_party_page_after_page(people, server):
    """Sixty messages were written at 0:04 before Bob joined; from the live room he opens the replay:
    none shows before 0:04, then all sixty (two pages by position), in the order written; the
    party goes on meanwhile and Bob goes back to it."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Late")
    host_seeks(alice, 4)
    alice.page.wait_for_function("() => window.__watchparty.status().playback?.position >= 3.9")
    texts = [f"Early {n:02d}" for n in range(60)]
    post_messages([alice], party_id, texts[:CHAT_SEND_LIMIT])
    alice.page.wait_for_timeout(CHAT_SEND_WINDOW_S * 1000 + 100)  # the tests' send limit
    post_messages([alice], party_id, texts[CHAT_SEND_LIMIT:])
    join_on_home(bob, code)
    bob.page.get_by_role("link", name="Replay").click()
    page = bob.page
    expect(page.locator("#replay-sub")).to_have_text("Hosted by Alice · the party is still on")
    page.wait_for_function("() => window.__watchparty.replay().loaded === 60")
    expect(page.locator("#messages li.msg")).to_have_count(0)
    page.evaluate(f"{PLAYER}.currentTime = 4.2")
    expect(page.locator("#messages li.msg")).to_have_count(60)
    assert page.locator("#messages .msg-text").all_inner_texts() == texts
    page.get_by_role("link", name="Back to the live party").click()
    expect(page.locator("#connection-state")).to_have_text("Live")


def test_a_replay_is_for_the_partys_members(people, server):
    """Someone who never joined opens a party's replay link: it says the party is not theirs and
    plays nothing."""
    alice, carol = people("alice", "Alice"), people("carol", "Carol")
    party_id, _code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Private")
    carol.goto(f"/parties/{party_id}/replay/")
    expect(carol.page.locator("#replay-title")).to_have_text("Party not found")
    expect(carol.page.locator(".notice[data-key='gone']")).to_contain_text("you are not one of its members")
    expect(carol.page.locator("#player")).to_be_hidden()
