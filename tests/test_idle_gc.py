"""Full garbage collections are deferred to the app's quiet moments, never skipped."""

from __future__ import annotations

import gc
import weakref

from opsconsole.ui.idle_gc import IdleCollector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector can free it


def test_old_cyclic_garbage_is_freed_when_a_full_collection_is_due() -> None:
    before = gc.get_threshold()
    collector = IdleCollector()
    collector.install()
    try:
        gc.collect()
        node = Node()
        gc.collect(1)  # node survives into the oldest generation while still in use
        ref = weakref.ref(node)
        del node
        assert not collector.collect_if_due()  # not due yet: the app is not interrupted
        for _ in range(before[2]):
            gc.collect(1)  # young collections: none of them looks at the oldest generation
        assert ref() is not None
        assert collector.collect_if_due()
        assert ref() is None
        assert collector.collections == 1 and collector.last_pause_ms >= 0
    finally:
        collector.uninstall()
    assert gc.get_threshold() == before
