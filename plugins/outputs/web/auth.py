"""Who may call the server: the bearer token, and the loopback-only open mode.

The rules (see docs/web.rst):

- There is always a token: the configured one, or a random one made at start.
- Bound to loopback with no configured token ("open" mode) reads need no token, but every
  state-changing call (POST) still does; the page served on loopback carries the token in
  a ``<meta>`` tag, which other sites cannot read (same-origin policy), and a ``Host``
  header check stops DNS-rebinding pages from reading it through a name of their own.
- Bound anywhere else, or with a configured token: every API call and ``/metrics`` need
  the token (``Authorization: Bearer TOKEN``; ``?token=`` only for the event stream,
  since ``EventSource`` cannot set headers). The page itself carries no token there: it
  takes the token from the URL fragment (``/#token=...``), never sent to the server.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from .config import is_loopback

#: Host names a page on a loopback-bound server may be reached by.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class AuthPolicy:
    """Decides whether a request may proceed; holds the token."""

    def __init__(self, listen: str, token: str = "") -> None:
        self.loopback = is_loopback(listen)
        self.configured = bool(token)
        self.token = token or secrets.token_urlsafe(24)

    @property
    def open_reads(self) -> bool:
        """Reads need no token (loopback, no configured token)."""
        return self.loopback and not self.configured

    def presented(self, request: web.Request, allow_query: bool = False) -> str | None:
        """The token the request carries, if any."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if allow_query:
            return request.query.get("token") or None
        return None

    def valid(self, token: str | None) -> bool:
        """Constant-time comparison with the token."""
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    def host_allowed(self, request: web.Request) -> bool:
        """On loopback, only loopback host names (a DNS-rebinding defence)."""
        if not self.loopback:
            return True
        host = request.host.lower()
        if host.startswith("["):
            name = host.split("]", 1)[0] + "]"
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in LOOPBACK_HOSTS

    def check(self, request: web.Request, *, write: bool, allow_query: bool = False) -> None:
        """Raise 401 (JSON error) unless the request may go on."""
        if not write and self.open_reads:
            return
        token = self.presented(request, allow_query=allow_query and not write)
        if token is None:
            raise web.HTTPUnauthorized(reason="a bearer token is required",
                                       headers={"WWW-Authenticate": 'Bearer realm="omphalos"'})
        if not self.valid(token):
            raise web.HTTPUnauthorized(reason="wrong token",
                                       headers={"WWW-Authenticate": 'Bearer realm="omphalos", '
                                                                    'error="invalid_token"'})
