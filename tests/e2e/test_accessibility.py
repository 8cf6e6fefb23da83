"""axe-core (axe-playwright-python) finds no serious or critical violation on any page a person
uses, on a desktop window and on a 390x844 phone."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import (
    VIEWPORTS,
    assert_accessible,
    create_party_on_home,
    expect,
    join_on_home,
    message_item,
    messages,
    send,
)

pytestmark = pytest.mark.parametrize("viewport", list(VIEWPORTS))


def test_pages_without_an_account_are_accessible(browser, server, viewport):
    """Log in, sign up and the admin login pass axe-core."""
    context = browser.new_context(base_url=server, viewport=VIEWPORTS[viewport])
    try:
        page = context.new_page()
        for path in ("/accounts/login/", "/accounts/signup/", "/admin/login/"):
            page.goto(server + path)
            assert_accessible(page, f"{path} ({viewport})")
    finally:
        context.close()


def test_home_invite_and_room_are_accessible(people, viewport):
    """Home, an invite link, the room as host and as guest (with messages and reactions), an
    ended party and its replay pass axe-core."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    for person in (alice, bob):
        person.page.set_viewport_size(VIEWPORTS[viewport])
    alice.goto("/")
    expect(alice.page.locator("#parties-status")).to_contain_text("No parties yet")  # the list has loaded
    assert_accessible(alice.page, f"home ({viewport})")

    party_id, code = create_party_on_home(alice, content_id="/static/e2e/clip.webm", title="Film night")
    bob.goto(f"/join/{code}/")
    assert_accessible(bob.page, f"invite ({viewport})")
    join_on_home(bob, code)
    send(alice, "Welcome!")
    expect(messages(bob, "Welcome!")).to_have_count(1)
    message_item(bob, "Welcome!").hover()
    message_item(bob, "Welcome!").locator("button.quick[data-emoji='👍']").click()
    expect(alice.page.locator("#messages .chip")).to_have_count(1)
    assert_accessible(alice.page, f"room as host ({viewport})")
    assert_accessible(bob.page, f"room as guest ({viewport})")

    alice.page.get_by_role("button", name="End party").click()
    alice.page.locator("#confirm-ok").click()
    expect(alice.page.locator("#connection-state")).to_have_text("Ended")
    open_room_ended = alice.goto(f"/parties/{party_id}/")
    assert open_room_ended.ok
    expect(alice.page.locator("#player-placeholder")).to_have_text("This party has ended.")
    assert_accessible(alice.page, f"ended party ({viewport})")

    # Its replay, with the message written at 0:00 (and its reaction) shown.
    bob.goto(f"/parties/{party_id}/replay/")
    expect(messages(bob, "Welcome!")).to_have_count(1)
    expect(bob.page.locator("#messages .chip")).to_have_count(1)
    assert_accessible(bob.page, f"replay ({viewport})")


def test_admin_pages_are_accessible(people, make_staff, viewport):
    """The admin index and the MongoDB data pages (parties, a party, its messages, the database,
    messages by author) pass axe-core."""
    alice = people("alice", "Alice")
    make_staff(alice)
    alice.page.set_viewport_size(VIEWPORTS[viewport])
    party_id, _ = create_party_on_home(alice, content_id="channel-5", title="Admin check")
    send(alice, "Hello admin")
    for path in (
        "/admin/",
        "/admin/mongo/parties/",
        f"/admin/mongo/parties/{party_id}/",
        f"/admin/mongo/parties/{party_id}/messages/",
        "/admin/mongo/database/",
        "/admin/mongo/messages/?author=alice",
    ):
        response = alice.goto(path)
        assert response.ok, path
        assert_accessible(alice.page, f"{path} ({viewport})")
