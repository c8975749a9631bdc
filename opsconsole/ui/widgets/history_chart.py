"""The detail view's history chart: samples from the engine's ring, with axes, gaps drawn as gaps.

Drawn by plotext through textual-plotext (a well-kept terminal plotting library,
not a hand-written one). A failed poll is a NaN sample in the engine's history:
the line stops there and starts again after it, instead of joining across the outage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from textual_plotext import PlotextPlot

Series = Sequence[tuple[float, float]]


def segments(samples: Series) -> list[list[tuple[float, float]]]:
    """Runs of consecutive real samples: a NaN (failed poll) ends one run; the next real sample starts another."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in samples:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((t, float(v)))
    return [run for run in runs if run]


class HistoryChart(PlotextPlot):
    """One chart, one colour per series; x is minutes before now, y the sample's unit."""

    def __init__(self, history: Sequence[tuple[str, Series]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = [(label, list(samples)) for label, samples in history]

    def on_mount(self) -> None:
        plt = self.plt
        now = time.time()
        oldest = min((t for _label, samples in self.history for t, _v in samples), default=now)
        minutes = now - oldest > 180  # the x axis in seconds for a short history, minutes for a long one
        scale, unit = (60, "minutes ago") if minutes else (1, "seconds ago")
        colors = ["cyan", "orange", "green", "magenta", "red"]
        legend = len(self.history) > 1  # one series: the title names it
        for index, (label, samples) in enumerate(self.history):
            color = colors[index % len(colors)]
            for number, run in enumerate(segments(samples)):
                xs = [(t - now) / scale for t, _v in run]
                ys = [v for _t, v in run]
                plt.plot(xs, ys, color=color, marker="braille", label=label if legend and number == 0 else None)
        plt.xlabel(unit)
        plt.title(" · ".join(label for label, _s in self.history))


def history_chart(history: Sequence[tuple[str, Series]], *, id: str | None = None) -> HistoryChart:
    return HistoryChart(history, id=id)
