"""Errors meant for people: each carries the exit code the CLI ends with and a hint on what to do."""

from meridian_core.exitcodes import ExitCode


class MeridianError(Exception):
    """A failure the user can act on; the CLI prints it without a traceback."""

    exit_code = ExitCode.REFUSED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class RefusedError(MeridianError):
    exit_code = ExitCode.REFUSED


class InputError(MeridianError):
    exit_code = ExitCode.USAGE


class ConflictError(MeridianError):
    exit_code = ExitCode.CONFLICT
