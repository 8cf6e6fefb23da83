"""Errors raised by services. Interfaces translate them: HTTP status codes in core.http.api,
WebSocket ``error`` frames in the chat consumer. Each carries the protocol's ``code``."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "error"
    http_status = 400
    detail = "The request could not be completed."

    def __init__(self, detail: str | None = None):
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail}


class NotFound(ServiceError):
    code = "not_found"
    http_status = 404
    detail = "Not found."


class Forbidden(ServiceError):
    code = "forbidden"
    http_status = 403
    detail = "You are not allowed to do that."


class PartyFull(ServiceError):
    code = "party_full"
    http_status = 409
    detail = "The party is full."


class Banned(Forbidden):
    code = "banned"
    detail = "You were removed from this party and cannot join it again."


class Muted(Forbidden):
    code = "muted"
    detail = "The host has muted you in this party's chat."


class PartyLimit(ServiceError):
    code = "party_limit"
    http_status = 409
    detail = "You host as many active parties as you may; end one first."


class QueueFull(ServiceError):
    code = "queue_full"
    http_status = 409
    detail = "The queue is full; remove a video first."


class ChatDisabled(ServiceError):
    code = "chat_disabled"
    http_status = 403
    detail = "Chat is turned off in this party."


class Invalid(ServiceError):
    code = "invalid"
    http_status = 400
    detail = "Invalid input."

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None):
        super().__init__(detail)
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "errors": self.errors}


class RateLimited(ServiceError):
    code = "rate_limited"
    http_status = 429
    detail = "Too many requests; try again later."

    def __init__(self, retry_after: int, detail: str | None = None):
        super().__init__(detail)
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "retry_after": self.retry_after}


class TooManySockets(ServiceError):
    code = "too_many_sockets"
    http_status = 429
    detail = "You have too many sockets open in this party."
