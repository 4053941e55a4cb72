"""Contract v1, independent of any web framework: :class:`BackupService` answers each route
with an :class:`Answer` (status, headers, body) that the WSGI app and the Flask blueprint send.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .body import CUT, MISMATCH, VERIFIED, ImportBody
from .errors import Busy, SourceError, Unsupported
from .model import CONTRACT_VERSION, BackupType, Health, VerifyCheck, VerifyReport, dumps
from .source import Source
from .token import TokenCheck, load_token

log = logging.getLogger("backup_contract")

CAPABILITIES_PATH = "/backup/capabilities"
EXPORT_PATH = "/backup/export"
IMPORT_PATH = "/backup/import"
VERIFY_PATH = "/backup/verify"

#: The HTTP status of each error code of the contract.
STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "restore_unsupported": 404,
    "export_in_progress": 409,
    "unknown_type": 422,
    "checksum_mismatch": 422,
    "export_failed": 500,
    "import_failed": 500,
    "busy": 503,
}

#: The largest export request body read (it is a small JSON object).
EXPORT_REQUEST_LIMIT = 64 * 1024

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass
class Answer:
    """One HTTP answer: ``body`` is bytes, or an iterable streaming an export (with a
    ``close()`` the server must call when it is done with it)."""

    status: int
    headers: List[Tuple[str, str]]
    body: Union[bytes, Iterable[bytes]]


def json_answer(status: int, value: dict, headers: Sequence[Tuple[str, str]] = ()) -> Answer:
    """A JSON answer."""
    return Answer(status, [("Content-Type", "application/json"), *headers], dumps(value))


def error_answer(
    code: str,
    message: str,
    retry_after: Optional[int] = None,
    status: Optional[int] = None,
    headers: Sequence[Tuple[str, str]] = (),
) -> Answer:
    """The contract's error body, with the status of its code unless ``status`` is given."""
    extra = list(headers)
    if retry_after is not None:
        extra.append(("Retry-After", str(retry_after)))
    return json_answer(status or STATUS.get(code, 500), {"error": code, "message": message}, extra)


def _from_source_error(e: SourceError, failed: str) -> Answer:
    if isinstance(e, Busy):
        return error_answer("busy", e.message, retry_after=e.retry_after)
    if isinstance(e, Unsupported):
        return error_answer("restore_unsupported", e.message)
    return error_answer(failed, e.message)


class _Permit:
    """Slots taken from a :class:`_Slots`, given back once however often it is released."""

    def __init__(self, slots: "_Slots", n: int) -> None:
        self._slots, self._n = slots, n

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.give(self._n)


class _Slots:
    """``size`` slots: an export takes one, an import or verify takes all of them."""

    def __init__(self, size: int, wait: float) -> None:
        self.size = size
        self._wait = wait
        self._free = size
        self._changed = threading.Condition()

    def take(self, n: int) -> Optional[_Permit]:
        """``n`` slots, waiting a moment for them; ``None`` when they stay taken."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._free >= n, timeout=self._wait):
                return None
            self._free -= n
            return _Permit(self, n)

    def give(self, n: int) -> None:
        with self._changed:
            self._free += n
            self._changed.notify_all()


class _ExportBody:
    """Passes an export's pieces on one at a time and, when it ends (cleanly, by an error, or
    because the client went away), closes the source's iterable and gives its slot back.

    An error from the source propagates to the server, which cuts the connection: the chunked
    body never ends cleanly, so a partial export never looks complete.
    """

    def __init__(self, first: bytes, rest: Iterator, close: Optional[Callable], permit: _Permit, name: str) -> None:
        self._first: Optional[bytes] = first
        self._rest = rest
        self._close = close
        self._permit = permit
        self._name = name
        self._done = False
        self.bytes = 0

    def __iter__(self) -> "_ExportBody":
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            chunk, self._first = self._first, None
            self.bytes += len(chunk)
            return chunk
        if self._done:
            raise StopIteration
        while True:
            try:
                chunk = next(self._rest)
            except StopIteration:
                self.close()
                log.info("export %s complete: %d bytes", self._name, self.bytes)
                raise
            except Exception as e:
                self.close()
                log.error("export %s failed after %d bytes; cutting the connection: %s", self._name, self.bytes, e)
                raise
            if chunk:
                self.bytes += len(chunk)
                return chunk if isinstance(chunk, bytes) else bytes(chunk)

    def __del__(self) -> None:
        # A server that drops the body without closing it (werkzeug does when the client went
        # away at the wrong moment) must not keep the source running and the slot taken.
        self.close()

    def close(self) -> None:
        """Stops the source (if it still runs) and frees the export's slot."""
        if self._done:
            return
        self._done = True
        try:
            if self._close is not None:
                self._close()
        except Exception:
            log.exception("closing export %s failed", self._name)
        finally:
            self._permit.release()


