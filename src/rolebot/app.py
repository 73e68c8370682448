"""The Gradio chat: cited answers with expandable sources, suggestions as buttons, votes."""

from __future__ import annotations

import html
import logging
import os
import re
import threading
from collections import OrderedDict

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from . import config  # noqa: E402
from .assistant import Assistant, message_text  # noqa: E402
from .errors import QueryError  # noqa: E402
from .query import scrub  # noqa: E402
from .records import Answer  # noqa: E402

log = logging.getLogger("rolebot")

SNIPPET_CHARS = 320
CSS = """
footer, .show-api, .built-with {display: none !important;}
.gradio-container {max-width: 900px !important; margin: auto;}
body.rolebot-compact .gradio-container {padding: 4px !important;}
body.rolebot-compact #rolebot-header {display: none;}
/* Gradio floats the chat's clear/copy toolbar over the messages, covering the top one's text:
   give it a row of its own above the scrolling messages instead. */
#chatbot > .wrapper {display: flex; flex-direction: column;}
#chatbot .top-panel {position: static !important; align-self: flex-end; margin: 2px 4px;}
#chatbot .bubble-wrap {flex: 1 1 auto; min-height: 0;}
"""
# The widget opens the chat with ?compact=1: drop the header so it fits a small panel.
JS = """
() => {
  if (new URLSearchParams(window.location.search).get('compact')) {
    document.body.classList.add('rolebot-compact');
    // Esc inside the framed chat closes the widget panel on the course page.
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && window.parent !== window) window.parent.postMessage('rolebot:close', '*');
    });
  }
}
"""


IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
NON_WEB_LINK = re.compile(r"\[([^\]]*)\]\(\s*(?!https?://)[^)]*\)", re.I)
CODE_SPAN = re.compile(r"(`+[^`\n]*?`+)")
WEB_URL = re.compile(r"https?://[^\s()<>\[\]\"'`]+", re.I)
SORRY = "Sorry, something went wrong while answering. Please try again."
BUSY = "Sorry, I'm busy right now and couldn't answer in time. Please try again in a moment."


def safe_markdown(text: str) -> str:
    """Knowledge text as it may be shown in the chat: no HTML tags (every '<' is escaped, so a
    `<script>` or `<img onerror>` in a document shows as text), no images (they would fetch
    remote URLs), and links only to http(s) addresses. The Chatbot sanitizes HTML as well."""
    text = IMAGE.sub(lambda m: m.group(1), text)
    text = NON_WEB_LINK.sub(lambda m: m.group(1), text)
    # Inside a code span Markdown shows "&lt;" literally, and a code span is never HTML anyway:
    # escape only outside them.
    parts = CODE_SPAN.split(text)
    return "".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def sources_markdown(answer: Answer) -> str:
    lines = []
    for n, hit in enumerate(answer.citations, 1):
        snippet = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
        where = f"{hit.document} › {hit.section}" if hit.document and hit.document not in hit.section else hit.section
        where = safe_markdown(where).replace("[", "\\[").replace("]", "\\]")
        if WEB_URL.fullmatch(hit.url or ""):  # only the document's declared http(s) url is linked
            where = f"[{where}]({hit.url})"
        quoted = "\n".join("> " + line for line in safe_markdown(snippet).split("\n"))
        lines.append(f"**[{n}] {where}**  \n`{hit.id.replace('`', '')}`\n\n{quoted}")
    return "\n\n".join(lines)


def to_messages(answer: Answer) -> list[gr.ChatMessage]:
    """A collapsed Sources panel (when there are citations), then the answer with its options."""
    options = [{"value": s, "label": s} for s in answer.suggestions]
    messages = []
    if answer.citations:
        messages.append(
            gr.ChatMessage(
                role="assistant",
                content=sources_markdown(answer),
                metadata={"title": f"Sources ({len(answer.citations)})", "status": "done"},
            )
        )
    messages.append(gr.ChatMessage(role="assistant", content=safe_markdown(answer.text), options=options))
    return messages


def clean_history(history) -> list[dict]:
    """The recent turns of a Gradio history as plain {role, content} text."""
    if not isinstance(history, (list, tuple)):
        return []
    turns = []
    for message in history[-2 * config.MAX_HISTORY_TURNS :]:
        if isinstance(message, dict):
            turns.append({"role": str(message.get("role", "")), "content": scrub(message_text(message.get("content", "")))})
    return turns


