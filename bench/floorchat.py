"""The Gradio floor: a chat that answers nothing, served the way `rolebot serve` serves its chat.

A ChatInterface whose handler returns its input, with rolebot's queue settings, mounted at
/chat/ in FastAPI beside a POST /api/ask that returns a fixed JSON reply. The load test runs
against it exactly as against rolebot: what it measures is what Gradio, uvicorn and the load
generator (gradio_client) cost on this machine with no answering at all.

    python floorchat.py PORT
"""

from __future__ import annotations

import os
import sys

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def app():
    import gradio as gr
    from fastapi import FastAPI

    from rolebot import chatmount
    from rolebot.server import CHAT_CONCURRENCY, DEFAULT_QUEUE_SIZE

    api = FastAPI()

    @api.post("/api/ask")
    def ask(body: dict):
        return {"kind": "answer", "text": str(body.get("question", "")), "citations": []}

    demo = gr.ChatInterface(lambda message, history: message, api_name="chat")
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=DEFAULT_QUEUE_SIZE)
    return gr.mount_gradio_app(api, demo, path=chatmount.PATH, footer_links=[])


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
