"""Chat text that looks like markup is shown as the literal text: no element is made from it, no
script runs, no dialog opens, nothing is fetched. Every input here is one the server accepts
(it refuses executable vectors such as <script> or on...= handlers with `invalid`)."""

from __future__ import annotations

from tests.e2e.helpers import create_party_by_api, expect, open_room, send

HOSTILE = [
    "a<b>c",
    "<i>not html</i>",
    "<b>bold</b>",
    "<u>under</u> line",
    "<marquee>hi</marquee>",
    "</li></ol><h1>big</h1>",
    "</div></div></div>",
    "<!-- comment -->",
    "<![CDATA[x]]>",
    "&lt;b&gt;entity&lt;/b&gt;",
    "&amp; &quot; &#60;",
    '"><b>x</b>',
    "'; alert(1); //",
    "{{ 7*7 }} ${7*7} <%= 7*7 %>",
    "a < b > c",
    "<3 you",
    "</textarea><b>x</b>",
    "<img src=x>",
    "<video src=x>",
    '<a href="https://example.com">link</a>',
    "<svg><circle r=5></circle></svg>",
    "<table><tr><td>cell</td></tr></table>",
    "<form action=/x><input></form>",
    "<dialog open>d</dialog>",
    "<button>click</button>",
    "<bdo dir=rtl>reversed</bdo>",
    "<x-custom>el</x-custom>",
    "line one\n<b>line two</b>",
]

# The elements one message is built from, whatever its text.
MESSAGE_TAGS = {"LI", "DIV", "SPAN", "TIME", "P", "BUTTON"}


def test_markup_in_messages_is_shown_as_text(people):
    mallory = people("mallory", "Mallory")
    party = create_party_by_api(mallory, content_id="film-1", title="<b>not bold</b>")
    requests: list[str] = []
    mallory.page.on("request", lambda request: requests.append(request.url))
    open_room(mallory, party["id"])
    expect(mallory.page.locator("#party-title")).to_have_text("<b>not bold</b>")

    send(mallory, "baseline")
    baseline = mallory.page.locator("#messages li.msg").last
    expect(baseline.locator(".msg-text")).to_have_text("baseline")
    elements_per_message = baseline.evaluate("li => li.querySelectorAll('*').length + 1")

    for text in HOSTILE:
        send(mallory, text)
    items = mallory.page.locator("#messages li.msg")
    expect(items).to_have_count(len(HOSTILE) + 1)
    expect(mallory.page.locator("#pending .msg")).to_have_count(0)  # the server took every one

    shown = mallory.page.locator("#messages .msg-text").evaluate_all(
        "nodes => nodes.map(n => ({text: n.textContent, children: n.childElementCount, dir: n.dir}))"
    )
    assert [entry["text"] for entry in shown] == ["baseline", *HOSTILE]
    assert all(entry["children"] == 0 for entry in shown)
    assert all(entry["dir"] == "auto" for entry in shown)

    tags = mallory.page.locator("#messages").evaluate("list => [...list.querySelectorAll('*')].map(e => e.tagName)")
    assert set(tags) <= MESSAGE_TAGS, f"unexpected elements: {set(tags) - MESSAGE_TAGS}"
    assert len(tags) == elements_per_message * (len(HOSTILE) + 1)
    assert mallory.page.locator("#messages b, #messages i, #messages img, #messages svg, #messages a").count() == 0

    # Nothing was loaded from the texts (the <img src=x> and <video src=x> would have asked).
    assert not [url for url in requests if url.rstrip("/").endswith("/x")]
    assert mallory.dialogs == []  # checked again (with CSP reports and script errors) at teardown


def test_the_server_refuses_executable_markup(people):
    """The counterpart: what the server refuses shows as 'not sent', with the reason."""
    mallory = people("mallory", "Mallory")
    party = create_party_by_api(mallory)
    open_room(mallory, party["id"])
    send(mallory, "<b onmouseover=alert(1)>x</b>")
    pending = mallory.page.locator("#pending .msg")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Not sent")
    expect(mallory.page.locator(".notice[data-key='send']")).to_contain_text("executable markup")
    expect(mallory.page.locator("#messages li.msg")).to_have_count(0)
    pending.get_by_role("button", name="Discard").click()
    expect(pending).to_have_count(0)
