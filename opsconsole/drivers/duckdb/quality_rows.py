"""The OSAA driver's data panes from one snapshot: quality rows (seed 003 KPIs), tables, freshness lag.

A mixin of :class:`~opsconsole.drivers.duckdb.pipeline.DuckDBPipelineDriver`: turns
one snapshot's query results (:mod:`opsconsole.drivers.duckdb.quality`) into
Services rows (source ``quality``: freshness, completeness, duplicates, coverage,
anomalies) judged against the profile's KPI options, Tables rows and Lag rows in hours.
"""

from __future__ import annotations

from typing import Any

from opsconsole.drivers.duckdb import quality
from opsconsole.drivers.duckdb.snapshot import Snapshot, aware
from opsconsole.model import Health, LagSample, ServiceStatus, TableStats


class QualityRows:
    """Needs the driver's ``config``, ``name``, ``snapshot()`` and ``_raise_unreadable``."""

    config: dict[str, Any]
    name: str

    def _freshness_hours(self, snap: Snapshot) -> dict[str, tuple[float, str]]:
        """source -> (hours since its last load, where the time came from)."""
        out: dict[str, tuple[float, str]] = {}
        for f in snap.freshness:
            if f.last_loaded is not None:
                ts, basis = aware(f.last_loaded), str(self.config["loaded_at_column"])
            elif snap.file_mtime is not None:
                ts, basis = snap.file_mtime, "database file mtime"
            else:
                continue
            out[f.source] = (max(0.0, (snap.taken_at - ts).total_seconds() / 3600), basis)
        return out

    def _quality_rows(self, snap: Snapshot) -> list[ServiceStatus]:
        cfg = self.config
        rows: list[ServiceStatus] = []

        def row(name: str, health: Health, detail: str, **extra: Any) -> None:
            rows.append(ServiceStatus(name, health, detail, source="quality", checked_at=snap.figures_at,
                                      extra={"driver": self.name, **extra}))

        def failed(name: str) -> bool:
            value = snap.checks.get(name)
            if isinstance(value, str):
                row(name, Health.UNKNOWN, value)
                return True
            return value is None

        if not failed("freshness"):
            hours = self._freshness_hours(snap)
            limit = float(cfg["freshness_hours_max"])
            if hours:
                worst = max(hours, key=lambda s: hours[s][0])
                lag, basis = hours[worst]
                years = {f.source: f.latest_year for f in snap.freshness}
                row("freshness", Health.WARNING if lag > limit else Health.OK,
                    f"{worst}: loaded {lag:.1f} h ago (target < {limit:g} h, from {basis}); "
                    f"latest year {years.get(worst)}",
                    freshness_hours=lag, by_source={s: h for s, (h, _) in hours.items()},
                    latest_year=years, records={f.source: f.records for f in snap.freshness})
            else:
                row("freshness", Health.UNKNOWN, f"{cfg['indicators_table']} is empty")
        if not failed("completeness"):
            c: quality.Completeness = snap.checks["completeness"]
            limit = float(cfg["completeness_min"])
            worst_field = min(c.by_field, key=lambda k: c.by_field[k])
            row("completeness", Health.OK if c.ratio > limit or c.rows == 0 else Health.WARNING,
                f"{c.ratio:.1%} of {c.rows} rows have every critical field (target > {limit:.0%}); "
                f"least filled: {worst_field} {c.by_field[worst_field]:.1%}",
                completeness=c.ratio, by_field=dict(c.by_field), rows=c.rows)
        if not failed("duplicates"):
            d: quality.DuplicateReport = snap.checks["duplicates"]
            key = ", ".join(cfg["natural_key"])
            detail = f"{d.groups} duplicated keys ({d.extra_rows} extra rows) on ({key})"
            if d.sample:
                detail += "; e.g. " + " / ".join(str(s[:-1]) + f" x{s[-1]}" for s in d.sample[:2])
            row("duplicates", Health.WARNING if d.groups else Health.OK, detail,
                duplicates=d.extra_rows, duplicate_keys=d.groups)
        if not failed("coverage"):
            years: list[quality.YearCoverage] = list(snap.checks["coverage"])
            limit = float(cfg["coverage_min"])
            if years:
                worst_year = min(years, key=lambda y: (y.ratio, -y.year))
                row("coverage", Health.WARNING if worst_year.ratio < limit else Health.OK,
                    f"lowest {worst_year.year}: {worst_year.countries}/{worst_year.expected} countries "
                    f"({worst_year.ratio:.0%}, target >= {limit:.0%}) in {cfg['coverage_table']}",
                    coverage=worst_year.ratio, coverage_year=worst_year.year,
                    by_year={y.year: y.ratio for y in years})
            else:
                row("coverage", Health.UNKNOWN,
                    f"no rows since {cfg['coverage_since_year']} in {cfg['coverage_table']}")
        if not failed("anomalies"):
            a: quality.AnomalyReport = snap.checks["anomalies"]
            detail = f"{a.count} values with |z| > {a.threshold:g} in {cfg['anomaly_table']}"
            if a.top:
                t = a.top[0]
                detail += f"; worst {t.indicator_id} {t.country_id} {t.year}: {t.value:g} (z {t.z_score:.1f})"
            row("anomalies", Health.WARNING if a.count else Health.OK, detail, anomalies=a.count)
        return rows

    async def table_stats(self) -> list[TableStats]:
        snap = await self.snapshot()
        self._raise_unreadable(snap)
        return [TableStats(name=t.qualified, file_count=None, row_count=t.rows,
                           last_commit=aware(t.last_loaded) if t.last_loaded else None,
                           layer=t.schema, source=self.name) for t in snap.tables]

    async def lag(self) -> list[LagSample]:
        """Freshness per source as lag in **hours** (the seed's target is "< 24 hours").

        Hours, not seconds, so the figure reads as the KPI does and is compared
        with the profile's ``freshness_hours_max``, not with ``lag_seconds_max``.
        """
        snap = await self.snapshot()
        self._raise_unreadable(snap)
        years = {f.source: f for f in snap.freshness}
        return [LagSample(name=f"freshness {src}", lag=hours, unit="hours", measured_at=snap.taken_at,
                          detail=f"latest year {years[src].latest_year}, {years[src].records} records; "
                                 f"last load from {basis}", source=self.name)
                for src, (hours, basis) in self._freshness_hours(snap).items()]
