"""The one-line status strip: what an on-call engineer must see whatever the terminal width.

Profile, overall state, READ-ONLY, the open incident and the counts of firing and
unknown alerts always fit; the profile's title (often long: ``... (docker compose)``)
takes only the room they leave, cut with an ellipsis, and goes first when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

from opsconsole.model import Health
from opsconsole.ui.format import HEALTH_DOT

SEP = " │ "


@dataclass(frozen=True)
class Status:
    """What the strip shows (plain values: the strip is drawn from them, nothing else)."""

    profile: str
    title: str
    health: Health
    health_style: str = ""
    read_only: bool = False
    incident: str = ""
    firing: int = 0
    unknown: int = 0


def status_text(status: Status, width: int, *, ascii_only: bool = False) -> Text:
    """The strip for ``width`` cells: essentials first, the title in the room left, never wider than ``width``."""
    sep = " | " if ascii_only else SEP
    dot = status.health.label.upper() if ascii_only else f"{HEALTH_DOT[status.health]} {status.health.label.upper()}"
    parts: list[tuple[str, str]] = [(status.profile, "bold"), (dot, status.health_style)]
    if status.read_only:
        parts.append(("READ-ONLY", "bold reverse"))
    if status.incident:
        parts.append((status.incident, "bold reverse"))
    counts = f"{status.firing} firing" + (f" · {status.unknown} unknown" if status.unknown else "")
    if ascii_only:
        counts = counts.replace("·", "-")
    parts.append((counts, "bold" if status.firing else ""))
    text = Text()
    for index, (label, style) in enumerate(parts):
        if index:
            text.append(sep, style="dim")
        text.append(label, style=style)
    room = width - cell_len(text.plain) - cell_len(sep)
    if status.title and room >= 4:
        title = status.title if cell_len(status.title) <= room else status.title[: room - 1] + ("~" if ascii_only
                                                                                              else "…")
        text.append(sep, style="dim")
        text.append(title)
    if cell_len(text.plain) > width:  # narrower than the essentials: cut the tail (the counts), never the state
        text.truncate(width, overflow="ellipsis")
    return text
