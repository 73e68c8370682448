"""rolebot: a grounded FAQ chatbot that answers from one article, with citations."""

__version__ = "0.1.0"

from .errors import (
    EditConflictError,
    IndexLoadError,
    KnowledgeError,
    ModelError,
    QueryError,
    RolebotError,
)
from .records import Answer, Hit

__all__ = [
    "Answer",
    "Assistant",
    "EditConflictError",
    "Hit",
    "IndexLoadError",
    "KnowledgeError",
    "ModelError",
    "QueryError",
    "Retriever",
    "RolebotError",
    "__version__",
]


def __getattr__(name):
    # Retriever and Assistant pull in numpy/faiss; import them only when asked so
    # `import rolebot` (and `rolebot --help`) stays instant.
    if name == "Retriever":
        from .retriever import Retriever

        return Retriever
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'rolebot' has no attribute {name!r}")
