"""``python -m backup_contract``: serve one source over contract v1, no framework needed.

    BACKUP_TOKEN=s3cret python -m backup_contract --listen 127.0.0.1:9000 --directory /var/lib/notes
    PGHOST=db PGUSER=app python -m backup_contract --postgres billing
    python -m backup_contract --export 'sh dump.sh' --import 'sh restore.sh' --media-type application/x-tar --extension tar

The token comes from ``BACKUP_TOKEN`` or the file named by ``BACKUP_TOKEN_FILE``, never from the
command line. ``listening on http://HOST:PORT`` is printed on standard output first. Logs go to
standard error; ``LOG=debug``, ``info`` (the default), ``warn`` or ``error`` sets how many.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import List, Optional

from .command import CommandSource
from .directory import DirectorySource
from .postgres import PostgresSource
from .server import make_server, parse_listen
from .source import Source
from .token import TokenError
from .wsgi import make_wsgi_app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backup_contract",
        description="Serve backups over contract v1 (token from BACKUP_TOKEN or BACKUP_TOKEN_FILE).",
    )
    parser.add_argument("--listen", default="127.0.0.1:9000", help="HOST:PORT to listen on (port 0 picks one)")
    parser.add_argument("--app", help="the app's name shown in capabilities")
    parser.add_argument("--concurrent-exports", type=int, default=1, metavar="N", help="exports allowed at once")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--directory", metavar="PATH", help="back up a folder as a tar.gz")
    what.add_argument("--postgres", metavar="DATABASE", help="back up a PostgreSQL database (libpq PG* variables)")
    what.add_argument("--export", metavar="COMMAND", help="back up the standard output of a shell command")
    parser.add_argument("--type", default="full", metavar="NAME", help="type name (--directory, --export)")
    parser.add_argument("--restore-into", metavar="PATH", help="folder an import restores into (--directory)")
    parser.add_argument("--restore-database", metavar="DATABASE", help="database an import restores into")
    parser.add_argument("--import", dest="import_cmd", metavar="COMMAND", help="shell command restoring stdin")
    parser.add_argument("--verify", dest="verify_cmd", metavar="COMMAND", help="shell command checking stdin")
    parser.add_argument("--media-type", default="application/octet-stream", help="media type (--export)")
    parser.add_argument("--extension", default="bin", help="file name extension of copies (--export)")
    return parser


def _source(args: argparse.Namespace) -> Source:
    if args.directory is not None:
        if not os.path.isdir(args.directory):
            raise ValueError(f"--directory {args.directory!r} is not a folder")
        return DirectorySource(args.directory, type_name=args.type, restore_into=args.restore_into)
    if args.postgres is not None:
        return PostgresSource(args.postgres, restore_database=args.restore_database)
    if not args.export.strip():
        raise ValueError("--export is empty: give the command that writes the backup to standard output")
    return CommandSource(
        args.export,
        args.import_cmd,
        verify_cmd=args.verify_cmd,
        type_name=args.type,
        media_type=args.media_type,
        extension=args.extension,
    )


def _default_name(args: argparse.Namespace) -> str:
    if args.directory is not None:
        return os.path.basename(os.path.abspath(args.directory)) or "files"
    return args.postgres if args.postgres is not None else "command"


def _log_level() -> int:
    level = os.environ.get("LOG", "info").strip().lower()
    return {"debug": logging.DEBUG, "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}.get(
        level, logging.INFO
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the server; returns the exit status (2 for a usage or configuration error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=_log_level(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        host, port = parse_listen(args.listen)
        app = make_wsgi_app(args.app or _default_name(args), _source(args), concurrent_exports=args.concurrent_exports)
        server = make_server(app, host, port)
    except (TokenError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # SIGTERM ends like Ctrl-C: commands still running are killed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
