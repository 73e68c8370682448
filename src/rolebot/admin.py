"""The author's console under /admin/: sign-in, the dashboard and fixes from the browser.

Only mounted when an admin token is configured (`rolebot serve --admin-token`, or
ROLEBOT_ADMIN_TOKEN); without one every /admin/ path is the app's plain 404.

Sessions are stateless, so every replica that shares the secret accepts them: the cookie is
``expiry.nonce.signature`` (HMAC-SHA256 with ROLEBOT_ADMIN_SECRET, or a key derived from the
token), HttpOnly, SameSite=Strict, Path=/admin, Secure behind https. Each form carries a CSRF
token derived from the session's nonce (the sign-in form from a short-lived pre-session
cookie), checked on every POST. The token is compared in constant time, only ever sent in a
POST body, and never logged; wrong tokens are limited per client address.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from . import dashboard
from .authoring import add_alternate, add_faq
from .errors import EditConflictError, KnowledgeError, RolebotError

log = logging.getLogger("rolebot")

SESSION_COOKIE = "rolebot_admin"
LOGIN_COOKIE = "rolebot_admin_login"
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 15 * 60  # how long a sign-in form stays usable
MAX_FAILURES = 20  # wrong tokens per client address within FAILURE_WINDOW; more are answered 429
FAILURE_WINDOW = 15 * 60.0
MIN_TOKEN_CHARS = 12
MAX_FORM = 64 * 1024


def admin_token(value: str | None = None) -> str | None:
    """The configured token (argument, else ROLEBOT_ADMIN_TOKEN), or None: no console."""
    token = value if value is not None else os.environ.get("ROLEBOT_ADMIN_TOKEN")
    if not token:
        return None
    if len(token) < MIN_TOKEN_CHARS:
        raise RolebotError(
            f"the admin token must be at least {MIN_TOKEN_CHARS} characters: make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe())'`"
        )
    return token


class Signer:
    """Signs and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, token: str, secret: str | None = None):
        self._token = token.encode()
        key = secret.encode() if secret else hmac.new(self._token, b"rolebot admin session v1", hashlib.sha256).digest()
        self._key = key

    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, seconds: int, now: float | None = None) -> str:
        body = f"{int((now or time.time()) + seconds)}.{secrets.token_urlsafe(18)}"
        return f"{body}.{self._mac(body)}"

    def nonce(self, cookie: str | None, now: float | None = None) -> str | None:
        """The nonce of a valid, unexpired cookie value, else None."""
        parts = (cookie or "").split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return None
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._mac(body)) or int(parts[0]) < (now or time.time()):
            return None
        return parts[1]

    def csrf(self, purpose: str, nonce: str) -> str:
        return self._mac(f"csrf.{purpose}.{nonce}")[:40]


