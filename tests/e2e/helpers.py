"""Steps the end-to-end tests share: what a person does on the pages."""

from __future__ import annotations

import re

from tests.support import unavailable


def _require_playwright():
    """Playwright's expect; without Playwright, skip the module (fail it under CI=true)."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        unavailable(
            "Playwright is not installed (it is pinned in requirements.txt; the browser is Debian's chromium)",
            service="playwright",
            module_level=True,
        )
    return expect


expect = _require_playwright()

PARTY_URL_RE = re.compile(r"/parties/([0-9a-f]{24})/$")


def exact(text: str) -> re.Pattern:
    return re.compile(f"^{re.escape(text)}$")


def messages(person, text: str):
    """The message-text elements in the person's chat whose whole text is `text`."""
    return person.page.locator("#messages .msg-text", has_text=exact(text))


def message_item(person, text: str):
    page = person.page
    return page.locator("#messages li.msg").filter(has=page.locator(".msg-text", has_text=exact(text)))


def create_party_on_home(host, *, content_id: str, title: str = "") -> tuple[str, str]:
    """The host creates a party on the home page and lands in its room: (party id, room code)."""
    page = host.page
    host.goto("/")
    page.get_by_label("Video URL or channel").fill(content_id)
    if title:
        page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create party").click()
    expect(page).to_have_url(PARTY_URL_RE)
    wait_live(host)
    code = page.locator("#room-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{6}$"))
    return PARTY_URL_RE.search(page.url).group(1), code.inner_text()


def join_on_home(guest, code: str) -> str:
    page = guest.page
    guest.goto("/")
    page.get_by_label("Room code").fill(code)
    page.get_by_role("button", name="Join party").click()
    expect(page).to_have_url(PARTY_URL_RE)
    wait_live(guest)
    return PARTY_URL_RE.search(page.url).group(1)


def create_party_by_api(person, *, title: str = "", **fields) -> dict:
    body = {"content_id": "film-1", "content_type": "vod", "content_title": title, **fields}
    response = person.api("POST", "/api/parties/", data=body)
    assert response.status == 201, response.text()
    return response.json()


def open_room(person, party_id: str) -> None:
    person.goto(f"/parties/{party_id}/")
    wait_live(person)


def wait_live(person) -> None:
    expect(person.page.locator("#connection-state")).to_have_text("Live")


def send(person, text: str) -> None:
    box = person.page.locator("#message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def message_ids(person) -> list[str]:
    return person.page.locator("#messages li.msg").evaluate_all("items => items.map(item => item.dataset.id)")


def post_messages(authors, party_id: str, texts: list[str]) -> None:
    """Post `texts` over HTTP in order, the authors taking turns (each stays under the send limit)."""
    for n, text in enumerate(texts):
        author = authors[n % len(authors)]
        response = author.api("POST", f"/api/parties/{party_id}/messages/", data={"message": text})
        assert response.status == 201, response.text()


# --- accessibility (axe-core through axe-playwright-python) ------------------------------------------

# The two screens every page is checked on: a desktop window and a phone (390x844, an iPhone 12-15).
VIEWPORTS = {"desktop": {"width": 1360, "height": 860}, "phone": {"width": 390, "height": 844}}
AXE_FAILING_IMPACTS = frozenset({"serious", "critical"})
# Lesser rules that failed us once (issue 17): a page without a level-one heading, a list given a
# role that takes its items' list semantics away.
AXE_FAILING_RULES = frozenset({"page-has-heading-one", "aria-allowed-role"})


def axe_violations(page) -> list[str]:
    """The page's serious and critical axe-core violations (and AXE_FAILING_RULES'), each as
    "rule (impact): help -> nodes"."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
        + "; ".join(" ".join(map(str, node["target"])) for node in violation["nodes"])
        for violation in results["violations"]
        if violation["impact"] in AXE_FAILING_IMPACTS or violation["id"] in AXE_FAILING_RULES
    ]


def assert_accessible(page, where: str) -> None:
    """Fail on any serious or critical axe-core violation, naming the rule and the nodes."""
    found = axe_violations(page)
    assert not found, f"axe-core on {where} ({page.url}):\n" + "\n".join(found)
