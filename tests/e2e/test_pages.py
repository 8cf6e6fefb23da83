"""Pages: the Content-Security-Policy header, the room page's login and 404 rules, the admin
under the policy, and a party you are not in."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import create_party_by_api, expect

REQUIRED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
}


def parse_csp(header: str) -> dict[str, set[str]]:
    policy = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        policy[name] = set(sources)
    return policy


YOUTUBE = {
    "script-src": {"https://www.youtube.com"},
    "frame-src": {"'self'", "https://www.youtube.com", "https://www.youtube-nocookie.com"},
}


def assert_strict_csp(response, server: str, *, youtube: bool = False) -> None:
    """The strict policy; `youtube`: plus the YouTube player's script and frame (the room)."""
    header = response.headers.get("content-security-policy")
    assert header, f"no CSP on {response.url}"
    policy = parse_csp(header)
    for name, sources in REQUIRED.items():
        expected = sources | YOUTUBE.get(name, set()) if youtube else sources
        assert policy.get(name) == expected, f"{name} is {policy.get(name)} on {response.url}"
    assert policy.get("frame-src") == (YOUTUBE["frame-src"] if youtube else None)
    host = server.split("://", 1)[1]
    assert policy["connect-src"] <= {"'self'", f"ws://{host}", f"wss://{host}"}
    assert "'self'" in policy["connect-src"]
    assert policy["media-src"] <= {"'self'", "https:"}
    assert not re.search(r"unsafe-inline|unsafe-eval|\*", header)


@pytest.fixture
def anonymous(browser, server):
    context = browser.new_context(base_url=server)
    violations: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield page, violations
    context.close()


def test_csp_header_on_login_home_and_room(people, server, anonymous):
    page, violations = anonymous
    for path in ("/accounts/login/", "/accounts/signup/"):
        response = page.goto(server + path)
        assert response.status == 200
        assert_strict_csp(response, server)
    assert violations == []

    carol = people("carol", "Carol")
    home = carol.goto("/")
    assert_strict_csp(home, server)
    expect(carol.page.locator("#parties-status")).to_contain_text("No parties yet")
    party = create_party_by_api(carol, title="Movie night")
    room = carol.goto(f"/parties/{party['id']}/")
    assert room.status == 200
    assert_strict_csp(room, server, youtube=True)
    expect(carol.page.locator("#connection-state")).to_have_text("Live")
    assert any(c["name"] == "csrftoken" for c in carol.context.cookies())
    # Home lists the party now.
    carol.goto("/")
    expect(carol.page.locator(".party-item")).to_have_count(1)
    expect(carol.page.locator(".party-item")).to_contain_text("Movie night")


def test_room_page_needs_login_and_a_well_formed_id(people, server, anonymous):
    page, _ = anonymous
    party_path = f"/parties/{'a' * 24}/"
    response = page.request.get(server + party_path, max_redirects=0)
    assert response.status == 302
    assert response.headers["location"] == f"/accounts/login/?next={party_path}"

    dave = people("dave", "Dave")
    for bad in ("not-an-id", "A" * 24, "a" * 23, "a" * 25):
        response = dave.page.request.get(f"{server}/parties/{bad}/", max_redirects=0)
        assert response.status == 404, bad

    # Well formed, but no such party (or not Dave's): the page says so and does not connect.
    dave.goto(party_path)
    expect(dave.page.locator("#party-title")).to_have_text("Party not found")
    expect(dave.page.locator(".notice[data-key='gone']")).to_contain_text("does not exist")
    expect(dave.page.locator("#message-input")).to_be_disabled()


def test_login_page_logs_in_and_back_to_the_room(people, server, browser):
    erin = people("erin", "Erin")
    party = create_party_by_api(erin, title="Erin's party")
    erin.page.get_by_role("button", name="Log out").click()
    expect(erin.page).to_have_url(re.compile(r"/accounts/login/$"))

    erin.goto(f"/parties/{party['id']}/")
    expect(erin.page).to_have_url(re.compile(r"/accounts/login/\?next="))
    erin.page.locator("#id_username").fill(erin.username)
    erin.page.locator("#id_password").fill("wrong password")
    erin.page.get_by_role("button", name="Log in").click()
    expect(erin.page.locator(".form-errors")).to_be_visible()
    erin.page.locator("#id_password").fill("Watch-Together-2026!")
    erin.page.get_by_role("button", name="Log in").click()
    expect(erin.page).to_have_url(f"{server}/parties/{party['id']}/")
    expect(erin.page.locator("#party-title")).to_have_text("Erin's party")


def test_admin_login_works_under_the_policy(anonymous, server):
    page, violations = anonymous
    response = page.goto(server + "/admin/login/")
    assert response.status == 200
    assert_strict_csp(response, server)
    expect(page.locator("#id_username")).to_be_visible()
    assert violations == []
