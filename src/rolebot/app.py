"""The Gradio chat: cited answers with expandable sources, suggestions as buttons, votes."""

from __future__ import annotations

import html
import logging
import os
from collections import OrderedDict

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from .assistant import Assistant, message_text  # noqa: E402
from .records import Answer  # noqa: E402

log = logging.getLogger("rolebot")

SNIPPET_CHARS = 320
CSS = """
footer, .show-api, .built-with {display: none !important;}
.gradio-container {max-width: 900px !important; margin: auto;}
body.rolebot-compact .gradio-container {padding: 4px !important;}
body.rolebot-compact #rolebot-header {display: none;}
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


def sources_markdown(answer: Answer) -> str:
    lines = []
    for n, hit in enumerate(answer.citations, 1):
        snippet = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
        where = f"{hit.document} › {hit.section}" if hit.document and hit.document not in hit.section else hit.section
        if hit.url.startswith(("https://", "http://")):
            where = f"[{where}]({hit.url})"
        quoted = "\n".join("> " + line for line in snippet.split("\n"))
        lines.append(f"**[{n}] {where}**  \n`{hit.id}`\n\n{quoted}")
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
    messages.append(gr.ChatMessage(role="assistant", content=answer.text, options=options))
    return messages


class ChatApp:
    """Holds the assistant and the feedback store behind the Gradio events."""

    def __init__(self, assistant: Assistant, feedback=None, recent: int = 2048):
        self.assistant = assistant
        self.feedback = feedback
        self._recent: OrderedDict[str, tuple[str, Answer]] = OrderedDict()  # answer text -> (question, answer)
        self._recent_size = recent

    def respond(self, message, history):
        try:
            question = message_text(message)
            answer = self.assistant.answer(question, history)
        except Exception:  # a learner must always get a reply; the details go to the log
            log.exception("answering failed")
            return [gr.ChatMessage(role="assistant", content="Sorry, something went wrong while answering. Please try again.")]
        self._remember(question, answer)
        if answer.kind == "not_found" and self.feedback is not None:
            self.feedback.record_not_found(answer.query or question, answer.confidence)
        return to_messages(answer)

    def _remember(self, question: str, answer: Answer) -> None:
        self._recent[answer.text] = (question, answer)
        while len(self._recent) > self._recent_size:
            self._recent.popitem(last=False)

    def vote(self, data: gr.LikeData):
        if self.feedback is None:
            return
        values = data.value if isinstance(data.value, list) else [data.value]
        texts = [message_text(v) for v in values]
        for text in texts:
            if text in self._recent:
                question, answer = self._recent[text]
                saved = self.feedback.record_vote(
                    question, answer.text, [c.id for c in answer.citations], answer.confidence, bool(data.liked)
                )
                if not saved:
                    gr.Warning("Your vote could not be saved right now.")
                return
        log.info("vote on a message this server did not answer (restarted?); not saved: %r", texts)

    def search(self, query: str, k: float = 5) -> list[dict]:
        """Plain retrieval as an API endpoint: the Hit fields for the best passages."""
        return [h.to_dict() for h in self.assistant.retriever.search(query, k=int(k))]


def build_demo(assistant: Assistant, feedback=None) -> gr.Blocks:
    chat = ChatApp(assistant, feedback)
    examples = assistant._starter_questions()[:2] + ["What tools do ML engineers use?", "MLE vs DS skills?"]
    title = assistant.title
    with gr.Blocks(title="rolebot", analytics_enabled=False) as demo:
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
