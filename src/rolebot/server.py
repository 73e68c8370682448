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

The chat's own routes under /chat/ pass the same guard (guard.py): the requests that make the server
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
import os
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
from .guard import Guard, SecurityHeaders
from .query import scrub
from .ratelimit import RateLimiter, parse_proxies, parse_rate
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
# Chat events Gradio's queue runs at once. Eight were measured in the tenth session: they took
# more from /api/ask than they gave the chat. The bench's no-op chat (bench/floorchat.py) runs
# with the same limit, so the chat's figures are read against what Gradio alone allows.
CHAT_CONCURRENCY = 2
MAX_HISTORY = 1000  # turns accepted over HTTP; only the last config.MAX_HISTORY_TURNS are read


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


def _answer_errors_in_json(api: FastAPI, ask_timeout: float) -> None:
    """Every error the routes raise becomes JSON with an "error" field, never a traceback."""

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

    _answer_errors_in_json(api, ask_timeout)

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
        demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=queue_size)
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
