"""The emulator's HTTP request handler: reads a request, applies any injected fault, hands
`/api/` requests to the API routes (token check and rate limit first) and the rest to the
authority, logs API requests, and writes the answer."""

from __future__ import annotations

import email.policy
import json
import socket
import ssl
import time
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mdepack.emulator.api import CONTENT_TYPE, ApiFailure, Reply, error_reply, graph_error_reply
from mdepack.emulator.authority import AUDIENCE, GRAPH_AUDIENCE
from mdepack.emulator.faults import Fault

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

FAULT_CODES = {
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    400: "BadRequest",
}


class Handler(BaseHTTPRequestHandler):
    """One connection to the emulator; `server.emulator` is the emulator it serves."""

    protocol_version = "HTTP/1.1"
    server_version = "mdepack-emulator"
    timeout = 30

    @property
    def emulator(self) -> Emulator:
        """The emulator this server belongs to."""
        return self.server.emulator  # type: ignore[attr-defined,no-any-return]

    def setup(self) -> None:
        """Disable Nagle's algorithm and finish the TLS handshake on this thread."""
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK stall every answer by about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log replaces stderr chatter."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve("POST")

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        """Serve a PATCH."""
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        emulator = self.emulator
        split = urlsplit(self.path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fault = emulator.faults.pick(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # real time: the client's socket timeouts are real
        if fault is not None and fault.drop:
            self.close_connection = True
            return
        if path.startswith(("/api/", "/v1.0/")):
            reply, body, client_id = self._api(method, path, query, raw, fault)
            emulator.log_request(method, path, query, body, reply.status, client_id)
        elif fault is not None and fault.status:
            reply = error_reply(fault_failure(fault))
        elif path.startswith("/liveresponse/") and method == "GET":
            reply = emulator.serve_download(path, self.headers.get("Authorization"))
        else:
            form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
            reply = emulator.token_authority.serve(method, path, query, form, self.headers)
        if fault is not None and fault.drop_after:
            self.close_connection = True
            return
        self._send(reply, fault)

    def _api(
        self, method: str, path: str, query: dict[str, str], raw: bytes, fault: Fault | None
    ) -> tuple[Reply, Any, str | None]:
        emulator = self.emulator
        body: Any = None
        client_id = None
        graph = path.startswith("/v1.0/")  # Microsoft Graph: its audience, budget, error shape
        try:
            if raw and self.headers.get("Content-Type", "").startswith("multipart/form-data"):
                body = form_parts(self.headers["Content-Type"], raw)
            elif raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise ApiFailure(
                        400, "InvalidRequestBody", "The request body is not valid JSON."
                    ) from None
            if fault is not None and fault.status and fault.reply is None:
                raise fault_failure(fault)
            audience = GRAPH_AUDIENCE if graph else AUDIENCE
            claims = emulator.token_authority.claims(self.headers.get("Authorization"), audience)
            client_id = claims.get("appid")
            limiter = emulator.graph_limiter if graph else emulator.limiter
            wait = limiter.admit(f"{claims.get('tid')}+{client_id}")
            if wait is not None:
                raise limiter.quota_failure(wait)
            reply = emulator.handle_api(method, path, query, body, claims)
            if fault is not None and fault.reply is not None:
                reply = Reply(fault.status or 200, fault.reply)
        except ApiFailure as failure:
            reply = (
                graph_error_reply(failure, emulator.clock.time()) if graph else error_reply(failure)
            )
        reply.headers.setdefault("Content-Type", CONTENT_TYPE)
        reply.headers.setdefault("OData-Version", "4.0")
        return reply, body, client_id

    def _send(self, reply: Reply, fault: Fault | None) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if fault is not None and fault.trickle:
            self.wfile.flush()
            self.close_connection = True
            try:
                for index in range(len(reply.body)):
                    time.sleep(fault.trickle)
                    self.wfile.write(reply.body[index : index + 1])
                    self.wfile.flush()
            except OSError:
                pass  # the client gave up, as it should
            return
        if fault is not None and fault.truncate:
            self.wfile.write(reply.body[: max(1, len(reply.body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            return
        try:
            self.wfile.write(reply.body)
        except OSError:  # the client stopped reading (an answer over its size cap): its choice
            self.close_connection = True


def form_parts(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body: each field's text, or (file name, bytes) for a file part."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    if not message.is_multipart():
        raise ApiFailure(400, "InvalidRequestBody", "The form could not be read.")
    parts: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        file_name = part.get_filename()
        parts[name] = (file_name, payload) if file_name is not None else payload.decode()
    return parts


def fault_failure(fault: Fault) -> ApiFailure:
    """The error answer an injected fault gives."""
    status = fault.status or 500
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    if status == 429 and fault.body is None:
        message = fault.message or (
            "API calls quota exceeded! Maximum allowed 100 per 00:01:00 for the key "
            "Destination+TenantID+AppID. You can send requests again in 8 seconds."
        )
        return ApiFailure(429, "429", message, headers)
    return ApiFailure(
        status,
        FAULT_CODES.get(status, str(status)),
        fault.message or f"Injected fault {status}.",
        headers,
        fault.body,
    )
