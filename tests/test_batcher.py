"""Concurrent queries share one encoder call; a lone query never waits."""

import threading
import time

import numpy as np
import pytest

from rolebot.embedding import Embedder
from rolebot.embedding.base import Encoder
from rolebot.embedding.batcher import MicroBatcher


class SlowEncoder(Encoder):
    """Each text becomes a one-hot row by its number; every call takes `delay` seconds."""

    name, backend, dim, identity = "slow", "fake", 16, "slow|fake|0"

    def __init__(self, delay=0.03):
        self.delay, self.calls, self.sizes = delay, 0, []

    def encode(self, texts, batch_size=64):
        self.calls += 1
        self.sizes.append(len(texts))
        time.sleep(self.delay)
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for i, t in enumerate(texts):
            out[i, int(t.split()[-1]) % self.dim] = 1.0
        return out

    def vocabulary(self):
        return {}


def run_together(fn, n):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results, errors


def test_concurrent_callers_are_encoded_in_fewer_calls_and_get_their_own_rows():
    enc = SlowEncoder()
    batcher = MicroBatcher(enc.encode)
    results, errors = run_together(lambda i: batcher([f"query {i}", f"again {i + 8}"]), 8)
    assert not errors
    for i, rows in enumerate(results):
        assert rows.shape == (2, 16) and rows[0].argmax() == i and rows[1].argmax() == i + 8
    assert enc.calls < 8 and batcher.calls == enc.calls
    assert max(enc.sizes) > 2  # at least one call carried several callers' texts


def test_a_lone_query_runs_at_once():
    enc = SlowEncoder(delay=0)
    batcher = MicroBatcher(enc.encode, max_wait=0.5)  # a wait, if there were one, would show
    started = time.perf_counter()
    rows = batcher(["query 3"])
    assert time.perf_counter() - started < 0.1
    assert rows[0].argmax() == 3 and enc.calls == 1


def test_a_failure_reaches_every_caller_in_the_batch():
    def broken(texts):
        time.sleep(0.02)
        raise RuntimeError("encoder broke")

    batcher = MicroBatcher(broken)
    results, errors = run_together(lambda i: batcher([f"q {i}"]), 4)
    assert len(errors) == 4 and all("encoder broke" in str(e) for e in errors)
    with pytest.raises(RuntimeError):
        batcher(["q 1"])  # and the batcher is still usable afterwards


def test_embedder_batches_concurrent_queries_and_still_caches():
    enc = SlowEncoder()
    embedder = Embedder(encoder=enc)
    results, errors = run_together(lambda i: embedder.encode_queries([f"Question {i}"]), 6)
    assert not errors and enc.calls < 6
    assert [r[0].argmax() for r in results] == list(range(6))
    calls = enc.calls
    assert embedder.encode_queries(["question  3"])[0].argmax() == 3 and enc.calls == calls  # from the LRU cache
