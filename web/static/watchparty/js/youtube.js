// YouTube videos through the YouTube IFrame Player API, behind the part of the HTMLMediaElement
// interface PlayerSync uses (player.js): the same sync (play, pause, seek, speed) as a direct file.
// The room page's CSP allows https://www.youtube.com scripts and YouTube frames (core/http/csp.py).

const API_URL = "https://www.youtube.com/iframe_api";
const API_TIMEOUT_MS = 15000;
const POLL_MS = 500;
const SEEK_JUMP_S = 1; // a jump this far from where playback should be is a seek
// YT.PlayerState
const ENDED = 0;
const PLAYING = 1;
const PAUSED = 2;

// What the room says when YouTube's player fails, by YT.Player's onError code.
const UNREACHABLE =
  "The YouTube player could not be loaded: YouTube did not answer (no connection, an ad or content blocker, or a network that blocks YouTube). Chat works as usual.";
const PLAYER_ERRORS = {
  2: "YouTube says this video link is not valid.",
  5: "YouTube's player could not play this video in this browser.",
  100: "This YouTube video was removed or is private.",
  101: "The owner of this YouTube video does not allow it to be played on other sites.",
  150: "The owner of this YouTube video does not allow it to be played on other sites.",
};

const HOSTS = new Set(["youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com", "www.youtube-nocookie.com"]);
const SHORT_HOSTS = new Set(["youtu.be", "www.youtu.be"]);
const ID_RE = /^[A-Za-z0-9_-]{11}$/;
const PATH_RE = /^\/(?:embed|shorts|live|v)\/([^/]+)\/?$/;

/** The video id of a YouTube video link (the forms parties/media.py accepts), or null. */
export function youtubeId(contentId) {
  if (typeof contentId !== "string") return null;
  let url;
  try {
    url = new URL(contentId.trim());
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  const host = url.hostname.toLowerCase();
  let candidate = null;
  if (SHORT_HOSTS.has(host)) candidate = url.pathname.replace(/^\/+|\/+$/g, "");
  else if (HOSTS.has(host)) {
    if (url.pathname.replace(/\/+$/, "") === "/watch") candidate = url.searchParams.get("v");
    else candidate = PATH_RE.exec(url.pathname)?.[1] ?? null;
  }
  return candidate && ID_RE.test(candidate) ? candidate : null;
}

let apiPromise = null;

/** window.YT once the IFrame Player API script has loaded (loaded once per page). */
function loadApi() {
  if (window.YT && typeof window.YT.Player === "function") return Promise.resolve(window.YT);
  if (!apiPromise) {
    apiPromise = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timeout")), API_TIMEOUT_MS);
      const previous = window.onYouTubeIframeAPIReady;
      window.onYouTubeIframeAPIReady = () => {
        clearTimeout(timer);
        if (typeof previous === "function") previous();
        resolve(window.YT);
      };
      const script = document.createElement("script");
      script.src = API_URL;
      script.async = true;
      script.addEventListener("error", () => {
        clearTimeout(timer);
        script.remove(); // a retry adds a fresh one
        reject(new Error("blocked"));
      });
      document.head.append(script);
    }).catch((error) => {
      apiPromise = null; // a later page state may try again
      throw error;
    });
  }
  return apiPromise;
}

/**
 * A YouTube player in `element` (replaced by the player's frame) that looks to PlayerSync like a
 * <video>: currentTime, paused, duration, readyState, muted, playbackRate, play(), pause(), and
 * the events play, pause, ended, seeked, ratechange, loadedmetadata, canplay, timeupdate, durationchange,
 * error.
 * YouTube has no seek event: a poll notices when the position jumps.
 */
export class YouTubeMedia extends EventTarget {
  constructor(element, videoId) {
    super();
    this.videoId = videoId;
    this.readyState = 0;
    this.error = null;
    this.seeking = false;
    this.controls = true; // YouTube's own controls; a follower's changes are undone by the sync
    this.yt = null;
    this.isPaused = true;
    this.wantMuted = false;
    this.lastTime = 0;
    this.lastPoll = Date.now();
    this.poller = null;
    this.destroyed = false;
    this.element = element;
    this.load();
  }

