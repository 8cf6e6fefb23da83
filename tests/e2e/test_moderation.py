"""In-room moderation in the browser (js/moderation.js): the host removes a guest, an author edits a
message, the host deletes a guest's message, mutes, co-hosts and hands over the host role."""

from __future__ import annotations

import re

from tests.e2e.helpers import VIEWPORTS, create_party_on_home, expect, join_on_home, message_item, messages, send


def person_item(viewer, name: str):
    page = viewer.page
    return page.locator("#participants li.person").filter(has=page.locator(".person-name", has_text=name))


def click_then_confirm(item, label: str) -> None:
    """Click the item's control, then the inline "Yes" that replaced it (no dialog ever opens)."""
    item.get_by_role("button", name=label, exact=True).click()
    item.get_by_role("button", name="Yes").click()


def test_host_removes_a_guest_who_cannot_rejoin(people, artifacts_dir):
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-9", title="Match night")
    join_on_home(bob, code)
    expect(person_item(alice, "Bob")).to_have_count(1)
    # A guest sees no moderation controls, on people or on the host's messages.
    send(alice, "Welcome!")
    expect(messages(bob, "Welcome!")).to_have_count(1)
    expect(bob.page.locator("#participants .person-mod")).to_have_count(0)
    expect(bob.page.locator("details.bans")).to_be_hidden()  # nor the list of banned users
    expect(message_item(bob, "Welcome!").locator(".msg-mod")).to_have_count(0)

    alice.page.set_viewport_size({"width": 1366, "height": 768})
    alice.page.screenshot(path=str(artifacts_dir / "moderation-host-controls.png"))
    click_then_confirm(person_item(alice, "Bob"), "Remove")

    expect(person_item(alice, "Bob")).to_have_count(0)
    # One removed state: a single notice that says it is final, no Leave, nothing to send.
    notices = bob.page.locator("#notices .notice")
    expect(notices).to_have_count(1)
    expect(notices).to_have_text(re.compile("You were removed from this party by its host. You cannot join it again."))
    expect(bob.page.locator("#connection-state")).to_have_text("Disconnected")
    expect(notices).to_have_count(1)  # the socket's close did not add a second one
    expect(bob.page.locator("#player-placeholder")).to_have_text("You were removed from this party.")
    expect(bob.page.locator("#message-input")).to_be_disabled()
    expect(bob.page.locator("#leave-btn")).to_be_hidden()
    bob.page.screenshot(path=str(artifacts_dir / "moderation-removed.png"))

    # The room code no longer admits Bob.
    bob.goto("/")
    bob.page.get_by_label("Room code").fill(code)
    bob.page.get_by_role("button", name="Join party").click()
    expect(bob.page.locator("#join-message")).to_have_text(
        "The host removed you from this party, so its room code no longer lets you in. "
        "Ask them to lift the ban if that was a mistake."
    )
    assert "/parties/" not in bob.page.url

    # Alice lifts the ban from the list of banned users; the code admits Bob again.
    bans = alice.page.locator("details.bans")
    bans.locator("summary").click()
    banned_bob = bans.locator("li.ban").filter(has_text="Bob")
    expect(banned_bob).to_have_count(1)
    click_then_confirm(banned_bob, "Lift ban")
    expect(bans.locator("li")).to_have_text(["Nobody is banned."])
    expect(alice.page.locator(".notice[data-key='ban']")).to_contain_text("Bob may join again")
    join_on_home(bob, code)
    expect(person_item(alice, "Bob")).to_have_count(1)


def test_author_edits_and_the_other_sees_it_marked_edited(people, artifacts_dir):
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-3")
    join_on_home(bob, code)
    send(bob, "See you at 8")
    expect(messages(alice, "See you at 8")).to_have_count(1)
    # Only the author may edit: Alice (the host) may delete Bob's message but not edit it.
    expect(message_item(alice, "See you at 8").get_by_role("button", name="Edit")).to_have_count(0)

    item = message_item(bob, "See you at 8")
    item.get_by_role("button", name="Edit").click()
    box = item.get_by_role("textbox", name="Edit your message")
    box.fill("See you at 9 <b>sharp</b>")
    bob.page.set_viewport_size({"width": 390, "height": 844})
    bob.page.screenshot(path=str(artifacts_dir / "moderation-edit-phone.png"))
    box.press("Enter")

    for person in (alice, bob):
        edited = message_item(person, "See you at 9 <b>sharp</b>")
        expect(edited).to_have_count(1)
        expect(edited.locator(".msg-edited")).to_have_text("edited")
        expect(edited.locator(".msg-text b")).to_have_count(0)  # text, never markup
    expect(messages(alice, "See you at 8")).to_have_count(0)
    expect(message_item(bob, "See you at 9 <b>sharp</b>").locator("form.msg-edit")).to_have_count(0)


