"""The room as people use it (issue 11): seat counts, layout, ended and removed states,
confirmations, online dots, the phone layout, invite links."""

from __future__ import annotations

import re

from tests.e2e.conftest import PASSWORD
from tests.e2e.helpers import create_party_on_home, expect, join_on_home, message_item, messages, send

LONG_LINK = "https://example.com/" + "a" * 130  # 150 characters, no break opportunity


def no_horizontal_overflow(person) -> None:
    """The page is no wider than the window (nothing to scroll sideways)."""
    widths = person.page.evaluate("() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth })")
    assert widths["page"] <= widths["window"], widths


def test_host_seat_count_follows_joins_after_a_message(people):
    """After a guest joins, the host's seat count stays right when the host then chats."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-7", title="Seats")
    join_on_home(bob, code)
    expect(alice.page.locator("#participants")).to_contain_text("Bob")
    send(alice, "Welcome Bob")
    expect(messages(alice, "Welcome Bob")).to_have_count(1)
    expect(alice.page.locator("#participant-count")).to_have_text("2/10")
    send(bob, "Thanks")
    expect(messages(alice, "Thanks")).to_have_count(1)
    expect(alice.page.locator("#participant-count")).to_have_text("2/10")


def test_a_long_unbroken_message_does_not_widen_the_page(people):
    """150 characters without a space, typed or sent, keep the room inside the window."""
    alice = people("alice", "Alice")
    create_party_on_home(alice, content_id="channel-7")
    alice.page.set_viewport_size({"width": 1366, "height": 768})
    alice.page.locator("#message-input").fill(LONG_LINK)
    no_horizontal_overflow(alice)
    alice.page.locator("#message-input").press("Enter")
    expect(messages(alice, LONG_LINK)).to_have_count(1)
    no_horizontal_overflow(alice)


def test_an_ended_party_reloaded_says_so_without_sync_controls(people, server):
    """Reloading an ended party shows it ended: no "Connecting…", no player controls, no Leave/End."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm")
    join_on_home(bob, code)
    response = alice.api("POST", f"/api/parties/{party_id}/end/")
    assert response.status == 200, response.text()
    for person in (alice, bob):
        person.goto(f"/parties/{party_id}/")
        page = person.page
        expect(page.locator(".notice[data-key='ended']")).to_contain_text("The party has ended")
        expect(page.locator("#connection-state")).to_have_text("Ended")
        expect(page.locator("#player-placeholder")).to_have_text("This party has ended.")
        for control in ("#play-toggle", "#resync-btn", "#mute-btn", "#player", "#leave-btn", "#end-btn"):
            expect(page.locator(control)).to_be_hidden()
        expect(page.locator("#message-input")).to_be_disabled()


