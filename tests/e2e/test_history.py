"""Older messages load when you scroll to the top; a send over the rate limit waits and goes out."""

from __future__ import annotations

from tests.e2e.conftest import CHAT_SEND_LIMIT
from tests.e2e.helpers import create_party_by_api, expect, messages, open_room


def test_scrolling_up_loads_older_messages(people):
    frank = people("frank", "Frank")
    grace = people("grace", "Grace")
    party = create_party_by_api(frank, title="Long chat")
    response = grace.api("POST", "/api/parties/join/", data={"room_code": party["room_code"]})
    assert response.status == 200, response.text()
    texts = [f"Message {n:02d}" for n in range(1, 57)]
    for n, text in enumerate(texts):  # two authors: each stays under the send limit
        author = frank if n % 2 == 0 else grace
        response = author.api("POST", f"/api/parties/{party['id']}/messages/", data={"message": text})
        assert response.status == 201, response.text()

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
