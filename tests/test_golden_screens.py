"""Golden screens: the dashboard during a fault, at 80x24, 120x40 and 200x50, in two themes.

Each screen is Textual's own SVG export of a console watching real backends: five
HTTP services (one refused: CRITICAL), a pyiceberg SQL catalog whose table is over
its file limit, and a Kafka bootstrap nobody listens on (UNREACHABLE). The SVG is
compared through its *signature*: every line of the screen with the colour of each
run of text, after masking what a clock or a socket decides (digits, latencies'
sparkline heights, temp paths, the length of border runs around a changing
subtitle). Layout, order, truncation, tabs, badges and theme colours are compared
exactly; the figures themselves are checked by the other UI tests.

On a mismatch the test writes the new SVG and signature next to the golden ones
(``tests/golden/<name>.actual.*``) to be looked at in a browser. After an intended
change: ``OPSC_UPDATE_GOLDEN=1 pytest tests/test_golden_screens.py`` rewrites them.
"""

from __future__ import annotations

import difflib
import html
import os
import re
import textwrap
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from pilot_helpers import until
from ui_profiles import _Ok, dead_port

from opsconsole.config import Profile, load
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen

GOLDEN = Path(__file__).parent / "golden"
SIZES = [(80, 24), (120, 40), (200, 50)]
THEMES = ["dark", "light"]

_STYLE = re.compile(r"\.(terminal-\d+-r\d+)\s*\{([^}]*)\}")
_TEXT = re.compile(r'<text class="([^"]+)" x="([\d.]+)" y="[\d.]+"[^>]*clip-path="url\(#terminal-\d+-line-(\d+)\)"'
                   r"[^>]*>(.*?)</text>")
_RECT = re.compile(r'<rect fill="(#[0-9a-fA-F]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"')


def mask(text: str) -> str:
    """What a clock or a socket decides becomes a placeholder; runs that only pad collapse to one."""
    text = re.sub(r"(/[\w.@-]+)+/?", "<path>", text)  # temp dirs and files
    text = re.sub(r"\d[\d.,:]*", "#", text)  # figures, times, ports
    text = re.sub(r"[▁▂▃▄▅▆▇█_.\-:=+*]{2,}", "~", text)  # sparklines (unicode and ASCII) of any length
    text = re.sub(r"[▁▂▃▄▅▆▇█]", "~", text)
    text = re.sub(r"─+", "─", text)  # border runs beside a subtitle whose length changes
    return re.sub(r" +", " ", text)


def signature(svg: str) -> str:
    """One line per terminal row: ``{fill,bold}text`` runs, text masked, plus the row's background colours."""
    styles = {name: " ".join(sorted(s.strip() for s in body.split(";") if s.strip()))
              for name, body in _STYLE.findall(svg)}
    rows: dict[int, list[tuple[float, str, str]]] = {}
    for cls, x, line, raw in _TEXT.findall(svg):
        text = html.unescape(raw).replace("\xa0", " ")
        rows.setdefault(int(line), []).append((float(x), styles.get(cls, ""), text))
    out: list[str] = []
    for line in sorted(rows):
        merged: list[list[str]] = []
        for _x, style, text in sorted(rows[line]):
            if merged and merged[-1][0] == style:
                merged[-1][1] += text
            else:
                merged.append([style, text])
        runs = [(style, mask(text)) for style, text in merged]
        out.append("".join(f"{{{style}}}{text}" if text.strip() else " " for style, text in runs).rstrip())
    out = _activity_in_any_order(out)
    backgrounds = sorted({fill for fill, *_ in _RECT.findall(svg)})
    out.append("backgrounds: " + " ".join(backgrounds))
    return "\n".join(out) + "\n"


def _activity_in_any_order(lines: list[str]) -> list[str]:
    """Activity lines (``│ <time> text``) logged in the same second come in the order the polls landed: sorted."""
    def is_activity(line: str) -> bool:
        return re.match(r"^│ ?# [a-zA-Z]", re.sub(r"\{[^}]*\}", "", line)) is not None

    out: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if is_activity(line):
            block.append(line)
            continue
        out.extend(sorted(block))
        block = []
        out.append(line)
    return out[:-1]


