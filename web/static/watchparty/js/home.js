// Home: the parties you host or sit in, create a party, join one by its room code.
import { api, ApiError, errorText, loginUrl, PARTY_ID_RE } from "./api.js";
import { $, clear, h } from "./dom.js";

const list = $("#party-list");
const status = $("#parties-status");
const includeEnded = $("#include-ended");

function roomUrl(party) {
  if (!PARTY_ID_RE.test(party.id)) throw new Error("Unexpected party id from the server.");
  return `/parties/${party.id}/`;
}

function showMessage(node, text) {
  delete node.dataset.level; // what is shown from here on is a problem
  node.textContent = text;
  node.hidden = !text;
}

function handleAuth(error) {
  if (error instanceof ApiError && error.status === 401) {
    location.assign(loginUrl());
    return true;
  }
  return false;
}

function partyItem(party) {
  const ended = Boolean(party.ended_at);
  const title = party.content_title || party.content_id;
  return h(
    "li",
    { class: `party-item${ended ? " party-ended" : ""}`, "data-party-id": party.id },
    h(
      "a",
      { href: roomUrl(party), class: "party-link" },
      h("span", { class: "party-title", dir: "auto", text: title }),
      h(
        "span",
        { class: "party-meta" },
        h("span", { class: "pill pill-code", text: party.room_code }),
        h("span", { class: "pill", text: party.content_type === "live" ? "Live" : "VOD" }),
        h("span", { text: `${party.participant_count}/${party.max_participants} seats` }),
        h("span", { dir: "auto", text: `Host: ${party.host_name}` }),
        ended ? h("span", { class: "pill pill-muted", text: "Ended" }) : null,
      ),
    ),
  );
}

async function loadParties() {
  status.hidden = false;
  status.textContent = "Loading…";
  try {
    const query = includeEnded.checked ? "?include_ended=true&limit=50" : "?limit=50";
    const { data } = await api(`/api/parties/${query}`);
    clear(list);
    for (const party of data.results) list.append(partyItem(party));
    status.textContent = data.results.length ? "" : "No parties yet. Start one, or join a friend's with their code.";
    status.hidden = data.results.length > 0;
  } catch (error) {
    if (handleAuth(error)) return;
    status.textContent = errorText(error);
  }
}

function setBusy(form, busy) {
  for (const control of form.querySelectorAll("button, input, select")) control.disabled = busy;
}

const createForm = $("#create-form");
const createMessage = $("#create-message");
createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(createForm);
  const contentId = String(form.get("content_id") || "").trim();
  if (!contentId) {
    showMessage(createMessage, "Give the video URL or channel to watch.");
    $("#content-id").focus();
    return;
  }
  const body = {
    content_id: contentId,
    content_type: form.get("content_type") === "live" ? "live" : "vod",
    content_title: String(form.get("content_title") || "").trim(),
    max_participants: Number.parseInt(String(form.get("max_participants") || "10"), 10) || 10,
    chat_enabled: form.get("chat_enabled") === "on",
    sync_playback: form.get("sync_playback") === "on",
  };
  showMessage(createMessage, "");
  setBusy(createForm, true);
  try {
    const { data } = await api("/api/parties/", { method: "POST", body });
    location.assign(roomUrl(data));
  } catch (error) {
    if (handleAuth(error)) return;
    showMessage(createMessage, errorText(error));
    setBusy(createForm, false);
  }
});

const joinForm = $("#join-form");
const joinMessage = $("#join-message");
const codeInput = $("#room-code");
codeInput.addEventListener("input", () => {
  const cleaned = codeInput.value.toUpperCase().replace(/[^A-Z0-9]/g, "").slice(0, 6);
  if (cleaned !== codeInput.value) codeInput.value = cleaned;
});
joinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = codeInput.value.trim().toUpperCase();
  if (!/^[A-Z0-9]{6}$/.test(code)) {
    showMessage(joinMessage, "A room code is 6 letters and digits.");
    codeInput.focus();
    return;
  }
  showMessage(joinMessage, "");
  setBusy(joinForm, true);
  try {
    const { data } = await api("/api/parties/join/", { method: "POST", body: { room_code: code } });
    location.assign(roomUrl(data));
  } catch (error) {
    if (handleAuth(error)) return;
    const text =
      error.code === "not_found"
        ? "No active party has that code."
        : error.code === "party_full"
          ? "That party is full."
          : error.code === "banned"
            ? "The host removed you from this party, so its room code no longer lets you in. Ask them to lift the ban if that was a mistake."
            : errorText(error);
    showMessage(joinMessage, text);
    setBusy(joinForm, false);
  }
});

// An invite link (/join/<code>/) fills the code in: one press of Join party joins.
if (codeInput.value) joinForm.querySelector("button[type=submit]").focus();

includeEnded.addEventListener("change", loadParties);
loadParties();