def test_a_removed_guest_sees_it_plainly_without_leave(people, make_staff, server):
    """A guest removed by a moderator is told so; Leave and the sync controls go away."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    mod = people("mod", "Mod")
    make_staff(mod)
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm")
    join_on_home(bob, code)
    expect(bob.page.locator("#leave-btn")).to_be_visible()
    bob_id = bob.page.locator("#room").get_attribute("data-user-id")

    mod.goto(f"/admin/mongo/parties/{party_id}/participants/{bob_id}/remove/")
    mod.page.get_by_role("button", name="Yes, remove them").click()
    expect(mod.page.locator(".messagelist")).to_contain_text("was removed")

    page = bob.page
    expect(page.locator("#connection-state")).to_have_text("Disconnected")
    # One notice; a staff removal is no ban, so it does not say the room code refuses them.
    notices = page.locator("#notices .notice")
    expect(notices).to_have_count(1)
    expect(notices.locator(".notice-text")).to_have_text("You were removed from this party.")
    expect(page.locator("#player-placeholder")).to_have_text("You were removed from this party.")
    for control in ("#leave-btn", "#end-btn", "#play-toggle", "#resync-btn", "#mute-btn", "#fullscreen-btn", "#player"):
        expect(page.locator(control)).to_be_hidden()
    expect(page.locator("#message-input")).to_be_disabled()


def test_leave_and_end_ask_in_a_dialog_that_waits(people, server):
    """Leave and End open a confirmation dialog that stays until answered; Cancel does nothing."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id="channel-7")
    join_on_home(bob, code)

    bob.page.locator("#leave-btn").click()
    dialog = bob.page.get_by_role("dialog")
    expect(dialog).to_contain_text("Leave this party?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(bob.page.locator("#connection-state")).to_have_text("Live")

    alice.page.locator("#end-btn").click()
    dialog = alice.page.get_by_role("dialog")
    expect(dialog).to_contain_text("End the party for everyone?")
    alice.page.wait_for_timeout(4500)  # the old two-click prompt re-armed silently after 4 s
    expect(dialog).to_be_visible()
    alice.page.keyboard.press("Escape")  # Escape cancels too
    expect(dialog).to_be_hidden()
    expect(alice.page.locator("#connection-state")).to_have_text("Live")

    alice.page.locator("#end-btn").click()
    alice.page.get_by_role("dialog").get_by_role("button", name="End party").click()
    for person in (alice, bob):
        expect(person.page.locator(".notice[data-key='ended']")).to_contain_text("The party has ended")

    # Leaving a party (a fresh one: this one has ended) goes home after the confirmation.
    _, code = create_party_on_home(alice, content_id="channel-8")
    join_on_home(bob, code)
    bob.page.locator("#leave-btn").click()
    bob.page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    expect(bob.page).to_have_url(server + "/")


def online_dot(person, user_id: str):
    """The "here now" dot of user `user_id` in `person`'s list of people."""
    return person.page.locator(f"#participants li[data-user-id='{user_id}'] .presence")


def user_id(person) -> str:
    return person.page.locator("#room").get_attribute("data-user-id")


def test_a_latecomer_sees_who_is_already_here(people):
    """Someone who joins later sees the dots of those already connected (party.state `online`),
    and a dot goes when its person closes the page. Needs the server's `online` list (issue 11
    bug 3, server side)."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    carol = people("carol", "Carol")
    _, code = create_party_on_home(alice, content_id="channel-7")
    join_on_home(bob, code)
    join_on_home(carol, code)  # nobody has said anything: only party.state can tell her
    ids = {person.display_name: user_id(person) for person in (alice, bob, carol)}
    for name in ("Alice", "Bob", "Carol"):
        expect(online_dot(carol, ids[name])).to_be_visible()
    bob.page.goto("about:blank")  # his only socket closes; his seat stays
    expect(online_dot(carol, ids["Bob"])).to_have_count(0)
    expect(carol.page.locator("#participants")).to_contain_text("Bob")


PHONE = {"width": 390, "height": 844}
PHONE_KEYBOARD_OPEN = {"width": 390, "height": 470}  # the on-screen keyboard takes the rest


def in_viewport(locator) -> bool:
    """The element's box lies wholly inside the window (not scrolled out, not clipped)."""
    return locator.evaluate(
        """e => { const r = e.getBoundingClientRect();
                  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
                         r.bottom <= window.innerHeight && r.right <= window.innerWidth; }"""
    )


def test_phone_layout_keeps_video_and_chat_in_view_while_typing(people, server, artifacts_dir):
    """On a 390x844 phone the forms fit, and in the room the video (on top) and the message box
    are both on screen, also while typing with the keyboard open."""
    alice = people("alice", "Alice")
    page = alice.page
    page.set_viewport_size(PHONE)
    alice.goto("/")
    expect(page.get_by_label("Video URL or channel")).to_be_visible()
    no_horizontal_overflow(alice)
    for label in ("Video URL or channel", "Title", "Kind", "Seats", "Room code"):
        control = page.get_by_label(label)
        control.scroll_into_view_if_needed()
        assert in_viewport(control), label
    _, _ = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Phone night")
    video, box = page.locator("#player"), page.locator("#message-input")
    expect(video).to_be_visible()
    for _ in range(12):
        send(alice, "A message to fill the chat")
    no_horizontal_overflow(alice)
    assert in_viewport(video) and in_viewport(box)
    box.click()
    box.fill("typing on a phone")
    page.set_viewport_size(PHONE_KEYBOARD_OPEN)
    expect(box).to_be_focused()
    page.wait_for_function(
        "() => { const v = document.querySelector('#player').getBoundingClientRect();"
        " const b = document.querySelector('#message-input').getBoundingClientRect();"
        " return v.top >= 0 && b.bottom <= innerHeight && v.bottom <= b.top; }"
    )
    assert in_viewport(video) and in_viewport(box)
    assert video.bounding_box()["y"] < box.bounding_box()["y"]  # video on top, chat below
    no_horizontal_overflow(alice)


def test_an_invite_link_opens_the_join_flow(people, server):
    """The room shows its invite link with a copy button; a logged-out friend who opens it logs
    in, comes back to the join form with the code filled in, and joins on confirming."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    party_id, code = create_party_on_home(alice, content_id="channel-7", title="Invite night")
    invite = f"{server}/join/{code}/"
    expect(alice.page.locator("#invite-link")).to_have_attribute("href", invite)
    expect(alice.page.locator("#invite-link")).to_have_text(invite)
    alice.page.get_by_role("button", name="Copy link").click()
    expect(alice.page.get_by_role("button", name="Copied")).to_be_visible()
    assert alice.page.evaluate("() => navigator.clipboard.readText()") == invite

    bob.page.get_by_role("button", name="Log out").click()
    bob.page.goto(f"{server}/join/{code}")  # as pasted in a chat, without the slash
    expect(bob.page).to_have_url(re.compile(r"/accounts/login/\?next=/join/"))
    bob.page.locator("#id_username").fill(bob.username)
    bob.page.locator("#id_password").fill(PASSWORD)
    bob.page.get_by_role("button", name="Log in").click()
    expect(bob.page).to_have_url(invite)
    expect(bob.page.get_by_label("Room code")).to_have_value(code)
    expect(bob.page.locator("#join-message")).to_contain_text(f"You are invited to party {code}")
    bob.page.get_by_role("button", name="Join party").click()
    expect(bob.page).to_have_url(f"{server}/parties/{party_id}/")
    expect(alice.page.locator("#participants")).to_contain_text("Bob")


def test_a_malformed_invite_link_says_so(people, server):
    """An invite link with a code that cannot exist shows the join form with the reason."""
    bob = people("bob", "Bob")
    bob.page.goto(f"{server}/join/not-a-code/")
    expect(bob.page.locator("#join-message")).to_contain_text("A room code is 6 letters and digits.")
    expect(bob.page.get_by_label("Room code")).to_have_value("")


SCREENS = {"1366x768": {"width": 1366, "height": 768}, "390x844": PHONE}


def test_screenshots_of_home_and_room_on_desktop_and_phone(people, server, artifacts_dir):
    """Home and the host's room (with a guest and messages) at 1366x768 and 390x844, saved to
    artifacts/ for review; neither page scrolls sideways at either size."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Friday film night")
    join_on_home(bob, code)
    send(bob, "Popcorn is ready 🍿")
    send(alice, "Starting in a minute: https://example.com/" + "long-link-" * 10)
    expect(messages(alice, "Popcorn is ready 🍿")).to_have_count(1)
    page = alice.page
    for size, viewport in SCREENS.items():
        page.set_viewport_size(viewport)
        alice.goto("/")
        expect(page.locator(".party-item")).to_have_count(1)
        no_horizontal_overflow(alice)
        page.screenshot(path=str(artifacts_dir / f"home-{size}.png"))
        alice.goto(f"/parties/{party_id}/")
        expect(page.locator("#connection-state")).to_have_text("Live")
        expect(messages(alice, "Popcorn is ready 🍿")).to_have_count(1)
        page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
        no_horizontal_overflow(alice)
        page.mouse.move(0, 0)
        page.screenshot(path=str(artifacts_dir / f"room-{size}.png"))
    for name in ("home-1366x768.png", "home-390x844.png", "room-1366x768.png", "room-390x844.png"):
        assert (artifacts_dir / name).stat().st_size > 10_000, name


