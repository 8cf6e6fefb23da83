"""Replies, @mentions and the emoji picker as two people use them (issue 20, items 4 and 5)."""

from __future__ import annotations

import re

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

# Bob's page can be told it is hidden, and records the notifications it would show (a headless
# browser shows none): the page's own code runs unchanged on top of these.
HIDDEN_TAB_AND_NOTIFICATIONS = """
window.__tabHidden = false;
window.__notifications = [];
Object.defineProperty(Document.prototype, "visibilityState", { get() { return window.__tabHidden ? "hidden" : "visible"; } });
Object.defineProperty(Document.prototype, "hidden", { get() { return window.__tabHidden; } });
window.Notification = class {
  static permission = "default";
  static requestPermission() { window.Notification.permission = "granted"; return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push({ title, body: options.body }); }
  addEventListener() {}
  close() {}
};
"""


def set_hidden(person, hidden: bool) -> None:
    person.page.evaluate(
        "hidden => { window.__tabHidden = hidden; document.dispatchEvent(new Event('visibilitychange')); }", hidden
    )


def test_a_reply_shows_its_quote_and_jumps_to_the_original(people, artifacts_dir):
    """Bob replies to Alice: she sees the quote; after a reload, with the original pages back,
    clicking the quote loads the earlier page and brings the original into view."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id="channel-7")
    join_on_home(bob, code)
    send(alice, "Pizza at the break?")
    item = message_item(bob, "Pizza at the break?")
    item.hover()
    item.get_by_role("button", name="Reply to Alice").click()
    expect(bob.page.locator("#reply-bar")).to_contain_text("Replying to Alice: Pizza at the break?")
    expect(bob.page.locator("#message-input")).to_be_focused()
    send(bob, "Yes please")
    expect(bob.page.locator("#reply-bar")).to_be_hidden()
    quote = message_item(alice, "Yes please").locator(".msg-quote")
    expect(quote).to_contain_text("Alice")
    expect(quote).to_contain_text("Pizza at the break?")
    alice.page.screenshot(path=str(artifacts_dir / "reply-quote.png"))

    # 60 more messages: after a reload the reply is on Alice's first page, the original is not.
    post_messages([alice, bob], party_id, [f"filler {n}" for n in range(60)])
    expect(messages(alice, "filler 59")).to_have_count(1)
    item.hover()
    item.get_by_role("button", name="Reply to Alice").click()
    send(bob, "Still on?")
    alice.page.reload()
    quote = message_item(alice, "Still on?").locator(".msg-quote")
    expect(quote).to_contain_text("Pizza at the break?")
    expect(messages(alice, "Pizza at the break?")).to_have_count(0)
    quote.click()
    original = message_item(alice, "Pizza at the break?")
    expect(original).to_be_in_viewport()
    expect(original).to_be_focused()


def test_a_deleted_original_leaves_an_empty_quote(people):
    """When the original is deleted the reply says so, for everyone, without its words."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    _, code = create_party_on_home(alice, content_id="channel-7")
    join_on_home(bob, code)
    send(bob, "something rude")
    item = message_item(alice, "something rude")
    item.hover()
    item.get_by_role("button", name="Reply to Bob").click()
    send(alice, "please don't")
    expect(message_item(bob, "please don't").locator(".msg-quote")).to_contain_text("something rude")
    item.hover()
    item.get_by_role("button", name="Delete", exact=True).click()
    item.get_by_role("button", name="Yes").click()
    for person in (alice, bob):
        quote = message_item(person, "please don't").locator(".msg-quote")
        expect(quote).to_contain_text("Original message deleted")
        expect(quote).not_to_contain_text("rude")


