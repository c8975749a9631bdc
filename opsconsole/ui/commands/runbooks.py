"""Runbooks in the command palette, kept light: the runbook engine loads on first use.

The app class names this provider at import time; importing the runbook
screens (and through them the engine and library) there would put ~20 ms on
every start before the first frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from opsconsole.runbooks.model import Runbook
    from opsconsole.ui.host import ConsoleHost


class RunbookCommands(Provider):
    """Command palette (ctrl+p): "Runbook: <title>" for every runbook this profile can run."""

    async def _runbooks(self) -> list[Runbook]:
        app = cast("ConsoleHost", self.app)
        if app.dashboard is None:
            return []
        return app.offered_runbooks(await app.runbook_library())

    def _hit_text(self, rb: Runbook) -> str:
        return f"Runbook: {rb.title} ({rb.id})"

    async def discover(self) -> Hits:
        for rb in await self._runbooks():
            yield DiscoveryHit(self._hit_text(rb), self._launcher(rb.id), help=rb.summary or rb.seed)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for rb in await self._runbooks():
            text = self._hit_text(rb)
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._launcher(rb.id), help=rb.summary or rb.seed)

    def _launcher(self, runbook_id: str) -> Any:
        app = cast("ConsoleHost", self.app)
        return lambda: app.action_run_runbook(runbook_id)
