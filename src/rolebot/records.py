"""The result records the public API returns. Frozen, and JSON-ready via to_dict()."""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Hit:
    id: str  # document slug / section slug / ordinal: stable across rebuilds
    text: str  # the passage as written in the article
    score: float  # fused retrieval score, higher is better
    section: str  # heading path, e.g. "What Is a Data Scientist? > Key Responsibilities"
    source: str  # document file and anchor, e.g. "ml-engineer-vs-data-scientist.md#key-responsibilities"
    kind: str  # "passage" or "faq"
    document: str = ""  # the document's title
    url: str = ""  # the document's declared source URL, if any

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    text: str  # Markdown shown to the user, with [1]-style markers
    citations: list = field(default_factory=list)  # list[Hit], numbered as in the text
    kind: str = "answer"  # "answer", "not_found" or "smalltalk"
    suggestions: list = field(default_factory=list)  # follow-up questions to offer
    confidence: float = 0.0  # 0..1; below the index's threshold the answer is "not_found"
    query: str = ""  # the question actually searched, after follow-up resolution

    def to_dict(self) -> dict:
        return asdict(self)
