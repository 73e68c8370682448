"""Hybrid retrieval: dense (FAISS over MiniLM) and lexical (BM25), fused by reciprocal rank."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import config
from . import aspects
from . import index as index_mod
from . import lexical
from .errors import IndexLoadError, QueryError
from .knowledge import Passage, knowledge_files
from .pieces import Pieces
from .query import (Speller, asks_for_names, expand_abbreviations, name_the_pair, scrub, sequence_step, title_pair,
                    without_page_talk)
from .records import Hit
from .wordlines import WordLines

log = logging.getLogger("rolebot")

# Weight of BM25 (scaled to the query's best match) beside the cosine, chosen on the two
# eval sets' retrieval figures (0.1-0.25 land within a few points of each other).
LEXICAL_WEIGHT = 0.1
# What an FAQ's own question gives up against the article's text when ranking (not in the
# confidence, which keeps the plain cosine). A question matches a question by its form ("do ML
# engineers need to know…?", "what kind of … work on?") as much as by its subject: on the blind
# dev set the FAQ question was the winning match 31 times and right only 14. Fitted on the dev
# sets (0.03-0.1 score alike; docs/answer-quality.md); authors' alternates keep full weight.
QUESTION_VIEW_HANDICAP = 0.08
# What a template question (templates.py: written from a heading and a role, not by anyone)
# gives up, in the ranking and in the evidence alike: it matches by form, and a question about
# a role the article lacks ("what does a data engineer do day to day?") should not borrow its
# confidence. Fitted on the dev sets (0.08-0.16 score alike; docs/answer-quality.md).
TEMPLATE_HANDICAP = 0.12
# What a sentence or list item that names something ("Tableau / Power BI") gains in the ranking
# for a question asking which tool, language or product; not in the confidence.
NAMES_BONUS = 0.1
# What a passage gains in the ranking (not the confidence) for naming the thing a question names
# ("do data scientists need to know SQL?": the skills list names SQL; the FAQ asking "Do ML
# Engineers need to know statistics…?" matches only the question's form); shared among the
# names when it names several. Chosen on the dev sets (docs/answer-quality.md).
MENTION_BONUS = 0.05
# For "what comes after X?" (query.sequence_step), what a passage gains per unit of cosine
# between X and its best list item that another item follows (precedes, for "before X?"): the
# answer is the next step of a list, and a passage that only talks about X ("A Data Scientist
# focuses on … building models") otherwise wins. Chosen on the dev sets (docs/answer-quality.md).
STEP_WEIGHT = 0.3
DENSE_POOL = 64  # FAISS rows fetched per query before pooling by passage


@dataclass(frozen=True)
class Scored:
    """One candidate passage with the signals the assistant needs to judge it."""

    passage: int
    fused: float
    dense: float  # best cosine over the passage's views, sentences and list items
    lexical: float  # BM25 score
    unit_scores: tuple  # cosine of each answer unit (sentence or list), in passage order


class Retriever:
    """Finds the passages closest to a question. Build with Retriever.load()."""

    def __init__(self, data: index_mod.IndexData, embedder, notices: list[str] | None = None):
        self.data = data
        self.embedder = embedder
        self.passages: list[Passage] = data.passages
        self.manifest = data.manifest
        self.notices = notices or []  # what load() did on its own (e.g. rebuilt a stale index)
        self._stem = lexical.stemmer()
        tokens = embedder.vocabulary() if hasattr(embedder, "vocabulary") else {}
        weigh = lexical.background_weight(tokens)
        self._bm25, vocab = lexical.load(data.path, self.manifest, self.passages, self._stem, weigh)
        known = {w for w in tokens if w.isalpha()}
        self.speller = Speller(vocab, known)
        self.vocabulary = vocab
        self._known_stems = {self.stem(w) for w in vocab}
        titles = {p.title for p in self.passages}
        # With one comparison article, "both roles" can only mean the two it compares.
        self.pair = title_pair(next(iter(titles))) if len(titles) == 1 else None
        self.pieces = Pieces(data)
        self.word_lines = WordLines(self.passages, data.units, self.stem)
        self.aspects = aspects.AspectScorer(data, embedder, self.pieces)

    @classmethod
    def load(
        cls,
        knowledge_dir: str | Path | None = None,
        index_dir: str | Path | None = None,
        model: str | None = None,
        auto_build: bool = True,
        embedder=None,
        backend: str | None = None,
    ) -> "Retriever":
        """Load the index, rebuilding it first if it is missing, stale or corrupt (auto_build).

        ``backend`` (default config.backend()) picks the query encoder; with onnx or onnx-int8
        and a fresh index, neither torch nor sentence-transformers is imported. A given
        ``embedder`` answers the queries, and builds too unless it is an ONNX one (passage
        vectors always come from the torch reference)."""
        from . import embedding

        knowledge_dir, index_dir = index_mod.default_paths(knowledge_dir, index_dir)
        name = embedder.name if embedder is not None else (model or config.model_name())
        backend = backend or config.backend()
        notices: list[str] = []
        problem = index_mod.check(index_dir, knowledge_dir, name) if knowledge_dir.is_dir() else None
        if problem and problem.startswith("built with model"):
            raise IndexLoadError(
                f"the index was {problem}: rebuild it with `rolebot --model {name} build`, "
                "or ask for the model it was built with"
            )
        data = None
        if problem is None:
            try:
                data = index_mod.load(index_dir, name, embedder.dim if embedder is not None else None)
                if embedder is None or _needs_adapted(embedder, data.manifest):
                    embedder = embedding.for_index(name, embedder.backend if embedder else backend, data.path, data.manifest, reference=embedder)
            except IndexLoadError as exc:  # includes EncoderMismatchError
                if not auto_build:
                    raise
                data, problem = None, str(exc).split(": run")[0]
        elif not auto_build:
            raise IndexLoadError(f"the index is {problem}: run `rolebot build`")
        if data is None:
            if not knowledge_dir.is_dir():
                knowledge_files(knowledge_dir)  # raises the error that says how to start
            notices.append(f"rebuilt the index from {knowledge_dir} ({problem})")
            log.info(notices[-1])
            builder = embedding.passage_encoder(embedder, name)  # loads torch only now
            index_mod.build(knowledge_dir, index_dir, builder, adapt=config.adapt(), keep_adapted=True)
            data = index_mod.load(index_dir, name, builder.dim)
            if embedder is None or _needs_adapted(embedder, data.manifest):
                embedder = embedding.for_index(name, embedder.backend if embedder else backend, data.path, data.manifest, reference=embedder or builder)
        return cls(data, embedder, notices)

    # -- query understanding --------------------------------------------------------------
    def stem(self, word: str) -> str:
        return self._stem.stemWord(word.lower())

    def knows(self, word: str) -> bool:
        """Whether the knowledge uses the word in some form ("startup" ~ "startups")."""
        return self.knows_stem(self.stem(word))

    def knows_stem(self, stem: str) -> bool:
        return stem in self._known_stems

    def normalize(self, query: str) -> str:
        return self.speller.correct(name_the_pair(expand_abbreviations(without_page_talk(query)), self.pair))

    # -- search ---------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, documents: list[str] | None = None) -> list[Hit]:
        """The k passages that best answer ``query``, best first."""
        return self.batch_search([query], k, documents)[0]

    def batch_search(self, queries: list[str], k: int = 5, documents: list[str] | None = None) -> list[list[Hit]]:
        k = _check_k(k)
        scored = self.score([self.normalize(_check_query(q)) for q in queries], documents)
        return [[self.hit(s) for s in rows[:k]] for rows in scored]

    def score(self, queries: list[str], documents: list[str] | None = None, vectors=None) -> list[list[Scored]]:
        """Fused candidates for already-normalized queries, best first."""
        if vectors is None:
            vectors = self.embedder.encode_queries(queries)
        aspect_vectors = self.aspects.vectors(queries, vectors)
        allowed = None
        if documents:
            allowed = {i for i, p in enumerate(self.passages) if p.doc in set(documents)}
            unknown = set(documents) - {p.doc for p in self.passages}
            if unknown:
                raise QueryError(f"unknown document(s) {sorted(unknown)}: see `rolebot list`")
        pool = min(self.data.faiss_index.ntotal, DENSE_POOL)
        sims, rows = self.data.faiss_index.search(np.asarray(vectors, dtype="float32"), pool)
        return [
            self._fuse(q, vec, avec, sim_row, id_row, allowed)
            for q, vec, avec, sim_row, id_row in zip(queries, vectors, aspect_vectors, sims, rows)
        ]

    def _answer_type(self, query: str, candidates: list[int]) -> np.ndarray:
        """What the candidates gain for holding the kind of answer the question asks for: the
        thing it names (MENTION_BONUS), the step after (or before) the one it names (STEP_WEIGHT)."""
        extra = MENTION_BONUS * self.pieces.mentions(candidates, query)
        sequence = sequence_step(query)
        if sequence:  # the composer encodes the same anchor next: the second call is a cache hit
            anchor = self.embedder.encode_queries([self.normalize(sequence[0])])[0]
            extra = extra + STEP_WEIGHT * np.maximum(self.pieces.steps(candidates, anchor, sequence[1]), 0.0)
        return extra

    def _fuse(self, query, vec, avec, sim_row, id_row, allowed) -> list[Scored]:
        """Dense: best of the passage's views and its sentences/list items. Lexical: BM25,
        scaled by the query's best BM25 so the mix does not depend on query length.
        In numpy over the pool's rows: a Python loop over them was half a cached answer's time."""
        found = id_row >= 0
        rows = id_row[found]
        owners = self.data.view_passage[rows]
        kinds = self.data.view_kind[rows]
        sims = _as_evidence(sim_row[found].astype("float64"), kinds)
        ranked_sims = _as_ranked(sims, kinds)
        if allowed is not None:
            keep = np.fromiter((int(o) in allowed for o in owners), dtype=bool, count=len(owners))
            owners, sims, ranked_sims = owners[keep], sims[keep], ranked_sims[keep]
        lexical = self._lexical(query, allowed, DENSE_POOL)
        top_lex = max(lexical.values(), default=0.0)
        lex_ids = np.fromiter(lexical, dtype="int64", count=len(lexical))
        candidates, where = np.unique(np.concatenate([owners.astype("int64"), lex_ids]), return_inverse=True)
        dense = np.full(len(candidates), -1.0)
        np.maximum.at(dense, where[: len(owners)], sims)
        ranked = np.full(len(candidates), -1.0)  # the same, as the ranking counts it
        np.maximum.at(ranked, where[: len(owners)], ranked_sims)
        lex = np.zeros(len(candidates))
        lex[where[len(owners) :]] = np.fromiter(lexical.values(), dtype="float64", count=len(lexical))
        units, best_unit, ranked_unit = self.pieces.units(candidates.tolist(), vec, names_bonus(query))
        d = np.maximum(dense, best_unit)
        fused = np.maximum(ranked, ranked_unit) + LEXICAL_WEIGHT * (lex / top_lex if top_lex > 0 else 0.0)
        fused = fused + self.aspects.score(candidates, avec, d)
        fused = fused + self._answer_type(query, candidates.tolist()) - self.pieces.promotion.whole(candidates.tolist())
        order = np.lexsort((-d, -fused))  # by fused, then dense, best first
        return [Scored(int(candidates[i]), float(fused[i]), float(d[i]), float(lex[i]), units[i]) for i in order]

    def score_within(self, query: str, vec, passages: list[int]) -> list[Scored]:
        """Like score, but only over the given passages (a follow-up within the current topic)."""
        allowed = set(passages)
        lexical = self._lexical(query, allowed, len(self.passages))
        top_lex = max(lexical.values(), default=0.0)
        out = []
        chosen = list(allowed)
        all_units, best_units, ranked_units = self.pieces.units(chosen, vec, names_bonus(query))
        for p, units, best_unit, ranked_unit in zip(chosen, all_units, best_units.tolist(), ranked_units.tolist()):
            views, kinds = self.pieces.views(p)
            sims = _as_evidence(views @ vec, kinds)
            d = max(float(sims.max()) if len(sims) else -1.0, best_unit)
            sims = _as_ranked(sims, kinds)
            rank = max(float(sims.max()) if len(sims) else -1.0, ranked_unit)
            lex = lexical.get(p, 0.0)
            out.append(Scored(p, rank + LEXICAL_WEIGHT * (lex / top_lex if top_lex > 0 else 0.0), d, lex, units))
        avec = self.aspects.vectors([query], np.asarray(vec)[None])[0]
        extra = self.aspects.score(chosen, avec, np.array([s.dense for s in out]))
        extra = extra + self._answer_type(query, chosen) - self.pieces.promotion.whole(chosen)
        out = [replace(s, fused=s.fused + float(x)) for s, x in zip(out, extra)]
        out.sort(key=lambda s: (s.fused, s.dense), reverse=True)
        return out

    def _lexical(self, query: str, allowed, limit: int) -> dict[int, float]:
        scores = self._bm25.scores(query)
        if scores is None:
            return {}
        limit = min(max(limit, 1), len(scores))
        top = np.argpartition(-scores, limit - 1)[:limit]  # the best `limit`, unordered: O(n), not a full sort
        return {int(p): float(scores[p]) for p in top if scores[p] > 0 and (allowed is None or int(p) in allowed)}

    def hit(self, s: Scored) -> Hit:
        p = self.passages[s.passage]
        return Hit(
            id=p.id,
            text=p.text,
            score=round(s.fused, 6),
            section=p.heading,
            source=f"{p.doc}.md#{p.anchor}",
            kind=p.kind,
            document=p.title,
            url=p.url,
        )

    def passage(self, passage_id: str) -> Passage:
        for p in self.passages:
            if p.id == passage_id:
                return p
        raise KeyError(passage_id)


def names_bonus(query: str) -> float:
    """What a piece that names something gains for this question (NAMES_BONUS or nothing)."""
    return NAMES_BONUS if asks_for_names(query) else 0.0


def _as_evidence(sims: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """View cosines as the evidence (and the confidence) counts them: a template question less
    its handicap."""
    return sims - TEMPLATE_HANDICAP * (kinds == index_mod.TEMPLATE_VIEW)


def _as_ranked(evidence: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Evidence as the ranking counts it: an FAQ's own question less its handicap too."""
    return evidence - QUESTION_VIEW_HANDICAP * (kinds == index_mod.QUESTION_VIEW)


def _needs_adapted(embedder, manifest: dict) -> bool:
    """A given torch encoder cannot query an index whose passages an adapted copy embedded."""
    return (
        bool(manifest.get("adapted"))
        and getattr(embedder, "backend", None) == "torch"
        and getattr(embedder, "identity", None) != manifest.get("encoder_identity")
    )


def _check_query(query) -> str:
    if not isinstance(query, str) or not query.strip():
        raise QueryError("the query is empty: type a question")
    return scrub(query[: config.MAX_QUESTION_CHARS])


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= config.MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {config.MAX_K}, not {k!r}")
    return k
