"""How fast the fsync'ed audit log writes (each runbook step costs two records).

Run: python benchmarks/audit_write.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from opsconsole.audit import AuditLog


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        log = AuditLog(Path(tmp) / "audit.jsonl")
        t0 = time.perf_counter()
        for i in range(n):
            log.write(log.event(run_id="bench", phase="start", procedure="p", step=f"s{i}", params={"table": "t"}))
        took = time.perf_counter() - t0
        t1 = time.perf_counter()
        events = log.read()
        read = time.perf_counter() - t1
    print(f"audit write: {n} records in {took:.3f}s = {n / took:,.0f} records/s, "
          f"{took / n * 1000:.2f} ms per record (open+write+fsync+close)")
    print(f"audit read:  {len(events)} records in {read * 1000:.1f} ms")


if __name__ == "__main__":
    main()
