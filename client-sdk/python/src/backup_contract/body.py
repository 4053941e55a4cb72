"""The body of an import or a verify, hashed as it is read."""

from __future__ import annotations

import hashlib
from typing import BinaryIO, Iterator, Optional

from .errors import BodyError, ChecksumMismatch, UploadCut

READ_SIZE = 64 * 1024

VERIFIED = "verified"
MISMATCH = "mismatch"
CUT = "cut"


class ImportBody:
    """The bytes of an earlier export, as they arrive, checked against ``Backup-Sha256``.

    Iterate over it to get pieces of at most 64 KiB. Each piece is handed on only once the
    next one has arrived, and the last one only once the whole body's sha256 has matched: a
    restore tool fed from it never sees the end of a body that does not match. When the sha256
    differs, iteration raises :class:`~backup_contract.ChecksumMismatch` instead of ending; when
    the upload is cut off, :class:`~backup_contract.UploadCut`. A source stops its restore on
    either (kills the tool, discards its staging area) and lets the error propagate.

    ``bytes`` counts what was received so far; ``end`` says how the body ended:
    ``"verified"``, ``"mismatch"``, ``"cut"``, or ``None`` while it was not read to its end;
    ``error`` holds the error raised for a bad body.
    """

    def __init__(self, stream: BinaryIO, expected_sha256: str, content_length: Optional[int] = None) -> None:
        self._stream = stream
        self._expected = expected_sha256.lower()
        self._length = content_length
        self._hasher = hashlib.sha256()
        self._pieces = self._generate()
        self.bytes = 0
        self.end: Optional[str] = None
        self.error: Optional[BodyError] = None
        self.actual_sha256: Optional[str] = None

    @property
    def expected_sha256(self) -> str:
        """The sha256 the body must have, from ``Backup-Sha256``."""
        return self._expected

    def _read(self) -> bytes:
        want = READ_SIZE if self._length is None else min(READ_SIZE, self._length - self.bytes)
        if want <= 0:
            return b""
        try:
            chunk = self._stream.read(want)
        except Exception as e:  # whatever the server raises for a broken upload
            raise self._fail(CUT, UploadCut(f"the upload was cut off after {self.bytes} bytes: {e}")) from e
        if not chunk and self._length is not None and self.bytes < self._length:
            raise self._fail(
                CUT,
                UploadCut(
                    f"the upload was cut off after {self.bytes} of the {self._length} bytes "
                    "its Content-Length announced"
                ),
            )
        return chunk

    def _fail(self, end: str, error: BodyError) -> BodyError:
        self.end, self.error = end, error
        return error

    def __iter__(self) -> "ImportBody":
        return self

    def __next__(self) -> bytes:
        return next(self._pieces)

    def _generate(self) -> Iterator[bytes]:
        held = None
        while True:
            chunk = self._read()
            if not chunk:
                break
            self._hasher.update(chunk)
            self.bytes += len(chunk)
            if held is not None:
                yield held
            held = chunk
        self.actual_sha256 = self._hasher.hexdigest()
        if self.actual_sha256 != self._expected:
            raise self._fail(MISMATCH, ChecksumMismatch(self.actual_sha256, self._expected))
        if held is not None:
            yield held
        self.end = VERIFIED

    def drain(self) -> None:
        """Reads what is left of the body (still hashing it) and hands nothing on: for a source
        whose tool stopped reading early, so the answer reaches the client and a mismatch is
        still told. A bad body is recorded in ``end`` and ``error``, not raised."""
        try:
            for _ in self._pieces:
                pass
        except BodyError:
            pass
