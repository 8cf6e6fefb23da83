// The party room: player sync, chat (history, resume, pending sends), reactions, typing,
// participants, notices. Protocol: docs/PROTOCOL.md. All text goes into the page as text.
import { api, errorText, loginUrl, PARTY_ID_RE } from "./api.js";
import { ChatView, momentOf } from "./chat.js";
import { confirmAction } from "./confirm.js";
import { $, formatClock, h, randomId } from "./dom.js";
import { EmojiPicker, insertAtCaret } from "./emoji.js";
import { MentionAlerts, MentionCompleter } from "./mentions.js";
import { Moderation } from "./moderation.js";
import { Notices } from "./notices.js";
import { mediaUrl, PlayerSync, ServerClock } from "./player.js";
import { QueueView } from "./queue.js";
import { PartySocket, partySocketUrl } from "./socket.js";
import { YouTubeMedia, youtubeId } from "./youtube.js";

const HISTORY_PAGE = 50;
const RESUME_MAX = 1000;
const MESSAGE_MAX_CHARS = 500;
const TYPING_SEND_EVERY_MS = 1100; // the server allows one a second
const TYPING_SHOW_MS = 3000;
const ACK_TIMEOUT_MS = 10000;
const OLDER_TIMEOUT_MS = 10000;
const JUMP_MAX_PAGES = 5; // a reply's original further back than this many pages is "not loaded"

const root = $("#room");
const partyId = root.dataset.partyId;
const me = root.dataset.userId;

const els = {
  title: $("#party-title"),
  sub: $("#party-sub"),
  code: $("#room-code"),
  copy: $("#copy-code"),
  invite: $("#invite-link"),
  copyInvite: $("#copy-invite"),
  leave: $("#leave-btn"),
  replay: $("#replay-link"),
  end: $("#end-btn"),
  video: $("#player"),
  youtubeFrame: $("#yt-frame"),
  youtube: $("#yt-player"),
  placeholder: $("#player-placeholder"),
  start: $("#player-start"),
  retry: $("#player-retry"),
  playToggle: $("#play-toggle"),
  mute: $("#mute-btn"),
  fullscreen: $("#fullscreen-btn"),
  resync: $("#resync-btn"),
  syncStatus: $("#sync-status"),
  waitStatus: $("#wait-status"),
  people: $("#participants"),
  count: $("#participant-count"),
  scroller: $("#chat-scroll"),
  messages: $("#messages"),
  pending: $("#pending"),
  historyStatus: $("#history-status"),
  typing: $("#typing"),
  composer: $("#composer"),
  input: $("#message-input"),
  send: $("#send-btn"),
  connection: $("#connection-state"),
  emoji: $("#emoji-btn"),
  replyBar: $("#reply-bar"),
  replyText: $("#reply-text"),
  replyCancel: $("#reply-cancel"),
  mentionCount: $("#mention-count"),
  notifyAsk: $("#notify-ask"),
};

const notices = new Notices($("#notices"));
const clock = new ServerClock();

const state = {
  party: null,
  ready: false, // party.state arrived on the current socket
  connectedOnce: false,
  ended: false,
  closed: null, // why the socket closed for good
  seatLost: null, // "left" | "removed": participant.left said so about us
  banned: false, // with seatLost "removed": the room code no longer admits us
  participants: new Map(), // user_id -> {user_id, user_name}
  online: new Map(), // user_id -> open sockets we know of (1 per user when the server lists them)
  onlinePerUser: false, // party.state carried `online`: presence frames come once per user
  typers: new Map(), // user_id -> {name, until}
  typingTimer: null,
  lastTypingSent: 0,
  typingSendTimer: null,
  nextBefore: null,
  loadingOlder: false,
  olderTimer: null,
  // Each history/resume frame awaiting its `history` reply, in the order sent: {kind: "older" |
  // "resume", id, after}. `id` is the frame's client_id, which an error about it echoes.
  requests: [],
  olderBlockedUntil: 0, // a rate-limited `history`: no new one before this time (ms)
  resumeTimer: null,
  pending: new Map(), // client_id -> {text, timer, failed, replyTo}
  replyTo: null, // {id, user_name, text}: the message the next send answers
  jump: null, // {id, pages}: a reply's original being looked for in older pages
};

const socket = new PartySocket(partySocketUrl(partyId), { onFrame, onStatus });

function sendFrame(frame) {
  return socket.send(frame);
}

function react(messageId, emoji, op) {
  if (!state.ready || !sendFrame({ type: `reaction.${op}`, message_id: messageId, emoji })) {
    notices.show("offline-action", "warn", "Not connected right now; try again in a moment.", { timeout: 4000 });
  }
}

const picker = new EmojiPicker();

const chat = new ChatView({
  scroller: els.scroller,
  list: els.messages,
  pendingList: els.pending,
  me,
  onReact: react,
  onMoreReactions(messageId, button) {
    picker.open(button, {
      label: "React with an emoji",
      onPick: (emoji) => react(messageId, emoji, chat.reacted(messageId, emoji) ? "remove" : "add"),
    });
  },
  onReply: startReply,
  onJump: jumpTo,
  onSeek: seekToMessage,
  describeMoment,
  onRetry(clientId) {
    const pending = state.pending.get(clientId);
    if (!pending) return;
    pending.failed = false;
    transmit(clientId);
  },
  onDiscard(clientId) {
    const pending = state.pending.get(clientId);
    if (pending) clearTimeout(pending.timer);
    state.pending.delete(clientId);
    chat.removePending(clientId);
  },
});

// Open on a desktop; folded to its one-line summary on a phone, where the chat needs the room.
$("#queue-details").open = !window.matchMedia("(max-width: 600px)").matches;

