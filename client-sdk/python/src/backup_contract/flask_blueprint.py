"""Contract v1 as a Flask blueprint, made in one call and registered in one line."""

from __future__ import annotations

from typing import Iterable, Optional, Union

from .service import CAPABILITIES_PATH, EXPORT_PATH, IMPORT_PATH, VERIFY_PATH, Answer, BackupService
from .source import Source
from .wsgi import WSGIHeaders, request_body


def create_backup_blueprint(
    app_name: str,
    sources: Union[Source, Iterable[Source]],
    token: Optional[str] = None,
    *,
    concurrent_exports: int = 1,
    slot_wait: float = 1.0,
    name: str = "backup_contract",
):
    """A Flask blueprint serving contract v1 for ``sources`` (one or a list), announced as
    ``app_name``::

        backup_bp = create_backup_blueprint("notes", DirectorySource("/var/lib/notes"))
        app.register_blueprint(backup_bp)

    The routes are ``/backup/capabilities``, ``/backup/export``, ``/backup/import`` and
    ``/backup/verify``: register it without a ``url_prefix`` (or the orchestrator's URL for the
    app must carry the prefix). ``token`` defaults to ``BACKUP_TOKEN``, or the contents of the
    file named by ``BACKUP_TOKEN_FILE``; every route requires it, whatever the app's own
    authentication. The request body is read from the WSGI input directly, so Flask's
    ``MAX_CONTENT_LENGTH`` does not limit imports. The :class:`~backup_contract.BackupService`
    is available as the blueprint's ``backup_service``; ``concurrent_exports`` and ``slot_wait``
    are its options.

    Serve the app with a server that speaks HTTP/1.1 and streams chunked bodies: werkzeug's
    ``make_server(..., threaded=True)`` (``flask run`` does), or :func:`backup_contract.serve`.
    """
    try:
        from flask import Blueprint, Response, request
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("create_backup_blueprint needs Flask: pip install 'backup-contract[flask]'") from e

    service = BackupService(app_name, sources, token, concurrent_exports=concurrent_exports, slot_wait=slot_wait)
    blueprint = Blueprint(name, __name__)

    def respond(answer: Answer) -> Response:
        return Response(answer.body, status=answer.status, headers=answer.headers, direct_passthrough=True)

    def incoming(handle):
        stream, length = request_body(request.environ)
        return respond(handle(WSGIHeaders(request.environ), stream, length))

    @blueprint.route(CAPABILITIES_PATH, methods=["GET"])
    def capabilities():
        return respond(service.handle_capabilities(WSGIHeaders(request.environ)))

    @blueprint.route(EXPORT_PATH, methods=["POST"])
    def export():
        return incoming(service.handle_export)

    @blueprint.route(IMPORT_PATH, methods=["POST"])
    def import_():
        return incoming(service.handle_import)

    @blueprint.route(VERIFY_PATH, methods=["POST"])
    def verify():
        return incoming(service.handle_verify)

    blueprint.backup_service = service
    return blueprint
