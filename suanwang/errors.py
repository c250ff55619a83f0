"""One error hierarchy for the whole product.

Every error a user can see derives from :class:`SuanwangError`. Library errors are chained
(``raise InputError(...) from e``). The mapping to process exit codes lives in
``scheduler.cli.errors`` and the mapping to HTTP status codes lives at the API edge; nowhere else.

Every message ends with what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One thing wrong with an input file.

    ``path`` is the field path inside the document (``sites[3].pools[0].accelerator``),
    ``line`` the 1-based line in the file where known, ``value`` the offending value as written.
    """

    file: str
    path: str
    message: str
    fix: str
    value: object = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        shown = "" if self.value is None else f" (got {self.value!r})"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}{shown}; fix: {self.fix}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "value": self.value,
            "message": self.message,
            "fix": self.fix,
        }


class SuanwangError(Exception):
    """Base of every error the product raises on purpose."""


class InputError(SuanwangError):
    """The caller gave something invalid: a file, a field, an argument.

    Carries every fault found at once so that a user fixes a file in one round.
    """

    def __init__(self, message: str, faults: list[Fault] | tuple[Fault, ...] = ()) -> None:
        self.faults: tuple[Fault, ...] = tuple(faults)
        lines = [message] + [f"  - {f}" for f in self.faults]
        super().__init__("\n".join(lines))
        self.summary = message


class InfeasibleError(SuanwangError):
    """A request is well formed but cannot be satisfied; ``reasons`` say which limit binds."""

    def __init__(self, message: str, reasons: list[str] | tuple[str, ...] = ()) -> None:
        self.reasons: tuple[str, ...] = tuple(reasons)
        lines = [message] + [f"  - {r}" for r in self.reasons]
        super().__init__("\n".join(lines))
        self.summary = message


class TemporaryError(SuanwangError):
    """A dependency is unavailable for now; retrying after ``retry_after_s`` may succeed."""

    def __init__(self, message: str, retry_after_s: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Busy(TemporaryError):
    """Too much of this kind of work already waits; retrying later may succeed (HTTP 429)."""


class PermissionDenied(SuanwangError):
    """The caller's credentials do not allow this (no token, an expired one, or the wrong role)."""


class PermanentError(SuanwangError):
    """Something failed in a way that retrying will not fix."""
