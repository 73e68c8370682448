"""One process: the Gradio chat at /chat/, a JSON API at /api/*, the widget at /embed.js.

Limits, each set by an argument of create_app or else by an environment variable:

- ``rate_limit`` / ``ROLEBOT_RATE_LIMIT``: requests per client IP to /api/*, e.g. "60/minute"
  (the default) or "off". Over it: 429 JSON with a Retry-After header. Counted in memory, or in
  Redis shared by every replica with ``redis_url`` / ``ROLEBOT_REDIS_URL`` (see ratelimit.py).
- ``trusted_proxies`` / ``ROLEBOT_TRUSTED_PROXY``: load balancers whose X-Forwarded-For names
  the client; without them the connection's peer address is the client.
- ``max_body`` / ``ROLEBOT_MAX_BODY``: bytes of a request body to /api/* (64 KiB). Over it: 413
  JSON. The chat's own requests may be up to 256 KiB (its history is sent back each turn).
- ``ask_timeout`` / ``ROLEBOT_ASK_TIMEOUT``: seconds one answer or search may take (10), on the
  API and in the chat alike. Over it: 503 JSON with Retry-After (the chat says it is busy).
- ``ROLEBOT_QUEUE_SIZE``: chat requests that may wait in Gradio's queue (64); more are refused.
- ``ROLEBOT_ANSWER_THREADS``: threads answering /api/* and chat questions (8); the encoder's own
  threads are ``ROLEBOT_ONNX_THREADS`` (config.py).

The chat's own routes under /chat/ pass the same guard: the requests that make the server
answer (queue join, call, run) count against the same per-client rate limit as /api/*, and
only the Gradio routes the chat page, the widget and gradio_client use are served at all —
uploads, the file proxy, streams, monitoring and the rest answer 404.

Every error is JSON with an "error" field and never shows a traceback or a file path; the
details go to the log (stderr).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__, chatmount, config
from .errors import QueryError, RolebotError
from .ratelimit import RateLimiter, client_address, parse_proxies, parse_rate
from .reload import LiveAssistant, build_id

log = logging.getLogger("rolebot")

DEFAULT_RATE_LIMIT = "60/minute"
DEFAULT_MAX_BODY = 64 * 1024
CHAT_MAX_BODY = 256 * 1024
DEFAULT_QUEUE_SIZE = 64
DEFAULT_ASK_TIMEOUT = 10.0
# Answer threads. Answers are CPU-bound, but concurrent ones are encoded together by the
# micro-batcher, so more waiting threads make bigger, cheaper batches: 50 closed-loop users on
# 2 cores, 15 s each, gave 120 / 128 / 138 answers/s and p95 1019 / 783 / 713 ms with 4 / 8 / 16.
ANSWER_WORKERS = 8
MAX_HISTORY = 1000  # turns accepted over HTTP; only the last config.MAX_HISTORY_TURNS are read
DRAIN_MAX = 1024 * 1024  # a refused body up to this size is read (and dropped) before replying
SURROGATES = re.compile("[\ud800-\udfff]")


class Turn(BaseModel):
    """One earlier message. Extra keys (metadata, options, …) are ignored, so a client may
    send back the messages it was given."""

    model_config = ConfigDict(extra="ignore")
    role: str = Field(max_length=32, description="'user' or 'assistant'; other roles (e.g. 'system') are accepted and ignored")
    content: str = Field(description="the message text")


class AskRequest(BaseModel):
    question: str = Field(
        max_length=100_000,
        description=f"the question; only the first {config.MAX_QUESTION_CHARS} characters are read (the answer says so)",
    )
    history: list[Turn] | None = Field(
        default=None,
        max_length=MAX_HISTORY,
        description=f"the conversation so far, oldest first (at most {MAX_HISTORY} turns; "
        f"the last {config.MAX_HISTORY_TURNS} are read to resolve follow-ups)",
    )


class AnswerTimeout(Exception):
    pass


def scrub(text: str) -> str:
    """Lone surrogates (legal in JSON escapes, not in UTF-8) become U+FFFD: the tokenizer,
    SQLite and the JSON encoder all reject them."""
    return SURROGATES.sub("\ufffd", text)


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


def _setting(value, env: str, default, kind):
    """An argument of create_app, else its environment variable, else the default: a number > 0."""
    if value is None:
        value = os.environ.get(env) or default
    try:
        number = kind(value)
        if not number > 0 or number == float("inf"):
            raise ValueError
        return number
    except (TypeError, ValueError, OverflowError):
        raise RolebotError(f"{env} must be a number above 0, not {value!r}") from None


# -- the app --------------------------------------------------------------------------------
def create_app(
    assistant,
    feedback=None,
    allow_origins: list[str] | None = None,
    rate_limit: str | None = None,
    max_body: int | None = None,
    ask_timeout: float | None = None,
    redis_url: str | None = None,
    trusted_proxies: list[str] | str | None = None,
    chat_later: bool = False,
) -> FastAPI:
    """The whole service as one ASGI app. With ``chat_later`` (what `rolebot serve` does) the
    chat is built after the server starts, so the API answers without waiting for Gradio."""
    allow_origins = list(allow_origins or [])
    rate_text = str(rate_limit if rate_limit is not None else os.environ.get("ROLEBOT_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    rate = parse_rate(rate_text)
    max_body = _setting(max_body, "ROLEBOT_MAX_BODY", DEFAULT_MAX_BODY, int)
    ask_timeout = _setting(ask_timeout, "ROLEBOT_ASK_TIMEOUT", DEFAULT_ASK_TIMEOUT, float)
    queue_size = _setting(None, "ROLEBOT_QUEUE_SIZE", DEFAULT_QUEUE_SIZE, int)
    workers = _setting(None, "ROLEBOT_ANSWER_THREADS", ANSWER_WORKERS, int)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rolebot-answer")

    api = FastAPI(title="rolebot", version=__version__, docs_url="/api/docs", openapi_url="/api/openapi.json")
    # Requests read the assistant through `live`, so a reload swaps it between requests only.
    live = assistant if isinstance(assistant, LiveAssistant) else LiveAssistant(assistant)
    api.state.live = live
    redis_url = redis_url if redis_url is not None else os.environ.get("ROLEBOT_REDIS_URL") or None
    trusted = parse_proxies(trusted_proxies if trusted_proxies is not None else os.environ.get("ROLEBOT_TRUSTED_PROXY", ""))
    api.state.limiter = RateLimiter(*rate, redis_url=redis_url) if rate else None
    api.state.limits = {"rate_limit": rate_text if rate else "off", "max_body": max_body, "ask_timeout": ask_timeout,
                        "queue_size": queue_size}

    costly: dict = {}  # filled once the chat is built: its answering events by fn_index and api name

    def chat_costly(path: str, body: bytes) -> bool:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if not costly:
            return True  # the chat is still being built: the request will wait for it, and count
        if "/gradio_api/call/" in path:
            return name in costly["names"]
        try:
            fn = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return True  # unreadable: Gradio will refuse it, but it still counts
        return fn is None or fn in costly["fns"] or name in costly["names"]

    # Added first = innermost: CORS and the security headers also wrap the guard's own replies.
    api.add_middleware(
        Guard, limiter=api.state.limiter, rate_text=rate_text, api_max_body=max_body,
        chat_max_body=max(CHAT_MAX_BODY, max_body), chat_costly=chat_costly, trusted_proxies=trusted,
    )
    if allow_origins:
        api.add_middleware(CORSMiddleware, allow_origins=allow_origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"])

    # Who may frame the chat: only the allowed course sites, or anyone when none are set; the
    # author's console never.
    ancestors = " ".join(["'self'", *allow_origins]) if allow_origins else "*"
    # img-src keeps a learner's Markdown image from making the page fetch remote URLs.
    api.add_middleware(SecurityHeaders, headers={
        "Content-Security-Policy": f"frame-ancestors {ancestors}; img-src 'self' data: blob:",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
        admin_headers={"Content-Security-Policy": "frame-ancestors 'none'; img-src 'self' data: blob:"})

    @api.exception_handler(RolebotError)
    async def rolebot_error(request: Request, exc: RolebotError):
        status = 422 if isinstance(exc, QueryError) else 503
        return JSONResponse({"error": str(exc)}, status_code=status)

    @api.exception_handler(AnswerTimeout)
    async def answer_timeout(request: Request, exc: AnswerTimeout):
        return JSONResponse(
            {"error": f"the answer took longer than {ask_timeout:g} s: the server is busy, try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # Name the field and the problem; never echo the input back.
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        def where(p):
            if p["type"] == "json_invalid":
                return "body (not valid JSON)"
            return ".".join(p["loc"][1:]) or (p["loc"][0] if p["loc"] else "request")

        summary = "; ".join(f"{where(p)}: {p['msg']}" for p in problems[:3])
        return JSONResponse({"error": f"invalid request: {summary}", "detail": problems}, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail), "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def in_worker(fn, *args):
        """Run a blocking call on the answer threads, for at most ask_timeout seconds. A call
        still waiting for a thread is cancelled; one already running finishes unobserved."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(executor, functools.partial(fn, *args)), ask_timeout)
        except asyncio.TimeoutError:
            log.warning("%s took longer than %g s; answered 503", getattr(fn, "__name__", "call"), ask_timeout)
            raise AnswerTimeout() from None

    @api.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/chat/")

    @api.get("/healthz")
    def healthz():
        """Readiness: 503 while the chat is still being built (the first seconds of `rolebot
        serve`; /api/* already answers), so a load balancer sends a replica traffic only once
        every route is up. A chat that failed to build leaves the API serving: 200, "degraded"."""
        retriever = live.current.retriever
        m = retriever.manifest
        chat = api.state.chat_status()
        body = {
            "status": {"ready": "ok", "starting": "starting", "failed": "degraded"}[chat],
            "index_loaded": True,
            "chat": chat,
            "build": build_id(retriever),
            "passages": m.get("passages"),
            "documents": [d["slug"] for d in m.get("documents", [])],
            "model": m.get("model"),
            "index_type": m.get("index_type"),
            "built_at": m.get("built_at"),
            "version": __version__,
        }
        return JSONResponse(body, status_code=503 if chat == "starting" else 200,
                            headers={"Retry-After": "2"} if chat == "starting" else None)

    def run_search(q: str, k: int) -> JSONResponse:
        retriever = live.current.retriever
        hits = [h.to_dict() for h in retriever.search(q, k=k)]
        return JSONResponse({"query": q, "hits": hits}, headers={"X-Rolebot-Build": build_id(retriever)})

    @api.get("/api/search")
    async def search(
        q: str = Query(min_length=1, max_length=config.MAX_QUESTION_CHARS * 100),
        k: int = Query(5, ge=1, le=config.MAX_K),
    ):
        q = scrub(q)
        if not q.strip():
            raise QueryError("the query is empty: pass q=your question")
        return await in_worker(run_search, q, k)

    def run_ask(question: str, history: list[dict]) -> JSONResponse:
        bot = live.current  # the whole answer comes from this one index build, even across a reload
        answer = bot.answer(question, history)
        if feedback is not None:
            feedback.count_answer(answer.kind)  # never raises
            if answer.kind == "not_found":
                feedback.record_not_found(answer.query or question, answer.confidence)  # never raises
        return JSONResponse(answer.to_dict(), headers={"X-Rolebot-Build": build_id(bot.retriever)})

    @api.post("/api/ask")
    async def ask(body: AskRequest):
        # Only the recent turns matter; unknown roles are kept and ignored by the assistant.
        turns = (body.history or [])[-2 * config.MAX_HISTORY_TURNS :]
        history = [{"role": t.role, "content": scrub(t.content)} for t in turns]
        # A ready JSONResponse (made in run_ask) skips FastAPI's jsonable_encoder walk (~0.35 ms).
        return await in_worker(run_ask, scrub(body.question), history)

    script = resources.files("rolebot").joinpath("static/embed.js").read_text(encoding="utf-8")  # once, not per request

    @api.get("/embed.js", include_in_schema=False)
    def embed_js():
        return Response(script, media_type="application/javascript", headers={"Cache-Control": "max-age=300"})

    def run_chat(fn, *args):
        """The chat's answers run on the same threads and under the same time limit as /api/ask."""
        return executor.submit(fn, *args).result(timeout=ask_timeout)

    def make_chat(parent: FastAPI) -> None:
        import gradio as gr

        from .app import CSS, JS, build_demo

        demo = build_demo(live, feedback, run=run_chat)
        demo.queue(default_concurrency_limit=2, max_size=queue_size)
        chat = demo.rolebot_chat
        # ChatInterface wraps respond (functools.wraps), so look through __wrapped__ as well.
        fns = {i for i, f in demo.fns.items()
               if chat in (getattr(f.fn, "__self__", None), getattr(getattr(f.fn, "__wrapped__", None), "__self__", None))}
        costly.update(fns=fns, names={demo.fns[i].api_name for i in fns})
        api.state.chat = chat
        # The chat takes no files: uploads are refused by the guard, and Gradio's cache is bounded
        # and swept anyway in case a future component writes to it.
        gr.mount_gradio_app(parent, demo, path=chatmount.PATH, footer_links=[], show_error=False, css=CSS, js=JS,
                            max_file_size=1)

    if chat_later:
        return chatmount.mount_later(api, make_chat)
    return chatmount.mount_now(api, make_chat)
