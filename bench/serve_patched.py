"""`rolebot serve` with another Gradio queue limit, for the load test only.

src/rolebot/server.py calls demo.queue(default_concurrency_limit=2) explicitly, and Gradio uses an
explicit value before GRADIO_DEFAULT_CONCURRENCY_LIMIT, so the env var cannot change it. This
launcher replaces the argument with $BENCH_QUEUE_LIMIT ("none" = unlimited) and runs the CLI.
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

LIMIT = os.environ.get("BENCH_QUEUE_LIMIT", "2")
_queue = gr.Blocks.queue


def queue(self, *args, **kwargs):
    kwargs["default_concurrency_limit"] = None if LIMIT.lower() == "none" else int(LIMIT)
    return _queue(self, *args, **kwargs)


gr.Blocks.queue = queue

from rolebot.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
