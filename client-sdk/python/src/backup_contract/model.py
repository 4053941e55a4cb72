"""The contract's JSON shapes: backup types, health, verify reports, error bodies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

CONTRACT_VERSION = "v1"

_TYPE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_EXTENSION = re.compile(r"[A-Za-z0-9]+(\.[A-Za-z0-9]+)*")
_MEDIA_TYPE = re.compile(r"[!#$&^_.+0-9A-Za-z-]+/[!#$&^_.+0-9A-Za-z-]+(;[ -~]*)?")


@dataclass(frozen=True)
class BackupType:
    """One kind of backup an app can export.

    ``name`` is what export requests ask for, ``media_type`` is sent as the export's
    ``Content-Type``, ``extension`` names stored copies (without the dot). ``verify`` says the
    source checks copies of this type without applying them; ``compressed`` says whether the
    bytes are already compressed (``None``: the media type decides).
    """

    name: str
    media_type: str
    extension: str
    verify: bool = False
    compressed: Optional[bool] = None

    def problems(self) -> List[str]:
        """Everything that makes this type invalid, each saying what to fix."""
        problems = []
        if not _TYPE_NAME.fullmatch(self.name):
            problems.append(
                f"type name {self.name!r} is invalid: use 1 to 64 letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        if not _MEDIA_TYPE.fullmatch(self.media_type):
            problems.append(
                f"media_type {self.media_type!r} of type {self.name!r} is not a media type: "
                'use the form "type/subtype", e.g. "application/gzip"'
            )
        if len(self.extension) > 32 or not _EXTENSION.fullmatch(self.extension):
            problems.append(
                f"extension {self.extension!r} of type {self.name!r} is invalid: use letters and digits "
                'separated by single dots, no leading dot, at most 32 characters (e.g. "sql.gz")'
            )
        return problems

    def to_json(self) -> dict:
        """The type as the capabilities list it."""
        out = {"name": self.name, "media_type": self.media_type, "extension": self.extension}
        if self.verify:
            out["verify"] = True
        if self.compressed is not None:
            out["compressed"] = self.compressed
        return out


@dataclass
class Health:
    """What an app reports about what it backs up, shown to operators.

    ``size_bytes`` is the size of what is backed up (e.g. the database's size) when known;
    ``details`` holds anything else worth showing, as name and text.
    """

    size_bytes: Optional[int] = None
    details: Dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The health as the capabilities carry it."""
        return {"size_bytes": self.size_bytes, "details": {k: str(v) for k, v in self.details.items()}}


@dataclass
class VerifyCheck:
    """One check of a :class:`VerifyReport`."""

    name: str
    ok: bool
    detail: Optional[str] = None

    @classmethod
    def passed(cls, name: str, detail: Optional[str] = None) -> "VerifyCheck":
        """A check that passed."""
        return cls(name, True, detail)

    @classmethod
    def failed(cls, name: str, detail: str) -> "VerifyCheck":
        """A check that failed, saying what was found."""
        return cls(name, False, detail)

    def to_json(self) -> dict:
        """The check as the report carries it."""
        out: dict = {"name": self.name, "ok": self.ok}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass
class VerifyReport:
    """Whether a copy would restore, checked without applying it.

    ``ok`` is true only when every check passed; build one with :meth:`of`.
    """

    ok: bool
    bytes: int
    checks: List[VerifyCheck] = field(default_factory=list)
    details: Optional[str] = None

    @classmethod
    def of(cls, nbytes: int, checks: Iterable[VerifyCheck], details: Optional[str] = None) -> "VerifyReport":
        """A report on ``nbytes`` received whose ``ok`` is true when every check passed."""
        checks = list(checks)
        return cls(ok=all(c.ok for c in checks), bytes=nbytes, checks=checks, details=details)

    def to_json(self) -> dict:
        """The report as ``POST /backup/verify`` answers it."""
        out: dict = {"ok": self.ok, "bytes": self.bytes, "checks": [c.to_json() for c in self.checks]}
        if self.details is not None:
            out["details"] = self.details
        return out


def dumps(value: dict) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":")).encode()
