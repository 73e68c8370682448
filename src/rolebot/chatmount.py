"""Mounting the Gradio chat at /chat/: at once, or after the server has started.

`import gradio` alone takes 4-5 s on two cores, most of a server's start. With ``later`` the
API, /healthz and /embed.js answer as soon as the index is loaded, while a background thread
imports Gradio and builds the chat; a request for /chat/ that arrives meanwhile waits for it
(up to ``wait`` seconds, then 503 JSON "still starting"). If the chat cannot be built, /chat/
answers 503 with the reason in the log, and the API goes on answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Mount

from .memory import release_free_memory

log = logging.getLogger("rolebot")

PATH = "/chat"
DEFAULT_WAIT = 60.0  # a cold start on a loaded 2-core machine has taken up to ~25 s


def mount_now(api: FastAPI, make_chat) -> FastAPI:
    """Build the chat and mount it before the server starts (tests, and embedding rolebot's app)."""
    make_chat(api)
    api.state.chat_status = lambda: "ready"
    return api


def mount_later(api: FastAPI, make_chat, wait: float = DEFAULT_WAIT) -> FastAPI:
    """Mount a stand-in at /chat/ now; build the real chat once the server is up."""
    deferred = DeferredChat(make_chat, api, wait)
    api.mount(PATH, deferred)
    api.state.chat_status = deferred.status
    outer = api.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with outer(app) as state:
            task = asyncio.create_task(deferred.run())
            try:
                yield state
            finally:
                deferred.stopping.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)

    api.router.lifespan_context = lifespan
    return api


class DeferredChat:
    """ASGI stand-in for the chat: forwards to Gradio's app once it is built and started."""

    def __init__(self, make_chat, api: FastAPI, wait: float):
        self.make_chat, self.api, self.wait = make_chat, api, wait
        self.app = None
        self.failed: str | None = None
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()

    def status(self) -> str:
        return "failed" if self.failed else "ready" if self.ready.is_set() else "starting"

    def _build(self):
        """In a thread: import Gradio, build the chat, mount it on a private parent app (which
        carries the API's middleware list, so Gradio sees that CORS is configured there)."""
        parent = FastAPI()
        parent.user_middleware = list(self.api.user_middleware)
        self.make_chat(parent)
        mounted = next(r.app for r in parent.routes if isinstance(r, Mount) and r.path == PATH)
        return parent, mounted

    async def run(self) -> None:
        try:
            parent, mounted = await asyncio.to_thread(self._build)
            # Gradio's queue and startup events live in its lifespan: held open until shutdown,
            # in this one task (its cancel scopes must be entered and left by the same task).
            async with parent.router.lifespan_context(parent):
                self.app = mounted
                self.ready.set()
                release_free_memory()  # what building the chat allocated and dropped
                await self.stopping.wait()
        except Exception as exc:  # the API keeps answering; the chat says it is unavailable
            log.exception("the chat could not be started")
            self.failed = f"{type(exc).__name__}"
            self.ready.set()

    async def __call__(self, scope, receive, send) -> None:
        if not self.ready.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.ready.wait(), self.wait)
        if self.app is None or self.failed:
            if scope["type"] != "http":
                return
            message = ("the chat is unavailable on this server (see its log); the API at /api/ask still answers"
                       if self.failed else "the chat is still starting: try again in a few seconds")
            await JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "5"})(scope, receive, send)
            return
        await self.app(scope, receive, send)
