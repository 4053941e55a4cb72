"""Why an export, an import or a verify could not be done.

A source raises these; the service turns them into the contract's error answers:
:class:`SourceError` is ``500 export_failed`` (or ``import_failed``), :class:`Busy` is
``503 busy`` with ``Retry-After``, :class:`Unsupported` is ``404 restore_unsupported``.
"""

from __future__ import annotations


class SourceError(Exception):
    """The export, import or verify failed; the message is shown to the operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Busy(SourceError):
    """The app cannot do it now (maintenance, heavy load); the orchestrator retries later."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Unsupported(SourceError):
    """The source does not support this operation (import, or verify of this type)."""

    def __init__(self, message: str = "this app does not support import") -> None:
        super().__init__(message)


class CommandFailed(SourceError):
    """A command exited with a non-zero status, or stopped reading its input early.

    It says something about the backup (or the data being backed up), unlike a plain
    :class:`SourceError` such as a command that could not be started.
    """


class BodyError(SourceError):
    """The body of an import or verify was bad; raised by :class:`~backup_contract.ImportBody`.

    A source must let it propagate after stopping its restore tool, so nothing is applied.
    """


class ChecksumMismatch(BodyError):
    """The body's sha256 differs from its ``Backup-Sha256`` header."""

    def __init__(self, actual: str, expected: str) -> None:
        super().__init__(f"checksum mismatch: the body's sha256 is {actual}, Backup-Sha256 says {expected}")
        self.actual = actual
        self.expected = expected


class UploadCut(BodyError):
    """The upload ended before its end: the client went away or the framing was broken."""
