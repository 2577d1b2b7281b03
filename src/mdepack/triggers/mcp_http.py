"""`mdepack mcp --http HOST:PORT`: the MCP server on the streamable-HTTP transport, loopback only.

A browser page can reach a loopback port, and a DNS name can be re-pointed at 127.0.0.1 (DNS
rebinding), so every request must prove it is meant for this server:

- HOST is a canonical loopback spelling (`127.a.b.c`, `localhost`, `::1`); `LOCALHOST`, `127.1`
  or `0:0:0:0:0:0:0:1` are refused, since a check that compares strings would miss them.
- The SDK's Host and Origin checks are switched on for the bound host and port, whatever the
  address (the SDK does it by itself only for 127.0.0.1, localhost and ::1).
- Each request carries `Authorization: Bearer TOKEN`: MDE_MCP_TOKEN when set, otherwise a token
  made at start and printed on stderr with the URL.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from mdepack.errors import InputError
from mdepack.redact import register_secret

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]
_DOTTED = re.compile(r"^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


def loopback_address(address: str) -> tuple[str, int]:
    """(host, port) of HOST:PORT, or InputError unless HOST is a canonical loopback spelling."""
    host, _, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    canonical = host == "localhost" or bool(_DOTTED.match(host)) or (bracketed and host == "::1")
    if not canonical or not port.isdigit() or int(port) > 65535:
        raise InputError(
            f"--http: {address!r} must be a loopback HOST:PORT written canonically, such as "
            "127.0.0.1:8765, localhost:8765 or [::1]:8765 (PORT 0 takes a free one)",
            field="--http",
            rule="a canonical loopback address",
        )
    return host, int(port)


def bearer(app: Asgi, token: str) -> Asgi:
    """`app` behind a bearer-token check: anything else is 401."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="mdepack"'),
                        ],
                    }
                )
                body = b'{"error":{"type":"AuthError","message":"a bearer token is required"}}'
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded


def serve(address: str, allow_writes: bool = False, only: Iterable[str] | None = None) -> None:
    """Serve the streamable-HTTP transport on a loopback HOST:PORT until interrupted."""
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    from mdepack.triggers.mcp_server import server

    host, port = loopback_address(address)
    family = socket.AF_INET6 if host == "::1" else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise InputError(
            f"--http: cannot listen on {address}: {error.strerror}; use PORT 0 for a free one",
            field="--http",
            rule="a free port",
        ) from None
    listener.listen(128)  # connections wait in the backlog until the server takes them
    port = listener.getsockname()[1]
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[hostport],
        allowed_origins=[f"http://{hostport}"],
    )
    token = os.environ.get("MDE_MCP_TOKEN") or secrets.token_urlsafe(32)
    app = server(allow_writes, only).streamable_http_app(host=host, transport_security=security)
    sys.stderr.write(f"mdepack mcp: serving http://{hostport}/mcp\n")
    if os.environ.get("MDE_MCP_TOKEN"):
        sys.stderr.write("  clients send Authorization: Bearer $MDE_MCP_TOKEN\n")
    else:
        sys.stderr.write(f"  clients send Authorization: Bearer {token}\n")
    sys.stderr.flush()
    register_secret(token)  # printed once, above, for the operator; never in a log after
    config = uvicorn.Config(bearer(app, token), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[listener])
