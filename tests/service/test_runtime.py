"""The micro-batcher: concurrent posts share a forward pass; a lone post does not wait for company; an archive
batch is cut into pipelined chunks; a failing batch fails every post in it (never a silent allow). The model
holder freezes the loaded heap out of the cyclic GC and lets a replaced model go on reload."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carescreen.config import Settings
from models.pipeline import ScreenRequest
from models.taxonomy import CATEGORIES
from service.runtime import MicroBatcher, ModelHolder


@dataclass
class _SlowPipeline:
    """Stands in for ScreeningPipeline: records batch sizes, takes ``delay`` per call."""

    delay: float = 0.05
    fail: bool = False
    sizes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def screen_many(self, requests: list[ScreenRequest]) -> list[Any]:
        with self.lock:
            self.sizes.append(len(requests))
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("model exploded")
        return [f"screened:{r.text}" for r in requests]


@dataclass
class _Holder:
    pipeline: Any


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_concurrent_posts_share_batches_and_keep_their_own_answers() -> None:
    pipeline = _SlowPipeline()

    async def main() -> list[Any]:
        batcher = MicroBatcher(_Holder(pipeline), max_size=32, wait_ms=20, workers=2)  # type: ignore[arg-type]
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.screen(ScreenRequest(f"post {i}")) for i in range(60)))
        finally:
            await batcher.stop()

    results = _run(main())
    assert results == [f"screened:post {i}" for i in range(60)]
    assert sum(pipeline.sizes) == 60 and max(pipeline.sizes) > 1 and len(pipeline.sizes) < 60


def test_a_lone_post_does_not_wait_for_the_batch_window() -> None:
    pipeline = _SlowPipeline(delay=0.0)

    async def main() -> float:
        batcher = MicroBatcher(_Holder(pipeline), max_size=32, wait_ms=5000, workers=2)  # type: ignore[arg-type]
        batcher.start()
        try:
            started = time.monotonic()
            await batcher.screen(ScreenRequest("hello"))
            return time.monotonic() - started
        finally:
            await batcher.stop()

    assert _run(main()) < 2.5  # a 5 s window would have been waited out in full
    assert pipeline.sizes == [1]


def test_archive_batches_are_cut_into_chunks_in_order() -> None:
    pipeline = _SlowPipeline(delay=0.01)

    async def main() -> list[Any]:
        batcher = MicroBatcher(_Holder(pipeline), max_size=16, wait_ms=1, workers=2)  # type: ignore[arg-type]
        return await batcher.screen_many([ScreenRequest(f"p{i}") for i in range(70)])

    assert _run(main()) == [f"screened:p{i}" for i in range(70)]
    assert sorted(pipeline.sizes) == [6, 16, 16, 16, 16]


def test_a_failing_batch_fails_every_post_in_it() -> None:
    pipeline = _SlowPipeline(fail=True)

    async def main() -> list[Any]:
        batcher = MicroBatcher(_Holder(pipeline), max_size=8, wait_ms=20, workers=1)  # type: ignore[arg-type]
        batcher.start()
        try:
            return await asyncio.gather(
                *(batcher.screen(ScreenRequest(f"p{i}")) for i in range(5)), return_exceptions=True
            )
        finally:
            await batcher.stop()

    results = _run(main())
    assert len(results) == 5 and all(isinstance(r, RuntimeError) for r in results)


def test_finish_hook_runs_once_per_batch_and_answers_each_caller_with_its_own_outcome() -> None:
    """The service's group commit: ``finish`` sees the whole micro-batch (results and contexts) in the worker
    thread; each caller gets its own value, an exception reaches only its own caller, and a post sent without a
    context gets its plain result."""
    pipeline = _SlowPipeline(delay=0.05)
    calls: list[tuple[list[Any], list[Any]]] = []

    def finish(results: list[Any], contexts: list[Any]) -> list[Any]:
        calls.append((list(results), list(contexts)))
        return [
            ValueError(f"refused {c}") if c == "bad" else f"stored:{r}:{c}"
            for r, c in zip(results, contexts, strict=True)
        ]

    async def main() -> list[Any]:
        batcher = MicroBatcher(_Holder(pipeline), max_size=8, wait_ms=50, workers=1, finish=finish)  # type: ignore[arg-type]
        batcher.start()
        try:
            return await asyncio.gather(
                batcher.screen(ScreenRequest("a"), context="ctx-a"),
                batcher.screen(ScreenRequest("b"), context="bad"),
                batcher.screen(ScreenRequest("c")),
                batcher.screen(ScreenRequest("d"), context="ctx-d"),
                return_exceptions=True,
            )
        finally:
            await batcher.stop()

    a, b, c, d = _run(main())
    assert a == "stored:screened:a:ctx-a" and d == "stored:screened:d:ctx-d"
    assert isinstance(b, ValueError) and str(b) == "refused bad"
    assert c == "screened:c"
    # One call per batch, with only the posts that carried a context, in order.
    assert sum(len(r) for r, _ in calls) == 3
    assert [ctx for _, cs in calls for ctx in cs] == ["ctx-a", "bad", "ctx-d"]
    assert len(calls) == len(pipeline.sizes) < 4  # concurrent posts were grouped


class _CyclicClassifier:
    """A classifier stand-in caught in a reference cycle, as real models are: only the cyclic GC can free it."""

    thresholds = dict.fromkeys(CATEGORIES, 0.5)

    def __init__(self, version: str) -> None:
        self.version = version
        self.me = self

    def predict_proba(self, texts: Any) -> Any:
        raise NotImplementedError


class _NoFindings:
    version = "none"

    def analyze(self, text: str, *, staff_names: Any = ()) -> list[Any]:
        return []

    def analyze_many(self, texts: Any, *, staff_names: Any = None) -> list[list[Any]]:
        return [[] for _ in texts]


def test_loading_freezes_the_heap_and_a_reload_lets_the_replaced_model_be_collected(tmp_path: Path) -> None:
    versions = iter(["m/1", "m/2"])
    holder = ModelHolder(
        Settings(var_dir=tmp_path, gc_freeze=True),
        classifier_loader=lambda: _CyclicClassifier(next(versions)),
        analyzer_factory=_NoFindings,
    )
    gc.unfreeze()
    try:
        holder.load()
        assert holder.model_version == "m/1"
        assert gc.get_freeze_count() > 0
        assert holder.pipeline is not None
        first = weakref.ref(holder.pipeline.classifier)
        assert gc.is_tracked(first())

        assert holder.reload() == "m/2"
        # Frozen objects are never collected; the reload unfroze the heap, so the old cyclic model went.
        gc.collect()
        assert first() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_heap_freeze_can_be_turned_off(tmp_path: Path) -> None:
    holder = ModelHolder(
        Settings(var_dir=tmp_path, gc_freeze=False),
        classifier_loader=lambda: _CyclicClassifier("m/1"),
        analyzer_factory=_NoFindings,
    )
    gc.unfreeze()
    holder.load()
    assert holder.model_version == "m/1"
    assert gc.get_freeze_count() == 0