def test_a_mention_completes_highlights_counts_and_notifies(people, artifacts_dir):
    """Alice types @b, takes Bob from the list with the keyboard; Bob, his tab hidden, gets a
    notification, a highlighted message and a count that clears when he comes back to it."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    bob.context.add_init_script(HIDDEN_TAB_AND_NOTIFICATIONS)
    _, code = create_party_on_home(alice, content_id="channel-7")
    join_on_home(bob, code)
    expect(alice.page.locator("#participants")).to_contain_text("Bob")

    bob.page.get_by_role("button", name="Notify me of mentions").click()
    expect(bob.page.get_by_role("button", name="Notify me of mentions")).to_be_hidden()

    box = alice.page.locator("#message-input")
    box.press_sequentially("Look @b")
    options = alice.page.get_by_role("listbox", name="People to mention")
    expect(options.get_by_role("option")).to_have_text(["Bob"])
    expect(box).to_have_attribute("aria-activedescendant", "mention-option-0")
    box.press("Enter")  # takes the name; does not send
    expect(box).to_have_value("Look @Bob ")
    expect(options).to_be_hidden()
    box.press_sequentially("behind you")
    set_hidden(bob, True)
    box.press("Enter")

    mention = message_item(bob, "Look @Bob behind you")
    expect(mention).to_have_class(re.compile(r"\bmsg-mention\b"))
    expect(mention).to_contain_text("mentions you")
    bob.page.screenshot(path=str(artifacts_dir / "mention-highlight.png"))
    count = bob.page.locator("#mention-count")
    expect(count).to_have_text("@ 1")
    expect(bob.page).to_have_title(re.compile(r"^\(@1\) "))
    assert bob.page.evaluate("window.__notifications") == [
        {"title": "Alice mentioned you", "body": "Look @Bob behind you"}
    ]
    # Alice sees her own message plainly: she is not mentioned.
    expect(message_item(alice, "Look @Bob behind you")).not_to_have_class(re.compile(r"msg-mention"))

    set_hidden(bob, False)
    expect(count).to_be_hidden()
    # A mention while Bob looks at the chat notifies nobody.
    send(alice, "@Bob again")
    expect(messages(bob, "@Bob again")).to_have_count(1)
    assert len(bob.page.evaluate("window.__notifications")) == 1


def test_the_emoji_picker_by_keyboard_on_a_phone(people, artifacts_dir):
    """On a 390x844 phone Bob opens the picker from the message box, moves through the grid with
    the arrow keys, picks with Enter (focus comes back), closes it with Escape, and reacts to
    Alice's message with an emoji that is not one of the four quick ones."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    bob.page.set_viewport_size(VIEWPORTS["phone"])
    _, code = create_party_on_home(alice, content_id="channel-7")
    join_on_home(bob, code)
    page = bob.page

    emoji_button = page.get_by_role("button", name="Insert an emoji")
    emoji_button.focus()
    page.keyboard.press("Enter")
    picker = page.get_by_role("dialog", name="Insert an emoji")
    expect(picker).to_be_visible()
    expect(emoji_button).to_have_attribute("aria-expanded", "true")
    expect(picker.get_by_role("button", name="grinning face", exact=True)).to_be_focused()
    box = picker.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    assert_accessible(page, "emoji picker (phone)")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")  # a row of 8 down: the 10th emoji of the first group
    expect(picker.get_by_role("button", name="upside-down face")).to_be_focused()
    page.screenshot(path=str(artifacts_dir / "emoji-picker-phone.png"))
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(page.locator("#message-input")).to_have_value("🙃")
    expect(page.locator("#message-input")).to_be_focused()

    emoji_button.click()
    expect(picker).to_be_visible()
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(emoji_button).to_be_focused()

    send(alice, "Goal!")
    item = message_item(bob, "Goal!")
    item.click()
    more = item.get_by_role("button", name="More reactions")
    more.click()
    react = page.get_by_role("dialog", name="React with an emoji")
    expect(react).to_be_visible()
    page.keyboard.press("Shift+Tab")  # from the grid to the name filter
    page.keyboard.type("soccer")
    expect(react.get_by_role("button", name="soccer ball")).to_be_visible()
    page.keyboard.press("Enter")
    expect(react).to_be_hidden()
    expect(more).to_be_focused()
    chip = message_item(alice, "Goal!").locator(".chip")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text("⚽")
