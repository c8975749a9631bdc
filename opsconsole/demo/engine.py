"""The demo pipeline engine: runs in its own process, does real work.

Components, all local and real:

* **Ingestion API**: an HTTP server on 127.0.0.1 with ``GET /health`` and
  ``POST /events`` (seed 002's webhook receiver).
* **Webhook source**: posts a deterministic batch of order events to that API
  every ``batch_interval`` seconds over real HTTP (no random numbers: event *n*
  always has the same customer and amount).
* **Raw writer**: appends what the API buffered to the Iceberg table
  ``raw.orders`` (pyiceberg SqlCatalog on SQLite, files under the data dir), one
  data file per batch, so file and snapshot counts really grow.
* **Transform**: a DuckDB job that incrementally copies new raw rows into the
  staging table ``stg_orders`` and rebuilds the ``daily_revenue`` mart; every
  statement it runs is logged with its measured duration (the Queries pane).

Faults for walkthroughs are flag files under ``faults/`` (see
:data:`opsconsole.demo.layout.FAULTS`), checked every tick.

Run: ``python -m opsconsole.demo.engine --data-dir DIR [--parent-pid PID]``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from opsconsole.audit import pid_alive
from opsconsole.demo.events import EventBuffer, event
from opsconsole.demo.layout import RAW_TABLE, DemoPaths, engine_in_use

log = logging.getLogger("opsconsole.demo")
FLOOD_FILES = 60


class Engine:
    """Owns the components and the loops; stopped by SIGTERM or parent death."""

    def __init__(self, paths: DemoPaths, *, batch_interval: float, batch_size: int, transform_interval: float,
                 parent_pid: int | None, port: int = 0) -> None:
        self.paths = paths
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self.transform_interval = transform_interval
        self.parent_pid = parent_pid
        self.had_users = False
        self.port = port
        self.stop = threading.Event()
        self.buffer = EventBuffer()
        self.server: ThreadingHTTPServer | None = None
        self.next_event = 1
        self.catalog: Any = None
        self.table_lock = threading.Lock()
        self.held_connection: Any = None
        self.started_at = datetime.now(UTC)

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
        from pyiceberg.schema import Schema
        from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

        self.paths.ensure()
        self.catalog = SqlCatalog("demo", **self.paths.catalog_properties())
        try:
            self.catalog.create_namespace("raw")
        except NamespaceAlreadyExistsError:
            pass
        try:
            table = self.catalog.load_table(RAW_TABLE)
        except NoSuchTableError:
            schema = Schema(
                NestedField(1, "order_id", LongType(), required=False),
                NestedField(2, "customer", StringType(), required=False),
                NestedField(3, "amount", DoubleType(), required=False),
                NestedField(4, "created_at", TimestamptzType(), required=False),
            )
            table = self.catalog.create_table(RAW_TABLE, schema=schema)
        snapshot = table.current_snapshot()
        if snapshot is not None:
            import pyarrow.compute as pc

            ids = table.scan(selected_fields=("order_id",)).to_arrow()["order_id"]
            self.next_event = int(pc.max(ids).as_py() or 0) + 1 if len(ids) else 1
        self._init_staging()

    def _init_staging(self) -> None:
        self._duck(lambda con: [
            self._sql(con, "CREATE TABLE IF NOT EXISTS stg_orders (order_id BIGINT PRIMARY KEY, customer VARCHAR, "
                           "amount_cents BIGINT, order_date DATE, created_at TIMESTAMPTZ, loaded_at TIMESTAMPTZ)"),
            self._sql(con, "CREATE TABLE IF NOT EXISTS daily_revenue (order_date DATE, customer VARCHAR, "
                           "orders BIGINT, revenue_cents BIGINT)"),
        ], label="init")

    # ------------------------------------------------------------------ http
    def start_http(self) -> None:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "opsconsole-demo-ingestion/1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._reply(200, {"status": "ok", "buffered": len(engine.buffer),
                                      "received": engine.buffer.received})
                else:
                    self._reply(404, {"error": "not found"})

            def do_POST(self) -> None:
                if self.path != "/events":
                    self._reply(404, {"error": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    events = json.loads(self.rfile.read(length))
                    assert isinstance(events, list)
                except (ValueError, AssertionError):
                    self._reply(400, {"error": "expected a JSON list of events"})
                    return
                engine.buffer.add(events)
                self._reply(202, {"accepted": len(events)})

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5},
                         name="ingestion-api", daemon=True).start()

    def stop_http(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # ------------------------------------------------------------------ loops
    def webhook_source(self) -> None:
        """Post deterministic events to the API, like the seed's webhooks."""
        while not self.stop.wait(self.batch_interval):
            if self.paths.fault_flag("stop-ingestion").exists():
                continue
            count = FLOOD_FILES if self.paths.fault_flag("flood-small-files").exists() else self.batch_size
            batch = [event(self.next_event + i) for i in range(count)]
            body = json.dumps(batch).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{self.port}/events", data=body,
                                             headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 202:
                        self.next_event += count
            except (urllib.error.URLError, OSError) as exc:
                log.info("webhook delivery failed (will retry the same events): %s", exc)

    def raw_writer(self) -> None:
        """Append buffered events to Iceberg: one file per batch (one per event while flooding)."""
        time.sleep(self.batch_interval / 2)
        while not self.stop.wait(self.batch_interval):
            events = self.buffer.drain()
            if not events:
                continue
            flood_flag = self.paths.fault_flag("flood-small-files")
            try:
                if flood_flag.exists():
                    for item in events:
                        self.append([item])
                    flood_flag.unlink(missing_ok=True)
                    log.info("raw.orders: %d events appended as %d one-row files (flood fault)", len(events),
                             len(events))
                else:
                    self.append(events)
                    log.info("raw.orders: %d events appended (orders %s-%s)", len(events),
                             events[0].get("order_id"), events[-1].get("order_id"))
            except Exception:
                log.exception("raw append failed")
                self.buffer.add(events)

    def append(self, events: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        table = self.catalog.load_table(RAW_TABLE)
        arrow = pa.Table.from_pylist(
            [{**e, "created_at": datetime.fromisoformat(e["created_at"])} for e in events],
            schema=table.schema().as_arrow(),
        )
        for attempt in range(5):
            try:
                with self.table_lock:
                    table.append(arrow)
                return
            except Exception as exc:  # CommitFailedException when compaction raced us
                if type(exc).__name__ not in {"CommitFailedException", "ValidationException"} or attempt == 4:
                    raise
                table = self.catalog.load_table(RAW_TABLE)

    def transformer(self) -> None:
        while not self.stop.wait(self.transform_interval):
            self.transform_once()

    def transform_once(self) -> None:
        """Incremental raw -> staging load and mart rebuild, recorded as a job run."""
        run_id = uuid.uuid4().hex[:12]
        started = time.time()
        record: dict[str, Any] = {"job": "transform", "run_id": run_id,
                                  "started_at": datetime.now(UTC).isoformat()}
        try:
            from pyiceberg.expressions import GreaterThan

            table = self.catalog.load_table(RAW_TABLE)
            snapshot = table.current_snapshot()
            record["raw_snapshot_id"] = snapshot.snapshot_id if snapshot else None
            record["raw_snapshot_ms"] = snapshot.timestamp_ms if snapshot else None

            def load(con: Any) -> int:
                high = self._sql(con, "SELECT coalesce(max(order_id), 0) FROM stg_orders")[0][0]
                if snapshot is None:
                    return 0
                batch = table.scan(row_filter=GreaterThan("order_id", int(high)),
                                   snapshot_id=snapshot.snapshot_id).to_arrow()
                con.register("raw_batch", batch)
                try:
                    self._sql(con, "INSERT INTO stg_orders SELECT order_id, upper(customer), "
                                   "CAST(round(amount * 100) AS BIGINT), CAST(created_at AS DATE), created_at, now() "
                                   "FROM raw_batch WHERE order_id IS NOT NULL ON CONFLICT DO NOTHING")
                finally:
                    con.unregister("raw_batch")
                self._sql(con, "CREATE OR REPLACE TABLE daily_revenue AS SELECT order_date, customer, "
                               "count(*) AS orders, sum(amount_cents) AS revenue_cents FROM stg_orders "
                               "GROUP BY ALL ORDER BY ALL")
                return len(batch)

            def load_and_count(con: Any) -> int:
                rows_in = load(con)
                record["staging"] = self._staging_totals(con)
                return rows_in

            record["rows_in"] = self._duck(load_and_count, label="transform")
            record["state"] = "success"
        except Exception as exc:
            record["state"] = "failed"
            record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        record["duration_s"] = round(time.time() - started, 4)
        self._append_jsonl(self.paths.runs_log, record)
        if record["state"] == "success":
            log.info("transform %s: %s new rows raw -> staging in %.2fs", run_id, record["rows_in"],
                     record["duration_s"])
        else:
            log.warning("transform %s failed after %.2fs: %s", run_id, record["duration_s"], record["error"])

    @staticmethod
    def _staging_totals(con: Any) -> dict[str, Any]:
        """What staging holds after a run, reported with it: the console reads lag and counts from the run log."""
        staged, mart, loaded_ms = con.execute(
            "SELECT (SELECT count(*) FROM stg_orders), (SELECT count(*) FROM daily_revenue), "
            "(SELECT epoch_ms(max(loaded_at)) FROM stg_orders)").fetchone()
        return {"stg_orders": int(staged), "daily_revenue": int(mart), "max_loaded_ms": loaded_ms}

    # ------------------------------------------------------------------ duckdb
    def _duck(self, work: Any, *, label: str) -> Any:
        """Run ``work(con)`` on the staging DuckDB, holding the lock only as long as needed.

        With the ``hold-lock`` fault, the connection stays open between runs:
        exactly the situation of seed 003's "database is locked" incident.
        """
        import duckdb

        con = self.held_connection
        for attempt in range(20):  # a console reading read-only holds a shared lock for a few ms
            if con is not None:
                break
            try:
                con = duckdb.connect(str(self.paths.staging_db))
            except duckdb.IOException:
                if attempt == 19:
                    raise
                time.sleep(0.1)
        try:
            return work(con)
        finally:
            if self.paths.fault_flag("hold-lock").exists():
                if self.held_connection is None:
                    log.warning("staging-duckdb: write lock held (fault hold-lock): readers are locked out")
                self.held_connection = con
            else:
                self.held_connection = None
                con.close()

    def release_lock_if_cleared(self) -> None:
        if self.held_connection is not None and not self.paths.fault_flag("hold-lock").exists():
            self.held_connection.close()
            self.held_connection = None
            log.info("staging-duckdb: write lock released")
        elif self.held_connection is None and self.paths.fault_flag("hold-lock").exists():
            import duckdb

            self.held_connection = duckdb.connect(str(self.paths.staging_db))
            log.warning("staging-duckdb: write lock held (fault hold-lock): readers are locked out")

    def _sql(self, con: Any, sql: str) -> list[tuple[Any, ...]]:
        """Execute, fetch and log one statement with its measured duration."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"query_id": uuid.uuid4().hex[:12], "sql": sql, "started_at": started.isoformat()}
        try:
            rows = con.execute(sql).fetchall()
            entry["status"] = "FINISHED"
            dml = sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            entry["rows"] = int(rows[0][0]) if dml and rows else len(rows)
            return rows
        except Exception as exc:
            entry["status"] = "FAILED"
            entry["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise
        finally:
            entry["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
            self._append_jsonl(self.paths.queries_log, entry)

    def _append_jsonl(self, path: Path, record: dict[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ main
    def write_state(self) -> None:
        state = {"pid": os.getpid(), "port": self.port, "started_at": self.started_at.isoformat(),
                 "batch_interval": self.batch_interval, "transform_interval": self.transform_interval,
                 "http": self.server is not None}
        tmp = self.paths.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.paths.state_file)

    def run(self) -> None:
        self.setup()
        self.start_http()
        self.write_state()
        for target, name in ((self.webhook_source, "webhooks"), (self.raw_writer, "raw-writer"),
                             (self.transformer, "transform")):
            threading.Thread(target=target, name=name, daemon=True).start()
        while not self.stop.wait(0.5):
            if not self.paths.root.exists():
                log.info("data dir %s deleted, stopping (a console restarts a fresh engine)", self.paths.root)
                break
            in_use = engine_in_use(self.paths)
            self.had_users = self.had_users or in_use
            if not in_use and (self.had_users or (self.parent_pid and not pid_alive(self.parent_pid))):
                # Referenced by the consoles' shared lock, not by one parent: the last one out stops it.
                log.info("no console uses the engine any more, stopping")
                break
            http_down = self.paths.fault_flag("stop-http").exists()
            if http_down and self.server is not None:
                self.stop_http()
                self.write_state()
                log.warning("ingestion-api: stopped (fault stop-http)")
            elif not http_down and self.server is None:
                self.start_http()
                self.write_state()
                log.info("ingestion-api: listening on 127.0.0.1:%d", self.port)
            self.release_lock_if_cleared()
        self.stop.set()
        self.stop_http()
        if self.held_connection is not None:
            self.held_connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="opsconsole embedded demo pipeline engine")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--batch-interval", type=float, default=5)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--transform-interval", type=float, default=10)
    parser.add_argument("--parent-pid", type=int)
    args = parser.parse_args(argv)
    # Batches of a few dozen rows: pyarrow's jemalloc pool keeps ~6 MB of freed pages around for reuse that
    # never pays off here; the system allocator gives them back (read by pyarrow when it is first imported).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    paths = DemoPaths(Path(args.data_dir))
    paths.ensure()
    # The log is what ``g`` shows on a demo service: one line per batch and per transform, so it rotates.
    handler = RotatingFileHandler(paths.engine_log, maxBytes=1_000_000, backupCount=1)
    logging.basicConfig(handlers=[handler], level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    lock_fh = paths.engine_lock.open("w")
    try:
        fcntl.flock(lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another demo engine already runs on {paths.root}")
        return 1
    previous = paths.read_state() or {}
    engine = Engine(paths, batch_interval=args.batch_interval, batch_size=args.batch_size,
                    transform_interval=args.transform_interval, parent_pid=args.parent_pid,
                    port=int(previous.get("port") or 0))
    signal.signal(signal.SIGTERM, lambda *_: engine.stop.set())
    signal.signal(signal.SIGINT, lambda *_: engine.stop.set())
    try:
        engine.run()
    except OSError as exc:  # previous port taken: start fresh on a new one
        log.warning("restart on a new port: %s", exc)
        engine.port = 0
        engine.run()
    log.info("engine stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
