// Playback: the host's player drives the party (play, pause, seek, speed -> playback.update);
// every other player follows playback.state, seeking when it is more than DRIFT_PLAYING_S off.

const DRIFT_PLAYING_S = 2;
const DRIFT_PAUSED_S = 0.5;
const EXPECT_MS = 3000;
// The speeds the protocol accepts (docs/PROTOCOL.md, playback.update `rate`).
const MIN_RATE = 0.25;
const MAX_RATE = 2;

/** A playback speed the server accepts: a finite number in [MIN_RATE, MAX_RATE], else 1. */
function validRate(rate) {
  return Number.isFinite(rate) && rate > 0 ? Math.min(MAX_RATE, Math.max(MIN_RATE, rate)) : 1;
}

/** The URL to play for a party's content_id, or null when it is not a web address. As
 * parties/media.py: a backslash is a slash to the URL parser ("/\\host/x.mp4" is another host), so
 * a link with one is not played, and a path must stay on this site. */
export function mediaUrl(contentId) {
  if (typeof contentId !== "string") return null;
  const value = contentId.trim();
  if (!/^(https?:\/\/|\/)/i.test(value) || value.includes("\\")) return null;
  try {
    const url = new URL(value, location.origin);
    if (value.startsWith("/") && url.origin !== location.origin) return null;
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The server's clock as seen from here. playback.updated_at is server time; the elapsed time since
 * then is measured against this estimate, not against the local clock, which may be minutes off.
 */
export class ServerClock {
  constructor() {
    this.headerOffset = null;
    this.samples = [];
  }

  /** A first, coarse estimate from an HTTP Date header (whole seconds). */
  fromDateHeader(value) {
    const server = Date.parse(value || "");
    if (!Number.isNaN(server)) this.headerOffset = Date.now() - (server + 500);
  }

  /** A server timestamp on a frame that was just sent (a live chat.message or playback.state). */
  sample(iso) {
    const server = Date.parse(iso || "");
    if (Number.isNaN(server)) return;
    this.samples.push(Date.now() - server);
    if (this.samples.length > 10) this.samples.shift();
  }

  get offset() {
    // The smallest delay seen is the one with the least network time in it.
    if (this.samples.length) return Math.min(...this.samples);
    return this.headerOffset ?? 0;
  }

  now() {
    return Date.now() - this.offset;
  }
}

// HTMLMediaElement.HAVE_FUTURE_DATA: enough to play on from here.
const HAVE_FUTURE_DATA = 3;
// Seconds a player may stall while the party plays before it asks the party to wait.
const STALL_TICKS = 2;

export class PlayerSync {
  constructor({ video, clock, send, onChange, onBuffering }) {
    this.video = video;
    this.clock = clock;
    this.send = send;
    this.onChange = onChange || (() => {});
    // Wait for everyone: told true when this player has been stalled while the party plays for
    // STALL_TICKS seconds, false when it can play again.
    this.onBuffering = onBuffering || (() => {});
    this.stallTicks = 0;
    this.reportedBuffering = false;
    this.isHost = false;
    this.syncEnabled = true;
    this.hasSource = false;
    this.target = null; // {state, position, updatedAt (server ms)}
    this.hostInitPending = true; // the host's player starts where the party left off, once
    this.blocked = false; // the browser refused to start playback without a click
    this.unsent = false;
    this.expected = { play: [], pause: [], seeked: [], ratechange: [] };
    for (const type of ["play", "pause", "seeked", "ratechange"]) {
      video.addEventListener(type, () => this.onMediaEvent(type));
    }
    for (const type of ["loadedmetadata", "canplay"]) video.addEventListener(type, () => this.reconcile());
    for (const type of ["timeupdate", "durationchange", "volumechange", "error"]) {
      video.addEventListener(type, () => this.onChange());
    }
    this.timer = setInterval(() => {
      this.reconcile();
      this.checkBuffering();
    }, 1000);
  }

  configure({ isHost, syncEnabled, src }) {
    this.isHost = isHost;
    this.syncEnabled = syncEnabled;
    this.video.controls = !this.following;
    if (this.following) this.video.muted = true; // muted playback may start without a click
    if (src && this.video.getAttribute("src") !== src) {
      this.video.src = src;
      this.hasSource = true;
    }
    this.onChange();
  }

  get following() {
    return !this.isHost && this.syncEnabled;
  }

  // Events caused by applying the party's state are not the host acting: count them out.
  expect(type) {
    this.expected[type].push(Date.now() + EXPECT_MS);
  }

  unexpect(type) {
    this.expected[type].shift();
  }

  consume(type) {
    const now = Date.now();
    this.expected[type] = this.expected[type].filter((deadline) => deadline > now);
    if (!this.expected[type].length) return false;
    this.expected[type].shift();
    return true;
  }

  onMediaEvent(type) {
    const ours = this.consume(type);
    if (type === "play") this.blocked = false;
    if (!ours && this.isHost) this.publish();
    this.onChange();
  }

  /** Host: tell the party what this player is doing now. */
  publish() {
    if (!this.isHost || !this.hasSource) return;
    const video = this.video;
    const position = Math.max(0, Number.isFinite(video.currentTime) ? video.currentTime : 0);
    const state = video.paused ? "paused" : "playing";
    const rate = Math.round(validRate(video.playbackRate) * 100) / 100;
    this.target = { state, position, rate, updatedAt: this.clock.now() };
    this.unsent = !this.send({ type: "playback.update", state, position: Math.round(position * 1000) / 1000, rate });
  }

  /** The party's playback as the server has it (from party.state or playback.state). */
  apply(playback, { initial = false } = {}) {
    if (!playback || (playback.state !== "playing" && playback.state !== "paused")) return;
    const updatedAt = Date.parse(playback.updated_at);
    const target = {
      state: playback.state,
      position: Number.isFinite(playback.position) ? playback.position : 0,
      rate: validRate(playback.rate), // a server without `rate` plays at 1
      updatedAt: Number.isNaN(updatedAt) ? this.clock.now() : updatedAt,
    };
    if (this.isHost) {
      // The host's player is the source of truth. After a reconnect, re-announce it if the
      // party missed a change; on first load, start where the party left off.
      if (!initial) return;
      if (!this.hostInitPending) {
        this.target = target;
        if (this.unsent || this.differsFrom(target)) this.publish();
        return;
      }
    }
    this.target = target;
    this.reconcile();
  }

  differsFrom(target) {
    const video = this.video;
    if (!this.hasSource || video.readyState < HTMLMediaElement.HAVE_METADATA) return false;
    const state = video.paused ? "paused" : "playing";
    const saved = this.target;
    this.target = target;
    const off = Math.abs(video.currentTime - this.expectedPosition()) > 1;
    this.target = saved;
    return state !== target.state || off || Math.abs(video.playbackRate - target.rate) > 0.01;
  }

  expectedPosition() {
    const target = this.target;
    if (!target) return 0;
    let position = target.position;
    if (target.state === "playing") position += Math.max(0, (this.clock.now() - target.updatedAt) / 1000) * target.rate;
    const duration = this.video.duration;
    if (Number.isFinite(duration) && duration > 0) position = Math.min(position, duration);
    return position;
  }

  /** The host's player follows a change the server made (the party waiting for a buffering
   * viewer, or playing on): as at load, without announcing it back. */
  follow(playback) {
    this.hostInitPending = true;
    this.apply(playback, { initial: true });
  }

  /** Report buffering once it has lasted a moment (a seek's short stall is not worth pausing
   * everyone), and ready once this player can play again. */
  checkBuffering() {
    const video = this.video;
    if (!this.hasSource || !this.syncEnabled) return;
    // A video that failed to load will not get ready by waiting: the party does not wait for it.
    const canPlay = Boolean(video.error) || (video.readyState >= HAVE_FUTURE_DATA && !video.seeking);
    if (this.reportedBuffering) {
      if (canPlay) {
        this.reportedBuffering = false;
        this.stallTicks = 0;
        this.onBuffering(false);
      }
      return;
    }
    const partyPlays = Boolean(this.target) && this.target.state === "playing" && !this.blocked;
    this.stallTicks = partyPlays && !canPlay ? this.stallTicks + 1 : 0;
    if (this.stallTicks >= STALL_TICKS) {
      this.reportedBuffering = true;
      this.onBuffering(true);
    }
  }

  /** Bring this player to the party's state (followers, always; the host, once at load). */
  reconcile() {
    const video = this.video;
    const hostInit = this.isHost && this.hostInitPending;
    if (!this.target || !this.hasSource || !(this.following || hostInit)) return;
    if (video.readyState < HTMLMediaElement.HAVE_METADATA) return; // loadedmetadata calls again
    if (hostInit) this.hostInitPending = false;
    if (Math.abs(video.playbackRate - this.target.rate) > 0.01) {
      this.expect("ratechange");
      video.playbackRate = this.target.rate;
    }
    const want = this.expectedPosition();
    const limit = this.target.state === "playing" ? DRIFT_PLAYING_S : DRIFT_PAUSED_S;
    if (!video.seeking && Math.abs(video.currentTime - want) > limit) {
      this.expect("seeked");
      video.currentTime = want;
    }
    if (this.target.state === "paused") {
      if (!video.paused) {
        this.expect("pause");
        video.pause();
      }
    } else {
      const atEnd = Number.isFinite(video.duration) && want >= video.duration - 0.05;
      if (video.paused && !atEnd && !this.blocked) this.startPlayback();
    }
    this.onChange();
  }

  startPlayback() {
    this.expect("play");
    const attempt = this.video.play();
    if (attempt && attempt.catch) {
      attempt.catch((error) => {
        this.unexpect("play");
        if (error && error.name === "NotAllowedError") {
          this.blocked = true; // needs a click: the page shows a start button
          this.onChange();
        }
      });
    }
  }

  /** The start button: a click lets the browser play. */
  userStart() {
    this.blocked = false;
    if (this.following) {
      this.reconcile();
    } else {
      const attempt = this.video.play();
      if (attempt && attempt.catch) attempt.catch(() => {});
    }
  }

  /** Host controls outside the native ones. */
  togglePlay() {
    if (!this.hasSource) return;
    if (this.video.paused) {
      const attempt = this.video.play();
      if (attempt && attempt.catch) attempt.catch(() => {});
    } else {
      this.video.pause();
    }
  }

  /** The party is over for this page (ended, or no seat any more): stop following and playing. */
  detach() {
    clearInterval(this.timer);
    this.target = null;
    this.hasSource = false;
    this.blocked = false;
    this.video.pause();
  }

  resync() {
    this.blocked = false;
    if (this.target && this.following) {
      const want = this.expectedPosition();
      this.expect("seeked");
      this.video.currentTime = want;
      this.reconcile();
    }
  }
}