class ChatApp:
    """Holds the assistant and the feedback store behind the Gradio events."""

    def __init__(self, assistant: Assistant, feedback=None, recent: int = 2048, run=None):
        self.assistant = assistant
        self.feedback = feedback
        # How an answer is run: the server passes its answer threads with their time limit.
        self.run = run or (lambda fn, *args: fn(*args))
        # (session, message index) -> (question, answer, message id): a vote is filed under the
        # message it was cast on, never under another learner's identical answer text
        self._recent: OrderedDict[tuple[str, int], tuple[str, Answer, str]] = OrderedDict()
        self._recent_size = recent
        self._lock = threading.Lock()

    def respond(self, message, history, request: gr.Request = None):
        try:
            question = scrub(message_text(message))
            answer = self.run(self.assistant.answer, question, clean_history(history))
            messages = to_messages(answer)
            # The reply's messages follow the history and the learner's own message.
            first = (len(history) if isinstance(history, (list, tuple)) else 0) + 1
            self._remember(_session(request), range(first, first + len(messages)), question, answer)
        except TimeoutError:
            log.warning("a chat answer took longer than the time limit; told the learner to retry")
            return [gr.ChatMessage(role="assistant", content=BUSY)]
        except Exception:  # a learner must always get a reply; the details go to the log
            log.exception("answering failed")
            return [gr.ChatMessage(role="assistant", content=SORRY)]
        if self.feedback is not None:
            try:
                self.feedback.count_answer(answer.kind)
                if answer.kind == "not_found":
                    self.feedback.record_not_found(answer.query or question, answer.confidence)
            except Exception:  # the store logs and swallows its own failures; this is a backstop
                log.exception("recording an unanswered question failed")
        return messages

    def _remember(self, session: str, indices, question: str, answer: Answer) -> None:
        message_id = f"{session}:{indices[-1]}"
        with self._lock:
            for index in indices:
                self._recent[(session, index)] = (question, answer, message_id)
                self._recent.move_to_end((session, index))
            while len(self._recent) > self._recent_size:
                self._recent.popitem(last=False)

    def vote(self, data: gr.LikeData, request: gr.Request = None):
        """Store a like or dislike for a message this session was sent (one per message; a
        changed vote replaces it); the learner sees a warning whenever it was not saved."""
        if self.feedback is None:
            return
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        with self._lock:
            found = self._recent.get((_session(request), index)) if isinstance(index, int) else None
        if found is None:
            log.info("vote on message %r that this session was not sent by this server (restarted?); not saved", index)
            gr.Warning("Your vote could not be saved: the chat was restarted since this answer.")
            return
        question, answer, message_id = found
        try:
            saved = self.feedback.record_vote(
                question, answer.text, [c.id for c in answer.citations], answer.confidence, bool(data.liked), message_id
            )
        except Exception:  # the store logs and swallows its own failures; this is a backstop
            log.exception("saving a vote failed")
            saved = False
        if not saved:
            gr.Warning("Your vote could not be saved right now.")

    def search(self, query: str, k: float = 5) -> list[dict]:
        """Plain retrieval as an API endpoint: the Hit fields for the best passages."""
        try:
            n = int(k)
            if n != k:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise gr.Error(f"k must be a whole number from 1 to {config.MAX_K}") from None
        try:
            return [h.to_dict() for h in self.assistant.retriever.search(scrub(str(query or "")), k=n)]
        except QueryError as exc:
            raise gr.Error(str(exc)) from None


def _session(request) -> str:
    # In-process calls (tests, the Python API) have no request: they share one session.
    return str(getattr(request, "session_hash", None) or "-")


def build_demo(assistant: Assistant, feedback=None, run=None) -> gr.Blocks:
    chat = ChatApp(assistant, feedback, run=run)
    examples = assistant.replies.starters[:2] + ["What tools do ML engineers use?", "MLE vs DS skills?"]
    title = assistant.title
    # delete_cache: (every hour, files older than an hour) — the chat stores nothing there.
    with gr.Blocks(title="rolebot", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            f"## rolebot\nAnswers about **{html.escape(title)}**, quoted from the article with numbered sources. "
            "If the article doesn't cover something, it says so.",
            elem_id="rolebot-header",
        )
        chatbot = gr.Chatbot(
            elem_id="chatbot",
            show_label=False,
            buttons=["copy", "copy_all"],
            height=520,
            sanitize_html=True,
            allow_tags=False,
            placeholder="Ask about the two roles: what they do, skills, tools, which suits you.",
        )
        gr.ChatInterface(
            chat.respond,
            chatbot=chatbot,
            textbox=gr.Textbox(elem_id="msg", placeholder="Type a question…", submit_btn=True, lines=1, max_lines=4),
            examples=examples,
            api_name="chat",
        )
        chatbot.like(chat.vote, None, None, api_visibility="private")
        gr.api(chat.search, api_name="search")
    demo.rolebot_chat = chat
    return demo
