// The replay (docs/PROTOCOL.md, "Timeline chat and replay"): the party's videos played on this page
// alone (never synced with anyone, no WebSocket, no control frames), each message appearing when
// the video reaches the moment it was written. Messages come page by page from the history API by
// position (?item=&from= or &after=) as the video nears the end of what is loaded. Clicking a
// message's time takes this player there. All text goes into the page as text.
import { api, errorText, loginUrl, PARTY_ID_RE } from "./api.js";
import { ChatView, momentOf, positionKey } from "./chat.js";
import { $, formatClock, h } from "./dom.js";
import { Notices } from "./notices.js";
import { mediaUrl } from "./player.js";
import { YouTubeMedia, youtubeId } from "./youtube.js";

const PAGE = 50;
const AHEAD_S = 30; // the next page is asked for when the video is this close to the last message loaded
const TICK_MS = 250;
// A seek this far past what is loaded (or back before it) starts loading again from there, with
// CONTEXT_S of messages before it, rather than every page in between.
const JUMP_S = 300;
const CONTEXT_S = 60;
const EPSILON_S = 0.05;
const RETRY_MS = 5000;

const root = $("#replay");
const partyId = root.dataset.partyId;
const me = root.dataset.userId;

const els = {
  title: $("#replay-title"),
  sub: $("#replay-sub"),
  roomLink: $("#room-link"),
  video: $("#player"),
  youtubeFrame: $("#yt-frame"),
  youtube: $("#yt-player"),
  placeholder: $("#player-placeholder"),
  retry: $("#player-retry"),
  playToggle: $("#play-toggle"),
  clock: $("#replay-clock"),
  scroller: $("#chat-scroll"),
  messages: $("#messages"),
  status: $("#history-status"),
  itemsPanel: $("#items-panel"),
  items: $("#replay-items"),
  itemsCount: $("#items-count"),
};

const notices = new Notices($("#notices"));

const state = {
  party: null,
  items: [], // what the party played, oldest first: {id, content_id, title, started_at}
  index: -1,
  loaded: [], // the current video's messages loaded so far, in the order of their moments
  shown: 0, // how many of `loaded` are in the list: those up to the video's position
  loadedFrom: 0, // the second the loaded messages start from
  nextAfter: null,
  complete: false, // every message from loadedFrom on is loaded
  loading: false,
  waitUntil: 0, // no request before this time (ms): rate-limited, or failed
  generation: 0, // a response for an earlier video or window is dropped
};

let media = null; // the <video>, or a YouTube player behind the same interface (youtube.js)
let ticker = null;

const chat = new ChatView({
  scroller: els.scroller,
  list: els.messages,
  me,
  readOnly: true,
  order: positionKey,
  describeMoment: (message) => ({ seek: true, label: `Go to ${formatClock(momentOf(message).seconds)} in the video` }),
  onSeek: (message) => seekTo(momentOf(message).seconds),
  onJump: (id) => {
    if (!chat.reveal(id)) {
      notices.show("jump", "info", "The original message is not in the chat at this moment of the video.", { timeout: 5000 });
    }
  },
});

// --- the player --------------------------------------------------------------------------------

function itemSource(item) {
  const videoId = youtubeId(item.content_id);
  return { videoId, src: videoId ? null : mediaUrl(item.content_id) };
}

function currentItem() {
  return state.items[state.index] || null;
}

function mediaTime() {
  const time = media ? Number(media.currentTime) : 0;
  return Number.isFinite(time) && time > 0 ? time : 0;
}

function dropMedia() {
  clearInterval(ticker);
  ticker = null;
  if (!media) return;
  for (const [type, listener] of MEDIA_LISTENERS) media.removeEventListener(type, listener);
  if (media === els.video) {
    els.video.pause();
    els.video.removeAttribute("src");
    els.video.load();
  } else {
    media.destroy();
    // YouTube's player replaced its element with a frame: the next one needs a fresh element.
    els.youtube = h("div", { id: "yt-player" });
    els.youtubeFrame.replaceChildren(els.youtube);
  }
  media = null;
}

const MEDIA_LISTENERS = [
  ["timeupdate", () => tick()],
  ["seeked", () => tick()],
  ["play", () => renderPlayer()],
  ["pause", () => renderPlayer()],
  ["durationchange", () => renderPlayer()],
  ["error", () => renderPlayer()],
  ["ended", () => onEnded()],
];

