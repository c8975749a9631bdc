"""Peak Arrow memory of a compaction: bin by bin (opsconsole) against loading the whole table.

Run: ``python benchmarks/bench_compaction_memory.py [--files 40] [--rows 50000] [--target-mb 8]``

A local Iceberg table (SQLite catalog, file:// warehouse) gets ``--files``
small appends of ``--rows`` rows each. Each variant runs in its own fresh
process on its own copy of the table and reports pyarrow's peak allocation
(``default_memory_pool().max_memory()``) and its wall time:

* ``reference``: what compaction did before, ``table.overwrite(table.scan().to_arrow())``
  (whole table in memory; commits a delete and an append snapshot);
* ``binned``: :func:`opsconsole.drivers.iceberg.compact.compact` with ``--target-mb`` bins
  (one ``replace`` snapshot).

The figure that matters is the ratio of peaks in the same run: the binned
peak should follow the bin size, not the table size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETUP = r"""
import sys, pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
d, files, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cat = SqlCatalog("b", uri=f"sqlite:///{d}/cat.db", warehouse=f"file://{d}/wh")
cat.create_namespace("raw")
schema = pa.schema([("id", pa.int64()), ("email", pa.string()), ("total", pa.float64())])
t = cat.create_table("raw.orders", schema=schema)
for f in range(files):
    ids = range(f * rows, (f + 1) * rows)
    t.append(pa.table({"id": list(ids), "email": [f"customer{i}@example.com" for i in ids],
                       "total": [i * 0.5 for i in ids]}, schema=schema))
"""

RUN = r"""
import json, sys, time, pyarrow as pa
sys.path.insert(0, sys.argv[3])
from pyiceberg.catalog.sql import SqlCatalog
d, variant, target = sys.argv[1], sys.argv[2], int(sys.argv[4])
t = SqlCatalog("b", uri=f"sqlite:///{d}/cat.db", warehouse=f"file://{d}/wh").load_table("raw.orders")
pool = pa.default_memory_pool()
started = time.perf_counter()
if variant == "reference":
    t.overwrite(t.scan().to_arrow())
else:
    from opsconsole.drivers.iceberg.compact import compact
    compact(t, target_bytes=target)
t.refresh()
print(json.dumps({"peak": pool.max_memory(), "seconds": time.perf_counter() - started,
                  "files": int(t.current_snapshot().summary["total-data-files"]),
                  "rows": int(t.current_snapshot().summary["total-records"]),
                  "operation": t.current_snapshot().summary.operation.value}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--target-mb", type=float, default=8.0)
    args = parser.parse_args()
    target = int(args.target_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for variant in ("reference", "binned"):
            d = Path(tmp) / variant  # the same table built twice: metadata holds absolute paths
            d.mkdir()
            subprocess.run([sys.executable, "-c", SETUP, str(d), str(args.files), str(args.rows)], check=True)
            if variant == "reference":
                size = sum(p.stat().st_size for p in (d / "wh").rglob("*.parquet"))
                print(f"table: {args.files} files, {args.files * args.rows} rows, {size / 1e6:.1f} MB of parquet; "
                      f"bins of {args.target_mb:g} MB")
            out = subprocess.run([sys.executable, "-c", RUN, str(d), variant, str(ROOT), str(target)],
                                 check=True, capture_output=True, text=True).stdout
            results[variant] = json.loads(out.strip().splitlines()[-1])
            r = results[variant]
            print(f"{variant:10} peak {r['peak'] / 1e6:8.1f} MB  {r['seconds']:6.2f} s  -> {r['files']} files, "
                  f"{r['rows']} rows, last snapshot {r['operation']}")
        ratio = results["binned"]["peak"] / max(1, results["reference"]["peak"])
        print(f"binned peak / reference peak = {ratio:.2f}")


if __name__ == "__main__":
    main()
