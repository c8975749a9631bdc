"""Do not render a frame Textual is about to throw away.

Textual (8.x) holds every frame back while a batch update is open
(``App._display`` returns early when ``App._batch_count`` is set), and the app's
start-up runs inside one: the dashboard's first layout, triggered by the initial
resize, still computes a full ``render_update`` of the screen (~20 ms at 120x40)
only for ``_display`` to discard it; the frame the user sees is rendered again
once the batch closes. This mixin skips that wasted render and marks the screen
for a full repaint instead, which Textual performs on the screen's next idle
(``Screen._on_idle`` resumes the update timer when ``_repaint_required`` is set).

Relies on ``App._batch_count``, ``Screen._compositor_refresh`` and
``Screen._repaint_required``; ``tests/test_textual_patches.py`` fails when they move.
"""

from __future__ import annotations

from typing import Any


class RenderWhenShown:
    """Mixin for a :class:`textual.screen.Screen`: no full render while the app holds frames back."""

    def _compositor_refresh(self: Any) -> None:
        app = self.app
        if app._batch_count and not app.is_inline and self is app.screen:
            self._repaint_required = True  # painted whole on the next idle, after the batch closes
            return
        super()._compositor_refresh()  # type: ignore[misc]