/** Play the party's `index`th video (from `at` seconds, playing if `play`). */
function openItem(index, { at = 0, play = false } = {}) {
  dropMedia();
  state.index = index;
  const item = currentItem();
  resetMessages(at > 0 ? Math.max(0, at - CONTEXT_S) : 0);
  renderItems();
  const { videoId, src } = itemSource(item);
  els.video.hidden = !src;
  els.youtubeFrame.hidden = !videoId;
  els.placeholder.hidden = Boolean(src || videoId);
  els.retry.hidden = true;
  if (!src && !videoId) {
    els.placeholder.textContent = `“${item.title || item.content_id}” was not a video played in the room (a live channel or a film watched elsewhere), so it has no replay.`;
    renderPlayer();
    renderStatus();
    return;
  }
  if (videoId) {
    media = new YouTubeMedia(els.youtube, videoId);
  } else {
    media = els.video;
    els.video.src = src;
  }
  for (const [type, listener] of MEDIA_LISTENERS) media.addEventListener(type, listener);
  if (at > 0 || play) {
    const start = () => {
      if (at > 0) media.currentTime = at;
      if (play) startPlaying();
    };
    if (media.readyState >= 1) start();
    else media.addEventListener("loadedmetadata", start, { once: true });
  }
  ticker = setInterval(tick, TICK_MS);
  renderPlayer();
  loadMore();
}

function startPlaying() {
  const attempt = media?.play();
  if (attempt && attempt.catch) {
    attempt.catch((error) => {
      if (error && error.name === "NotAllowedError") {
        notices.show("play", "info", "Press Play to start the replay.", { timeout: 5000 });
      }
    });
  }
}

/** A message's time was clicked: this player (only) goes there. */
function seekTo(seconds) {
  if (!media || !Number.isFinite(seconds)) return;
  media.currentTime = seconds;
  tick();
}

/** The end of a video: the next one the party played, if any, from its start. */
function onEnded() {
  tick();
  if (state.index + 1 < state.items.length) {
    const next = state.items[state.index + 1];
    notices.show("item", "info", `Now playing: ${next.title || next.content_id}`, { timeout: 4000 });
    openItem(state.index + 1, { play: true });
  } else {
    renderPlayer();
  }
}

// --- the messages ------------------------------------------------------------------------------

/** Start the current video's messages over from `from` seconds (a new video, or a long seek). */
function resetMessages(from) {
  state.generation += 1;
  state.loaded = [];
  state.shown = 0;
  state.loadedFrom = from;
  state.nextAfter = null;
  state.complete = false;
  state.loading = false;
  state.waitUntil = 0;
  chat.replace([]);
}

function lastLoadedSeconds() {
  const last = state.loaded[state.loaded.length - 1];
  return last ? momentOf(last).seconds : null;
}

/** The next page of the current video's messages by position. */
async function loadMore() {
  const item = currentItem();
  if (!item || state.loading || state.complete || Date.now() < state.waitUntil) return;
  const generation = state.generation;
  const params = new URLSearchParams({ item: item.id, limit: String(PAGE) });
  if (state.nextAfter) params.set("after", state.nextAfter);
  else params.set("from", String(Math.floor(state.loadedFrom)));
  state.loading = true;
  renderStatus();
  try {
    const { data } = await api(`/api/parties/${partyId}/messages/?${params}`);
    if (generation !== state.generation) return;
    const page = (Array.isArray(data.results) ? data.results : []).filter((message) => momentOf(message));
    state.loaded.push(...page);
    state.nextAfter = typeof data.next_after === "string" ? data.next_after : null;
    state.complete = !state.nextAfter;
    notices.clear("load");
  } catch (error) {
    if (generation !== state.generation) return;
    if (error.status === 401) {
      location.assign(loginUrl());
      return;
    }
    const wait = error.status === 429 ? Math.max(1, Math.ceil(error.retryAfter || 1)) * 1000 : RETRY_MS;
    state.waitUntil = Date.now() + wait;
    if (error.status === 404 || error.status === 403) {
      state.complete = true; // the party is no longer ours to read: keep what is shown
      notices.show("load", "error", `The chat could not be loaded: ${errorText(error)}`, { sticky: true });
    } else if (error.status !== 429) {
      notices.show("load", "warn", `Messages could not be loaded just now (${errorText(error)}). Trying again…`, {
        timeout: wait,
      });
    }
  } finally {
    if (generation === state.generation) {
      state.loading = false;
      tick();
    }
  }
}

/** Show the messages written up to where the video is, and ask for more ahead of it. */
function tick() {
  if (!media) return;
  const time = mediaTime();
  const last = lastLoadedSeconds();
  const before = time + EPSILON_S < state.loadedFrom;
  const pastLoaded = !state.complete && last !== null && time > last + JUMP_S;
  if (before || pastLoaded) {
    resetMessages(Math.max(0, time - CONTEXT_S));
  }
  let want = state.shown;
  while (want < state.loaded.length && momentOf(state.loaded[want]).seconds <= time + EPSILON_S) want += 1;
  while (want > 0 && momentOf(state.loaded[want - 1]).seconds > time + EPSILON_S) want -= 1;
  if (want > state.shown) chat.merge(state.loaded.slice(state.shown, want));
  for (let n = state.shown; n > want; n -= 1) chat.hide(state.loaded[n - 1].id);
  state.shown = want;
  const lastNow = lastLoadedSeconds();
  if (!state.complete && (lastNow === null || lastNow < time + AHEAD_S)) {
    if (Date.now() >= state.waitUntil) loadMore();
  }
  renderPlayer();
  renderStatus();
}

