"""Backups made by other programs (``pg_dump``, ``tar``, a script): a command's standard output
streamed as an export, an import fed into a command's standard input.

Both check the command's exit status: an export whose command exits non-zero fails with
:class:`~backup_contract.CommandFailed`, which cuts the connection, so a dump that died half-way
never looks complete. A command is given as a list of arguments, or as a string run with
``sh -c``.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
from typing import Iterable, Mapping, Optional, Sequence, Union

from .body import ImportBody
from .errors import CommandFailed, SourceError
from .model import VerifyCheck, VerifyReport

READ_SIZE = 64 * 1024
#: How much of a failing command's standard error goes into the error message.
STDERR_TAIL = 2048

Command = Union[str, Sequence[str]]


def argv_of(command: Command) -> list:
    """The argument list of ``command``: a string runs with ``sh -c``."""
    if isinstance(command, str):
        return ["sh", "-c", command]
    argv = [str(a) for a in command]
    if not argv:
        raise ValueError("a command needs at least a program")
    return argv


def _name(argv: list) -> str:
    return argv[2] if argv[:2] == ["sh", "-c"] else argv[0]


_running: set = set()
_running_lock = threading.Lock()


@atexit.register
def kill_running() -> None:
    """Kills every command still running: a restore tool left alone would see its input end
    and might apply a body that was never checked."""
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kills ``proc`` and everything it started (its process group), unless it was reaped."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()


class _StderrTail(threading.Thread):
    """Reads a command's standard error in the background, keeping its last bytes."""

    def __init__(self, pipe) -> None:
        super().__init__(daemon=True)
        self._pipe = pipe
        self._tail = b""
        self.start()

    def run(self) -> None:
        try:
            while True:
                chunk = self._pipe.read(4096)
                if not chunk:
                    break
                self._tail = (self._tail + chunk)[-STDERR_TAIL:]
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        self.join(timeout=5)
        return self._tail.decode("utf-8", "replace").strip()


class _Child:
    """A started command with its standard error collected."""

    def __init__(self, command: Command, *, stdin, stdout, env, cwd) -> None:
        self.argv = argv_of(command)
        self.name = _name(self.argv)
        try:
            # Its own process group: killing it kills what it started too (a shell's children),
            # so no restore tool outlives it to see its input end.
            self.proc = subprocess.Popen(
                self.argv,
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                bufsize=0,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as e:
            raise SourceError(f"could not start `{self.name}`: {e.strerror or e}") from None
        self.stderr = _StderrTail(self.proc.stderr)
        with _running_lock:
            _running.add(self.proc)

    def failure(self, status: int, suffix: str = "") -> CommandFailed:
        said = self.stderr.text()
        how = f"exit status {status}" if status >= 0 else f"killed by signal {-status}"
        return CommandFailed(f"`{self.name}` failed ({how}){suffix}" + (f": {said}" if said else ""))

    def kill(self) -> None:
        """Kills the command (and what it started) if it still runs, and reaps it."""
        _kill_group(self.proc)
        self.proc.wait()
        with _running_lock:
            _running.discard(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


class CommandExport:
    """The standard output of a running command, in pieces of at most 64 KiB.

    Iteration ends cleanly only when the command exited with status 0; otherwise the last step
    raises :class:`~backup_contract.CommandFailed` quoting the end of its standard error.
    :meth:`close` (called by the server when the export ends or the client goes away) kills the
    command if it still runs.
    """

    def __init__(
        self, command: Command, *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None
    ) -> None:
        self._child = _Child(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env, cwd=cwd)
        self._done = False

    def __iter__(self) -> "CommandExport":
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        child = self._child
        try:
            chunk = child.proc.stdout.read(READ_SIZE)
        except OSError as e:
            self.close()
            raise SourceError(f"reading the output of `{child.name}` failed: {e}") from None
        if chunk:
            return chunk
        status = child.proc.wait()
        self.close()
        if status != 0:
            raise child.failure(status)
        raise StopIteration

    def close(self) -> None:
        """Stops the command (if it still runs) and releases its pipes."""
        self._done = True
        self._child.kill()


def export_command(
    command: Command, *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None
) -> CommandExport:
    """Starts ``command`` and returns its standard output as an export.

    A program that cannot be started raises :class:`~backup_contract.SourceError` at once.
    """
    return CommandExport(command, env=env, cwd=cwd)


def _write_all(pipe, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        written = pipe.write(view)
        view = view[written:]


def import_command(
    command: Command,
    body: Iterable[bytes],
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> None:
    """Runs ``command`` and writes ``body`` to its standard input.

    Returns only when the whole body was written and the command exited with status 0. On a bad
    body (checksum mismatch, cut upload) the command is killed before its input ends, so a
    command that restores in one transaction or into a staging area leaves the data as it was,
    and the body's error propagates. A command that stops reading early fails with
    :class:`~backup_contract.CommandFailed`, after the rest of the body was read (so the answer
    reaches the client).
    """
    child = _Child(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        for chunk in body:
            try:
                _write_all(child.proc.stdin, chunk)
            except OSError:
                # The command exited or closed its input early: read and drop the rest.
                if isinstance(body, ImportBody):
                    body.drain()
                child.proc.stdin.close()
                status = child.proc.wait()
                if isinstance(body, ImportBody) and body.error is not None:
                    raise body.error from None
                raise child.failure(status, " before reading the whole backup") from None
        child.proc.stdin.close()
        status = child.proc.wait()
        if status != 0:
            raise child.failure(status)
    finally:
        child.kill()


def verify_command(
    command: Command,
    body: Iterable[bytes],
    check: str,
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> VerifyReport:
    """Runs ``command`` on the body of a verify as :func:`import_command` does, and reports the
    result as the check named ``check``: passed when the whole body was read and the command
    exited with status 0, failed with the end of its standard error otherwise.

    Use a command that reads the whole copy and changes nothing (``tar -tzf -``,
    ``pg_restore --file=/dev/null``). A command that cannot be started raises
    :class:`~backup_contract.SourceError`: that says nothing about the copy.
    """
    try:
        import_command(command, body, env=env, cwd=cwd)
        result = None
    except CommandFailed as e:
        result = e.message
    nbytes = body.bytes if isinstance(body, ImportBody) else 0
    if result is None:
        return VerifyReport.of(nbytes, [VerifyCheck.passed(check, f"{nbytes} bytes read")])
    return VerifyReport.of(nbytes, [VerifyCheck.failed(check, result)])