const queueView = new QueueView({
  els: {
    panel: $("#queue-panel"),
    now: $("#now-playing"),
    list: $("#queue-list"),
    count: $("#queue-count"),
    form: $("#queue-form"),
    input: $("#queue-input"),
    title: $("#queue-title-input"),
    open: $("#queue-open"),
    openLabel: $("#queue-open-label"),
    skip: $("#queue-skip"),
    vote: $("#queue-vote"),
    hostSettings: $("#queue-host-settings"),
    ratio: $("#queue-ratio"),
    waitLabel: $("#wait-label"),
    waitForAll: $("#wait-for-all"),
  },
  me,
  send: (frame) => state.ready && sendFrame(frame),
  notices,
  onlineCount: () => state.online.size,
});

const moderation = new Moderation({
  me,
  chat,
  people: els.people,
  send: sendFrame,
  notices,
  onRolesChange: (roles) =>
    renderParty({ ...state.party, ...roles, participants: [...state.participants.values()], participant_count: state.participants.size }),
});

const mentionCompleter = new MentionCompleter({
  input: els.input,
  people: () => [...state.participants.values()].filter((person) => person.user_id !== me),
});
const mentionAlerts = new MentionAlerts({
  button: els.mentionCount,
  askButton: els.notifyAsk,
  chat,
  onJump: (id) => jumpTo(id),
});

// The page's <video>, or a YouTube player behind the same interface (youtube.js); made with the
// first party state, since which one depends on the party's link.
let media = els.video;
let player = null;

/** What the player plays for this party: {src, videoId} (videoId for YouTube), src null if nothing. */
function source(party) {
  const videoId = youtubeId(party.content_id);
  return { videoId, src: videoId ? `https://www.youtube.com/watch?v=${videoId}` : mediaUrl(party.content_id) };
}

function ensurePlayer(party) {
  if (player) return player;
  const { videoId } = source(party);
  if (videoId) media = new YouTubeMedia(els.youtube, videoId);
  player = new PlayerSync({ video: media, clock, send: sendFrame, onChange: renderPlayerStatus, onBuffering });
  media.addEventListener("ended", onMediaEnded);
  return player;
}

/** What plays changed (queue.play, queue.next): drop this player and make one for the new item. */
function dropPlayer() {
  if (!player) return;
  player.detach();
  media.removeEventListener("ended", onMediaEnded);
  if (media !== els.video) {
    media.destroy();
    // YouTube's player replaced its element with a frame: the next one needs a fresh element.
    els.youtube = h("div", { id: "yt-player" });
    els.youtubeFrame.replaceChildren(els.youtube);
  } else {
    els.video.removeAttribute("src");
    els.video.load();
  }
  media = els.video;
  player = null;
}

/** Wait for everyone: this player stalled while the party plays, or can play again. */
function onBuffering(buffering) {
  if (!state.ready || !state.party) return;
  if (buffering) {
    if (state.party.wait_for_all) sendFrame({ type: "player.buffering", item_id: queueView.currentId() });
  } else sendFrame({ type: "player.ready" });
}

/** Who the party waits for (party.waiting, or the ids in party.state), in words. */
function renderWaiting(waiting) {
  const names = waiting.map((entry) => {
    if (entry.user_id === me) return "you";
    return entry.user_name || state.participants.get(entry.user_id)?.user_name || "someone";
  });
  els.waitStatus.textContent = names.length ? `Waiting for ${names.join(", ")} to load…` : "";
}

/** The host's and co-hosts' players report the end of an item, naming it: the server goes on to
 * the next once, however many report it, and never past an item that already changed. */
function onMediaEnded() {
  if (!state.ready || !queueView.isModerator() || !queueView.hasNext()) return;
  sendFrame({ type: "queue.next", item_id: queueView.currentId() });
}

function onQueueState(frame) {
  if (!state.party || !frame || !Array.isArray(frame.queue)) return;
  const before = state.party;
  const switched =
    frame.content_id !== before.content_id ||
    (frame.current_item && before.current_item && frame.current_item.id !== before.current_item.id);
  const party = {
    ...before,
    queue: frame.queue,
    guests_may_queue: Boolean(frame.guests_may_queue),
    skip_ratio: Number.isFinite(frame.skip_ratio) ? frame.skip_ratio : before.skip_ratio,
    skip_votes: Array.isArray(frame.skip_votes) ? frame.skip_votes : before.skip_votes,
    wait_for_all: typeof frame.wait_for_all === "boolean" ? frame.wait_for_all : before.wait_for_all,
    current_item: frame.current_item || before.current_item,
    content_id: typeof frame.content_id === "string" ? frame.content_id : before.content_id,
    content_type: frame.content_type || before.content_type,
    playback: frame.playback || before.playback,
  };
  if (!switched) {
    state.party = party;
    queueView.render(party);
    chat.refreshMoments(); // a queued video's moments may be played now, or no longer
    return;
  }
  dropPlayer();
  renderWaiting([]); // a new item: nobody is waited for
  renderParty(party);
  clock.sample(frame.playback && frame.playback.updated_at);
  player.apply(party.playback, { initial: true });
  const current = party.current_item || {};
  const why = frame.action === "vote_skipped" ? "Skipped by vote. " : "";
  notices.show("queue", "info", `${why}Now playing: ${current.title || party.content_id}`, { timeout: 4000 });
}

// --- timeline: each message's moment in the video (docs/PROTOCOL.md, "Timeline chat and replay") --