// --- rendering ---------------------------------------------------------------------------------

function renderPlayer() {
  const playable = Boolean(media);
  els.playToggle.hidden = !playable;
  if (!playable) {
    els.clock.textContent = "";
    return;
  }
  if (media !== els.video && media.error) {
    els.youtubeFrame.hidden = true;
    els.placeholder.hidden = false;
    els.placeholder.textContent = media.error.message;
    els.retry.hidden = !media.error.retryable;
  } else if (media !== els.video) {
    els.youtubeFrame.hidden = false;
    els.placeholder.hidden = true;
    els.retry.hidden = true;
  }
  els.playToggle.textContent = media.paused ? "▶ Play" : "❚❚ Pause";
  const count = state.shown;
  const said = `${count} message${count === 1 ? "" : "s"} so far`;
  const failed = media === els.video && els.video.error ? "This video could not be loaded. " : "";
  els.clock.textContent = `${failed}Replay · ${formatClock(mediaTime())} / ${formatClock(media.duration)} · ${said}`;
}

function renderStatus() {
  let text;
  if (!media) text = "";
  else if (state.loadedFrom > 0) {
    text = `Messages from ${formatClock(state.loadedFrom)} on. Go back in the video for earlier ones.`;
  } else if (state.complete && !state.loaded.length) text = "Nobody wrote anything during this video.";
  else if (state.loading && !state.loaded.length) text = "Loading the chat…";
  else text = "Messages appear as the video reaches the moment they were written.";
  if (els.status.textContent !== text) els.status.textContent = text;
}

function renderItems() {
  const several = state.items.length > 1;
  els.itemsPanel.hidden = !several;
  if (!several) return;
  els.itemsCount.textContent = `(${state.items.length})`;
  els.items.replaceChildren(
    ...state.items.map((item, index) => {
      const name = item.title || item.content_id;
      const started = new Date(item.started_at);
      const when = Number.isNaN(started.getTime())
        ? ""
        : started.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const current = index === state.index;
      return h(
        "li",
        { class: "queue-item" },
        h("button", {
          type: "button",
          class: `btn btn-small ${current ? "" : "btn-ghost"}`,
          "aria-current": current ? "true" : null,
          "data-index": String(index),
          text: name,
        }),
        when ? h("span", { class: "muted small", text: ` started ${when}` }) : null,
      );
    }),
  );
}

els.items.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-index]");
  if (!button) return;
  const index = Number(button.dataset.index);
  if (index === state.index) return;
  openItem(index, { play: true });
  els.items.querySelector(`button[data-index="${index}"]`)?.focus();
});

els.playToggle.addEventListener("click", () => {
  if (!media) return;
  if (media.paused) startPlaying();
  else media.pause();
});

els.retry.addEventListener("click", () => media?.retry?.());

// For the end-to-end tests: where the replay is.
window.__watchparty = Object.freeze({
  replay: () => ({ item: currentItem()?.id ?? null, time: mediaTime(), loaded: state.loaded.length, shown: state.shown }),
});

// --- start -------------------------------------------------------------------------------------

function showGone(text, title) {
  root.classList.remove("room-loading");
  root.classList.add("room-gone");
  els.title.textContent = title;
  notices.show("gone", "error", text, { sticky: true, actions: [{ label: "Back to home", href: "/" }] });
}

async function init() {
  if (!PARTY_ID_RE.test(partyId)) {
    showGone("This is not a party address.", "Party not found");
    return;
  }
  let party;
  try {
    party = (await api(`/api/parties/${partyId}/`)).data;
  } catch (error) {
    if (error.status === 401) {
      location.assign(loginUrl());
      return;
    }
    if (error.code === "banned") {
      showGone("You were removed from this party by its host or a co-host, so its replay is not yours to watch.", "Removed from this party");
      return;
    }
    if (error.status === 404) {
      showGone("This party does not exist, or you are not one of its members.", "Party not found");
      return;
    }
    notices.show("load-party", "error", `Could not load the party: ${errorText(error)}`, {
      sticky: true,
      actions: [{ label: "Try again", onClick: () => location.reload() }],
    });
    return;
  }
  state.party = party;
  const title = party.content_title || party.content_id;
  els.title.textContent = `Replay: ${title}`;
  document.title = `Replay: ${title} · Watch Party`;
  const live = !party.ended_at;
  els.sub.textContent = `Hosted by ${party.host_name} · ${live ? "the party is still on" : "the party has ended"}`;
  els.roomLink.textContent = live ? "Back to the live party" : "Back to the party";
  state.items = Array.isArray(party.played) && party.played.length
    ? party.played
    : [{ id: party.current_item?.id || "", content_id: party.content_id, title, started_at: party.started_at }];
  root.classList.remove("room-loading");
  // The first video that plays here; a party of names only says why there is nothing to replay.
  const first = Math.max(0, state.items.findIndex((item) => Boolean(itemSource(item).src || itemSource(item).videoId)));
  openItem(first);
}

init();
