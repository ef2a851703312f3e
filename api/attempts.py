"""Refused tokens per client address: counted in PostgreSQL, so every API replica sees the same
count, and answered 429 with ``Retry-After`` once an address passes the limit for the minute. A
valid token is never refused by the limit: only wrong ones are. The client's address is taken
from ``X-Forwarded-For`` (and whether it came over https from ``X-Forwarded-Proto``) only when
the request comes from a trusted proxy."""

from __future__ import annotations

import ipaddress
import socket
import time

from sqlalchemy import text
from sqlmodel import Session
from starlette.requests import HTTPConnection

from core.errors import AppError
from core.logging import get_logger
from core.settings import Settings

log = get_logger("api.attempts")
_RESOLVE_SECONDS = 60  # proxies named by host name are looked up again after this
_COUNT = text(
    """INSERT INTO auth_failures (client, window_start, failures)
       VALUES (:client, date_trunc('minute', now()), 1)
       ON CONFLICT (client, window_start) DO UPDATE SET failures = auth_failures.failures + 1
       RETURNING failures, window_start, now()"""
)
_FORGET = text("DELETE FROM auth_failures WHERE window_start < now() - interval '1 hour'")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The proxies of ``trusted_proxies``: addresses, networks, or host names resolved now and then
    (a compose service's address is known only once it runs)."""

    def __init__(self, spec: str) -> None:
        self.items = [s.strip() for s in spec.split(",") if s.strip()]
        self._networks: list[Network] = []
        self._resolved_at = -float(_RESOLVE_SECONDS)

    def networks(self) -> list[Network]:
        if time.monotonic() - self._resolved_at >= _RESOLVE_SECONDS:
            found: list[Network] = []
            for item in self.items:
                try:
                    found.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    found += _resolve(item)
            self._networks, self._resolved_at = found, time.monotonic()
        return self._networks

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks())


def _resolve(host: str) -> list[Network]:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return []  # not up yet: asked again later
    return [ipaddress.ip_network(info[4][0]) for info in infos]


def client_address(connection: HTTPConnection) -> str:
    """The caller's address: the peer's, or behind trusted proxies the last address in
    ``X-Forwarded-For`` that is not one of them (the ones before it are the caller's to invent)."""
    peer = connection.client.host if connection.client else ""
    if not _behind_trusted_proxy(connection):
        return peer[:64]
    proxies: TrustedProxies = connection.app.state.trusted_proxies
    hops = _forwarded(connection, "x-forwarded-for")
    for hop in reversed(hops):
        if not proxies.trusts(hop):
            return hop[:64]
    return (hops[0] if hops else peer)[:64]


def over_https(connection: HTTPConnection) -> bool:
    """Did the caller reach us over https: directly, or through trusted proxies (one terminating
    TLS in front of them says so in ``X-Forwarded-Proto``; the nearest proxy's value counts)?"""
    if connection.url.scheme == "https":
        return True
    hops = _forwarded(connection, "x-forwarded-proto") if _behind_trusted_proxy(connection) else []
    return bool(hops) and hops[-1].lower() == "https"


def _behind_trusted_proxy(connection: HTTPConnection) -> bool:
    proxies: TrustedProxies = connection.app.state.trusted_proxies
    return bool(proxies.items) and proxies.trusts(connection.client.host if connection.client else "")


def _forwarded(connection: HTTPConnection, header: str) -> list[str]:
    """A forwarding header's values, every hop's, in order (repeated headers joined)."""
    return [h.strip() for h in ",".join(connection.headers.getlist(header)).split(",") if h.strip()]


def count_failure(session: Session, settings: Settings, client: str) -> None:
    """Count one refused token of ``client``; past the limit, refuse with 429 until the minute ends."""
    row = session.execute(_COUNT, {"client": client}).one()
    failures, window, now = int(row[0]), row[1], row[2]
    if failures == 1:
        session.execute(_FORGET)
    session.commit()
    if failures > settings.auth_failures_per_minute:
        retry = max(1, 60 - int((now - window).total_seconds()))
        if failures == settings.auth_failures_per_minute + 1:
            log.warning("too many refused tokens", client=client, limit=settings.auth_failures_per_minute)
        raise AppError(
            "too_many_attempts",
            f"无效令牌尝试过多，请 {retry} 秒后再试",
            status=429,
            details={"retry_after": retry},
            headers={"Retry-After": str(retry)},
        )
