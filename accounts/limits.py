"""Brute-force limits on the ways in: the login page, the admin login, the API token endpoint
(one shared budget: a password guess is a guess wherever it is made) and sign-up.

Login limits count failures, not logins: forty people behind one school or office address all log
in. Each attempt is counted before the password is checked (so concurrent guesses cannot all slip
under a limit, and while a limit is full even the right password is refused) and taken back when
it succeeds. Three windows of failures:

- per address (LOGIN_RATE_LIMIT_IP): one client guessing many usernames;
- per username from one address (LOGIN_RATE_LIMIT_USERNAME): one client guessing one password.
  Keyed by address too, so a stranger's wrong passwords lock out their own address, not the
  account's owner elsewhere;
- per username from every address together (LOGIN_RATE_LIMIT_ACCOUNT): a slower ceiling against a
  guesser spread over many addresses; set high enough that locking a person out this way takes far
  more tries than the per-address windows allow one client.

Limits go through core.ratelimit (shared across processes through Redis when REDIS_URL is set).
"""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest

from core.errors import RateLimited
from core.ratelimit import check_rate, reserve_rate

LOGIN_LIMITED_DETAIL = "Too many login attempts; try again in {seconds} seconds."
SIGNUP_LIMITED_DETAIL = "Too many accounts created from your network; try again in {seconds} seconds."


def client_ip(request: HttpRequest) -> str:
    """The address limits are counted against.

    REMOTE_ADDR, unless TRUSTED_PROXY_COUNT says how many proxies of ours append to
    X-Forwarded-For: then the entry that many from the right, the address our outermost proxy saw.
    Entries further left are whatever the client wrote, so they are never used: honouring them
    would let an attacker claim a fresh address per try.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            address = hops[-proxies]
    return _address_key(address)


def _address_key(address: str) -> str:
    """IPv4 addresses as they are; IPv6 by /64, the block one subscriber is usually given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _username_key(username: str) -> str:
    """One key per account name however it is spelled (case, Unicode forms), of bounded length."""
    folded = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(folded.encode()).hexdigest()[:32]


def check_login_rate(request: HttpRequest | None, username: object) -> Callable[[], None]:
    """Count one login attempt as a failure of the client and the username; RateLimited when a
    window is full. Returns the refund to call when the login succeeds (it then counts nowhere)."""
    address = client_ip(request) if request is not None else None
    windows: list[tuple[str, tuple[int, int]]] = []
    if address is not None:
        windows.append((f"login:ip:{address}", settings.LOGIN_RATE_LIMIT_IP))
    if isinstance(username, str) and username.strip():
        user_key = _username_key(username)
        if address is not None:
            windows.append((f"login:user-ip:{user_key}:{address}", settings.LOGIN_RATE_LIMIT_USERNAME))
        windows.append((f"login:user:{user_key}", settings.LOGIN_RATE_LIMIT_ACCOUNT))
    if not windows:
        return lambda: None
    try:
        return reserve_rate(*windows[0], *windows[1:])
    except RateLimited as exc:
        raise RateLimited(exc.retry_after, LOGIN_LIMITED_DETAIL.format(seconds=exc.retry_after)) from None


def check_signup_rate(request: HttpRequest) -> None:
    """Count one account creation for the client; RateLimited when it is over."""
    _check(f"signup:ip:{client_ip(request)}", settings.SIGNUP_RATE_LIMIT, SIGNUP_LIMITED_DETAIL)


def _check(key: str, rate: tuple[int, int], detail: str) -> None:
    try:
        check_rate(key, rate)
    except RateLimited as exc:
        raise RateLimited(exc.retry_after, detail.format(seconds=exc.retry_after)) from None


def refuse_page(request: HttpRequest, exc: RateLimited) -> None:
    """Mark an HTML page's request as refused by a limit (its form shows the error), so that
    ``limited_status`` answers it with 429 and Retry-After."""
    request.auth_rate_limited = exc


def limited_status(request: HttpRequest, response):
    """429 with Retry-After for a page whose request ``refuse_page`` marked; others unchanged."""
    exc = getattr(request, "auth_rate_limited", None)
    if exc is not None:
        response.status_code = RateLimited.http_status
        response["Retry-After"] = str(exc.retry_after)
    return response
