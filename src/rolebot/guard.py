"""The front door: what every request passes before it reaches a route, the chat's included.

- Only the Gradio routes the chat page, the widget and gradio_client use are served under
  /chat/; uploads, the file proxy, streams, monitoring and the rest answer 404.
- The requests that make the server answer (/api/*, and the chat's queue join, call and run)
  count against one per-client rate limit.
- Bodies over the size limit get 413, bodies and query strings that are not UTF-8 get 400,
  HEAD is answered as GET without a body, and an unexpected error is a JSON 500 that shows
  no traceback.
- Every response carries the security headers (SecurityHeaders).
"""

from __future__ import annotations

import json
import logging
import math
import re

from .ratelimit import RateLimiter, client_address

log = logging.getLogger("rolebot")

DRAIN_MAX = 1024 * 1024  # a refused body up to this size is read (and dropped) before replying


# -- the chat's routes ------------------------------------------------------------------------
# Recorded from a browser session (page, widget, votes, suggestions, clear) and gradio_client's
# predict on both endpoints; anything else Gradio mounts is not part of this product.
CHAT_PAGES = re.compile(
    r"/chat(/|/config/?|/theme\.css|/favicon\.ico|/manifest\.json|/robots\.txt|/(assets|static|svelte)/[^\0]+"
    r"|/gradio_api/(info/?|theme\.css|heartbeat/[\w-]+|queue/(data|status)|call/(v2/)?\w+/[\w-]+|startup-events|app_id/?))?"
)
CHAT_ACTIONS = re.compile(r"/chat/gradio_api/(queue/join|call/(v2/)?\w+/?|run/\w+/?)")  # each makes the server work
CHAT_CONTROL = re.compile(r"/chat/gradio_api/(cancel|reset/?)")


def chat_route(method: str, path: str) -> str | None:
    """'action' (counted by the rate limit), 'page' (served), or None (refused)."""
    if method in ("GET", "HEAD") and CHAT_PAGES.fullmatch(path):
        return "page"
    if method == "POST" and CHAT_ACTIONS.fullmatch(path):
        return "action"
    if method == "POST" and CHAT_CONTROL.fullmatch(path):
        return "page"
    return None


# -- the guard: rate limit, body size, encoding, and no tracebacks ---------------------------
def _json_bytes(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class Guard:
    """Pure ASGI middleware in front of every route (the chat included)."""

    def __init__(self, app, limiter: RateLimiter | None, rate_text: str, api_max_body: int, chat_max_body: int,
                 chat_costly=lambda path, body: True, trusted_proxies=()):
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies
        # Whether a chat action makes the server answer (Gradio also posts cheap UI events).
        self.chat_costly = chat_costly
        self.rate_text = rate_text
        self.api_max_body = api_max_body
        self.chat_max_body = chat_max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # Monitors and load balancers probe with HEAD: answer it as the GET, without a body.
            scope = dict(scope, method="GET")
            send = _headers_only(send)
        path = scope["path"]
        is_api = path.startswith("/api/")
        chat = chat_route(scope["method"], path) if path == "/chat" or path.startswith("/chat/") else "-"
        limit = self.api_max_body if is_api else self.chat_max_body
        declared = dict((k.lower(), v) for k, v in scope.get("headers", [])).get(b"content-length")
        if chat is None:
            refusal = 404, {"error": "not found: the chat serves no such route"}, None
        else:
            refusal = self._refusal(scope, is_api, limit, declared)
        if refusal is not None:
            # Read (and drop) a modest body first: a server that answers and closes while the
            # client is still sending makes the client see a reset instead of the answer.
            if declared is None or not declared.strip().isdigit() or int(declared) <= DRAIN_MAX:
                await _drain(receive)
            await _send_json(send, *refusal)
            return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            body, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_MAX - size)
                    await _send_json(send, 413, {"error": f"the request body is larger than {limit} bytes"})
                    return
                body.append(chunk)
                if not message.get("more_body", False):
                    break
            data = b"".join(body)
            if is_api and data:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    await _send_json(send, 400, {"error": f"the request body is not valid UTF-8 (byte {exc.start}): send UTF-8 JSON"})
                    return
            if chat == "action" and self.chat_costly(path, data):
                refusal = self._rate_refusal(scope)
                if refusal is not None:
                    await _send_json(send, *refusal)
                    return
            receive = _replay(data, receive)

        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            if not started:
                await _send_json(send, 500, {"error": "internal error: the server could not handle this request; the details are in the server log"})

    def _refusal(self, scope, is_api: bool, limit: int, declared: bytes | None):
        """(status, body, headers) when the request is refused before it reaches a route."""
        if is_api and (refusal := self._rate_refusal(scope)) is not None:
            return refusal
        if is_api:
            try:
                _decode_query(scope.get("query_string", b""))
            except UnicodeDecodeError:
                return 400, {"error": "the query string is not valid UTF-8: percent-encode UTF-8 text"}, None
        if declared is not None:
            if not declared.strip().isdigit():
                return 400, {"error": "the Content-Length header is not a number"}, None
            if int(declared) > limit:
                return 413, {"error": f"the request body is larger than {limit} bytes"}, None
        return None

    def _rate_refusal(self, scope):
        if self.limiter is None:
            return None
        wait = self.limiter.take(client_address(scope, self.trusted_proxies))
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        message = f"too many requests (limit {self.rate_text} per client): try again in {seconds} s"
        return 429, {"error": message}, {"retry-after": str(seconds)}


class SecurityHeaders:
    """Sets these headers on every response. Pure ASGI: an @app.middleware("http") function
    costs ~0.5 ms a request (a task group and a body stream per call)."""

    def __init__(self, app, headers: dict[str, str], admin_headers: dict[str, str] | None = None):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._names = {k for k, _ in self.headers}
        admin = {k.lower().encode(): v.encode() for k, v in (admin_headers or {}).items()}
        self.admin = [(k, admin.get(k, v)) for k, v in self.headers]  # the same names, stricter values

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = self.admin if scope.get("path", "").startswith("/admin") else self.headers

        async def with_headers(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self._names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


def _headers_only(send):
    async def strip_body(message):
        if message["type"] == "http.response.body":
            message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
        await send(message)

    return strip_body


async def _drain(receive, budget: int = DRAIN_MAX) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _decode_query(raw: bytes) -> None:
    from urllib.parse import unquote_to_bytes

    for part in raw.split(b"&"):
        unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")


def _replay(data: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        return await receive()

    return replay


async def _send_json(send, status: int, body: dict, headers: dict | None = None) -> None:
    payload = _json_bytes(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