def test_host_deletes_a_guests_message_and_mutes_then_hands_over(people):
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-5")
    join_on_home(bob, code)
    send(bob, "buy cheap stuff here")
    expect(messages(alice, "buy cheap stuff here")).to_have_count(1)

    click_then_confirm(message_item(alice, "buy cheap stuff here"), "Delete")
    for person in (alice, bob):
        expect(messages(person, "buy cheap stuff here")).to_have_count(0)

    # Mute: Bob is told, and his next message is refused.
    person_item(alice, "Bob").get_by_role("button", name="Mute").click()
    expect(person_item(alice, "Bob").locator(".badge-muted")).to_have_text("muted")
    expect(bob.page.locator(".notice[data-key='muted']")).to_contain_text("muted you")
    expect(bob.page.locator("#message-input")).to_be_disabled()  # nothing to type only to be refused
    person_item(alice, "Bob").get_by_role("button", name="Unmute").click()
    expect(bob.page.locator(".notice[data-key='muted']")).to_have_count(0)

    # Alice hands the host role to Bob: he gets the End button and the controls, she gets Leave.
    click_then_confirm(person_item(alice, "Bob"), "Make host")
    expect(bob.page.locator("#end-btn")).to_be_visible()
    expect(alice.page.locator("#leave-btn")).to_be_visible()
    expect(person_item(bob, "Alice").get_by_role("button", name="Make co-host")).to_be_visible()
    expect(alice.page.locator("#participants .person-mod")).to_have_count(0)


def test_a_removed_guest_opening_the_room_is_told_they_were_removed(people):
    """The room URL tells someone the host removed that they were removed (not that the party
    does not exist), on a phone as on a desktop."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id="channel-4", title="Quiz night")
    join_on_home(bob, code)
    click_then_confirm(person_item(alice, "Bob"), "Remove")
    expect(person_item(alice, "Bob")).to_have_count(0)
    for viewport in VIEWPORTS.values():
        bob.page.set_viewport_size(viewport)
        bob.goto(f"/parties/{party_id}/")
        expect(bob.page.locator("#party-title")).to_have_text("Removed from this party")
        notice = bob.page.locator("#notices .notice")
        expect(notice).to_contain_text("You were removed from this party by its host or a co-host")
        expect(notice).not_to_contain_text("does not exist")
        expect(notice.get_by_role("link", name="Back to home")).to_be_visible()


def test_a_muted_guest_s_message_box_is_disabled_with_the_reason_until_unmuted(people):
    """Muted, the guest's box and Send are disabled and say why (no typing to be refused);
    unmuted, they come back and a message goes out."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-6")
    join_on_home(bob, code)
    bob.page.set_viewport_size(VIEWPORTS["phone"])
    box, send_button = bob.page.locator("#message-input"), bob.page.locator("#send-btn")
    expect(box).to_be_enabled()
    person_item(alice, "Bob").get_by_role("button", name="Mute").click()
    expect(box).to_be_disabled()
    expect(send_button).to_be_disabled()
    expect(box).to_have_attribute("placeholder", "The host has muted you: you cannot send messages for now.")
    bob.page.reload()  # the party itself says so, not only the frame that muted him
    expect(bob.page.locator("#connection-state")).to_have_text("Live")
    expect(box).to_be_disabled()
    person_item(alice, "Bob").get_by_role("button", name="Unmute").click()
    expect(box).to_be_enabled()
    expect(box).to_have_attribute("placeholder", "Say something…")
    send(bob, "Thanks for unmuting me")
    expect(messages(alice, "Thanks for unmuting me")).to_have_count(1)