def _read_up_to(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes of ``stream``, fewer only at its end."""
    parts, left = [], n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _closer(iterable: object, iterator: object) -> Optional[Callable]:
    return getattr(iterable, "close", None) or getattr(iterator, "close", None)


class BackupService:
    """Serves contract v1 for one or more sources, guarded by a bearer token.

    ``sources`` is a :class:`~backup_contract.Source` or a list of them; their types together
    are what the app offers (the first is the default), and names must be unique.
    ``token`` defaults to ``BACKUP_TOKEN`` or the file named by ``BACKUP_TOKEN_FILE``. By
    default one export runs at a time and a second gets ``409 export_in_progress``;
    ``concurrent_exports`` allows more. An import or a verify always runs alone. A request
    finding the app busy waits ``slot_wait`` seconds for it before answering 409: a server
    running a thread per request learns only at its next write that a client dropped an
    export, and a client that dropped one and asks again at once must not be refused.

    Raises ``ValueError`` when the capabilities break the contract, and
    :class:`~backup_contract.TokenError` when no token is set: both are best caught at start-up.
    """

    def __init__(
        self,
        app_name: str,
        sources: Union[Source, Iterable[Source]],
        token: Optional[str] = None,
        *,
        concurrent_exports: int = 1,
        slot_wait: float = 1.0,
    ) -> None:
        self.sources: List[Source] = [sources] if isinstance(sources, Source) else list(sources)
        self._tokens = TokenCheck(load_token(token))
        self._types: Dict[str, Tuple[BackupType, Source]] = {}
        ordered: List[BackupType] = []
        problems = [] if app_name.strip() else ["the app name is empty: give the app's name"]
        self._labels: List[Tuple[Source, str]] = []
        for source in self.sources:
            if not isinstance(source, Source):
                raise TypeError(f"{source!r} is not a backup_contract.Source")
            types = list(source.types())
            if types:
                self._labels.append((source, types[0].name))
            for t in types:
                problems.extend(t.problems())
                if t.name in self._types:
                    problems.append(f"type {t.name!r} is offered twice: type names must be unique across sources")
                self._types[t.name] = (t, source)
                ordered.append(t)
        if not ordered:
            problems.append("no backup type is offered: give at least one source with a type")
        if problems:
            raise ValueError("invalid backup capabilities: " + "; ".join(problems))
        self.app_name = app_name
        self.types = ordered
        self.restore = any(s.can_restore for s in self.sources)
        self._slots = _Slots(max(1, int(concurrent_exports)), max(0.0, float(slot_wait)))

    # -- shared checks --------------------------------------------------------------------

    def _authorize(self, headers) -> Optional[Answer]:
        if self._tokens.allows(headers.get("Authorization")):
            return None
        return error_answer("unauthorized", "missing or wrong bearer token: send `Authorization: Bearer <token>`")

    def _find(self, requested: Optional[str]) -> Union[Tuple[BackupType, Source], Answer]:
        if requested is None:
            return self._types[self.types[0].name]
        found = self._types.get(requested)
        if found is None:
            offered = ", ".join(t.name for t in self.types)
            return error_answer("unknown_type", f"unknown backup type {requested!r}: this app offers {offered}")
        return found

    # -- routes ----------------------------------------------------------------------------

    def capabilities_json(self) -> dict:
        """The capabilities, health included."""
        caps = {
            "contract": CONTRACT_VERSION,
            "app": self.app_name,
            "types": [t.to_json() for t in self.types],
            "restore": self.restore,
        }
        health = self._health()
        if health is not None:
            caps["health"] = health.to_json()
        return caps

    def _health(self) -> Optional[Health]:
        """Each source's health; for several, sizes summed and details named by the first type of
        their source (``"uploads.files"``)."""
        reports = []
        for source, label in self._labels:
            try:
                health = source.health()
            except Exception:
                log.exception("the health of %r failed", source)
                health = None
            if health is not None:
                reports.append((label, health))
        if len(reports) <= 1:
            return reports[0][1] if reports else None
        sizes = [h.size_bytes for _, h in reports if h.size_bytes is not None]
        details = {}
        for label, h in reports:
            if h.size_bytes is not None:
                details[f"{label}.size_bytes"] = str(h.size_bytes)
            details.update({f"{label}.{k}": str(v) for k, v in h.details.items()})
        return Health(size_bytes=sum(sizes) if sizes else None, details=details)

    def handle_capabilities(self, headers) -> Answer:
        """``GET /backup/capabilities``."""
        return self._authorize(headers) or json_answer(200, self.capabilities_json())

    def handle_export(self, headers, stream: BinaryIO, length: Optional[int]) -> Answer:
        """``POST /backup/export``: ``stream`` is the request body, ``length`` its size when
        known (``None``: read to its end)."""
        refused = self._authorize(headers)
        if refused:
            return refused
        want = EXPORT_REQUEST_LIMIT + 1 if length is None else min(length, EXPORT_REQUEST_LIMIT + 1)
        try:
            raw = _read_up_to(stream, want)
        except Exception as e:
            return error_answer("bad_request", f"the export request body could not be read: {e}")
        if len(raw) > EXPORT_REQUEST_LIMIT:
            return error_answer(
                "bad_request", 'the export request body must be a small JSON object like {"type": "full"}'
            )
        requested = None
        if raw.strip():
            try:
                request = json.loads(raw)
            except ValueError as e:
                return error_answer("bad_request", f'the export request body is not {{"type": "<name>"}}: {e}')
            if not isinstance(request, dict) or not isinstance(request.get("type"), (str, type(None))):
                return error_answer("bad_request", 'the export request body is not {"type": "<name>"}')
            requested = request.get("type")
        found = self._find(requested)
        if isinstance(found, Answer):
            return found
        backup_type, source = found
        permit = self._slots.take(1)
        if permit is None:
            return error_answer(
                "export_in_progress", "another export or import is running: try again when it has finished"
            )
        iterable = iterator = None
        try:
            iterable = source.export(backup_type)
            iterator = iter(iterable)
            # Waiting for the first byte lets an export that fails at once get a readable error
            # instead of a cut connection.
            first = b""
            while not first:
                first = next(iterator)
            first = first if isinstance(first, bytes) else bytes(first)
        except StopIteration:
            error: SourceError = SourceError("the export produced no bytes: an empty export is a failed export")
        except SourceError as e:
            error = e
        except Exception as e:
            log.exception("export %s failed", backup_type.name)
            error = SourceError(f"the export failed: {e}")
        else:
            log.info("export %s started", backup_type.name)
            body = _ExportBody(first, iterator, _closer(iterable, iterator), permit, backup_type.name)
            headers_out = [("Content-Type", backup_type.media_type), ("Cache-Control", "no-store")]
            return Answer(200, headers_out, body)
        close = _closer(iterable, iterator)
        try:
            if close is not None:
                close()
        finally:
            permit.release()
        log.error("export %s failed: %s", backup_type.name, error.message)
        return _from_source_error(error, "export_failed")

    def _incoming(self, headers, what: str, verify: bool):
        """The type, its source and the declared sha256 of an import or verify, checked before
        the source sees a byte; or the refusal."""
        refused = self._authorize(headers)
        if refused:
            return refused
        name = (headers.get("Backup-Type") or "").strip()
        if not name:
            return error_answer(
                "bad_request", f"send the Backup-Type header naming the type of the backup being {what}"
            )
        found = self._find(name)
        if isinstance(found, Answer):
            return found
        backup_type, source = found
        if verify and not backup_type.verify:
            return error_answer(
                "restore_unsupported",
                f"this app does not verify copies of type {name!r} (its capabilities do not say verify: true)",
            )
        if not verify and not source.can_restore:
            return error_answer("restore_unsupported", f"this app does not restore copies of type {name!r}")
        expected = (headers.get("Backup-Sha256") or "").strip()
        if not _SHA256_HEX.fullmatch(expected):
            return error_answer("bad_request", "send the Backup-Sha256 header with the hex sha256 of the body")
        return backup_type, source, expected.lower()

    def _exclusive(self) -> Optional[_Permit]:
        return self._slots.take(self._slots.size)

    def handle_import(self, headers, stream: BinaryIO, length: Optional[int]) -> Answer:
        """``POST /backup/import``: restores the body once its sha256 matched."""
        if not self.restore:
            return self._authorize(headers) or error_answer(
                "restore_unsupported", "this app does not support import (its capabilities say restore: false)"
            )
        incoming = self._incoming(headers, "imported", verify=False)
        if isinstance(incoming, Answer):
            return incoming
        backup_type, source, expected = incoming
        permit = self._exclusive()
        if permit is None:
            return error_answer("export_in_progress", "an export or import is running: try again when it has finished")
        body = ImportBody(stream, expected, length)
        error: Optional[SourceError] = None
        log.info("import %s started", backup_type.name)
        try:
            source.restore(backup_type, body)
        except SourceError as e:
            error = e
        except Exception as e:
            log.exception("import %s failed", backup_type.name)
            error = SourceError(f"the import failed: {e}")
        finally:
            permit.release()
        if body.end == MISMATCH:
            log.warning("import %s refused: checksum mismatch", backup_type.name)
            return error_answer(
                "checksum_mismatch",
                f"the body's sha256 is {body.actual_sha256}, Backup-Sha256 says {expected}: nothing was restored",
            )
        if error is not None:
            log.error("import %s failed after %d bytes: %s", backup_type.name, body.bytes, error.message)
            return _from_source_error(error, "import_failed")
        if body.end == VERIFIED:
            log.info("import %s complete: %d bytes", backup_type.name, body.bytes)
            return json_answer(200, {"restored": True, "bytes": body.bytes})
        if body.end == CUT:
            return error_answer("import_failed", body.error.message if body.error else "the upload was cut off")
        return error_answer(
            "import_failed", f"the import stopped reading after {body.bytes} bytes, before the end of the body"
        )

    def handle_verify(self, headers, stream: BinaryIO, length: Optional[int]) -> Answer:
        """``POST /backup/verify``: checks that the body would restore, applying nothing."""
        incoming = self._incoming(headers, "verified", verify=True)
        if isinstance(incoming, Answer):
            return incoming
        backup_type, source, expected = incoming
        permit = self._exclusive()
        if permit is None:
            return error_answer("export_in_progress", "an export or import is running: try again when it has finished")
        body = ImportBody(stream, expected, length)
        error: Optional[SourceError] = None
        report: Optional[VerifyReport] = None
        try:
            report = source.verify(backup_type, body)
        except SourceError as e:
            error = e
        except Exception as e:
            log.exception("verify %s failed", backup_type.name)
            error = SourceError(f"the verify failed: {e}")
        finally:
            permit.release()
        if body.end == MISMATCH:
            return error_answer(
                "checksum_mismatch",
                f"the body's sha256 is {body.actual_sha256}, Backup-Sha256 says {expected}: the copy was not checked",
            )
        if isinstance(error, Unsupported):
            return error_answer(
                "restore_unsupported", "this app advertises verify but does not implement it: implement Source.verify"
            )
        if error is not None:
            log.error("verify %s failed: %s", backup_type.name, error.message)
            return _from_source_error(error, "import_failed")
        if body.end == CUT:
            return error_answer("import_failed", body.error.message if body.error else "the upload was cut off")
        if not isinstance(report, VerifyReport):
            return error_answer("import_failed", "the app's verify did not answer a VerifyReport")
        if body.end != VERIFIED:
            # A check that stopped before the end proved nothing about the rest: never ok.
            report.ok = False
            report.checks.append(
                VerifyCheck.failed(
                    "read to the end",
                    f"the check stopped reading after {body.bytes} bytes, before the end of the copy",
                )
            )
        log.info("verify %s complete: %d bytes, ok %s", backup_type.name, body.bytes, report.ok)
        return json_answer(200, report.to_json())

    def handle(self, method: str, path: str, headers, stream: BinaryIO, length: Optional[int]) -> Answer:
        """Routes a request to the contract's routes; other paths answer 404, other methods 405."""
        routes = {
            CAPABILITIES_PATH: ("GET", lambda: self.handle_capabilities(headers)),
            EXPORT_PATH: ("POST", lambda: self.handle_export(headers, stream, length)),
            IMPORT_PATH: ("POST", lambda: self.handle_import(headers, stream, length)),
            VERIFY_PATH: ("POST", lambda: self.handle_verify(headers, stream, length)),
        }
        route = routes.get(path)
        if route is None:
            return error_answer("not_found", f"no route {path}: the contract serves /backup/...", status=404)
        allowed, run = route
        if method.upper() != allowed:
            return error_answer(
                "method_not_allowed", f"{path} answers {allowed} only", status=405, headers=[("Allow", allowed)]
            )
        return run()
