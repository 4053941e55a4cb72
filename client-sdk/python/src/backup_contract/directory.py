"""A folder, exported as a streamed tar.gz and restored by extracting beside it, then swapping."""

from __future__ import annotations

import os
import shutil
import stat
import time
from typing import List, Optional

from .body import ImportBody
from .process import export_command, import_command, verify_command
from .model import BackupType, Health, VerifyReport
from .source import Source


class DirectorySource(Source):
    """Backs up the folder ``path`` as a tar.gz (``tar`` on the PATH).

    An import extracts into a staging folder beside the target (``restore_into``, by default
    ``path`` itself) and swaps it in only when ``tar`` succeeded on a body whose sha256
    matched: a bad import leaves the folder as it was. A verify lists the whole archive with
    ``tar -tzf -``, which reads and decompresses it to its end, changing nothing. Health is the
    folder's size and file count.
    """

    can_restore = True

    def __init__(self, path: str, *, type_name: str = "full", restore_into: Optional[str] = None) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.restore_into = os.path.abspath(os.fspath(restore_into)) if restore_into is not None else self.path
        self.type_name = type_name

    def types(self) -> List[BackupType]:
        return [BackupType(self.type_name, "application/gzip", "tar.gz", verify=True)]

    def export(self, backup_type: BackupType):
        return export_command(["tar", "-czf", "-", "-C", self.path, "."])

    def verify(self, backup_type: BackupType, body: ImportBody) -> VerifyReport:
        return verify_command(["tar", "-tzf", "-"], body, "the archive reads to its end")

    def restore(self, backup_type: BackupType, body: ImportBody) -> None:
        target = self.restore_into
        staging = _sibling(target, "incoming")
        os.makedirs(staging)
        try:
            import_command(["tar", "-xzf", "-", "-C", staging], body)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # Swap: the old folder moves aside, the restored one takes its place.
        previous = _sibling(target, "previous")
        had_target = os.path.lexists(target)
        if had_target:
            os.rename(target, previous)
        try:
            os.rename(staging, target)
        except BaseException:
            if had_target:
                os.rename(previous, target)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if had_target:
            shutil.rmtree(previous)

    def health(self) -> Optional[Health]:
        """The bytes and the number of regular files in the folder (symbolic links not followed)."""
        if not os.path.isdir(self.path):
            return None
        size, files = 0, 0
        for root, _dirs, names in os.walk(self.path):
            for name in names:
                try:
                    st = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    size += st.st_size
                    files += 1
        return Health(size_bytes=size, details={"files": str(files)})


def _sibling(target: str, what: str) -> str:
    """A hidden folder next to ``target``, unique to this process and moment."""
    parent, name = os.path.split(target.rstrip(os.sep))
    return os.path.join(parent, f".{name or 'restore'}.{what}-{os.getpid()}-{time.time_ns()}")
