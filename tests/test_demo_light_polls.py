"""The console polls the demo without loading the engine's heavy libraries into its own process.

The demo engine already holds pyiceberg, pyarrow and DuckDB (~190 MB); the
console polled the same files through them too and doubled the demo's memory
(console + engine 405 MB, target 250). Each pane now reads what it needs
directly (the Iceberg metadata file, the transform's reported totals, /health
over urllib). This runs the real engine and polls every pane in a fresh
interpreter, then checks what that interpreter loaded. Whether the figures
still match the tables on disk is test_demo_pipeline's job.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = {"pyiceberg", "pyarrow", "duckdb", "httpx", "sqlalchemy", "numpy"}

POLL_EVERY_PANE = textwrap.dedent("""\
    import asyncio, json, sys
    from opsconsole.drivers.demo import DemoDriver
    from opsconsole.monitor.poll import poll

    async def main():
        driver = DemoDriver("pipeline", {"data_dir": sys.argv[1], "batch_interval": 0.5, "batch_size": 3,
                                         "transform_interval": 1}, timeout=15)
        await driver.connect()
        assert await driver.wait_ready(30)
        for _ in range(120):  # until a transform has run and reported what staging holds
            if driver.paths.runs_log.exists() and '"staging"' in driver.paths.runs_log.read_text():
                break
            await asyncio.sleep(0.25)
        results = {pane.value: await poll(pane, [driver]) for pane in sorted(driver.panes)}
        await driver.close()
        print(json.dumps({"errors": {k: dict(r.errors) for k, r in results.items()},
                          "rows": {k: len(r.rows) for k, r in results.items()},
                          "services": {r.name: r.health.name for r in results["services"].rows},
                          "modules": sorted({m.split(".")[0] for m in sys.modules})}))

    asyncio.run(main())
    """)


def test_every_demo_pane_polls_without_the_engines_libraries(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", POLL_EVERY_PANE, str(tmp_path / "demo")], capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not any(result["errors"].values()), result["errors"]
    assert all(result["rows"].values()), result["rows"]  # every pane has rows: each read really happened
    assert result["services"]["ingestion-api"] == "OK" and result["services"]["staging-duckdb"] == "OK"
    assert HEAVY.isdisjoint(result["modules"]), sorted(HEAVY & set(result["modules"]))