/** The host and co-hosts who are not muted may take the live party to a message's moment. */
function mayMoveVideo() {
  const party = state.party;
  if (!party || state.ended || state.closed) return false;
  const moderator = party.host_id === me || (party.co_host_ids || []).includes(me);
  return moderator && !(party.muted_ids || []).includes(me);
}

/** How a message's moment shows: a button for whoever may go there (the video playing, or one
 * still queued), text for everyone else and for videos that are gone. */
function describeMoment(message) {
  const at = momentOf(message);
  const clock = formatClock(at.seconds);
  const party = state.party;
  const itemId = at.item_id || "";
  const may = mayMoveVideo();
  if (!party || itemId === (party.current_item?.id || "")) {
    return may
      ? { seek: true, label: `Go to ${clock} in the video, for everyone` }
      : { seek: false, label: `Written at ${clock} into the video` };
  }
  const queued = (party.queue || []).find((item) => item.id === itemId);
  if (queued) {
    const title = queued.title || queued.content_id;
    return may
      ? { seek: true, label: `Play “${title}” from ${clock}, for everyone` }
      : { seek: false, label: `Written at ${clock} into “${title}”` };
  }
  return { seek: false, label: `Written at ${clock} into an earlier video` };
}

function seekToMessage(message) {
  if (!mayMoveVideo()) return;
  if (!state.ready || !sendFrame({ type: "message.seek", message_id: message.id })) {
    notices.show("offline-action", "warn", "Not connected right now; try again in a moment.", { timeout: 4000 });
  }
}

/** playback.state naming a message: someone took the party there; the host's player goes too. */
function onSeekFromMessage(frame) {
  const who = frame.by === me ? "You" : state.participants.get(frame.by)?.user_name || "The host";
  notices.show("seek", "info", `${who} took the video to ${formatClock(frame.position)}, from a message.`, { timeout: 4000 });
  if (player?.isHost) return player.follow(frame);
  return player?.apply(frame);
}

/** Whether the replay has a video to play: a link among what the party played. */
function hasReplay(party) {
  const played = Array.isArray(party.played) && party.played.length ? party.played : [party];
  return played.some((item) => Boolean(source(item).src));
}

// --- rendering ---------------------------------------------------------------------------------

function isHost() {
  return Boolean(state.party && state.party.host_id === me);
}

function renderParty(party) {
  state.party = party;
  const host = party.host_id === me;
  const title = party.content_title || party.content_id;
  els.title.textContent = title;
  document.title = `${title} · Watch Party`;
  els.sub.textContent = `${party.content_type === "live" ? "Live channel" : "Video"} · hosted by ${party.host_name}`;
  els.code.textContent = party.room_code;
  const invite = new URL(`/join/${encodeURIComponent(party.room_code)}/`, location.origin).href;
  els.invite.href = invite;
  els.invite.textContent = invite;
  els.end.hidden = !host || state.ended;
  els.leave.hidden = host || state.ended;
  els.replay.hidden = !hasReplay(party);
  chat.setHost(party.host_id);
  moderation.setParty(party);
  queueView.render(party);
  const { src, videoId } = source(party);
  els.video.hidden = !src || Boolean(videoId);
  els.youtubeFrame.hidden = !videoId;
  els.placeholder.hidden = Boolean(src);
  if (!src) {
    els.placeholder.textContent =
      party.content_type === "live"
        ? `Live channel “${party.content_id}”. Tune in on your own screen; chat and reactions are here.`
        : `“${party.content_id}” is not a web address this page can play. Chat and reactions work as usual.`;
  }
  ensurePlayer(party).configure({ isHost: host, syncEnabled: party.sync_playback, src });
  els.playToggle.hidden = !host || !src;
  els.mute.hidden = !src || host; // the host has the player's own controls
  els.resync.hidden = !src || host || !party.sync_playback;
  // A YouTube player has its own full-screen button.
  els.fullscreen.hidden = !src || Boolean(videoId) || !player.following || !document.fullscreenEnabled;
  state.participants = new Map(party.participants.map((p) => [p.user_id, { user_id: p.user_id, user_name: p.user_name }]));
  renderPeople();
  updateComposer();
  chat.refreshMoments();
  root.classList.remove("room-loading");
  if (!root.classList.contains("room-over")) renderPlayerError();
}

/** The seat count is the party's, kept current by participant.joined/left (not the page-load one). */
function setSeatCount(count) {
  if (state.party && Number.isFinite(count)) state.party.participant_count = count;
}

function renderPeople() {
  if (!state.party) return;
  const people = [...state.participants.values()].sort((a, b) => {
    if (a.user_id === state.party.host_id) return -1;
    if (b.user_id === state.party.host_id) return 1;
    return a.user_name.localeCompare(b.user_name);
  });
  els.people.replaceChildren(
    ...people.map((person) => {
      const online = (state.online.get(person.user_id) || 0) > 0 || (person.user_id === me && state.ready);
      return h(
        "li",
        { class: `person${online ? " person-online" : ""}`, "data-user-id": person.user_id },
        online ? h("span", { class: "presence", title: "Here now" }) : null,
        h("span", { class: "person-name", dir: "auto", text: person.user_name }),
        person.user_id === state.party.host_id ? h("span", { class: "badge badge-host", text: "host" }) : null,
        person.user_id === me ? h("span", { class: "badge", text: "you" }) : null,
      );
    }),
  );
  const count = state.party.participant_count;
  const seats = Number.isFinite(count) ? count : state.participants.size;
  els.count.textContent = `${seats}/${state.party.max_participants}`;
}

