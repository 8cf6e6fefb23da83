"""Older messages load when you scroll to the top; a send over the rate limit waits and goes out."""

from __future__ import annotations

from tests.e2e.conftest import CHAT_SEND_LIMIT, HISTORY_WINDOW_S, RESUME_LIMIT
from tests.e2e.helpers import create_party_by_api, expect, messages, open_room, post_messages


def long_chat(people, title: str) -> tuple:
    """Frank's party with 56 messages ("Message 01" ... "Message 56"): (frank, party, texts)."""
    frank = people("frank", "Frank")
    grace = people("grace", "Grace")
    party = create_party_by_api(frank, title=title)
    response = grace.api("POST", "/api/parties/join/", data={"room_code": party["room_code"]})
    assert response.status == 200, response.text()
    texts = [f"Message {n:02d}" for n in range(1, 57)]
    post_messages([frank, grace], party["id"], texts)
    return frank, party, texts


def test_scrolling_up_loads_older_messages(people):
    frank, party, texts = long_chat(people, "Long chat")

    open_room(frank, party["id"])
    items = frank.page.locator("#messages li.msg")
    expect(items).to_have_count(50)  # the newest page comes with party.state
    expect(items.first.locator(".msg-text")).to_have_text("Message 07")
    expect(frank.page.locator("#history-status")).to_contain_text("Load earlier messages")

    frank.page.locator("#chat-scroll").evaluate("s => { s.scrollTop = 0; }")
    expect(items).to_have_count(56)
    expect(frank.page.locator("#history-status")).to_have_text("This is the start of the chat.")
    shown = frank.page.locator("#messages .msg-text").all_inner_texts()
    assert shown == texts
    # The view stayed where the reader was: the message that was on top is still in sight.
    assert frank.page.locator("#chat-scroll").evaluate("s => s.scrollTop") > 0


def test_a_rate_limited_older_page_says_so_and_loads_on_retry(people):
    """Past the history limit (shared by the user's tabs), the room says so instead of "Loading…"
    for ever, and the same button loads the page once the limit allows."""
    frank, party, _ = long_chat(people, "Two tabs")
    open_room(frank, party["id"])
    other_tab = frank.context.new_page()
    other_tab.goto(f"{frank.base_url}/parties/{party['id']}/")
    expect(other_tab.locator("#connection-state")).to_have_text("Live")
    other_tab.locator("#chat-scroll").evaluate("s => { s.scrollTop = 0; }")
    expect(other_tab.locator("#messages li.msg")).to_have_count(56)

    page = frank.page
    items = page.locator("#messages li.msg")
    page.locator("#chat-scroll").evaluate("s => { s.scrollTop = 0; }")
    expect(page.locator(".notice[data-key='history']")).to_contain_text("too fast")
    expect(page.locator("#history-status")).to_have_text("Load earlier messages")
    expect(items).to_have_count(50)

    expect(page.locator(".notice[data-key='history']")).to_have_count(0, timeout=(HISTORY_WINDOW_S + 5) * 1000)
    page.locator("#history-status").get_by_role("button", name="Load earlier messages").click()
    expect(items).to_have_count(56)
    expect(page.locator("#history-status")).to_have_text("This is the start of the chat.")


def test_a_rate_limited_resume_does_not_jam_older_pages(people):
    """A reconnect's catch-up refused as too fast says it will try again, and loading older
    messages afterwards still works (the refused request left the queue)."""
    frank, party, texts = long_chat(people, "Catch-up")
    open_room(frank, party["id"])
    page = frank.page
    # Another socket of Frank's uses up his catch-ups (the limit counts all his sockets).
    page.evaluate(
        """([partyId, count]) => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/parties/${partyId}/`);
            ws.onmessage = (event) => {
                if (JSON.parse(event.data).type !== "party.state") return;
                for (let n = 0; n < count; n++) ws.send(JSON.stringify({ type: "resume", after: "0".repeat(24) }));
                resolve();
            };
        })""",
        [party["id"], RESUME_LIMIT],
    )
    page.evaluate("window.__watchparty.dropSocket()")
    expect(page.locator(".notice[data-key='resume']")).to_contain_text("Catching up on missed messages")
    expect(page.locator("#connection-state")).to_have_text("Live")

    page.locator("#chat-scroll").evaluate("s => { s.scrollTop = 0; }")
    expect(page.locator("#messages li.msg")).to_have_count(56)
    expect(page.locator("#history-status")).to_have_text("This is the start of the chat.")
    assert page.locator("#messages .msg-text").all_inner_texts() == texts


def test_sends_over_the_rate_limit_wait_and_go_out(people):
    heidi = people("heidi", "Heidi")
    party = create_party_by_api(heidi)
    open_room(heidi, party["id"])
    texts = [f"quick {n}" for n in range(CHAT_SEND_LIMIT + 3)]
    box = heidi.page.locator("#message-input")
    heidi.page.evaluate(
        """(texts) => {
            const box = document.querySelector('#message-input');
            const form = document.querySelector('#composer');
            for (const text of texts) { box.value = text; form.requestSubmit(); }
        }""",
        texts,
    )
    expect(heidi.page.locator(".notice[data-key='rate']")).to_contain_text("too fast")
    expect(heidi.page.locator("#pending")).to_contain_text("trying again in")
    expect(heidi.page.locator("#messages li.msg")).to_have_count(len(texts))
    expect(heidi.page.locator("#pending .msg")).to_have_count(0)
    for text in texts[-3:]:
        expect(messages(heidi, text)).to_have_count(1)
    expect(box).to_have_value("")
