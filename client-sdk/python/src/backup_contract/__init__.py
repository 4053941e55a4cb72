"""Make a Python app backup-able: serve backup contract v1 in a few lines.

Pick or write a :class:`Source` (what to back up and how), then serve it:

* in a Flask app, ``app.register_blueprint(create_backup_blueprint("notes", DirectorySource(path)))``;
* in any WSGI stack, ``make_wsgi_app("notes", DirectorySource(path))``;
* on its own, ``python -m backup_contract --listen 0.0.0.0:9000 --directory PATH``.

The package does the rest of the contract: the bearer token (``BACKUP_TOKEN`` or
``BACKUP_TOKEN_FILE``) compared in constant time, one export at a time (a second gets ``409
export_in_progress``), an empty or failing export never passed off as complete (a failure
part-way cuts the connection), and an import hashed against its ``Backup-Sha256`` before its
end reaches the restore tool, so a mismatch applies nothing. Bytes pass through 64 KiB at a
time: memory stays bounded whatever the size of a backup.
"""

from .body import ImportBody
from .command import CommandSource
from .directory import DirectorySource
from .errors import Busy, ChecksumMismatch, CommandFailed, SourceError, Unsupported, UploadCut
from .flask_blueprint import create_backup_blueprint
from .model import BackupType, Health, VerifyCheck, VerifyReport
from .postgres import PostgresSource
from .process import export_command, import_command, verify_command
from .server import make_server, serve
from .service import Answer, BackupService
from .source import Source
from .token import TokenError, load_token
from .wsgi import make_wsgi_app

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "BackupService",
    "BackupType",
    "Busy",
    "ChecksumMismatch",
    "CommandFailed",
    "CommandSource",
    "DirectorySource",
    "Health",
    "ImportBody",
    "PostgresSource",
    "Source",
    "SourceError",
    "TokenError",
    "Unsupported",
    "UploadCut",
    "VerifyCheck",
    "VerifyReport",
    "create_backup_blueprint",
    "export_command",
    "import_command",
    "load_token",
    "make_server",
    "make_wsgi_app",
    "serve",
    "verify_command",
]
