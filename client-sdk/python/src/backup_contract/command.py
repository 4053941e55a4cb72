"""Any command's output as a backup, and another command to restore it: for data that a script
already knows how to dump."""

from __future__ import annotations

from typing import List, Mapping, Optional

from .body import ImportBody
from .errors import Unsupported
from .model import BackupType, VerifyReport
from .process import Command, export_command, import_command, verify_command
from .source import Source


class CommandSource(Source):
    """Exports the standard output of ``export_cmd``; imports by piping into ``import_cmd``.

    Commands are argument lists, or strings run with ``sh -c``. An export whose command exits
    non-zero fails: the connection is cut, never ended as a short good backup. Without
    ``import_cmd`` the app does not accept imports; with ``verify_cmd`` (a command that reads a
    copy on its standard input and exits 0 when it would restore) the type offers verify.
    """

    def __init__(
        self,
        export_cmd: Command,
        import_cmd: Optional[Command] = None,
        *,
        verify_cmd: Optional[Command] = None,
        type_name: str = "full",
        media_type: str = "application/octet-stream",
        extension: str = "bin",
        compressed: Optional[bool] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> None:
        self.export_cmd = export_cmd
        self.import_cmd = import_cmd
        self.verify_cmd = verify_cmd
        self.backup_type = BackupType(
            type_name, media_type, extension, verify=verify_cmd is not None, compressed=compressed
        )
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.can_restore = import_cmd is not None

    def types(self) -> List[BackupType]:
        return [self.backup_type]

    def export(self, backup_type: BackupType):
        return export_command(self.export_cmd, env=self.env, cwd=self.cwd)

    def restore(self, backup_type: BackupType, body: ImportBody) -> None:
        if self.import_cmd is None:
            raise Unsupported()
        import_command(self.import_cmd, body, env=self.env, cwd=self.cwd)

    def verify(self, backup_type: BackupType, body: ImportBody) -> VerifyReport:
        if self.verify_cmd is None:
            return super().verify(backup_type, body)
        return verify_command(self.verify_cmd, body, "the verify command accepts the copy", env=self.env, cwd=self.cwd)