def tabs_to_message_box(person, start, limit: int) -> int:
    """How many Tab presses take the keyboard focus from `start` to the message box, counted from
    the Tab that leaves `start` (a <video>'s own controls are several Tab stops inside it)."""
    start.focus()
    page = person.page
    for _ in range(20):  # through the element's own controls
        page.keyboard.press("Tab")
        if not start.evaluate("node => node === document.activeElement"):
            break
    visited = []
    for presses in range(1, limit + 1):
        visited.append(page.evaluate("() => document.activeElement?.outerHTML.slice(0, 80)"))
        if page.evaluate("() => document.activeElement?.id") == "message-input":
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"the message box was not reached in {limit} Tabs: {visited}")


def test_the_keyboard_reaches_the_message_box_from_the_video_and_reacts_by_arrow_keys(people, server):
    """From the video the message box is three Tabs or fewer away, however many messages (with
    their reaction and moderation buttons) the chat holds; a message is reached with the arrow
    keys, and Tab then goes to its reactions: Enter reacts. Desktop and phone."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    bob.page.set_viewport_size(PHONE)
    _, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Keys")
    join_on_home(bob, code)
    for n in range(4):
        send(bob if n % 2 else alice, f"Message {n}")
    expect(messages(alice, "Message 3")).to_have_count(1)
    expect(messages(bob, "Message 3")).to_have_count(1)

    assert tabs_to_message_box(alice, alice.page.locator("#player"), limit=3)  # the host's video has controls
    # A guest's video follows the host and takes no focus: from the player's last control.
    assert tabs_to_message_box(bob, bob.page.locator(".player-bar button:visible").last, limit=3)

    page = bob.page
    page.locator("#chat-scroll").focus()
    page.keyboard.press("ArrowUp")  # the newest message
    expect(page.locator("#messages li.msg").last).to_be_focused()
    page.keyboard.press("ArrowUp")
    newest_but_one = page.locator("#messages li.msg").nth(-2)
    expect(newest_but_one).to_be_focused()
    expect(newest_but_one).to_contain_text("Message 2")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("data-emoji", "👍")
    page.keyboard.press("Enter")
    chip = message_item(alice, "Message 2").locator(".chip[data-emoji='👍']")
    expect(chip).to_contain_text("1")


def newest_message_in_view(person) -> bool:
    """The chat is scrolled to its end: the newest message ends inside the chat's box (while a
    notice shows, the box can be shorter than one message)."""
    return person.page.evaluate(
        """() => { const box = document.querySelector('#chat-scroll').getBoundingClientRect();
                   const items = document.querySelectorAll('#messages li.msg');
                   const last = items[items.length - 1].getBoundingClientRect();
                   return last.bottom > box.top && last.bottom <= box.bottom + 1; }"""
    )


def chat_box_height(person) -> float:
    return person.page.locator("#chat-scroll").bounding_box()["height"]


def test_on_a_phone_of_any_height_the_chat_keeps_room_for_messages(people, server):
    """The host's room opened on phones from 390x844 down to 390x667 (an iPhone SE; a taller phone
    with the browser's bars): the video and a few lines of chat are on screen (the chat was one
    line high at 844 and nothing at 700), and the message box, the people and the queue are at
    most one scroll of the chat column away."""
    alice = people("alice", "Alice")
    party_id, _ = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Phone night")
    send(alice, "A first message")
    page = alice.page
    for height in (844, 760, 700, 667):
        page.set_viewport_size({"width": 390, "height": height})
        alice.goto(f"/parties/{party_id}/")
        expect(messages(alice, "A first message")).to_have_count(1)
        assert chat_box_height(alice) >= 110, (height, chat_box_height(alice))
        assert in_viewport(page.locator("#player")) and in_viewport(page.locator("#chat-scroll")), height
        for part in ("#message-input", ".people-panel h2", "#queue-title"):
            page.locator(part).scroll_into_view_if_needed()
            assert in_viewport(page.locator(part)), (height, part)
            assert in_viewport(page.locator("#player")), (height, part)  # only the chat column scrolled
        no_horizontal_overflow(alice)


def test_a_phone_keeps_showing_new_messages_when_the_room_changes_around_the_chat(people):
    """On a phone, a notice lies over the room's heading instead of taking the chat's height, and
    when the chat's box does shrink under the reader, the next message from someone else still
    comes into view."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="Movie night")
    bob.page.set_viewport_size(PHONE)
    join_on_home(bob, code)
    for n in range(8):
        send(alice, f"Filling the chat {n}")
    expect(messages(bob, "Filling the chat 7")).to_have_count(1)
    assert newest_message_in_view(bob)
    alice.page.locator("#participants li.person").filter(has_text="Bob").get_by_role(
        "button", name="Make co-host"
    ).click()
    notice = bob.page.locator(".notice[data-key='role']")
    expect(notice).to_be_visible()
    send(alice, "Did you see this one?")
    expect(messages(bob, "Did you see this one?")).to_have_count(1)
    bob.page.wait_for_timeout(200)
    assert newest_message_in_view(bob)
    with_notice = chat_box_height(bob)
    notice.locator(".notice-close").click()
    expect(notice).to_have_count(0)
    assert abs(chat_box_height(bob) - with_notice) <= 1  # the notice took none of the chat's height
    # Whatever shrinks the box (a reply's quote over the message box, a short screen), by more than
    # the 80 px within which the reader counted as at the end before.
    bob.page.evaluate("() => { document.querySelector('#chat-scroll').style.maxHeight = '30px'; }")
    bob.page.wait_for_function("() => document.querySelector('#chat-scroll').clientHeight <= 30")
    send(alice, "And this one?")
    expect(messages(bob, "And this one?")).to_have_count(1)
    bob.page.wait_for_timeout(200)
    assert newest_message_in_view(bob)