@pytest.fixture(scope="module")
def oncall_profile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile]:
    """Real backends in a known bad state: a refused service, a table over its file limit, a lost broker."""
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    root = tmp_path_factory.mktemp("golden")
    catalog = SqlCatalog("local", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/wh")
    catalog.create_namespace("raw")
    schema = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "item", StringType(),
                                                                                 required=False))
    orders = catalog.create_table("raw.orders", schema=schema)
    for batch in range(6):  # six appends: six small files, over the limit of 4 below
        orders.append(pa.table({"id": pa.array(range(batch * 10, batch * 10 + 10), pa.int64()),
                                "item": pa.array([f"item-{i}" for i in range(10)], pa.string())}))
    customers = catalog.create_table("raw.customers", schema=schema)
    customers.append(pa.table({"id": pa.array([1, 2], pa.int64()), "item": pa.array(["a", "b"], pa.string())}))

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up = f"http://127.0.0.1:{server.server_address[1]}/health"
    path = root / "profiles.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          oncall:
            title: lakehouse on call (golden screen)
            drivers:
              web:
                type: http
                options:
                  endpoints: {{api: {up}, auth: {up}, catalog: {up}, search: {up},
                               zz-billing: 'http://127.0.0.1:{dead_port()}/health'}}
              lake:
                type: iceberg
                options: {{catalog_uri: 'sqlite:///{root}/catalog.db', catalog_name: local,
                           warehouse: 'file://{root}/wh', tables: [raw.orders, raw.customers]}}
              bus:
                type: kafka
                timeout: 2
                options: {{bootstrap: '127.0.0.1:{dead_port()}', groups: [flink-raw-consumer]}}
            poll: {{services: 1, tables: 1, lag: 1}}
            alerts: {{table_files_max: 4}}
        """))
    try:
        yield load(path).profile("oncall")
    finally:
        server.shutdown()
        server.server_close()


def settled(screen: DashboardScreen) -> bool:
    """The fault is fully on screen: the refused service, the table over its limit, the lost broker."""
    panes = {p.pane.value: p for p in screen.panes}
    rules = {t.alert.rule for t in screen.tracked}
    return ({"ServiceDown", "TableNeedsCompaction", "SourceUnreachable"} <= rules
            and sum(1 for t in screen.tracked if t.alert.rule == "ServiceDown") == 2  # zz-billing and the broker
            and len(panes["services"].shown_rows) == 7 and len(panes["tables"].shown_rows) == 2
            and panes["lag"].state.value == "unreachable")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_dashboard_during_a_fault_matches_its_golden_screen(oncall_profile: Profile, size: tuple[int, int],
                                                                   theme: str) -> None:
    name = f"dashboard-fault-{size[0]}x{size[1]}-{theme}"
    app = OpsConsoleApp(oncall_profile, theme=theme)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and settled(app.screen), timeout=30)
        # The Alerts cursor stays on the alert it was on as others fire above it (their order is the sockets'):
        # the on-call engineer starts reading at the top.
        app.screen.query_one("#pane-alerts").query_one("DataTable").move_cursor(row=0)
        await pilot.pause(0.3)
        svg = app.export_screenshot(title=name)
        await pilot.press("q")
    actual = signature(svg)
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("OPSC_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(actual)
        (GOLDEN / f"{name}.svg").write_text(svg)
        return
    assert golden.exists(), f"no golden screen {golden}: run with OPSC_UPDATE_GOLDEN=1 and look at the SVG"
    expected = golden.read_text()
    if actual != expected:
        (GOLDEN / f"{name}.actual.svg").write_text(svg)
        (GOLDEN / f"{name}.actual.txt").write_text(actual)
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "golden", "now"))
        pytest.fail(f"{name} differs from its golden screen (new SVG in {GOLDEN}/{name}.actual.svg):\n{diff}")


def test_the_golden_screens_keep_what_the_on_call_engineer_reads() -> None:
    """The masking keeps what matters: names, states, tab marks, badges and each theme's own colours."""
    narrow = (GOLDEN / "dashboard-fault-80x24-dark.txt").read_text()
    assert "1 Services {fill: #f0524f}✖" in narrow.replace("# Services", "1 Services")  # the tab mark, in red
    for shown in ("CRITICAL", "# firing", "zz-billing", "ServiceDown", "TableNeedsCompaction"):
        assert shown in narrow, shown
    wide = (GOLDEN / "dashboard-fault-200x50-dark.txt").read_text()
    assert "UNREACHABLE · never reached" in wide and "raw.orders" in wide and "[#] Activity" in wide
    for size in ("80x24", "120x40", "200x50"):
        dark = (GOLDEN / f"dashboard-fault-{size}-dark.txt").read_text()
        light = (GOLDEN / f"dashboard-fault-{size}-light.txt").read_text()
        def text(sig: str) -> str:
            return re.sub(r"\{[^}]*\}", "", sig.rsplit("backgrounds:", 1)[0])
        assert dark != light and text(dark) == text(light)  # same screen, each theme's colours
