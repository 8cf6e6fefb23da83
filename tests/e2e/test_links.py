"""Links that play: a YouTube video plays through the YouTube IFrame Player API (a fake of it
here: the tests cannot reach YouTube) in sync like a file; a link that does not play is refused."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import VIEWPORTS, create_party_on_home, expect, join_on_home, messages, send

FAKE_API = (Path(__file__).parent / "fake_youtube_iframe_api.js").read_text()
VIDEO_ID = "dQw4w9WgXcQ"


def fake_youtube(person) -> None:
    person.context.route(
        "https://www.youtube.com/iframe_api",
        lambda route: route.fulfill(body=FAKE_API, content_type="text/javascript"),
    )


def wait_fake(person, condition: str) -> None:
    """Wait until `condition` (JS over `p`, the page's fake YT.Player) holds."""
    script = f"() => {{ const p = window.__fakeYT?.players[0]; return Boolean(p) && ({condition}); }}"
    person.page.wait_for_function(script)


def test_a_youtube_party_plays_in_sync(people):
    """The host's play, speed, seek (on YouTube's own controls) and pause reach the guest's player."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    for person in (alice, bob):
        fake_youtube(person)
    _, code = create_party_on_home(alice, content_id=f"https://youtu.be/{VIDEO_ID}", title="Music video")
    join_on_home(bob, code)
    for person in (alice, bob):
        expect(person.page.locator(f".fake-yt[data-video-id='{VIDEO_ID}']")).to_have_count(1)
        expect(person.page.locator("#player")).to_be_hidden()
        wait_fake(person, "p.options.videoId === '" + VIDEO_ID + "'")
    wait_fake(bob, "p.muted")  # a follower starts muted, so that it may play without a click

    alice.page.locator("#play-toggle").click()
    wait_fake(alice, "p.state === 1")
    wait_fake(bob, "p.state === 1")
    expect(bob.page.locator("#sync-status")).to_contain_text("Playing")
    expect(bob.page.locator("#sync-status")).to_contain_text("in sync with Alice")

    alice.page.evaluate("() => window.__fakeYT.players[0].setPlaybackRate(1.5)")  # YouTube's speed menu
    wait_fake(bob, "p.rate === 1.5")
    expect(bob.page.locator("#sync-status")).to_contain_text("Playing at 1.5×")

    alice.page.evaluate("() => window.__fakeYT.players[0].seekTo(300, true)")  # YouTube's seek bar
    wait_fake(bob, "p.getCurrentTime() > 299 && p.getCurrentTime() < 310")

    alice.page.evaluate("() => window.__fakeYT.players[0].pauseVideo()")  # YouTube's pause button
    wait_fake(bob, "p.state === 2 && Math.abs(p.getCurrentTime() - window.__fakeYT.players[0].getCurrentTime()) < 100")
    expect(bob.page.locator("#sync-status")).to_contain_text("Paused")
    position = alice.page.evaluate("() => window.__fakeYT.players[0].getCurrentTime()")
    wait_fake(bob, f"Math.abs(p.getCurrentTime() - {position}) < 0.6")


def test_a_link_that_does_not_play_is_refused_on_the_home_page(people):
    """A web page link is refused at creation with a message naming the links that play."""
    alice = people("alice", "Alice")
    page = alice.page
    alice.goto("/")
    page.get_by_label("Video URL or channel").fill("https://example.com/watch/some-film")
    page.get_by_role("button", name="Create party").click()
    message = page.locator("#create-message")
    expect(message).to_contain_text("This link does not play in the room.")
    expect(message).to_contain_text("YouTube")
    expect(message).to_contain_text(".mp4")
    expect(page).to_have_url(alice.base_url + "/")


def test_an_ended_youtube_party_shows_no_player(people):
    """Reloading an ended YouTube party shows it ended, without a YouTube player."""
    alice = people("alice", "Alice")
    fake_youtube(alice)
    party_id, _ = create_party_on_home(alice, content_id=f"https://www.youtube.com/watch?v={VIDEO_ID}")
    assert alice.api("POST", f"/api/parties/{party_id}/end/").status == 200
    alice.goto(f"/parties/{party_id}/")
    expect(alice.page.locator("#player-placeholder")).to_have_text("This party has ended.")
    expect(alice.page.locator("#yt-frame")).to_be_hidden()
    alice.page.wait_for_timeout(500)  # the API script has loaded by now: no player was made after all
    assert alice.page.evaluate("() => window.__fakeYT ? window.__fakeYT.players.length : 0") == 0


def test_the_player_reads_links_as_the_server_does(people):
    """player.js plays no link the server refuses as another host or a script (parties/media.py), and
    plays the site paths and https files it accepts."""
    alice = people("alice")
    alice.goto("/")
    results = alice.page.evaluate(
        """async (values) => {
            const { mediaUrl } = await import("/static/watchparty/js/player.js");
            return values.map((value) => mediaUrl(value));
        }""",
        [
            "/\\evil.example/x.mp4",
            "\\\\evil.example/x.mp4",
            "javascript:alert(1)",
            "data:video/mp4;base64,AAAA",
            "/static/e2e/clip.webm",
            "https://cdn.example.com/film.mp4",
        ],
    )
    assert results[:4] == [None, None, None, None]
    assert results[4] == alice.base_url + "/static/e2e/clip.webm"
    assert results[5] == "https://cdn.example.com/film.mp4"


def test_youtube_unreachable_says_why_offers_a_retry_and_chat_goes_on(people):
    """With YouTube's script blocked, the player's place says why and offers Try again (by
    keyboard, on a phone too); chat works meanwhile, and Try again plays once YouTube answers."""
    alice, bob = people("alice", "Alice"), people("bob", "Bob")
    bob.page.set_viewport_size(VIEWPORTS["phone"])
    for person in (alice, bob):
        person.context.route("https://www.youtube.com/iframe_api", lambda route: route.abort("blockedbyclient"))
    _, code = create_party_on_home(alice, content_id=f"https://www.youtube.com/watch?v={VIDEO_ID}")
    join_on_home(bob, code)
    for person in (alice, bob):
        placeholder = person.page.locator("#player-placeholder")
        expect(placeholder).to_contain_text("The YouTube player could not be loaded")
        expect(placeholder).to_contain_text("ad or content blocker")
        expect(person.page.locator("#yt-frame")).to_be_hidden()
        expect(person.page.get_by_role("button", name="Try again")).to_be_visible()
    # On the phone's short player the reason stays readable: the button sits below its last line.
    text_bottom, button_top = bob.page.evaluate(
        """() => {
            const range = document.createRange();
            range.selectNodeContents(document.querySelector("#player-placeholder"));
            return [range.getBoundingClientRect().bottom, document.querySelector("#player-retry").getBoundingClientRect().top];
        }"""
    )
    assert text_bottom <= button_top, (
        f"the reason's text ends at {text_bottom}px, under the button's top {button_top}px"
    )
    send(bob, "Is the video broken for you too?")
    expect(messages(alice, "Is the video broken for you too?")).to_have_count(1)

    bob.context.unroute("https://www.youtube.com/iframe_api")
    fake_youtube(bob)
    retry = bob.page.get_by_role("button", name="Try again")
    retry.focus()
    bob.page.keyboard.press("Enter")
    wait_fake(bob, "true")
    expect(bob.page.locator("#yt-frame")).to_be_visible()
    expect(bob.page.locator("#player-placeholder")).to_be_hidden()
    expect(retry).to_be_hidden()
