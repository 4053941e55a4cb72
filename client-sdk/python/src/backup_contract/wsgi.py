"""Contract v1 as a plain WSGI application: no framework needed."""

from __future__ import annotations

from http import HTTPStatus
from typing import BinaryIO, Iterable, Optional, Tuple, Union

from .service import Answer, BackupService
from .source import Source


class WSGIHeaders:
    """Read access to the request headers of a WSGI environ, by their HTTP names."""

    def __init__(self, environ: dict) -> None:
        self._environ = environ

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        return self._environ.get(key, default)


def request_body(environ: dict) -> Tuple[BinaryIO, Optional[int]]:
    """The request body of a WSGI environ and its length: ``None`` when the server says the
    stream ends by itself (``wsgi.input_terminated``, e.g. a chunked upload), 0 when there is
    neither a length nor such a stream."""
    stream = environ["wsgi.input"]
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    if declared.isdigit():
        return stream, int(declared)
    return stream, None if environ.get("wsgi.input_terminated") else 0


def status_line(status: int) -> str:
    """``"200 OK"`` for 200."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def send_answer(answer: Answer, start_response) -> Iterable[bytes]:
    """Starts the WSGI response of ``answer`` and returns its body iterable."""
    headers = list(answer.headers)
    if isinstance(answer.body, bytes):
        headers.append(("Content-Length", str(len(answer.body))))
        start_response(status_line(answer.status), headers)
        return [answer.body]
    start_response(status_line(answer.status), headers)
    return answer.body


class BackupWSGIApp:
    """A WSGI application serving ``/backup/capabilities``, ``/backup/export``,
    ``/backup/import`` and ``/backup/verify`` for a :class:`~backup_contract.BackupService`
    (``service``). Serve it with a server that speaks HTTP/1.1 and streams chunked bodies:
    :func:`backup_contract.serve`, or werkzeug's threaded server."""

    def __init__(self, service: BackupService) -> None:
        self.service = service

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        stream, length = request_body(environ)
        answer = self.service.handle(
            environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"), WSGIHeaders(environ), stream, length
        )
        return send_answer(answer, start_response)


def make_wsgi_app(
    app_name: str,
    sources: Union[Source, Iterable[Source]],
    token: Optional[str] = None,
    *,
    concurrent_exports: int = 1,
    slot_wait: float = 1.0,
) -> BackupWSGIApp:
    """A WSGI app serving contract v1 for ``sources`` (one or a list), announced as ``app_name``.

    ``token`` defaults to ``BACKUP_TOKEN``, or the contents of the file named by
    ``BACKUP_TOKEN_FILE``. See :class:`~backup_contract.BackupService` for the rest.
    """
    service = BackupService(app_name, sources, token, concurrent_exports=concurrent_exports, slot_wait=slot_wait)
    return BackupWSGIApp(service)
