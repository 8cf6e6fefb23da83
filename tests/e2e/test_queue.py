"""The shared queue in the browser: two people, the host queues, plays now and lets the queue run
on at the end of a video; the guest's player switches with the host's (docs/PROTOCOL.md)."""

from __future__ import annotations

from tests.e2e.helpers import VIEWPORTS, assert_accessible, create_party_on_home, expect, join_on_home

PLAYER = "document.querySelector('#player')"


def wait_src(person, suffix: str) -> None:
    person.page.wait_for_function(
        f"(s) => {{ const v = {PLAYER}; return v.readyState >= 1 && v.currentSrc.endsWith(s); }}", arg=suffix
    )


def add(person, link: str, title: str) -> None:
    page = person.page
    page.get_by_label("Add a video (YouTube link or video file)").fill(link)
    page.get_by_label("Title (optional)").fill(title)
    page.get_by_role("button", name="Add to queue").click()


def test_the_queue_switches_the_video_for_everyone(people, server, artifacts_dir):
    """Alice queues two videos; Bob sees them but no controls; Play now switches both players; the
    end of a video goes on to the next for both; the guest may add once Alice opens the queue."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Clips")
    join_on_home(bob, code)
    expect(bob.page.locator("#queue-form")).to_be_hidden()  # the queue is locked to guests

    add(alice, "/static/e2e/clip.webm?second", "Second clip")
    add(alice, "/static/e2e/clip.webm?third", "Third clip")
    for person in (alice, bob):
        expect(person.page.locator("#queue-list .queue-name")).to_have_text(["Second clip", "Third clip"])
    expect(bob.page.get_by_role("button", name="Play now: Second clip")).to_have_count(0)

    # Keyboard: Alice moves the third clip up, and her focus stays on it.
    alice.page.get_by_role("button", name="Move up: Third clip").focus()
    alice.page.keyboard.press("Enter")
    for person in (alice, bob):
        expect(person.page.locator("#queue-list .queue-name")).to_have_text(["Third clip", "Second clip"])
    alice.page.get_by_role("button", name="Move up: Second clip").click()

    alice.page.get_by_role("button", name="Play now: Second clip").click()
    for person in (alice, bob):
        expect(person.page.locator("#now-playing")).to_have_text("Now playing: Second clip")
        wait_src(person, "?second")
        expect(person.page.locator("#queue-list .queue-name")).to_have_text(["Third clip"])

    for person in (alice, bob):  # playing, from its start
        person.page.wait_for_function(f"() => !{PLAYER}.paused && {PLAYER}.currentTime > 0.3")

    # Alice seeks near the end: at the end both go on to the third clip, from its start.
    alice.page.evaluate(f"{PLAYER}.currentTime = 18.5")
    for person in (alice, bob):
        expect(person.page.locator("#now-playing")).to_have_text("Now playing: Third clip", timeout=15000)
        wait_src(person, "?third")
    for person in (alice, bob):  # from its start, playing
        person.page.wait_for_function(
            f"() => !{PLAYER}.paused && {PLAYER}.currentTime > 0.3 && {PLAYER}.currentTime < 8"
        )
    expect(bob.page.locator("#queue-list")).to_have_text("Nothing queued.")

    # Alice opens the queue to guests: Bob adds a video, which Alice sees.
    alice.page.get_by_label("Guests may add videos").check()
    expect(bob.page.locator("#queue-form")).to_be_visible()
    add(bob, "/static/e2e/clip.webm?fourth", "Bob's pick")
    expect(alice.page.locator("#queue-list")).to_contain_text("Bob's pick")
    expect(alice.page.locator("#queue-list")).to_contain_text("added by Bob")

    # A link the player cannot play is refused with the reason.
    add(bob, "javascript:alert(1)", "")
    expect(bob.page.locator("#notices")).to_contain_text("javascript:")

    assert_accessible(alice.page, "the room with a queue (host, desktop)")
    alice.page.screenshot(path=str(artifacts_dir / "queue-host.png"), full_page=True)
    bob.page.set_viewport_size(VIEWPORTS["phone"])
    bob.page.reload()
    expect(bob.page.locator("#connection-state")).to_have_text("Live")
    # Folded on a phone to one line; opened with the keyboard.
    expect(bob.page.locator("#queue-list")).to_be_hidden()
    bob.page.locator("#queue-details summary").focus()
    bob.page.keyboard.press("Enter")
    expect(bob.page.locator("#queue-list")).to_contain_text("Bob's pick")
    assert_accessible(bob.page, "the room with a queue (guest, phone)")
    bob.page.screenshot(path=str(artifacts_dir / "queue-guest-phone.png"))
    assert party_id


def test_votes_skip_the_video_for_everyone(people, server):
    """Alice sets the vote ratio to everyone here; Bob's vote shows as 1 of 2 for both; Alice's
    vote skips, and both players switch to the queued video."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    _party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Votes")
    join_on_home(bob, code)
    alice.page.get_by_label("Skip when voted by").select_option(label="everyone here")
    add(alice, "/static/e2e/clip.webm?next", "Next clip")
    vote = bob.page.locator("#queue-vote")
    expect(vote).to_have_text("Vote to skip (0 of 2)")
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(alice.page.locator("#queue-vote")).to_have_text("Vote to skip (1 of 2)")
    expect(alice.page.locator("#now-playing")).to_have_text("Now playing: Votes")
    alice.page.locator("#queue-vote").click()
    for person in (alice, bob):
        expect(person.page.locator("#now-playing")).to_have_text("Now playing: Next clip")
        expect(person.page.locator("#notices")).to_contain_text("Skipped by vote.")
        wait_src(person, "?next")
    expect(bob.page.locator("#queue-vote")).to_be_hidden()  # nothing left to skip to
    assert_accessible(bob.page, "the room after a vote skip (guest, desktop)")


def test_a_buffering_viewer_pauses_and_resumes_the_party(people, server):
    """Bob's copy of the next video is slow to load: the party pauses for Alice too and both see
    who it waits for; once Bob's video loads the party plays on for both."""
    alice = people("alice", "Alice")
    bob = people("bob", "Bob")
    _party_id, code = create_party_on_home(alice, content_id=f"{server}/static/e2e/clip.webm", title="Wait")
    join_on_home(bob, code)
    held = []
    bob.page.route("**/clip.webm?slow*", lambda route: held.append(route))  # Bob's network stalls

    add(alice, "/static/e2e/clip.webm?slow", "Slow clip")
    alice.page.get_by_role("button", name="Play now: Slow clip").click()
    expect(alice.page.locator("#wait-status")).to_have_text("Waiting for Bob to load…")
    expect(bob.page.locator("#wait-status")).to_have_text("Waiting for you to load…")
    alice.page.wait_for_function(f"() => {PLAYER}.paused")
    paused_at = alice.page.evaluate(f"{PLAYER}.currentTime")
    alice.page.wait_for_timeout(1500)
    assert alice.page.evaluate(f"{PLAYER}.currentTime") == paused_at  # the party waits for Bob

    assert held  # Bob's player did ask for the video
    bob.page.unroute("**/clip.webm?slow*")  # the held requests go on to the server
    for person in (alice, bob):
        expect(person.page.locator("#wait-status")).to_have_text("")
        person.page.wait_for_function(f"(t) => !{PLAYER}.paused && {PLAYER}.currentTime > t + 0.5", arg=paused_at)