  /** Load YouTube's script (once per page) and make the player; on failure, `error` says why. */
  load() {
    const { element, videoId } = this;
    loadApi().then(
      (YT) => {
        if (this.destroyed) return; // the party ended while the API loaded
        this.yt = new YT.Player(element, {
          videoId,
          host: "https://www.youtube-nocookie.com",
          width: "100%",
          height: "100%",
          playerVars: { playsinline: 1, rel: 0, origin: location.origin },
          events: {
            onReady: () => this.onReady(),
            onStateChange: (event) => this.onState(event.data),
            onPlaybackRateChange: () => this.onRate(),
            onError: (event) => this.fail(PLAYER_ERRORS[event.data] || `YouTube's player failed (error ${event.data}).`),
          },
        });
      },
      () => {
        if (!this.destroyed) this.fail(UNREACHABLE, { retryable: true });
      },
    );
  }

  /** After a failed load: try YouTube's script again. */
  retry() {
    if (this.destroyed || this.yt || !this.error?.retryable) return;
    this.error = null;
    this.emit("error"); // listeners re-render: no error now
    this.load();
  }

  emit(type) {
    this.dispatchEvent(new Event(type));
  }

  fail(message, { retryable = false } = {}) {
    this.error = { message, retryable };
    this.emit("error");
  }

  onReady() {
    if (this.destroyed || !this.yt) return;
    this.readyState = 4; // HAVE_ENOUGH_DATA: PlayerSync may seek and play now
    if (this.wantMuted) this.yt.mute();
    this.lastTime = this.currentTime;
    this.lastPoll = Date.now();
    this.poller = setInterval(() => this.poll(), POLL_MS);
    for (const type of ["loadedmetadata", "durationchange", "canplay"]) this.emit(type);
  }

  onState(state) {
    if (state === PLAYING && this.isPaused) {
      this.isPaused = false;
      this.emit("play");
    } else if ((state === PAUSED || state === ENDED) && !this.isPaused) {
      this.isPaused = true;
      this.emit("pause");
    }
    if (state === ENDED) this.emit("ended"); // as a <video> does: the host's page goes on to the queue's next
    this.mark();
  }

  /** YouTube's speed menu, or our setPlaybackRate: a <video> says ratechange. */
  onRate() {
    this.mark();
    this.emit("ratechange");
  }

  /** Where playback is now, as the next poll's reference. */
  mark() {
    this.lastTime = this.currentTime;
    this.lastPoll = Date.now();
  }

  poll() {
    const now = Date.now();
    const time = this.currentTime;
    const expected = this.lastTime + (this.isPaused ? 0 : ((now - this.lastPoll) / 1000) * this.playbackRate);
    this.lastTime = time;
    this.lastPoll = now;
    if (Math.abs(time - expected) > SEEK_JUMP_S) this.emit("seeked"); // someone used YouTube's seek bar
    this.emit("timeupdate");
  }

  get paused() {
    return this.isPaused;
  }

  get currentTime() {
    const time = this.yt && this.readyState ? Number(this.yt.getCurrentTime()) : 0;
    return Number.isFinite(time) ? time : 0;
  }

  set currentTime(seconds) {
    if (!this.yt || !this.readyState) return;
    this.yt.seekTo(seconds, true);
    this.lastTime = seconds;
    this.lastPoll = Date.now();
    setTimeout(() => this.emit("seeked"), 0); // as a <video> would, once the seek is done
  }

  get duration() {
    const duration = this.yt && this.readyState ? Number(this.yt.getDuration()) : 0;
    return duration > 0 ? duration : Number.NaN;
  }

  get muted() {
    return this.yt && this.readyState ? Boolean(this.yt.isMuted()) : this.wantMuted;
  }

  set muted(value) {
    this.wantMuted = Boolean(value);
    if (this.yt && this.readyState) {
      if (value) this.yt.mute();
      else this.yt.unMute();
    }
    this.emit("volumechange");
  }

  get playbackRate() {
    const rate = this.yt && this.readyState ? Number(this.yt.getPlaybackRate()) : 1;
    return rate > 0 ? rate : 1;
  }

  set playbackRate(rate) {
    if (this.yt && this.readyState) this.yt.setPlaybackRate(rate);
  }

  play() {
    if (this.yt && this.readyState) this.yt.playVideo();
    return Promise.resolve();
  }

  pause() {
    if (this.yt && this.readyState) this.yt.pauseVideo();
  }

  /** PlayerSync sets its source once, by URL; this player was made for one video. */
  getAttribute(name) {
    return name === "src" ? this.src : null;
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this.poller);
    this.readyState = 0;
    if (this.yt && typeof this.yt.destroy === "function") this.yt.destroy();
    this.yt = null;
  }
}
