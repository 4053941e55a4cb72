"""A PostgreSQL database, dumped with ``pg_dump`` and restored in one transaction."""

from __future__ import annotations

import os
import subprocess
from typing import List, Mapping, Optional

from .body import ImportBody
from .model import BackupType, Health, VerifyReport
from .process import export_command, import_command, verify_command
from .source import Source


class PostgresSource(Source):
    """Backs up the PostgreSQL database ``database`` with the client tools on the PATH.

    Types (rename them, or leave one out with ``None``):

    * ``full``: ``pg_dump --format=custom``, restored with ``pg_restore --single-transaction
      --exit-on-error --clean --if-exists --no-owner``, verified with
      ``pg_restore --file=/dev/null`` (which reads every object and all table data);
    * ``schema``: the schema alone as plain SQL, restored with ``psql --single-transaction``
      and ``ON_ERROR_STOP``.

    A restore runs in a single transaction whose input ends only when the body's sha256
    matched: a bad import is rolled back and the database is left as it was. Imports go into
    ``restore_database`` (by default ``database``). The connection comes from libpq's variables
    (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` or ``~/.pgpass``), overridable with
    ``env``, so no password appears on a command line. Health is the database's size.
    """

    can_restore = True

    def __init__(
        self,
        database: str,
        *,
        restore_database: Optional[str] = None,
        full: Optional[str] = "full",
        schema: Optional[str] = "schema",
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not database.strip():
            raise ValueError("name the database to back up")
        if full is None and schema is None:
            raise ValueError("offer at least one of the types full and schema")
        self.database = database
        self.restore_database = restore_database or database
        self.full, self.schema = full, schema
        self.env = {**os.environ, **env} if env is not None else None

    def types(self) -> List[BackupType]:
        types = []
        if self.full is not None:
            types.append(BackupType(self.full, "application/octet-stream", "dump", verify=True, compressed=True))
        if self.schema is not None:
            types.append(BackupType(self.schema, "application/sql", "sql"))
        return types

    def export(self, backup_type: BackupType):
        dump = ["pg_dump", "--no-password", "--dbname", self.database]
        if backup_type.name == self.full:
            dump.append("--format=custom")
        else:
            dump += ["--format=plain", "--schema-only", "--clean", "--if-exists"]
        return export_command(dump, env=self.env)

    def restore(self, backup_type: BackupType, body: ImportBody) -> None:
        if backup_type.name == self.full:
            restore = ["pg_restore", "--no-password", "--single-transaction", "--exit-on-error"]
            restore += ["--clean", "--if-exists", "--no-owner"]
        else:
            restore = ["psql", "--no-password", "--no-psqlrc", "--quiet", "--single-transaction"]
            restore += ["-v", "ON_ERROR_STOP=1"]
        import_command(restore + ["--dbname", self.restore_database], body, env=self.env)

    def verify(self, backup_type: BackupType, body: ImportBody) -> VerifyReport:
        # --list would read only the table of contents, and pass a truncated dump.
        check = ["pg_restore", "--no-password", "--file=/dev/null"]
        return verify_command(check, body, "pg_restore reads the whole dump", env=self.env)

    def health(self) -> Optional[Health]:
        query = (
            "SELECT pg_database_size(current_database()), "
            "(SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))"
        )
        argv = ["psql", "--no-password", "--no-psqlrc", "-Atc", query, "--dbname", self.database]
        try:
            out = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=10, check=True)
            size, tables = out.stdout.strip().split("|")
            return Health(size_bytes=int(size), details={"database": self.database, "tables": tables})
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