function markOnline(userId, delta) {
  if (state.onlinePerUser) {
    // One connected/disconnected per user: a set, so a frame crossing the snapshot counts once.
    if (delta > 0) state.online.set(userId, 1);
    else state.online.delete(userId);
    return;
  }
  const n = Math.max(0, (state.online.get(userId) || 0) + delta);
  if (n) state.online.set(userId, n);
  else state.online.delete(userId);
}

function renderPlayerStatus() {
  const party = state.party;
  if (!party || root.classList.contains("room-over")) return;
  const video = media;
  let text;
  if (!source(party).src) {
    text = ""; // the placeholder in the player's place says why
  } else if (video.error) {
    text = video === els.video ? "This video could not be loaded." : "";
  } else {
    const time = `${formatClock(video.currentTime)} / ${formatClock(video.duration)}`;
    const rate = Number(video.playbackRate);
    const speed = Number.isFinite(rate) && Math.abs(rate - 1) > 0.01 ? ` at ${Math.round(rate * 100) / 100}×` : "";
    const doing = `${video.paused ? "Paused" : "Playing"}${speed}`;
    if (isHost()) text = `${doing} · ${time} · you control playback for everyone`;
    else if (!party.sync_playback) text = `${time} · sync is off: your player is your own`;
    else text = `${doing} · ${time} · in sync with ${party.host_name}`;
  }
  els.syncStatus.textContent = text;
  els.playToggle.textContent = video.paused ? "▶ Play" : "❚❚ Pause";
  els.mute.textContent = video.muted ? "Unmute" : "Mute";
  els.start.hidden = !player.blocked;
  renderPlayerError();
}

/** A YouTube player that could not load: its reason in the player's place (not a black box), and
 * Try again when loading YouTube's script again may help. Chat goes on regardless. */
function renderPlayerError() {
  if (media === els.video) return;
  const failed = Boolean(media.error);
  els.retry.hidden = !failed || !media.error.retryable;
  els.youtubeFrame.hidden = failed;
  els.placeholder.hidden = !failed;
  if (failed) els.placeholder.textContent = media.error.message;
}

function renderHistoryStatus() {
  let node;
  if (state.loadingOlder) node = h("span", { text: "Loading earlier messages…" });
  else if (state.nextBefore) {
    node = h("button", { type: "button", class: "btn btn-small btn-ghost", text: "Load earlier messages", onclick: loadOlder });
  } else node = h("span", { text: chat.size ? "This is the start of the chat." : "No messages yet. Say hello!" });
  els.historyStatus.replaceChildren(node);
}

function renderTyping() {
  clearTimeout(state.typingTimer);
  const now = Date.now();
  for (const [userId, typer] of state.typers) if (typer.until <= now) state.typers.delete(userId);
  const names = [...state.typers.values()].map((typer) => typer.name);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  els.typing.textContent = text;
  if (state.typers.size) {
    const next = Math.min(...[...state.typers.values()].map((typer) => typer.until));
    state.typingTimer = setTimeout(renderTyping, Math.max(50, next - now));
  }
}

function updateComposer() {
  const party = state.party;
  let reason = "";
  if (state.ended) reason = "The party has ended.";
  else if (state.closed) reason = "You are no longer connected to this party.";
  else if (party && !party.chat_enabled) reason = "Chat is turned off for this party.";
  else if (party && (party.muted_ids || []).includes(me)) reason = "The host has muted you: you cannot send messages for now.";
  const enabled = Boolean(party) && !reason;
  els.input.disabled = !enabled;
  els.send.disabled = !enabled;
  els.emoji.disabled = !enabled;
  if (!enabled) {
    cancelReply();
    mentionCompleter.close();
  }
  els.input.placeholder = reason || "Say something…";
}

function setConnection(text, level) {
  els.connection.textContent = text;
  els.connection.dataset.level = level;
}

// --- frames from the server --------------------------------------------------------------------

function onFrame(frame) {
  if (frame.type === "message.edited" && Array.isArray(frame.mentions)) {
    chat.setMentions(frame.message_id, frame.mentions);
    if (!frame.mentions.includes(me)) mentionAlerts.forget(frame.message_id);
  }
  if (moderation.onFrame(frame)) return undefined;
  switch (frame.type) {
    case "party.state":
      return onPartyState(frame);
    case "chat.message":
      return onChatMessage(frame.message);
    case "history":
      return onHistory(frame);
    case "reaction.update":
      return chat.setReactions(frame.message_id, frame.reactions);
    case "queue.state":
      return onQueueState(frame);
    case "queue.votes":
      return queueView.onVotes(frame);
    case "playback.state":
      clock.sample(frame.updated_at);
      // The party waits for a buffering viewer, or plays on: the host's player follows too.
      if (frame.by === "wait" && player?.isHost) return player.follow(frame);
      if (typeof frame.message_id === "string") return onSeekFromMessage(frame);
      return player?.apply(frame);
    case "party.waiting":
      return renderWaiting(Array.isArray(frame.waiting) ? frame.waiting : []);
    case "typing":
      return onTyping(frame);
    case "participant.joined":
      return onJoined(frame);
    case "participant.left":
      return onLeft(frame);
    case "message.deleted":
      chat.remove(frame.message_id);
      mentionAlerts.forget(frame.message_id);
      if (state.replyTo?.id === frame.message_id) {
        cancelReply();
        notices.show("reply", "warn", "The message you were replying to was deleted.", { timeout: 5000 });
      }
      return renderHistoryStatus();
    case "party.ended":
      return showEnded();
    case "error":
      return onError(frame);
    default:
      return undefined; // message.translated and anything newer: nothing to show
  }
}

