// The shared queue (docs/PROTOCOL.md, "The shared queue"): what plays now, what comes next, and
// for the host and co-hosts Play now, Move up/down, Remove and Skip; the add form for whoever may
// add (the host and co-hosts, and guests when the host opens the queue). The server authorizes
// every frame; these controls only show what the user may ask for. All text goes in as text.
import { h } from "./dom.js";

export class QueueView {
  /**
   * els: {panel, now, list, count, form, input, title, open, openLabel, skip, vote, hostSettings,
   * ratio}; send(frame) -> bool; onlineCount() -> how many people have the room open.
   */
  constructor({ els, me, send, notices, onlineCount }) {
    this.els = els;
    this.me = me;
    this.send = send;
    this.notices = notices;
    this.onlineCount = onlineCount;
    this.party = null;
    this.needed = null; // from the last queue.votes for the current item; else worked out here
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
    els.list.addEventListener("click", (event) => this.onItemClick(event));
    els.open.addEventListener("change", () => {
      if (!this.frame({ type: "queue.settings", guests_may_queue: els.open.checked })) {
        els.open.checked = !els.open.checked;
      }
    });
    els.skip.addEventListener("click", () => this.next());
    els.vote.addEventListener("click", () => {
      if (this.frame({ type: "queue.vote_skip", item_id: this.currentId() })) els.vote.disabled = true;
    });
    els.waitForAll.addEventListener("change", () => {
      if (!this.frame({ type: "queue.settings", wait_for_all: els.waitForAll.checked })) {
        els.waitForAll.checked = !els.waitForAll.checked;
      }
    });
    els.ratio.addEventListener("change", () => {
      const ratio = Number(els.ratio.value);
      if (!this.frame({ type: "queue.settings", skip_ratio: ratio })) els.ratio.value = String(this.party.skip_ratio);
    });
  }

  /** queue.votes: who voted to skip the current item, and how many votes skip it. */
  onVotes(frame) {
    if (!this.party || frame.item_id !== this.currentId() || !Array.isArray(frame.votes)) return;
    this.party.skip_votes = frame.votes;
    this.needed = Number.isFinite(frame.needed) ? frame.needed : null;
    this.renderVote();
  }

  renderVote() {
    const { party, els } = this;
    const ratio = Number(party.skip_ratio ?? 0.5);
    const votes = Array.isArray(party.skip_votes) ? party.skip_votes : [];
    const muted = (party.muted_ids || []).includes(this.me);
    els.vote.hidden = !ratio || !this.hasNext() || muted || Boolean(party.ended_at);
    const needed = this.needed ?? Math.max(1, Math.ceil(ratio * Math.max(1, this.onlineCount())));
    const voted = votes.includes(this.me);
    els.vote.textContent = `Vote to skip (${votes.length} of ${needed})`;
    els.vote.setAttribute("aria-pressed", String(voted));
    els.vote.disabled = voted;
  }

  frame(frame) {
    if (this.send(frame)) return true;
    this.notices.show("offline-action", "warn", "Not connected right now; try again in a moment.", { timeout: 4000 });
    return false;
  }

  isModerator() {
    const party = this.party;
    return Boolean(party) && (party.host_id === this.me || (party.co_host_ids || []).includes(this.me));
  }

  mayAdd() {
    const party = this.party;
    if (!party || party.ended_at) return false;
    if (this.isModerator()) return true;
    return Boolean(party.guests_may_queue) && !(party.muted_ids || []).includes(this.me);
  }

  /** The current item's id ("" for a party stored before the queue), for queue.next. */
  currentId() {
    return (this.party && this.party.current_item && this.party.current_item.id) || "";
  }

  hasNext() {
    return Boolean(this.party && Array.isArray(this.party.queue) && this.party.queue.length);
  }

  render(party) {
    if (!this.party || (this.party.current_item || {}).id !== (party.current_item || {}).id) this.needed = null;
    this.party = party;
    const { els } = this;
    const queue = Array.isArray(party.queue) ? party.queue : [];
    const current = party.current_item || { content_id: party.content_id, title: "" };
    els.now.textContent = `Now playing: ${current.title || current.content_id}`;
    els.now.title = current.title || current.content_id;
    els.count.textContent = queue.length ? `(${queue.length})` : "";
    const moderator = this.isModerator() && !party.ended_at;
    // A keyboard user who moved an item keeps their place: the same button of the same item.
    const focused = document.activeElement && els.list.contains(document.activeElement) ? document.activeElement : null;
    const refocus = focused && focused.closest("li[data-item-id]") && [focused.closest("li").dataset.itemId, focused.dataset.action];
    els.list.replaceChildren(
      ...queue.map((item, index) => {
        const name = item.title || item.content_id;
        const li = h(
          "li",
          { class: "queue-item", "data-item-id": item.id },
          h("span", { class: "queue-name", dir: "auto", text: name }),
          h("span", { class: "muted small", dir: "auto", text: ` added by ${item.added_by_name}` }),
        );
        if (moderator) {
          const button = (action, text, label, disabled = false) =>
            h("button", {
              type: "button",
              class: "btn btn-small btn-ghost",
              "data-action": action,
              "aria-label": `${label}: ${name}`,
              disabled,
              text,
            });
          li.append(
            h(
              "span",
              { class: "queue-actions" },
              button("play", "Play now", "Play now"),
              button("up", "↑", "Move up", index === 0),
              button("down", "↓", "Move down", index === queue.length - 1),
              button("remove", "Remove", "Remove"),
            ),
          );
        }
        return li;
      }),
    );
    if (!queue.length) els.list.append(h("li", { class: "queue-empty muted small", text: "Nothing queued." }));
    if (refocus) {
      const [itemId, action] = refocus;
      const li = [...els.list.children].find((node) => node.dataset.itemId === itemId);
      const again = li && li.querySelector(`button[data-action="${action}"]:not([disabled])`);
      if (again) again.focus();
      else els.list.closest("section").focus();
    }
    els.form.hidden = !this.mayAdd();
    els.openLabel.hidden = party.host_id !== this.me || Boolean(party.ended_at);
    els.open.checked = Boolean(party.guests_may_queue);
    els.skip.hidden = !moderator || !queue.length;
    els.hostSettings.hidden = els.openLabel.hidden;
    els.waitLabel.hidden = els.openLabel.hidden;
    els.waitForAll.checked = Boolean(party.wait_for_all);
    els.ratio.value = String(Number(party.skip_ratio ?? 0.5));
    this.renderVote();
  }

  add() {
    const contentId = this.els.input.value.trim();
    if (!contentId) return;
    const title = this.els.title.value.trim();
    if (this.frame({ type: "queue.add", content_id: contentId, ...(title ? { title } : {}) })) {
      this.els.input.value = "";
      this.els.title.value = "";
    }
  }

  next() {
    this.frame({ type: "queue.next", item_id: this.currentId() });
  }

  onItemClick(event) {
    const button = event.target.closest("button[data-action]");
    const li = button && button.closest("li[data-item-id]");
    if (!li || !this.party) return;
    const itemId = li.dataset.itemId;
    const index = this.party.queue.findIndex((item) => item.id === itemId);
    switch (button.dataset.action) {
      case "play":
        this.frame({ type: "queue.play", item_id: itemId });
        break;
      case "up":
        this.frame({ type: "queue.move", item_id: itemId, to: Math.max(0, index - 1) });
        break;
      case "down":
        this.frame({ type: "queue.move", item_id: itemId, to: index + 1 });
        break;
      case "remove":
        this.frame({ type: "queue.remove", item_id: itemId });
        break;
      default:
        break;
    }
  }
}
