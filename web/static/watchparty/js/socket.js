// The party WebSocket with automatic reconnection (exponential backoff with jitter) and a
// heartbeat. It knows nothing of chat: frames go to onFrame, connection changes to onStatus.

/** Close codes after which reconnecting cannot help (docs/PROTOCOL.md, "Handshake"). */
export const TERMINAL_CLOSES = {
  4000: "ended",
  4401: "unauthenticated",
  4403: "forbidden",
  4404: "not_found",
};

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const HEARTBEAT_MS = 20000;
const SILENCE_LIMIT_MS = 50000;

export function partySocketUrl(partyId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/parties/${partyId}/`;
}

export class PartySocket {
  constructor(url, { onFrame, onStatus }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.held = false; // set by hold(true): stay disconnected (tests, or a page going away)
    this.retryTimer = null;
    this.heartbeat = null;
    this.lastFrameAt = 0;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("pagehide", () => this.stop());
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return; // restored from the back/forward cache: connect again
      this.stopped = false;
      this.attempt = 0;
      this.connect();
    });
  }

  start() {
    this.connect();
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped || this.held || this.ws) return;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect(1006);
      return;
    }
    this.ws = ws;
    this.onStatus({ state: "connecting", attempt: this.attempt });
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      this.startHeartbeat();
      this.onStatus({ state: "open" });
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return; // a socket we already gave up on
      this.lastFrameAt = Date.now();
      if (typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
      if (frame.type === "party.state") this.attempt = 0; // really in: reset the backoff
      if (frame.type === "pong") return;
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.detach();
      this.scheduleReconnect(event.code);
    });
  }

  detach() {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    return ws;
  }

  scheduleReconnect(code) {
    const terminal = TERMINAL_CLOSES[code];
    if (terminal) {
      this.stopped = true;
      this.onStatus({ state: "closed", code, reason: terminal });
      return;
    }
    if (this.stopped) return;
    if (this.held) {
      this.onStatus({ state: "offline", code });
      return;
    }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.onStatus({ state: "reconnecting", code, delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Give up on the current socket at once (as when the network drops) and reconnect. */
  drop(code = 1006) {
    const ws = this.detach();
    if (!ws) return;
    try {
      ws.close();
    } catch {
      /* already closing */
    }
    this.scheduleReconnect(code);
  }

  reconnectNow() {
    if (this.stopped || this.held || this.ws) return;
    this.connect();
  }

  /** hold(true) disconnects and stays away; hold(false) reconnects at once. */
  hold(held) {
    this.held = Boolean(held);
    if (this.held) {
      clearTimeout(this.retryTimer);
      this.drop();
    } else {
      this.attempt = 0;
      this.reconnectNow();
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const ws = this.detach();
    if (ws) ws.close(1000);
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (!this.isOpen) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        this.drop(); // no pong for too long: the connection is dead even if the browser has not noticed
        return;
      }
      this.send({ type: "ping" });
    }, HEARTBEAT_MS);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}
