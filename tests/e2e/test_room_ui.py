"""The room as people use it (issue 11): seat counts, layout, ended and removed states,
confirmations, online dots, the phone layout, invite links."""

from __future__ import annotations

from tests.e2e.helpers import create_party_on_home, expect, join_on_home, messages, send

LONG_LINK = "https://example.com/" + "a" * 130  # 150 characters, no break opportunity


def no_horizontal_overflow(person) -> None:
    """The page is no wider than the window (nothing to scroll sideways)."""
    widths = person.page.evaluate(
        "() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth })"
    )
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
