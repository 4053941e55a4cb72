"""ImportBody: the hashed upload a restore tool is fed from."""

from __future__ import annotations

import io

import pytest

from backup_contract import ChecksumMismatch, ImportBody, UploadCut

from conftest import sha256, wrong


class Trickle(io.RawIOBase):
    """A stream returning at most ``step`` bytes per read, then optionally failing."""

    def __init__(self, data: bytes, step: int, fail: bool = False) -> None:
        self.data, self.step, self.fail, self.pos = data, step, fail, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.pos >= len(self.data) and self.fail:
            raise ConnectionError("connection reset")
        chunk = self.data[self.pos : self.pos + min(n, self.step)]
        self.pos += len(chunk)
        return chunk


DATA = bytes(range(256)) * 1000  # 256 000 bytes


def test_a_matching_body_is_handed_on_whole_in_pieces_of_at_most_64_kib():
    body = ImportBody(io.BytesIO(DATA), sha256(DATA).upper())
    pieces = list(body)
    assert b"".join(pieces) == DATA
    assert max(map(len, pieces)) <= 64 * 1024
    assert (body.end, body.bytes, body.error) == ("verified", len(DATA), None)


def test_the_last_piece_of_a_mismatched_body_is_never_handed_on():
    body = ImportBody(Trickle(DATA, 10_000), wrong(sha256(DATA)))
    handed = []
    with pytest.raises(ChecksumMismatch) as mismatch:
        for piece in body:
            handed.append(piece)
    assert b"".join(handed) == DATA[:250_000]  # all but the last piece, of 6 000 bytes
    assert (body.end, body.bytes) == ("mismatch", len(DATA))
    assert mismatch.value.actual == sha256(DATA) and body.error is mismatch.value


def test_a_body_shorter_than_its_content_length_is_cut():
    body = ImportBody(io.BytesIO(DATA[:1000]), sha256(DATA), content_length=len(DATA))
    with pytest.raises(UploadCut, match="1000 of the 256000 bytes"):
        list(body)
    assert body.end == "cut"


def test_a_stream_error_is_a_cut_upload_and_only_content_length_bytes_are_read():
    body = ImportBody(Trickle(DATA, 4096, fail=True), sha256(DATA))
    with pytest.raises(UploadCut, match="connection reset"):
        list(body)
    assert body.end == "cut"
    longer = ImportBody(io.BytesIO(DATA + b"next request"), sha256(DATA), content_length=len(DATA))
    assert b"".join(longer) == DATA and longer.end == "verified"


def test_drain_reads_the_rest_and_records_a_mismatch_without_raising():
    body = ImportBody(io.BytesIO(DATA), wrong(sha256(DATA)))
    next(body)
    body.drain()
    assert (body.end, body.bytes) == ("mismatch", len(DATA))
    assert isinstance(body.error, ChecksumMismatch)
