// The HTTP API (docs/PROTOCOL.md): JSON in and out, the session cookie, the CSRF header on writes.

export const PARTY_ID_RE = /^[0-9a-f]{24}$/;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `Request failed (${status})`);
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "network" : "error");
    this.detail = (body && body.detail) || "";
    this.errors = (body && body.errors) || null;
    this.retryAfter = body && Number.isFinite(body.retry_after) ? body.retry_after : null;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  // The logout form in the page header carries the token too.
  const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
  return input ? input.value : "";
}

export function loginUrl() {
  return `/accounts/login/?next=${encodeURIComponent(location.pathname)}`;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { code: "network", detail: "Could not reach the server. Check your connection." });
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, response };
}

/** A short sentence for an error body (HTTP or a WebSocket error frame). */
export function errorText(error) {
  const code = error.code;
  const retry = error.retryAfter ?? error.retry_after;
  if (code === "rate_limited") return `Too many tries. Try again in ${Math.max(1, Math.ceil(retry || 1))} s.`;
  if (code === "network") return "Could not reach the server. Check your connection.";
  if (code === "unavailable") return "The server is busy right now. Try again in a moment.";
  if (code === "chat_disabled") return "Chat is turned off for this party.";
  const parts = [];
  if (error.errors && typeof error.errors === "object") {
    for (const messages of Object.values(error.errors)) {
      for (const message of Array.isArray(messages) ? messages : [messages]) parts.push(String(message));
    }
  }
  if (parts.length) return parts.join(" ");
  return error.detail || "Something went wrong.";
}