function onPartyState(frame) {
  // A second party.state on the same socket follows a server-side outage (docs/PROTOCOL.md): it
  // replaces what we knew, messages included. On a new socket we merge, and `resume` brings
  // everything newer than what we had.
  const sameSocket = state.ready;
  const resumeAfter = state.connectedOnce && !sameSocket ? chat.newestId() : null;
  // Replies still due on this socket answer questions about the list we are replacing.
  state.requests = sameSocket ? state.requests.map((request) => ({ ...request, kind: "stale" })) : [];
  clearTimeout(state.resumeTimer); // this connection asks for its own catch-up below
  clearTimeout(state.olderTimer);
  state.loadingOlder = false;
  // `online` lists the users with a socket open (ourselves included). A server without it
  // (older ones) leaves what we saw (participant.joined/left, connected/disconnected) as the
  // best we know, kept across reconnects.
  if (Array.isArray(frame.online)) {
    state.onlinePerUser = true;
    state.online = new Map(frame.online.filter((id) => typeof id === "string").map((id) => [id, 1]));
  }
  state.ready = true;
  renderParty(frame.party);
  player?.apply(frame.party.playback, { initial: true });
  renderWaiting((frame.party.waiting || []).map((userId) => ({ user_id: userId })));
  const messages = Array.isArray(frame.messages) ? frame.messages : [];
  resolvePending(messages);
  if (sameSocket) chat.replace(messages);
  else chat.merge(messages, { forceScroll: !state.connectedOnce });
  if (!state.connectedOnce || sameSocket) {
    // Older servers send no next_before: a full page means there may be more.
    if (typeof frame.next_before === "string" || frame.next_before === null) state.nextBefore = frame.next_before;
    else state.nextBefore = messages.length >= HISTORY_PAGE ? messages[0].id : null;
  }
  renderHistoryStatus();
  if (resumeAfter) requestResume(resumeAfter);
  for (const clientId of state.pending.keys()) transmit(clientId);
  setConnection("Live", "ok");
  if (state.connectedOnce) notices.show("connection", "info", "Reconnected.", { timeout: 2500 });
  else notices.clear("connection");
  state.connectedOnce = true;
}

function onChatMessage(message) {
  if (!message || typeof message.id !== "string") return;
  if (!chat.has(message.id)) clock.sample(message.timestamp);
  resolvePending([message]);
  if (state.typers.delete(message.user_id)) renderTyping();
  if (message.user_id && !state.online.has(message.user_id)) {
    markOnline(message.user_id, 1);
    renderPeople();
  }
  const added = chat.merge([message]);
  for (const fresh of added) mentionAlerts.arrived(fresh);
  renderHistoryStatus();
}

function requestResume(after) {
  clearTimeout(state.resumeTimer);
  state.resumeTimer = null;
  const id = randomId();
  state.requests.push({ kind: "resume", id, after });
  sendFrame({ type: "resume", after, client_id: id });
}

function loadOlder() {
  if (!state.nextBefore || state.loadingOlder || !state.ready) return;
  if (Date.now() < state.olderBlockedUntil) {
    showOlderRateLimited();
    return;
  }
  state.loadingOlder = true;
  const id = randomId();
  state.requests.push({ kind: "older", id });
  sendFrame({ type: "history", before: state.nextBefore, limit: HISTORY_PAGE, client_id: id });
  renderHistoryStatus();
  clearTimeout(state.olderTimer);
  state.olderTimer = setTimeout(() => {
    state.loadingOlder = false;
    renderHistoryStatus();
  }, OLDER_TIMEOUT_MS);
}

function onHistory(frame) {
  const kind = state.requests.shift()?.kind || "resume";
  if (kind === "stale") return; // asked before a fresh party.state replaced the list
  const messages = Array.isArray(frame.messages) ? frame.messages : [];
  resolvePending(messages);
  if (kind === "older") {
    clearTimeout(state.olderTimer);
    chat.merge(messages, { older: true });
    state.nextBefore = typeof frame.next_before === "string" ? frame.next_before : null;
    state.loadingOlder = false;
    if (state.jump) continueJump();
  } else {
    chat.merge(messages);
    if (messages.length >= RESUME_MAX) requestResume(messages[messages.length - 1].id);
  }
  renderHistoryStatus();
}

function onTyping(frame) {
  if (frame.user_id === me) return;
  state.typers.set(frame.user_id, { name: frame.user_name, until: Date.now() + TYPING_SHOW_MS });
  renderTyping();
}

function onJoined(frame) {
  if (!state.participants.has(frame.user_id)) {
    state.participants.set(frame.user_id, { user_id: frame.user_id, user_name: frame.user_name });
  }
  if (frame.reason === "connected") markOnline(frame.user_id, 1);
  setSeatCount(frame.participant_count);
  renderPeople();
}

function onLeft(frame) {
  if (frame.reason === "left" || frame.reason === "removed") {
    state.participants.delete(frame.user_id);
    state.online.delete(frame.user_id);
  } else {
    markOnline(frame.user_id, -1);
  }
  if (state.typers.delete(frame.user_id)) renderTyping();
  setSeatCount(frame.participant_count);
  renderPeople();
  if (frame.user_id === me && (frame.reason === "left" || frame.reason === "removed")) {
    // Our socket closes next (4403), and onClosed says so. Removed: say it now, rather than wait
    // for the close (the close then replaces this notice with the same one).
    state.seatLost = frame.reason;
    state.banned = frame.reason === "removed" && frame.banned === true;
    if (frame.reason === "removed") showNoSeat();
  }
}