class FailureLimit:
    """Wrong tokens per client address in a sliding window; bounded in memory."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW, max_clients: int = 10_000):
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._seen: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        times = self._seen.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, key: str) -> float:
        """Seconds until this client may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            return times[0] + self.window - now if len(times) >= self.limit else 0.0

    def fail(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            times.append(now)
            self._seen[key] = times
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_clients:
                self._seen.popitem(last=False)


class Console:
    """What the console needs from the running server."""

    def __init__(self, token: str, live, feedback, reloader, knowledge_dir: Path, secret: str | None = None):
        self.signer = Signer(token, secret if secret is not None else os.environ.get("ROLEBOT_ADMIN_SECRET"))
        self.live, self.feedback, self.reloader = live, feedback, reloader
        self.knowledge_dir = Path(knowledge_dir)
        self.failures = FailureLimit()


def mount(app, console: Console) -> None:
    """Add the /admin/ routes to the app."""
    app.include_router(router(console))


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(name, value, max_age=seconds, path="/admin", httponly=True, samesite="strict", secure=secure)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items()}


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def router(console: Console) -> APIRouter:
    signer = console.signer
    r = APIRouter(include_in_schema=False)

    def session(request: Request) -> str | None:
        return signer.nonce(request.cookies.get(SESSION_COOKIE))

    def signed_in(handler):
        """GET pages: to the sign-in form without a session. POST: 401 without one, 403 for a
        missing or forged CSRF token."""
        # Not functools.wraps: FastAPI would read the handler's own parameters as query fields.
        async def wrapper(request: Request):
            nonce = session(request)
            if request.method in ("GET", "HEAD"):
                if nonce is None:
                    return RedirectResponse("/admin/login", status_code=303)
                return await handler(request, nonce, {})
            if nonce is None:
                return _page(dashboard.message_page("Signed out", "Your session has ended: sign in again."), 401)
            form = await _form(request)
            if not hmac.compare_digest(form.get("csrf", ""), signer.csrf("session", nonce)):
                return _page(dashboard.message_page("Refused", "This form is out of date or did not come from this console: reload the page."), 403)
            return await handler(request, nonce, form)

        wrapper.__name__ = handler.__name__
        return wrapper

    @r.get("/admin")
    async def admin_root():
        return RedirectResponse("/admin/", status_code=303)

    @r.get("/admin/login")
    async def login_form(request: Request):
        nonce_cookie = signer.issue(LOGIN_SECONDS)
        page = _page(dashboard.login_page(signer.csrf("login", signer.nonce(nonce_cookie))))
        _cookie(page, request, LOGIN_COOKIE, nonce_cookie, LOGIN_SECONDS)
        return page

    @r.post("/admin/login")
    async def login(request: Request):
        client = _client(request)
        wait = console.failures.wait(client)
        if wait > 0:
            page = _page(dashboard.message_page("Too many attempts", f"Too many wrong tokens: try again in {int(wait) + 1} s."), 429)
            page.headers["Retry-After"] = str(int(wait) + 1)
            return page
        form = await _form(request)
        nonce = signer.nonce(request.cookies.get(LOGIN_COOKIE))
        if nonce is None or not hmac.compare_digest(form.get("csrf", ""), signer.csrf("login", nonce)):
            return _page(dashboard.message_page("Refused", "The sign-in form expired: open it again."), 403)
        if not signer.token_ok(form.get("token", "")):
            console.failures.fail(client)
            log.warning("admin sign-in with a wrong token from %s", client)  # never the token itself
            page = _page(dashboard.login_page(signer.csrf("login", nonce), "That token is not right."), 401)
            return page
        response = RedirectResponse("/admin/", status_code=303)
        _cookie(response, request, SESSION_COOKIE, signer.issue(SESSION_SECONDS), SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/admin")
        return response

    @r.post("/admin/logout")
    @signed_in
    async def logout(request: Request, nonce: str, form: dict):
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    @r.get("/admin/")
    @signed_in
    async def home(request: Request, nonce: str, form: dict):
        view = await asyncio.to_thread(dashboard.collect, console.feedback, console.live.current.retriever,
                                       console.knowledge_dir, console.reloader)
        notice = request.query_params.get("saved", "")
        return _page(dashboard.dashboard_page(view, signer.csrf("session", nonce), notice))

    @r.get("/admin/status")
    @signed_in
    async def status(request: Request, nonce: str, form: dict):
        return console.reloader.status()

    @r.get("/admin/export.csv")
    @signed_in
    async def export(request: Request, nonce: str, form: dict):
        view = await asyncio.to_thread(dashboard.collect, console.feedback, console.live.current.retriever,
                                       console.knowledge_dir, console.reloader)
        return Response(dashboard.to_csv(view), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="rolebot-report.csv"', "Cache-Control": "no-store"})

    @r.get("/admin/fix")
    @signed_in
    async def fix(request: Request, nonce: str, form: dict):
        question = " ".join(request.query_params.get("q", "").split())[:300]
        if not question:
            return RedirectResponse("/admin/", status_code=303)
        retriever = console.live.current.retriever
        found = await asyncio.to_thread(dashboard.candidates, retriever, question)
        docs = await asyncio.to_thread(dashboard.documents, console.knowledge_dir, retriever.manifest)
        return _page(dashboard.fix_page(question, found, docs, signer.csrf("session", nonce)))

    async def edit(make, done: str):
        try:
            passage = await asyncio.to_thread(make)
        except EditConflictError as exc:
            return _page(dashboard.message_page("Someone else edited this file", str(exc)), 409)
        except KnowledgeError as exc:
            return _page(dashboard.message_page("Not saved", str(exc)), 422)
        console.reloader.poke()
        return RedirectResponse(f"/admin/?saved={quote(done + ' ' + passage)}", status_code=303)

    @r.post("/admin/alternate")
    @signed_in
    async def alternate(request: Request, nonce: str, form: dict):
        passage = form.get("passage", "")
        version = form.get(f"version:{passage.partition('/')[0]}") or None
        return await edit(lambda: add_alternate(console.knowledge_dir, passage, form.get("question", ""), version),
                          "Alternate phrasing added to")

    @r.post("/admin/faq")
    @signed_in
    async def faq(request: Request, nonce: str, form: dict):
        slug = form.get("document", "")
        return await edit(lambda: add_faq(console.knowledge_dir, slug, form.get("question", ""), form.get("answer", ""),
                                          form.get(f"version:{slug}") or None), "New FAQ")

    return r
