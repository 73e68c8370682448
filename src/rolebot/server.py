"""One process: the Gradio chat at /chat/, a JSON API at /api/*, the widget at /embed.js."""

from __future__ import annotations

import logging
from importlib import resources

from fastapi import FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from . import __version__, config
from .errors import QueryError, RolebotError

log = logging.getLogger("rolebot")


class Turn(BaseModel):
    role: str = Field(description="'user' or 'assistant'")
    content: str


class AskRequest(BaseModel):
    question: str = Field(max_length=100_000)
    history: list[Turn] = Field(default_factory=list, max_length=10_000)


def create_app(assistant, feedback=None, allow_origins: list[str] | None = None) -> FastAPI:
    import gradio as gr

    from .app import CSS, JS, build_demo

    allow_origins = list(allow_origins or [])
    api = FastAPI(title="rolebot", version=__version__, docs_url="/api/docs", openapi_url="/api/openapi.json")
    retriever = assistant.retriever

    if allow_origins:
        api.add_middleware(CORSMiddleware, allow_origins=allow_origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"])

    @api.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        # Who may frame the chat: only the allowed course sites, or anyone when none are set.
        ancestors = " ".join(["'self'", *allow_origins]) if allow_origins else "*"
        # img-src keeps a learner's Markdown image from making the page fetch remote URLs.
        response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}; img-src 'self' data: blob:"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @api.exception_handler(RolebotError)
    async def rolebot_error(request: Request, exc: RolebotError):
        status = 422 if isinstance(exc, QueryError) else 503
        return JSONResponse({"error": str(exc)}, status_code=status)

    @api.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/chat/")

    @api.get("/healthz")
    def healthz():
        m = retriever.manifest
        return {
            "status": "ok",
            "index_loaded": True,
            "passages": m.get("passages"),
            "documents": [d["slug"] for d in m.get("documents", [])],
            "model": m.get("model"),
            "index_type": m.get("index_type"),
            "built_at": m.get("built_at"),
            "version": __version__,
        }

    @api.get("/api/search")
    def search(
        q: str = Query(min_length=1, max_length=config.MAX_QUESTION_CHARS * 100),
        k: int = Query(5, ge=1, le=config.MAX_K),
    ):
        if not q.strip():
            raise QueryError("the query is empty: pass q=your question")
        return {"query": q, "hits": [h.to_dict() for h in retriever.search(q, k=k)]}

    @api.post("/api/ask")
    def ask(body: AskRequest):
        history = [t.model_dump() for t in body.history]
        answer = assistant.answer(body.question, history)
        if answer.kind == "not_found" and feedback is not None:
            feedback.record_not_found(answer.query or body.question, answer.confidence)
        return answer.to_dict()

    @api.get("/embed.js", include_in_schema=False)
    def embed_js():
        script = resources.files("rolebot").joinpath("static/embed.js").read_text(encoding="utf-8")
        return Response(script, media_type="application/javascript", headers={"Cache-Control": "max-age=300"})

    demo = build_demo(assistant, feedback)
    demo.queue(default_concurrency_limit=2)
    return gr.mount_gradio_app(api, demo, path="/chat", footer_links=[], show_error=False, css=CSS, js=JS)