function onError(frame) {
  if (frame.client_id && state.pending.has(frame.client_id)) return onSendError(frame);
  const index = frame.client_id ? state.requests.findIndex((request) => request.id === frame.client_id) : -1;
  if (index >= 0) {
    const request = state.requests.splice(index, 1)[0];
    return request.kind === "stale" ? undefined : onRequestError(request, frame);
  }
  switch (frame.code) {
    case "rate_limited":
      return undefined; // chat.send, history and resume carry a client_id: this was typing or the like
    case "queue_full":
      return notices.show("queue", "warn", frame.detail || "The queue is full.", { timeout: 6000 });
    case "chat_disabled":
      return notices.show("chat", "warn", "Chat is turned off for this party.", { timeout: 6000 });
    case "forbidden":
      return notices.show("forbidden", "error", frame.detail || "You are not allowed to do that.", { timeout: 6000 });
    case "invalid":
      return notices.show("invalid", "error", `That was not accepted: ${errorText(frame)}`, { timeout: 6000 });
    case "not_found":
      return notices.show("not-found", "warn", frame.detail || "That message no longer exists.", { timeout: 5000 });
    case "unavailable":
      return notices.show("unavailable", "warn", "The server could not do that just now. Try again.", { timeout: 5000 });
    default:
      return notices.show("error", "error", frame.detail || "Something went wrong.", { timeout: 6000 });
  }
}

/** A history or resume frame was refused: it gets no `history` reply, so it leaves the queue. */
function onRequestError(request, frame) {
  const wait = Math.max(1, Math.ceil(Number(frame.retry_after) || 1));
  if (request.kind === "resume") {
    // Messages sent while we were away are still missing: ask again once the server allows it.
    if (frame.code === "rate_limited" || frame.code === "unavailable") {
      notices.show("resume", "info", `Catching up on missed messages in ${wait} s…`, { timeout: wait * 1000 });
      state.resumeTimer = setTimeout(() => {
        if (state.ready) requestResume(request.after);
      }, wait * 1000);
    }
    return undefined; // not_found/invalid: that message is gone; party.state had the newest page
  }
  clearTimeout(state.olderTimer);
  state.loadingOlder = false;
  if (frame.code === "rate_limited") {
    state.olderBlockedUntil = Date.now() + wait * 1000;
    showOlderRateLimited();
  } else if (frame.code === "unavailable") {
    notices.show("history", "warn", "Earlier messages could not be loaded just now. Try again.", { timeout: 5000 });
  } else {
    state.nextBefore = null; // not_found/invalid: nothing before that message to page back to
  }
  renderHistoryStatus();
  return undefined;
}

function showOlderRateLimited() {
  const wait = Math.max(1, Math.ceil((state.olderBlockedUntil - Date.now()) / 1000));
  notices.show("history", "warn", `Loading earlier messages too fast. Try again in ${wait} s.`, { timeout: wait * 1000 });
}

// --- sending chat: every message keeps its client_id until the server has it -------------------

function submitMessage(text) {
  const clientId = randomId();
  const replyTo = state.replyTo;
  state.pending.set(clientId, { text, timer: null, failed: false, replyTo });
  chat.addPending(clientId, text, replyTo);
  cancelReply();
  transmit(clientId);
}

// --- replies: the message the next send answers, and jumping to a reply's original ----------------

function startReply(message) {
  if (els.input.disabled || !message || message.message_type === "system") return;
  state.replyTo = { id: message.id, user_name: message.user_name, text: message.message };
  els.replyText.textContent = `Replying to ${message.user_name}: ${message.message}`;
  els.replyBar.hidden = false;
  els.input.focus();
}

function cancelReply() {
  state.replyTo = null;
  els.replyBar.hidden = true;
  els.replyText.textContent = "";
}

/** Show a reply's original: loaded, or looked for in up to JUMP_MAX_PAGES older pages. */
function jumpTo(id, quote = null) {
  if (!id) return;
  if (quote?.deleted) {
    notices.show("jump", "info", "The original message was deleted.", { timeout: 5000 });
    return;
  }
  if (chat.reveal(id)) return;
  state.jump = { id, pages: 0 };
  continueJump();
}

function continueJump() {
  const jump = state.jump;
  if (chat.reveal(jump.id)) {
    state.jump = null;
    notices.clear("jump");
    return;
  }
  if (!state.nextBefore || jump.pages >= JUMP_MAX_PAGES || !state.ready) {
    state.jump = null;
    const text = state.nextBefore
      ? "The original message is further back: scroll up to load earlier messages."
      : "The original message is no longer in this chat.";
    notices.show("jump", "info", text, { timeout: 6000 });
    return;
  }
  jump.pages += 1;
  notices.show("jump", "info", "Looking for the original message in earlier messages…", { timeout: 4000 });
  loadOlder();
}

function transmit(clientId) {
  const pending = state.pending.get(clientId);
  if (!pending || pending.failed) return;
  clearTimeout(pending.timer);
  pending.timer = null;
  const frame = { type: "chat.send", message: pending.text, message_type: "text", client_id: clientId };
  if (pending.replyTo) frame.reply_to = pending.replyTo.id;
  if (!state.ready || !sendFrame(frame)) {
    chat.setPendingStatus(clientId, "Waiting for the connection…");
    return; // sent again from onPartyState
  }
  chat.setPendingStatus(clientId, "Sending…");
  // No answer in time: send again; the server stores a client_id once.
  pending.timer = setTimeout(() => transmit(clientId), ACK_TIMEOUT_MS);
}

function resolvePending(messages) {
  for (const message of messages) {
    if (message.user_id !== me || !message.client_id) continue;
    const pending = state.pending.get(message.client_id);
    if (!pending) continue;
    clearTimeout(pending.timer);
    state.pending.delete(message.client_id);
    chat.removePending(message.client_id);
  }
}

