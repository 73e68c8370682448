"""`rolebot serve` with other concurrency settings, for the load test only:

- BENCH_QUEUE_LIMIT: the Gradio queue's default_concurrency_limit ("none" = unlimited).
  src/rolebot/server.py calls demo.queue(default_concurrency_limit=2) explicitly, and Gradio
  prefers an explicit value to GRADIO_DEFAULT_CONCURRENCY_LIMIT, so the env var cannot change it.
- BENCH_ANSWER_WORKERS: threads of the server's answer executor (rolebot.server.ANSWER_WORKERS).
- BENCH_TORCH_THREADS: torch.set_num_threads() before the model is loaded.
Unset means as shipped. Then runs the ordinary CLI.
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

LIMIT = os.environ.get("BENCH_QUEUE_LIMIT", "")
if LIMIT:
    _queue = gr.Blocks.queue

    def queue(self, *args, **kwargs):
        kwargs["default_concurrency_limit"] = None if LIMIT.lower() == "none" else int(LIMIT)
        return _queue(self, *args, **kwargs)

    gr.Blocks.queue = queue

if os.environ.get("BENCH_ANSWER_WORKERS"):
    import rolebot.server

    rolebot.server.ANSWER_WORKERS = int(os.environ["BENCH_ANSWER_WORKERS"])

if os.environ.get("BENCH_TORCH_THREADS"):
    import torch

    torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))

from rolebot.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
