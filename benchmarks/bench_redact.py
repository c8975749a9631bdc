"""What the model-boundary redaction costs: building rows with scrubbing against the same rows without.

Run: python benchmarks/bench_redact.py [N]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import opsconsole.model as model
from opsconsole.model import Health, ServiceStatus
from opsconsole.secret import Secret


def build(n: int) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    for i in range(n):
        ServiceStatus(f"svc-{i % 50}", Health.CRITICAL, "cannot reach http://127.0.0.1:9/health: ConnectError: All "
                      "connection attempts failed", 1.5, now, "health", {"url": "http://127.0.0.1:9/health"})
    return time.perf_counter() - started


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for i in range(5):
        Secret(f"a-profile-secret-{i}")  # a profile's worth of known secrets to search for
    original = model.scrub_fields
    model.scrub_fields = lambda obj, names: None  # reference: no redaction
    reference = min(build(n) for _ in range(3))
    model.scrub_fields = original
    scrubbed = min(build(n) for _ in range(3))
    print(f"{n} ServiceStatus rows: {reference * 1e6 / n:.2f} us without redaction, {scrubbed * 1e6 / n:.2f} us "
          f"with ({scrubbed / reference:.2f}x)")


if __name__ == "__main__":
    main()
