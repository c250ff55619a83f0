"""Exit codes of the ``suanwang`` command, and the one place errors are mapped to them."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from suanwang.errors import (
    InfeasibleError,
    InputError,
    PermanentError,
    PermissionDenied,
    SuanwangError,
    TemporaryError,
)

EXIT_OK = 0
EXIT_FAILURE = 1  # an unexpected failure or a permanent error
EXIT_USAGE = 2  # bad flags or arguments (click's own convention)
EXIT_INPUT = 3  # an invalid input file or value
EXIT_INFEASIBLE = 4  # a well-formed request that cannot be satisfied
EXIT_LOOP_DIED = 70  # EX_SOFTWARE: the service's control loop ended (its supervisor restarts it)
EXIT_TEMPORARY = 75  # EX_TEMPFAIL: try again later
EXIT_DENIED = 77  # EX_NOPERM: the token is missing, expired, revoked or lacks the role

_CODES: tuple[tuple[type[SuanwangError], int], ...] = (
    (InputError, EXIT_INPUT),
    (InfeasibleError, EXIT_INFEASIBLE),
    (TemporaryError, EXIT_TEMPORARY),
    (PermissionDenied, EXIT_DENIED),
    (PermanentError, EXIT_FAILURE),
)


def exit_code_for(error: SuanwangError) -> int:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return EXIT_FAILURE


def report(error: SuanwangError) -> None:
    kind = type(error).__name__
    print(f"error ({kind}): {error}", file=sys.stderr)
    if isinstance(error, TemporaryError):
        print(f"retry after {error.retry_after_s:g} s", file=sys.stderr)


class SuanwangGroup(TyperGroup):
    """Command group that turns the product's errors into a message and an exit code."""

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except SuanwangError as e:
            report(e)
            raise typer.Exit(exit_code_for(e)) from e
