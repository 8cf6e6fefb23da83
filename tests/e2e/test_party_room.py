"""Two people in one party, each in their own browser context: chat, reactions, typing, playback
sync, and a dropped connection that loses and duplicates nothing."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import HISTORY_WINDOW_S
from tests.e2e.helpers import (
    create_party_by_api,
    create_party_on_home,
    expect,
    join_on_home,
    message_ids,
    message_item,
    messages,
    open_room,
    post_messages,
    send,
)

PLAYER = "document.querySelector('#player')"


def wait_player(person, condition: str, arg=None) -> None:
    """Wait until `condition` (a JS expression over `v`, the page's video element) holds."""
    person.page.wait_for_function(f"(arg) => {{ const v = {PLAYER}; return Boolean(v) && ({condition}); }}", arg=arg)


def test_two_people_watch_and_chat_together(people, server, artifacts_dir):
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")

    # Alice starts a party from the home page; Bob joins with the code she tells him.
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Friday film night")
    assert join_on_home(bob, code.lower()) == party_id  # codes work in any letter case
    expect(alice.page.locator("#participants")).to_contain_text("Bob")
    expect(bob.page.locator("#participants")).to_contain_text("Alice")
    expect(bob.page.locator("#participant-count")).to_have_text("2/10")
    expect(bob.page.locator("#party-title")).to_have_text("Friday film night")
    expect(alice.page.locator("#end-btn")).to_be_visible()
    expect(bob.page.locator("#leave-btn")).to_be_visible()

    # Chat both ways.
    send(alice, "Hello Bob! Popcorn ready? 🍿")
    expect(messages(bob, "Hello Bob! Popcorn ready? 🍿")).to_have_count(1)
    send(bob, "Always.")
    expect(messages(alice, "Always.")).to_have_count(1)

    # Typing: Bob's keystrokes show on Alice's side, then fade after about 3 s.
    bob.page.locator("#message-input").fill("I think")
    expect(alice.page.locator("#typing")).to_have_text("Bob is typing…")

    # A reaction from Bob shows for both; Alice adds hers to the same chip.
    item = message_item(bob, "Hello Bob! Popcorn ready? 🍿")
    item.hover()
    item.locator("button.quick[data-emoji='👍']").click()
    for person in (alice, bob):
        chip = message_item(person, "Hello Bob! Popcorn ready? 🍿").locator(".chip[data-emoji='👍']")
        expect(chip.locator(".chip-count")).to_have_text("1")
    expect(message_item(bob, "Hello Bob! Popcorn ready? 🍿").locator(".chip")).to_have_attribute("aria-pressed", "true")
    message_item(alice, "Hello Bob! Popcorn ready? 🍿").locator(".chip[data-emoji='👍']").click()
    for person in (alice, bob):
        chip = message_item(person, "Hello Bob! Popcorn ready? 🍿").locator(".chip[data-emoji='👍']")
        expect(chip.locator(".chip-count")).to_have_text("2")
    expect(alice.page.locator("#typing")).to_have_text("")

    # Right-to-left text reads right to left.
    send(alice, "שלום לכולם")
    send(bob, "مرحبا بالجميع")
    for person in (alice, bob):
        for text in ("שלום לכולם", "مرحبا بالجميع"):
            element = messages(person, text)
            expect(element).to_have_attribute("dir", "auto")
            assert element.evaluate("e => getComputedStyle(e).direction") == "rtl"

    # Playback: Alice (host) plays, pauses and seeks; Bob's player follows.
    wait_player(alice, "v.readyState >= 1 && v.controls")
    wait_player(bob, "v.readyState >= 1 && !v.controls && v.muted")
    alice.page.locator("#play-toggle").click()
    wait_player(alice, "!v.paused && v.currentTime > 1")
    wait_player(bob, "!v.paused && v.currentTime > 0.5")
    alice.page.locator("#play-toggle").click()
    wait_player(alice, "v.paused")
    host_position = alice.page.evaluate(f"{PLAYER}.currentTime")
    wait_player(bob, "v.paused && Math.abs(v.currentTime - arg) < 0.6", host_position)
    expect(bob.page.locator("#sync-status")).to_contain_text("Paused")
    alice.page.evaluate(f"{PLAYER}.currentTime = 12")  # as dragging the seek bar does
    wait_player(bob, "v.paused && !v.seeking && Math.abs(v.currentTime - 12) < 0.6")
    alice.page.evaluate(f"{PLAYER}.playbackRate = 0.5")  # as the player's speed menu does
    wait_player(bob, "v.playbackRate === 0.5")
    expect(bob.page.locator("#sync-status")).to_contain_text("Paused at 0.5×")

    # Bob's connection drops. Messages sent meanwhile arrive once each when he is back, and what
    # he wrote while offline goes out then.
    bob.page.evaluate("window.__watchparty.setOffline(true)")
    expect(bob.page.locator("#connection-state")).to_have_text("Offline")
    away = [f"While you were away #{n}" for n in range(1, 4)]
    for text in away:
        send(alice, text)
        expect(messages(alice, text)).to_have_count(1)
    send(bob, "Written while offline")
    expect(bob.page.locator("#pending .msg")).to_have_count(1)
    expect(bob.page.locator("#pending")).to_contain_text("Waiting for the connection")
    bob.page.evaluate("window.__watchparty.setOffline(false)")
    expect(bob.page.locator("#connection-state")).to_have_text("Live")
    for text in away:
        expect(messages(bob, text)).to_have_count(1)
    expect(messages(bob, "Written while offline")).to_have_count(1)
    expect(messages(alice, "Written while offline")).to_have_count(1)
    expect(bob.page.locator("#pending .msg")).to_have_count(0)

    # The line drops just as Bob sends: the server has the message, Bob never got it back. After
    # the reconnect, resume and the resend (same client_id) show it once.
    bob.page.locator("#message-input").fill("Sent as the line dropped")
    bob.page.evaluate(
        "() => { document.querySelector('#composer').requestSubmit(); window.__watchparty.dropSocket(); }"
    )
    expect(bob.page.locator("#connection-state")).to_have_text("Live")
    expect(messages(bob, "Sent as the line dropped")).to_have_count(1)
    expect(messages(alice, "Sent as the line dropped")).to_have_count(1)
    expect(bob.page.locator("#pending .msg")).to_have_count(0)

    # Both see the same messages, each once, in the same order.
    expect(alice.page.locator("#messages li.msg")).to_have_count(9)
    expect(bob.page.locator("#messages li.msg")).to_have_count(9)
    alice_ids, bob_ids = message_ids(alice), message_ids(bob)
    assert alice_ids == bob_ids
    assert len(set(alice_ids)) == len(alice_ids)

    for person, name in ((alice, "party-room.png"), (bob, "party-room-follower.png")):
        person.page.set_viewport_size({"width": 1440, "height": 1080})  # room for the whole chat
        person.page.mouse.move(0, 0)
        person.page.locator("#chat-scroll").evaluate("s => { s.scrollTop = s.scrollHeight; }")
        person.page.screenshot(path=str(artifacts_dir / name))


def test_party_end_closes_the_room_for_everyone(people):
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-7", title="Late news")
    join_on_home(bob, code)
    expect(bob.page.locator("#player-placeholder")).to_contain_text("channel-7")

    alice.page.locator("#end-btn").click()
    alice.page.get_by_role("dialog").get_by_role("button", name="End party").click()
    for person in (alice, bob):
        expect(person.page.locator(".notice[data-key='ended']")).to_contain_text("The party has ended")
        expect(person.page.locator("#message-input")).to_be_disabled()
    expect(bob.page.locator("#connection-state")).to_have_text("Ended")


def test_a_party_without_chat_says_so(people):
    ivan = people("ivan", "Ivan")
    party = create_party_by_api(ivan, title="Quiet film", chat_enabled=False)
    open_room(ivan, party["id"])
    box = ivan.page.locator("#message-input")
    expect(box).to_be_disabled()
    expect(box).to_have_attribute("placeholder", "Chat is turned off for this party.")


class HeldRelay:
    """The page's party socket, relayed by Playwright: while `held`, the server's frames never
    reach the page (as when the server's channel layer is down); `send` hands the page a frame."""

    def __init__(self, page):
        self.held = False
        self.route = None
        page.route_web_socket(re.compile(r"/ws/parties/"), self.relay)

    def relay(self, route):
        self.route = route
        server = route.connect_to_server()
        route.on_message(lambda message: server.send(message))
        server.on_message(lambda message: None if self.held else route.send(message))

    def send(self, frame: str) -> None:
        self.route.send(frame)


def test_a_fresh_party_state_on_the_same_socket_replaces_the_chat(people):
    """After a server-side outage the server sends party.state again on the same socket: the page
    shows exactly its messages (one deleted meanwhile disappears) and pages back from next_before."""
    frank = people("frank", "Frank")
    grace = people("grace", "Grace")
    party = create_party_by_api(frank, title="Outage")
    response = grace.api("POST", "/api/parties/join/", data={"room_code": party["room_code"]})
    assert response.status == 200, response.text()
    texts = [f"Message {n:02d}" for n in range(1, 56)]
    post_messages([frank, grace], party["id"], texts)

    relay = HeldRelay(grace.page)
    open_room(grace, party["id"])
    items = grace.page.locator("#messages li.msg")
    grace.page.locator("#chat-scroll").evaluate("s => { s.scrollTop = 0; }")
    expect(items).to_have_count(55)
    expect(grace.page.locator("#history-status")).to_have_text("This is the start of the chat.")

    # The outage: Grace's socket stays open but hears nothing while a message goes and one comes.
    open_room(frank, party["id"])
    relay.held = True
    message_item(frank, "Message 55").get_by_role("button", name="Delete", exact=True).click()
    message_item(frank, "Message 55").get_by_role("button", name="Yes").click()
    expect(messages(frank, "Message 55")).to_have_count(0)
    send(frank, "After the outage")
    expect(messages(grace, "Message 55")).to_have_count(1)
    expect(messages(grace, "After the outage")).to_have_count(0)

    # What the server sends once its layer is back: a real party.state, read from a second tab.
    other_tab = grace.context.new_page()
    received: list[str] = []
    other_tab.on("websocket", lambda socket: socket.on("framereceived", lambda frame: received.append(frame)))
    other_tab.goto(f"{grace.base_url}/parties/{party['id']}/")
    expect(other_tab.locator("#connection-state")).to_have_text("Live")
    fresh = next(frame for frame in received if json.loads(frame)["type"] == "party.state")
    assert json.loads(fresh)["next_before"]
    other_tab.close()
    relay.held = False
    relay.send(fresh)

    expect(messages(grace, "Message 55")).to_have_count(0)
    expect(messages(grace, "After the outage")).to_have_count(1)
    expect(items).to_have_count(50)
    grace.page.wait_for_timeout(HISTORY_WINDOW_S * 1000)  # the e2e server's history limit: one page per window
    grace.page.locator("#history-status").get_by_role("button", name="Load earlier messages").click()
    expect(items).to_have_count(55)
    assert grace.page.locator("#messages .msg-text").all_inner_texts() == texts[:-1] + ["After the outage"]
    expect(grace.page.locator("#history-status")).to_have_text("This is the start of the chat.")
