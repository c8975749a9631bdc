"""The only place opsconsole touches pyiceberg internals: a ``replace`` snapshot.

Iceberg's RewriteDataFiles commits one snapshot with operation ``replace``:
"data and delete files were added and removed without changing table data".
Incremental readers (Flink, Spark streaming, pyiceberg's
``incremental_append_scan``) skip such snapshots, so a compaction never looks
like new rows. pyiceberg 0.12's public API can only commit ``append``,
``overwrite`` and ``delete`` (``Table.overwrite`` commits a delete *and* an
append), so compaction needs two private pieces, kept here and nowhere else:

* ``pyiceberg.table.update.snapshot._OverwriteFiles``: the snapshot producer
  that removes some data files and adds others in one commit. Subclassed to
  write ``replace`` as its operation, and to validate concurrent commits as
  Java's ``RewriteFiles`` does (the rewritten files must still exist and have
  no new deletes; files appended meanwhile are no conflict, they are simply
  kept).
* ``pyiceberg.io.pyarrow._dataframe_to_data_files``: writes Arrow data as data
  files at the table's target size, with pyiceberg's own statistics.

``tests/test_iceberg_rewrite_private_api.py`` fails when either moves or
changes shape, so a pyiceberg upgrade cannot silently break compaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table, Transaction

PRIVATE_API = (
    ("pyiceberg.table.update.snapshot", "_OverwriteFiles"),
    ("pyiceberg.io.pyarrow", "_dataframe_to_data_files"),
)
"""(module, name) of every private pyiceberg symbol used; checked by a test."""


def _rewrite_class() -> type:
    """``_OverwriteFiles`` that commits ``replace`` and validates like RewriteFiles."""
    from pyiceberg.table.snapshots import Operation, Summary
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    class _RewriteFiles(_OverwriteFiles):
        def _summary(self, snapshot_properties: Any = None) -> Summary:
            # pyiceberg's summary arithmetic accepts only append/overwrite/delete; the
            # totals of a rewrite are computed exactly like an overwrite's.
            self._operation = Operation.OVERWRITE
            try:
                summary = super()._summary(snapshot_properties or {})
            finally:
                self._operation = Operation.REPLACE
            return Summary(operation=Operation.REPLACE, **summary.additional_properties)

        def _validate_concurrency(self) -> None:
            from pyiceberg.table.update.validate import (
                _validate_data_files_exist,
                _validate_no_new_deletes_for_data_files,
            )

            window = self._commit_window
            if window is None or window.is_empty() or window.head is None or not self._deleted_data_files:
                return
            table = self._transaction._table
            _validate_data_files_exist(table, window.head, self._deleted_data_files, window.base)
            _validate_no_new_deletes_for_data_files(table, window.head, None, self._deleted_data_files, window.base)

    return _RewriteFiles


def write_data_files(table: Table, data: pa.Table) -> list[DataFile]:
    """Write ``data`` as new data files of ``table`` (not yet committed: invisible to readers)."""
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    return list(_dataframe_to_data_files(table_metadata=table.metadata, df=data, io=table.io))


def commit_replace(table: Table, removed: Iterable[DataFile], added: Iterable[DataFile],
                   properties: dict[str, str] | None = None) -> int:
    """Commit one ``replace`` snapshot on ``main``: ``removed`` files out, ``added`` files in.

    Raises pyiceberg's ``CommitFailedException`` / ``ValidationException`` when
    a concurrent commit conflicts (pyiceberg has already retried plain
    conflicts by then); the caller starts again from a fresh snapshot.
    Returns the new snapshot's id.
    """
    from pyiceberg.table.refs import MAIN_BRANCH
    from pyiceberg.table.snapshots import Operation

    txn: Transaction = table.transaction()
    producer = _rewrite_class()(operation=Operation.REPLACE, transaction=txn, io=table.io, branch=MAIN_BRANCH,
                                snapshot_properties=properties or {})
    for data_file in removed:
        producer.delete_data_file(data_file)
    for data_file in added:
        producer.append_data_file(data_file)
    producer.commit()
    txn.commit_transaction()
    return producer.snapshot_id


__all__ = ["PRIVATE_API", "commit_replace", "write_data_files"]
