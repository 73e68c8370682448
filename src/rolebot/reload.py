"""Live reload: the serving assistant is replaced whole when a new index build appears.

A request takes ``LiveAssistant.current`` once and is answered wholly by that assistant (its
retriever, index and encoder), so no request ever mixes two builds; a swap is one attribute
assignment. The Reloader polls cheaply (the CURRENT pointer and the knowledge files' hash,
every ``interval`` seconds): a new CURRENT (from `rolebot build`, `add` or another replica)
is loaded and swapped in; changed knowledge (a hand edit, an edit from the dashboard) is
rebuilt in the background first, under the index's build lock. A failed build or load leaves
the old index serving and is kept as the last result, with its error, for the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from . import config
from . import index as index_mod
from .errors import RolebotError
from .knowledge import content_hash

log = logging.getLogger("rolebot")

DEFAULT_INTERVAL = 1.0


def build_id(retriever) -> str:
    """The build folder's name: what /healthz and `ask --json` report, unique per build."""
    return Path(retriever.data.path).name


class LiveAssistant:
    """Stands in for an Assistant; each attribute is read from the one current at that moment."""

    def __init__(self, assistant):
        self._current = assistant

    @property
    def current(self):
        return self._current

    def swap(self, assistant) -> None:
        self._current = assistant

    def __getattr__(self, name):
        return getattr(self._current, name)


class Reloader:
    def __init__(self, live: LiveAssistant, knowledge_dir: Path, index_dir: Path, interval: float = DEFAULT_INTERVAL):
        self.live = live
        self.knowledge_dir, self.index_dir = Path(knowledge_dir), Path(index_dir)
        self.interval = interval
        self.building = False
        self.build_started = 0.0
        self.last: dict = {}  # the last build or load: ok, build, at, seconds, error
        self._failed: set[str] = set()  # knowledge hashes / build names that failed: not retried
        self._builder = None  # the torch passage encoder, loaded on the first rebuild only
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the dashboard reads -------------------------------------------------------------
    def status(self) -> dict:
        retriever = self.live.current.retriever
        try:
            stale = content_hash(self.knowledge_dir) != retriever.manifest.get("knowledge_hash")
        except RolebotError:
            stale = True
        state = "building" if self.building else "stale" if stale else "fresh"
        return {"state": state, "build": build_id(retriever), "built_at": retriever.manifest.get("built_at"),
                "passages": retriever.manifest.get("passages"), "building_for": round(time.time() - self.build_started, 1)
                if self.building else None, "last": dict(self.last)}

    # -- the loop -----------------------------------------------------------------------------
    def start(self, warm: bool = False) -> "Reloader":
        """Watch in a background thread. ``warm`` loads the passage encoder (torch) up front,
        so the first rebuild takes seconds rather than the ~10 s of importing torch."""
        self._warm = warm
        self._thread = threading.Thread(target=self._run, name="rolebot-reload", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def poke(self) -> None:
        """Look now rather than at the next tick (after an edit from the dashboard)."""
        self._wake.set()

    def _passage_encoder(self):
        from . import embedding

        if self._builder is None:
            retriever = self.live.current.retriever
            self._builder = embedding.passage_encoder(retriever.embedder, retriever.manifest["model"])
        return self._builder

    def _run(self) -> None:
        if getattr(self, "_warm", False):
            try:
                self._passage_encoder()
            except RolebotError as exc:
                log.warning("could not load the passage encoder for rebuilds: %s", exc)
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # the watcher must outlive any one bad poll; the old index serves on
                log.exception("live reload check failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def check(self) -> str | None:
        """One poll: swap in a new CURRENT, or rebuild changed knowledge and swap that in.
        Returns the build now serving if it changed, else None."""
        live_build = build_id(self.live.current.retriever)
        pointer = index_mod.current_build(self.index_dir)
        if pointer is not None and pointer.name != live_build and pointer.name not in self._failed:
            return self._load(pointer.name)
        try:
            wanted = content_hash(self.knowledge_dir)
        except RolebotError as exc:
            self._fail(f"knowledge:{exc}", 0.0, str(exc))
            return None
        if wanted == self.live.current.retriever.manifest.get("knowledge_hash"):
            if self.last.get("ok") is False and not str(self.last.get("key", "")).startswith("build-"):
                self.last = {}  # the failed edit was undone: its error no longer describes anything
            return None
        if wanted in self._failed:
            return None
        return self._rebuild(wanted)

    def _rebuild(self, wanted: str) -> str | None:
        self.building, self.build_started = True, time.time()
        started = time.perf_counter()
        try:
            # The serving adaptation is kept: a small edit goes live in seconds, not after a
            # fine-tune; the next `rolebot build` adapts afresh.
            manifest = index_mod.build(self.knowledge_dir, self.index_dir, self._passage_encoder(),
                                       adapt=config.adapt(), keep_adapted=True)
        except RolebotError as exc:
            self._fail(wanted, started, str(exc))
            return None
        finally:
            self.building = False
        log.info("rebuilt the index: %s passages, %s embedded", manifest["passages"], manifest["embedded"])
        pointer = index_mod.current_build(self.index_dir)
        return self._load(pointer.name, started) if pointer is not None else None

    def _load(self, name: str, started: float | None = None) -> str | None:
        from .assistant import Assistant
        from .embedding import for_index
        from .retriever import Retriever

        started = time.perf_counter() if started is None else started
        old = self.live.current.retriever
        try:
            data = index_mod.load(self.index_dir, old.manifest["model"])
            if data.path.name != name:  # another build landed meanwhile: the next poll takes it
                name = data.path.name
            backend = getattr(old.embedder, "backend", None)
            # The same choice Retriever.load makes: the encoder that fits this build's vectors
            # (a test double, which has no backend, is simply kept).
            embedder = old.embedder if backend is None else for_index(
                old.manifest["model"], backend, data.path, data.manifest, reference=old.embedder)
            assistant = Assistant(Retriever(data, embedder))
        except RolebotError as exc:
            self._fail(name, started, str(exc))
            return None
        self.live.swap(assistant)
        self.last = {"ok": True, "build": name, "at": time.time(), "seconds": round(time.perf_counter() - started, 2),
                     "passages": data.manifest.get("passages"), "error": None}
        log.info("now serving index %s", name)
        return name

    def _fail(self, key: str, started: float, error: str) -> None:
        if key not in self._failed:
            log.warning("live reload: %s; the previous index keeps serving", error)
        self._failed.add(key)
        self.last = {"ok": False, "build": None, "at": time.time(), "key": key,
                     "seconds": round(time.perf_counter() - started, 2) if started else None, "error": error}
