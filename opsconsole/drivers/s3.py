"""S3 data lake of the OSAA pipeline (seed 003): environments, promotion, restore.

The seed's lake is one bucket with an environment prefix (``dev/``, ``qa/``,
``prod/``) and a layer under it (``landing/`` for ingested Parquet, ``staging/``
for transformed output); backups live in a second bucket
(``<bucket>-backup/<name>/...`` mirrors ``prod/...``). This driver shows, per
environment, layer and dataset (the first folder under the layer), how many
objects there are, their size and newest modification, and offers the seed's
procedures as actions:

* promote dev -> qa and qa -> prod (``pipeline promote --from --to``): a
  server-side copy of the promoted layers, never a delete; before prod objects
  are overwritten they are copied to the backup bucket under a timestamp, so a
  bad promotion can be undone with ``restore_backup``;
* restore a backup over prod (``aws s3 sync s3://<bucket>-backup/<name>/ s3://<bucket>/prod/``).

boto3 is imported on the worker thread, never at module level.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.errors import ActionRefused, AuthError, DriverError, DriverUnavailable
from opsconsole.humanize import size as human_size
from opsconsole.model import ActionResult, ActionSpec, Health, Pane, ServiceStatus, TableStats
from opsconsole.secret import reveal

_AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                         "InvalidToken", "AllAccessDisabled"})


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object of the lake."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class _Listing:
    taken_at: datetime
    objects: dict[tuple[str, str], tuple[S3Object, ...]]
    """(environment, layer) -> objects under ``<env>/<layer>/``."""
    truncated: frozenset[tuple[str, str]]
    backup_bucket_ok: bool
    latency_ms: float


class S3Driver(Driver):
    """Environments of a bucket (``<env>/<layer>/<dataset>/...``), promotion and restore."""

    kind: ClassVar[str] = "s3"
    description: ClassVar[str] = "S3 data lake: objects per environment and layer, promote dev->qa->prod, restore"
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.TABLES})
    no_checks = frozenset({"table_files"})  # objects under a dataset prefix, not an Iceberg table
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("bucket", str, required=True, help="lake bucket (seed: osaa-mvp)"),
        OptionSpec("environments", list, default=["dev", "qa", "prod"],
                   help="environment prefixes, in promotion order"),
        OptionSpec("layers", list, default=["landing", "staging"], help="layer folders under each environment"),
        OptionSpec("promote_layers", list, default=["staging"], help="layers copied by a promotion"),
        OptionSpec("backup_bucket", str, default="", help="default: <bucket>-backup"),
        OptionSpec("backup_before_promote", bool, default=True,
                   help="copy prod objects to the backup bucket before a promotion overwrites them"),
        OptionSpec("endpoint", str, default="", help="S3 endpoint URL (MinIO, moto); empty: AWS"),
        OptionSpec("region", str, default="us-east-1"),
        OptionSpec("access_key", str, default="", help="empty: the AWS default credential chain"),
        OptionSpec("secret_key", str, default="", secret=True),
        OptionSpec("max_objects", int, default=20000, help="listing cap per environment and layer"),
    )
    actions: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("promote_dev_qa", "Promote dev -> qa",
                   "Copies every object under dev/<promoted layers>/ over the same keys under qa/; qa objects "
                   "with the same key are overwritten, others are kept. Nothing is deleted.", dangerous=True),
        ActionSpec("promote_qa_prod", "Promote qa -> prod",
                   "Copies every object under qa/<promoted layers>/ over the same keys under prod/, which "
                   "consumers read at once; overwritten prod objects are first copied to the backup bucket "
                   "under a timestamp. Nothing is deleted.", dangerous=True, irreversible=True),
        ActionSpec("restore_backup", "Restore prod from a backup",
                   "Copies every object under <backup bucket>/<backup>/ over the same keys under prod/ "
                   "(aws s3 sync <backup>/ prod/); prod objects with those keys are overwritten.",
                   dangerous=True, irreversible=True, params=("backup",)),
        ActionSpec("list_backups", "List backups", "Lists the backup names in the backup bucket; changes nothing.",
                   mutating=False),
    )

    listing_ttl: ClassVar[float] = 2.0

    def __init__(self, name: str, options: dict[str, Any], *, timeout: float = 10.0) -> None:
        merged = {o.name: o.default for o in self.options}
        merged.update({k: v for k, v in options.items() if v is not None})
        super().__init__(name, merged, timeout=timeout)
        self.bucket = str(self.config["bucket"])
        self.backup_bucket = str(self.config["backup_bucket"] or f"{self.bucket}-backup")
        self.environments = [str(e).strip("/") for e in self.config["environments"]]
        self.layers = [str(x).strip("/") for x in self.config["layers"]]
        self._client: Any = None
        self._listing: _Listing | None = None
        self._listing_lock: asyncio.Lock | None = None
        self._action_lock: asyncio.Lock | None = None

    # ------------------------------------------------------------------ client
    def client(self) -> Any:
        """The boto3 S3 client (created on first use, on a worker thread)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            cfg = Config(connect_timeout=min(5.0, self.timeout), read_timeout=self.timeout,
                         retries={"max_attempts": 2, "mode": "standard"},
                         s3={"addressing_style": "path"} if self.config["endpoint"] else None)
            kwargs: dict[str, Any] = {"region_name": self.config["region"] or None, "config": cfg}
            if self.config["endpoint"]:
                kwargs["endpoint_url"] = str(self.config["endpoint"])
            if self.config["access_key"]:
                kwargs["aws_access_key_id"] = str(reveal(self.config["access_key"]))
                kwargs["aws_secret_access_key"] = str(reveal(self.config["secret_key"]))
            self._client = boto3.session.Session().client("s3", **kwargs)
        return self._client

    def _typed(self, exc: Exception, what: str) -> DriverError:
        """Turn a botocore error into one of ours, naming the bucket and what we tried."""
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return AuthError(f"{self.name}: no AWS credentials for {what} (set access_key/secret_key or "
                             f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            message = str(exc.response.get("Error", {}).get("Message", "")) or code
            if code in _AUTH_CODES:
                return AuthError(f"{self.name}: {what}: access denied ({code}): {message}")
            if code in {"NoSuchBucket", "404"}:
                return DriverError(f"{self.name}: {what}: bucket does not exist ({message})")
            return DriverError(f"{self.name}: {what}: {code}: {message}")
        return DriverUnavailable(f"{self.name}: {what}: {type(exc).__name__}: {exc}")

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except DriverError:
            raise
        except Exception as exc:
            raise self._typed(exc, what) from exc

    # ------------------------------------------------------------------ listing
    def _list_prefix(self, bucket: str, prefix: str, cap: int | None = None) -> tuple[list[S3Object], bool]:
        """Objects under a prefix (worker thread); True when the cap cut the listing short."""
        out: list[S3Object] = []
        token: str | None = None
        limit = int(self.config["max_objects"]) if cap is None else cap
        client = self.client()
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(f"list s3://{bucket}/{prefix}", client.list_objects_v2, **kwargs)
            for item in page.get("Contents", []):
                out.append(S3Object(item["Key"], int(item["Size"]), item["LastModified"]))
                if len(out) >= limit:
                    return out, True
            if not page.get("IsTruncated"):
                return out, False
            token = page.get("NextContinuationToken")

    def _read_listing(self) -> _Listing:
        import time

        started = time.monotonic()
        self._call(f"reach bucket {self.bucket}", self.client().head_bucket, Bucket=self.bucket)
        latency = (time.monotonic() - started) * 1000
        objects: dict[tuple[str, str], tuple[S3Object, ...]] = {}
        truncated: set[tuple[str, str]] = set()
        for env in self.environments:
            for layer in self.layers:
                found, cut = self._list_prefix(self.bucket, f"{env}/{layer}/")
                objects[(env, layer)] = tuple(found)
                if cut:
                    truncated.add((env, layer))
        try:
            self.client().head_bucket(Bucket=self.backup_bucket)
            backup_ok = True
        except Exception:
            backup_ok = False
        return _Listing(datetime.now(UTC), objects, frozenset(truncated), backup_ok, latency)

    async def listing(self, *, max_age: float | None = None) -> _Listing:
        """One listing of every environment and layer, shared by panes polled together."""
        if self._listing_lock is None:
            self._listing_lock = asyncio.Lock()
        ttl = self.listing_ttl if max_age is None else max_age
        async with self._listing_lock:
            cached = self._listing
            if cached is not None and (datetime.now(UTC) - cached.taken_at).total_seconds() < ttl:
                return cached
            self._listing = await self.run_sync(self._read_listing, what=f"list s3://{self.bucket}")
            return self._listing

    async def list_objects(self, environment: str, layer: str) -> list[S3Object]:
        """Every object of one environment's layer (for a drill-down), newest first."""
        self._check_env(environment)
        found, _ = await self.run_sync(self._list_prefix, self.bucket, f"{environment}/{layer.strip('/')}/",
                                       what=f"list {environment}/{layer}")
        return sorted(found, key=lambda o: o.last_modified, reverse=True)

    # ------------------------------------------------------------------ panes
    async def health(self) -> list[ServiceStatus]:
        try:
            lst = await self.listing()
        except AuthError as exc:
            return [ServiceStatus(f"s3://{self.bucket}", Health.CRITICAL, str(exc), source=self.name)]
        except DriverError as exc:
            return [ServiceStatus(f"s3://{self.bucket}", Health.CRITICAL, str(exc).removeprefix(f"{self.name}: "),
                                  source=self.name)]
        rows = [ServiceStatus(f"s3://{self.bucket}", Health.OK, f"reachable; environments "
                              f"{', '.join(self.environments)}", latency_ms=lst.latency_ms,
                              checked_at=lst.taken_at, source=self.name)]
        for env in self.environments:
            parts, extra = [], {"environment": env}
            newest: datetime | None = None
            for layer in self.layers:
                objs = lst.objects.get((env, layer), ())
                size = sum(o.size for o in objs)
                more = "+" if (env, layer) in lst.truncated else ""
                parts.append(f"{layer} {len(objs)}{more} objects {human_size(size)}")
                extra[f"{layer}_objects"] = len(objs)
                extra[f"{layer}_bytes"] = size
                if objs:
                    last = max(o.last_modified for o in objs)
                    newest = last if newest is None or last > newest else newest
            detail = ", ".join(parts) + (f"; newest {newest:%Y-%m-%d %H:%M} UTC" if newest else "")
            if newest is not None:
                extra["newest"] = newest.isoformat()
            rows.append(ServiceStatus(f"s3 {env}", Health.OK, detail, checked_at=lst.taken_at, source=self.name,
                                      extra=extra))
        rows.append(ServiceStatus(
            f"s3://{self.backup_bucket}", Health.OK if lst.backup_bucket_ok else Health.WARNING,
            "backup bucket reachable" if lst.backup_bucket_ok else "backup bucket missing or unreadable: "
            "promotion to prod cannot keep a backup and restore is impossible",
            checked_at=lst.taken_at, source=self.name))
        return rows

    async def table_stats(self) -> list[TableStats]:
        """One row per ``<env>/<layer>/<dataset>``: object count, bytes, newest object."""
        lst = await self.listing()
        rows: list[TableStats] = []
        for (env, layer), objs in lst.objects.items():
            groups: dict[str, list[S3Object]] = {}
            prefix = f"{env}/{layer}/"
            for obj in objs:
                rest = obj.key[len(prefix):]
                dataset = rest.split("/", 1)[0] if "/" in rest else "(top level)"
                groups.setdefault(dataset, []).append(obj)
            for dataset, items in sorted(groups.items()):
                rows.append(TableStats(name=f"{env}/{layer}/{dataset}", file_count=len(items),
                                       size_bytes=sum(o.size for o in items),
                                       last_commit=max(o.last_modified for o in items),
                                       layer=f"{env} {layer}", source=self.name))
        return rows

    # ------------------------------------------------------------------ actions
    def _check_env(self, env: str) -> None:
        if env not in self.environments:
            raise ActionRefused(f"unknown environment {env!r} (environments: {', '.join(self.environments)})")

    def _copy_prefix(self, src_bucket: str, src_prefix: str, dst_bucket: str, dst_prefix: str) -> tuple[int, int]:
        """Server-side copy of every object under a prefix (worker thread): (objects, bytes)."""
        objs, _ = self._list_prefix(src_bucket, src_prefix, cap=10**9)
        client = self.client()
        total = 0
        for obj in objs:
            key = dst_prefix + obj.key[len(src_prefix):]
            self._call(f"copy s3://{src_bucket}/{obj.key} to s3://{dst_bucket}/{key}", client.copy,
                       CopySource={"Bucket": src_bucket, "Key": obj.key}, Bucket=dst_bucket, Key=key)
            total += obj.size
        return len(objs), total

    def _backup_overwritten(self, src_env: str, dst_env: str, stamp: str) -> tuple[int, int]:
        """Copy the dst objects a promotion would overwrite to ``<backup>/<stamp>/`` (worker thread)."""
        client = self.client()
        count = total = 0
        for layer in self.config["promote_layers"]:
            layer = str(layer).strip("/")
            incoming, _ = self._list_prefix(self.bucket, f"{src_env}/{layer}/", cap=10**9)
            existing = {o.key: o for o in self._list_prefix(self.bucket, f"{dst_env}/{layer}/", cap=10**9)[0]}
            for obj in incoming:
                key = f"{dst_env}/{layer}/" + obj.key[len(f"{src_env}/{layer}/"):]
                old = existing.get(key)
                if old is None:
                    continue
                target = f"{stamp}/" + key[len(f"{dst_env}/"):]
                self._call(f"back up s3://{self.bucket}/{key}", client.copy,
                           CopySource={"Bucket": self.bucket, "Key": key}, Bucket=self.backup_bucket, Key=target)
                count += 1
                total += old.size
        return count, total

    async def promote(self, src: str, dst: str) -> ActionResult:
        """Copy the promoted layers of ``src`` over ``dst`` (no deletes)."""
        self._check_env(src)
        self._check_env(dst)
        if self.environments.index(dst) != self.environments.index(src) + 1:
            raise ActionRefused(f"promotion goes one step along {' -> '.join(self.environments)}; "
                                f"{src} -> {dst} is not one")
        if self._action_lock is None:
            self._action_lock = asyncio.Lock()
        if self._action_lock.locked():
            raise ActionRefused("another promotion or restore is running on this lake")
        async with self._action_lock:
            notes = []
            is_last = dst == self.environments[-1]
            if is_last and self.config["backup_before_promote"]:
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
                try:
                    count, size = await self.run_sync(self._backup_overwritten, src, dst, stamp,
                                                      timeout=max(self.timeout, 600), what="back up prod")
                except DriverError as exc:
                    raise ActionRefused(f"promotion to {dst} refused: could not back up the objects it would "
                                        f"overwrite ({exc}); nothing was copied") from None
                notes.append(f"backed up {count} overwritten {dst} objects ({human_size(size)}) to "
                             f"s3://{self.backup_bucket}/{stamp}/" if count else
                             f"no {dst} object is overwritten, no backup needed")
            copied = size_total = 0
            for layer in self.config["promote_layers"]:
                layer = str(layer).strip("/")
                n, size = await self.run_sync(self._copy_prefix, self.bucket, f"{src}/{layer}/", self.bucket,
                                              f"{dst}/{layer}/", timeout=max(self.timeout, 3600),
                                              what=f"promote {src}/{layer} -> {dst}/{layer}")
                copied += n
                size_total += size
            self._listing = None
        if copied == 0:
            return ActionResult(False, f"nothing to promote: no objects under {src}/"
                                       f"{{{','.join(map(str, self.config['promote_layers']))}}}/")
        message = f"promoted {copied} objects ({human_size(size_total)}) from {src} to {dst}"
        return ActionResult(True, message + ("; " + "; ".join(notes) if notes else ""))

    async def action_promote_dev_qa(self) -> ActionResult:
        return await self.promote("dev", "qa")

    async def action_promote_qa_prod(self) -> ActionResult:
        return await self.promote("qa", "prod")

    def _backups(self) -> list[str]:
        page = self._call(f"list s3://{self.backup_bucket}", self.client().list_objects_v2,
                          Bucket=self.backup_bucket, Delimiter="/")
        return sorted(p["Prefix"].rstrip("/") for p in page.get("CommonPrefixes", []))

    async def action_list_backups(self) -> ActionResult:
        names = await self.run_sync(self._backups, what="list backups")
        if not names:
            return ActionResult(True, f"no backups in s3://{self.backup_bucket}/")
        return ActionResult(True, f"{len(names)} backups in s3://{self.backup_bucket}/: {', '.join(names)}",
                            output="\n".join(names))

    async def action_restore_backup(self, backup: str = "prod") -> ActionResult:
        """The seed's ``aws s3 sync s3://<backup bucket>/<backup>/ s3://<bucket>/prod/``."""
        name = str(backup).strip("/")
        if not name or ".." in name.split("/"):
            raise ActionRefused(f"invalid backup name {backup!r}")
        target = self.environments[-1]
        if self._action_lock is None:
            self._action_lock = asyncio.Lock()
        if self._action_lock.locked():
            raise ActionRefused("another promotion or restore is running on this lake")
        async with self._action_lock:
            count, size = await self.run_sync(self._copy_prefix, self.backup_bucket, f"{name}/", self.bucket,
                                              f"{target}/", timeout=max(self.timeout, 3600),
                                              what=f"restore {name} -> {target}")
            self._listing = None
        if count == 0:
            known = await self.run_sync(self._backups, what="list backups")
            return ActionResult(False, f"backup {name!r} is empty or does not exist in s3://{self.backup_bucket}/"
                                       f" (backups: {', '.join(known) or 'none'}); nothing restored")
        return ActionResult(True, f"restored {count} objects ({human_size(size)}) from "
                                  f"s3://{self.backup_bucket}/{name}/ to s3://{self.bucket}/{target}/")