function onSendError(frame) {
  const clientId = frame.client_id;
  const pending = state.pending.get(clientId);
  clearTimeout(pending.timer);
  if (frame.code === "rate_limited") {
    const wait = Math.max(1, Math.ceil(Number(frame.retry_after) || 1));
    chat.setPendingStatus(clientId, `Sending too fast: trying again in ${wait} s…`);
    notices.show("rate", "warn", `You are sending messages too fast. Trying again in ${wait} s.`, { timeout: wait * 1000 });
    pending.timer = setTimeout(() => transmit(clientId), wait * 1000);
    return;
  }
  if (frame.code === "unavailable") {
    chat.setPendingStatus(clientId, "The server is busy: trying again…");
    pending.timer = setTimeout(() => transmit(clientId), 2000);
    return;
  }
  pending.failed = true;
  const reason = errorText(frame);
  chat.setPendingStatus(clientId, `Not sent: ${reason}`, { failed: true });
  notices.show("send", "error", `Your message was not sent: ${reason}`, { timeout: 8000 });
  if (frame.code === "chat_disabled" && state.party) {
    state.party.chat_enabled = false;
    updateComposer();
  }
}

function markPendingWaiting() {
  for (const [clientId, pending] of state.pending) {
    if (pending.failed) continue;
    clearTimeout(pending.timer);
    pending.timer = null;
    chat.setPendingStatus(clientId, "Waiting for the connection…");
  }
}

// --- connection ----------------------------------------------------------------------------------

function onStatus(status) {
  if (status.state === "connecting") {
    setConnection(state.connectedOnce ? "Reconnecting…" : "Connecting…", "warn");
  } else if (status.state === "reconnecting" || status.state === "offline") {
    state.ready = false;
    markPendingWaiting();
    renderPeople();
    setConnection("Offline", "error");
    const text =
      status.state === "offline"
        ? "You are offline. Messages you send will go out when the connection is back."
        : `Connection lost. Reconnecting in ${Math.max(1, Math.round(status.delay / 1000))} s…`;
    notices.show("connection", "warn", text, {
      sticky: true,
      actions: status.state === "offline" ? [] : [{ label: "Reconnect now", onClick: () => socket.reconnectNow() }],
    });
  } else if (status.state === "closed") {
    state.ready = false;
    onClosed(status.reason);
  }
}

function onClosed(reason) {
  notices.clear("connection");
  setConnection(reason === "ended" ? "Ended" : "Disconnected", "error");
  if (reason === "ended") {
    showEnded();
    return;
  }
  state.closed = reason;
  const home = { label: "Back to home", href: "/" };
  if (reason === "unauthenticated") {
    notices.show("closed", "error", "Your session has ended. Log in again to rejoin the party.", {
      sticky: true,
      actions: [{ label: "Log in", href: loginUrl() }],
    });
  } else if (reason === "forbidden") {
    showNoSeat();
  } else {
    notices.show("closed", "error", "This party does not exist or has ended.", { sticky: true, actions: [home] });
    showOver("This party is not available.");
  }
  for (const [clientId, pending] of state.pending) {
    clearTimeout(pending.timer);
    pending.failed = true;
    chat.setPendingStatus(clientId, "Not sent: you are no longer connected.", { failed: true });
  }
  updateComposer();
  chat.refreshMoments();
}

/** Ended, or no seat any more: say so in the player's place; no Leave/End, no sync controls. */
function showOver(text) {
  root.classList.add("room-over");
  player?.detach();
  if (media !== els.video) media.destroy();
  els.video.hidden = true;
  els.youtubeFrame.hidden = true;
  els.placeholder.hidden = false;
  els.placeholder.textContent = text;
  for (const control of [els.leave, els.end, els.playToggle, els.resync, els.mute, els.fullscreen, els.start, els.retry]) {
    control.hidden = true;
  }
  els.syncStatus.textContent = "";
}

/** No seat any more (removed, left from another window, or refused): one notice, the over state. */
function showNoSeat() {
  state.closed = "forbidden";
  let text = "You no longer have a seat in this party.";
  if (state.seatLost === "removed") {
    text = state.banned
      ? "You were removed from this party by its host. You cannot join it again."
      : "You were removed from this party.";
  } else if (state.seatLost === "left") text = "You left this party (from another window).";
  // The same key each time: the close that follows participant.left replaces, never adds.
  notices.show("closed", "error", text, { sticky: true, actions: [{ label: "Back to home", href: "/" }] });
  showOver(state.seatLost === "removed" ? "You were removed from this party." : "You no longer have a seat in this party.");
  updateComposer();
}

function showEnded() {
  state.ended = true;
  setConnection("Ended", "error");
  showOver("This party has ended.");
  notices.clear("connection");
  const actions = [{ label: "Back to home", href: "/" }];
  if (state.party && hasReplay(state.party)) actions.unshift({ label: "Watch the replay", href: els.replay.getAttribute("href") });
  notices.show("ended", "info", "The party has ended. Thanks for watching!", { sticky: true, actions });
  updateComposer();
  chat.refreshMoments();
}

function showGone(text, title = "Party not found") {
  root.classList.remove("room-loading");
  root.classList.add("room-gone");
  els.title.textContent = title;
  notices.show("gone", "error", text, { sticky: true, actions: [{ label: "Back to home", href: "/" }] });
  updateComposer();
}

// --- user input ----------------------------------------------------------------------------------

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = els.input.value.trim();
  if (!text || els.input.disabled) return;
  if ([...text].length > MESSAGE_MAX_CHARS) {
    notices.show("too-long", "warn", `Messages are at most ${MESSAGE_MAX_CHARS} characters.`, { timeout: 5000 });
    return;
  }
  els.input.value = "";
  clearTimeout(state.typingSendTimer);
  state.typingSendTimer = null;
  submitMessage(text);
  els.input.focus();
});

