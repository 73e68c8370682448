"""The exceptions rolebot raises. Each message says what happened and what to do next."""


class RolebotError(Exception):
    """Base class: catch this to handle every rolebot failure."""


class KnowledgeError(RolebotError):
    """A knowledge file is unreadable or malformed."""

    def __init__(self, message: str, path=None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(where + message)


class IndexLoadError(RolebotError):
    """The index is missing, stale, corrupt or was built with another model."""


class ModelError(RolebotError):
    """The embedding model cannot be loaded."""


class QueryError(RolebotError, ValueError):
    """A query or parameter is not usable (empty question, bad k, ...)."""


class EncoderMismatchError(IndexLoadError):
    """The index's saved encoder does not fit the backend or model asked for (or is missing)."""


class EditConflictError(RolebotError):
    """A knowledge file changed between reading it for an edit and writing the edit back."""
