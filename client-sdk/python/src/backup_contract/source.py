"""What an app implements: a :class:`Source` that describes, exports, and optionally restores and
verifies, one or more backup types."""

from __future__ import annotations

from typing import Iterable, List, Optional

from .body import ImportBody
from .errors import Unsupported
from .model import BackupType, Health, VerifyReport


class Source:
    """Something an app backs up, offering one or more backup types.

    Subclass it and implement :meth:`types` and :meth:`export`; set ``can_restore = True`` and
    implement :meth:`restore` to accept imports; advertise ``verify=True`` on a type and
    implement :meth:`verify` for restore drills. :class:`~backup_contract.DirectorySource`,
    :class:`~backup_contract.CommandSource` and :class:`~backup_contract.PostgresSource` are
    ready-made ones.
    """

    #: True when :meth:`restore` is implemented (capabilities then say ``restore: true``).
    can_restore: bool = False

    def types(self) -> List[BackupType]:
        """The types this source offers (at least one); called once, when the service is made."""
        raise NotImplementedError

    def export(self, backup_type: BackupType) -> Iterable[bytes]:
        """Starts an export of ``backup_type`` (always one of :meth:`types`).

        Return an iterable producing the backup as it is made (a generator, or a
        :func:`~backup_contract.export_command`): never build it whole in memory. Raise a
        :class:`~backup_contract.SourceError` when the export fails, even part-way: the
        connection is then cut, so a partial export never looks complete. If the iterable has a
        ``close()`` it is called when the export ends or the client goes away.
        """
        raise NotImplementedError

    def restore(self, backup_type: BackupType, body: ImportBody) -> None:
        """Restores an earlier export of ``backup_type`` from ``body``.

        Restore atomically (stage then swap, or one transaction) and give up on the first error
        ``body`` raises (a checksum mismatch, a cut upload), letting it propagate: a bad import
        must leave the app's data as it was. :func:`~backup_contract.import_command` does this
        for a restore tool reading standard input.
        """
        raise Unsupported()

    def verify(self, backup_type: BackupType, body: ImportBody) -> VerifyReport:
        """Checks that ``body``, an earlier export of ``backup_type``, would restore, without
        applying it; only called for types advertised with ``verify=True``.

        Read it whole and check it as a restore would (:func:`~backup_contract.verify_command`
        with ``tar -tzf -`` or ``pg_restore --file=/dev/null``) and answer a report whose failed
        checks say what is wrong with the copy. Raise a :class:`~backup_contract.SourceError`
        only when the copy could not be checked at all (the tool is missing).
        """
        raise Unsupported(f"this app does not verify copies of type {backup_type.name!r}")

    def health(self) -> Optional[Health]:
        """What this source reports about what it backs up (e.g. its size), added to the
        capabilities on each request; keep it cheap. ``None`` reports nothing."""
        return None