els.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    els.composer.requestSubmit();
  } else if (event.key === "Escape" && state.replyTo) {
    event.preventDefault();
    cancelReply();
  }
});

els.replyCancel.addEventListener("click", () => {
  cancelReply();
  els.input.focus();
});

els.emoji.addEventListener("click", () => {
  picker.open(els.emoji, {
    label: "Insert an emoji",
    onPick: (emoji) => {
      insertAtCaret(els.input, emoji);
      els.input.focus();
    },
  });
});

// Typing: at most one frame per TYPING_SEND_EVERY_MS; keystrokes inside that window are covered
// by one more frame at its end, so a long burst of typing keeps the indicator on.
function sendTyping() {
  clearTimeout(state.typingSendTimer);
  state.typingSendTimer = null;
  if (!els.input.value.trim() || !state.ready) return;
  const wait = state.lastTypingSent + TYPING_SEND_EVERY_MS - Date.now();
  if (wait > 0) {
    state.typingSendTimer = setTimeout(sendTyping, wait);
    return;
  }
  if (sendFrame({ type: "typing" })) state.lastTypingSent = Date.now();
}

els.input.addEventListener("input", () => {
  if (!state.typingSendTimer) sendTyping();
});

els.scroller.addEventListener(
  "scroll",
  () => {
    if (els.scroller.scrollTop < 40) loadOlder();
  },
  { passive: true },
);

/** Copy `node`'s text; where the clipboard is refused, select it for the person to copy. */
async function copyText(button, node) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(node.textContent);
    button.textContent = "Copied";
  } catch {
    window.getSelection()?.selectAllChildren(node);
    button.textContent = "Selected";
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

els.copy.addEventListener("click", () => copyText(els.copy, els.code));
els.copyInvite.addEventListener("click", () => copyText(els.copyInvite, els.invite));

els.leave.addEventListener("click", async () => {
  const sure = await confirmAction({
    title: "Leave this party?",
    text: "You give up your seat. You can join again with the room code while the party is on.",
    confirmLabel: "Leave",
  });
  if (!sure) return;
  try {
    await api(`/api/parties/${partyId}/leave/`, { method: "POST" });
    socket.stop();
    location.assign("/");
  } catch (error) {
    notices.show("leave", "error", `Could not leave: ${errorText(error)}`, { timeout: 6000 });
  }
});

els.end.addEventListener("click", async () => {
  const sure = await confirmAction({
    title: "End the party for everyone?",
    text: "Playback and chat stop for everybody in the room. This cannot be undone.",
    confirmLabel: "End party",
  });
  if (!sure) return;
  try {
    await api(`/api/parties/${partyId}/end/`, { method: "POST" });
    showEnded();
  } catch (error) {
    notices.show("end", "error", `Could not end the party: ${errorText(error)}`, { timeout: 6000 });
  }
});

els.playToggle.addEventListener("click", () => player.togglePlay());
els.mute.addEventListener("click", () => {
  media.muted = !media.muted;
});
els.resync.addEventListener("click", () => player.resync());
els.fullscreen.addEventListener("click", () => {
  // Followers have no native controls (their player follows the host): this is their way in.
  const request = els.video.requestFullscreen?.();
  if (request && request.catch) request.catch(() => {});
});
els.start.addEventListener("click", () => player.userStart());
els.retry.addEventListener("click", () => media.retry());

// For the end-to-end tests (and anyone curious): simulate a dropped connection.
window.__watchparty = Object.freeze({
  dropSocket: () => socket.drop(),
  setOffline: (offline) => socket.hold(offline),
  status: () => ({
    ready: state.ready,
    messages: chat.size,
    pending: state.pending.size,
    playback: player?.target ? { ...player.target } : null,
  }),
});

/** An ended party has no socket: its last messages are still there to read, over HTTP. */
async function showEndedChat() {
  try {
    const { data } = await api(`/api/parties/${partyId}/messages/?limit=${HISTORY_PAGE}`);
    chat.merge(Array.isArray(data.results) ? data.results : [], { forceScroll: true });
  } catch {
    /* nothing to show */
  }
  state.nextBefore = null;
  renderHistoryStatus();
}

// --- start -----------------------------------------------------------------------------------------

async function init() {
  if (!PARTY_ID_RE.test(partyId)) {
    showGone("This is not a party address.");
    return;
  }
  let party;
  try {
    const { data, response } = await api(`/api/parties/${partyId}/`);
    clock.fromDateHeader(response.headers.get("Date"));
    party = data;
  } catch (error) {
    if (error.status === 401) {
      location.assign(loginUrl());
      return;
    }
    if (error.code === "banned") {
      showGone(
        "You were removed from this party by its host or a co-host, so you cannot rejoin it. Ask them to lift the ban if that was a mistake.",
        "Removed from this party",
      );
      return;
    }
    if (error.status === 404) {
      showGone("This party does not exist, or you have not joined it. Ask the host for the room code and join from the home page.");
      return;
    }
    notices.show("load", "error", `Could not load the party: ${errorText(error)}`, {
      sticky: true,
      actions: [
        {
          label: "Try again",
          onClick: () => {
            notices.clear("load");
            init();
          },
        },
      ],
    });
    return;
  }
  renderParty(party);
  renderPlayerStatus();
  if (party.ended_at) {
    showEnded();
    showEndedChat();
    return;
  }
  socket.start();
}

renderHistoryStatus();
init();
