"""What the service holds in memory: the screening pipeline (hot-swappable) and the micro-batcher."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carescreen.config import Settings
from models.classifier import Classifier, TorchClassifier
from models.onnx_classifier import OnnxClassifier, has_onnx
from models.pipeline import EntityAnalyzer, ScreeningPipeline, ScreenRequest, ScreenResult
from models.policy import default_policy
from models.themes import ThemeTagger
from service import logs, observability

log = logging.getLogger(__name__)


def load_classifier(
    bundle: Path, version: str, *, use_onnx: bool, variant: str = "fp32", threads: int | None = None
) -> Classifier:
    if use_onnx and has_onnx(bundle, variant):
        return OnnxClassifier(bundle, version=version, variant=variant, threads=threads)
    return TorchClassifier(bundle, version=version)


@dataclass
class Readiness:
    model: bool = False
    pii: bool = False
    database: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.model and self.pii and self.database


class ModelHolder:
    """Owns the live pipeline. ``reload`` builds the new one fully before swapping, so no request fails."""

    def __init__(
        self,
        settings: Settings,
        *,
        classifier_loader: Callable[[], Classifier] | None = None,
        analyzer_factory: Callable[[], EntityAnalyzer] | None = None,
        themes_loader: Callable[[Classifier], ThemeTagger | None] | None = None,
    ) -> None:
        self.settings = settings
        self.classifier_loader = classifier_loader or self._champion_classifier
        self.analyzer_factory = analyzer_factory or _default_analyzer
        #: The practice-theme tagger served with a classifier (None: no themes).
        self.themes_loader = themes_loader or self._bundle_themes
        self.pipeline: ScreeningPipeline | None = None
        self.analyzer: EntityAnalyzer | None = None
        self.readiness = Readiness()
        self._lock = threading.Lock()

    def _champion_classifier(self) -> Classifier:
        from storage import model_store as registry

        ref = registry.get_alias(self.settings.model_alias, self.settings)
        if ref is None:
            raise RuntimeError(
                f"no model holds the alias {self.settings.model_alias!r}; run `carescreen train`"
            )
        bundle = registry.download_bundle(ref, self.settings)
        return load_classifier(
            bundle,
            ref.label,
            use_onnx=self.settings.use_onnx,
            variant=self.settings.onnx_variant,
            threads=self.settings.onnx_threads,
        )

    def load_pii(self) -> None:
        """Load the PII engine and the language identifier; a failure is recorded in readiness.

        ``carescreen serve --workers N`` calls this in the parent before forking, so the workers share these
        read-only pages; each worker's ``load`` then finds them loaded and builds only the classifier.
        """
        try:
            if self.analyzer is None:
                self.analyzer = self.analyzer_factory()
            # The language identifier too (0.8 s on first use): ready means the first post pays no load.
            from models.language import identifier

            identifier()
            self.readiness.pii = True
            self.readiness.errors.pop("pii", None)
        except Exception as exc:
            log.exception("PII engine failed to load")
            self.readiness.pii = False
            self.readiness.errors["pii"] = type(exc).__name__

    def load(self) -> None:
        """Load PII engine and classifier; failures are recorded in readiness (the service stays closed)."""
        if not self.readiness.pii:
            self.load_pii()
        try:
            classifier = self.classifier_loader()
        except Exception as exc:
            log.exception("classifier failed to load")
            self.readiness.model = False
            self.readiness.errors["model"] = f"{type(exc).__name__}: {exc}"[:300]
            return
        if self.analyzer is not None:
            themes = self._themes(classifier)
            with self._lock:
                self.pipeline = ScreeningPipeline(
                    classifier=classifier, analyzer=self.analyzer, policy=default_policy(), themes=themes
                )
            self._settle_heap(release_frozen=False)
        # Ready only once the pipeline is built (the theme tagger can take seconds): /readyz never says 200
        # while /v1/screen would still answer "model not loaded".
        self.readiness.model = True
        self.readiness.errors.pop("model", None)

    def reload(self) -> str | None:
        """Load the current champion and swap it in; the old pipeline serves until the swap."""
        classifier = self.classifier_loader()
        if self.analyzer is None:
            self.analyzer = self.analyzer_factory()
        new = ScreeningPipeline(
            classifier=classifier,
            analyzer=self.analyzer,
            policy=default_policy(),
            themes=self._themes(classifier),
        )
        with self._lock:
            self.pipeline = new
        self._settle_heap()
        self.readiness.model = True
        self.readiness.errors.pop("model", None)
        return classifier.version

    def _bundle_themes(self, classifier: Classifier) -> ThemeTagger | None:
        """The bundle's tagger; for an older bundle, the one cached in ``var/themes/`` or fitted once from
        ``datasets/themes`` (``models.theme_fit.load_or_fit``). A classifier without a bundle gets none."""
        directory = getattr(classifier, "directory", None)
        if directory is None:
            return None
        from models.theme_fit import load_or_fit, served_texts

        tagger, source = load_or_fit(
            Path(directory),
            cache_root=self.settings.var_dir / "themes",
            prepare=served_texts(self.analyzer) if self.analyzer is not None else None,
        )
        log.info("theme tagger %s (%s)", tagger.version, source)
        return tagger

    def _themes(self, classifier: Classifier) -> ThemeTagger | None:
        """Themes are evidence for reports, not a safety stage: a tagger that fails to load is logged and the
        service screens without themes (never closed for them)."""
        if not self.settings.themes:
            return None
        try:
            return self.themes_loader(classifier)
        except Exception:
            log.exception("theme tagger failed to load; screening without themes")
            return None

    def _settle_heap(self, *, release_frozen: bool = True) -> None:
        """Collect once, then freeze everything alive (the models, the app) out of the cyclic GC's reach.

        Full collections otherwise re-scan the ~700k objects the models leave, stopping every request for
        hundreds of milliseconds each time. Unfreezing first lets a replaced model be collected on reload; the
        first load does not unfreeze, so a worker forked from a parent that froze its heap (``service.workers``)
        does not write to every page it shares with that parent to scan the PII engine again.
        """
        if not self.settings.gc_freeze:
            return
        if release_frozen:
            gc.unfreeze()
        gc.collect()
        gc.freeze()

    @property
    def model_version(self) -> str | None:
        return self.pipeline.classifier.version if self.pipeline else None

    def current_alias_version(self) -> str | None:
        from storage import model_store as registry

        ref = registry.get_alias(self.settings.model_alias, self.settings)
        return ref.label if ref else None


def _default_analyzer() -> EntityAnalyzer:
    from models.pii import Redactor

    return Redactor()


@dataclass
class _Pending:
    request: ScreenRequest
    future: asyncio.Future[Any]
    context: Any = None
    #: The caller's request id (log lines of the batch's worker thread carry the ids of all its requests).
    request_id: str | None = field(default_factory=logs.current_request_id)


#: What the batch's worker thread does with the results before answering (``MicroBatcher.finish``): one
#: value per post, or an exception for that post's caller.
Finisher = Callable[[list[ScreenResult], list[Any]], list[Any]]


class MicroBatcher:
    """Groups concurrent requests into one forward pass: waits at most ``wait_ms`` for up to ``max_size``.

    Runs the pipeline in worker threads so the event loop keeps accepting requests meanwhile. ``workers``
    batches are in flight at once: while one is inside ONNX Runtime (which releases the GIL), the next one's
    PII analysis (Python, holds the GIL) runs on the other core.
    """

    def __init__(
        self,
        holder: ModelHolder,
        *,
        max_size: int,
        wait_ms: float,
        workers: int = 2,
        finish: Finisher | None = None,
    ) -> None:
        self.holder = holder
        #: Runs in the batch's worker thread right after screening, with each post's ``context`` (the service
        #: stores the whole micro-batch in one transaction here: a group commit, and no extra thread hop).
        self.finish = finish
        self.max_size = max_size
        self.wait = wait_ms / 1000.0
        self.workers = max(1, workers)
        self.queue: asyncio.Queue[_Pending] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.batches = 0
        self.items = 0
        #: Batches being screened right now (by any worker).
        self.busy = 0

    def start(self) -> None:
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def screen(self, request: ScreenRequest, context: Any = None) -> Any:
        """The post's ``ScreenResult``; or, with a ``context`` and a ``finish`` hook, what ``finish`` made of it."""
        if self.queue is None:
            raise RuntimeError("batcher not started")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(request, fut, context))
        return await fut

    async def screen_many(self, requests: list[ScreenRequest]) -> list[ScreenResult]:
        """A large batch (re-screening an archive): cut into chunks of ``max_size``, ``workers`` in flight at
        once, so one chunk's PII analysis (GIL-bound) overlaps the previous chunk's forward pass (ONNX Runtime,
        GIL released) and both cores stay busy."""
        pipeline = self.holder.pipeline
        if pipeline is None:
            raise RuntimeError("model not loaded")
        size = max(1, self.max_size)
        chunks = [requests[i : i + size] for i in range(0, len(requests), size)]
        gate = asyncio.Semaphore(self.workers)

        async def run(chunk: list[ScreenRequest]) -> list[ScreenResult]:
            async with gate:
                return await asyncio.to_thread(pipeline.screen_many, chunk)

        parts = await asyncio.gather(*(run(c) for c in chunks))
        return [r for part in parts for r in part]

    def _screen_and_finish(self, pipeline: ScreeningPipeline, batch: list[_Pending]) -> list[Any]:
        logs.bind_request_ids([p.request_id for p in batch])  # this thread's copied context only
        results: list[Any] = pipeline.screen_many([p.request for p in batch])
        if self.finish is None:
            return results
        owned = [i for i, p in enumerate(batch) if p.context is not None]
        if owned:
            finished = self.finish([results[i] for i in owned], [batch[i].context for i in owned])
            for i, value in zip(owned, finished, strict=True):
                results[i] = value
        return results

    async def _run(self) -> None:
        assert self.queue is not None
        while True:
            first = await self.queue.get()
            batch = [first]
            while len(batch) < self.max_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            # Wait for more only under load (another worker busy): a lone request is screened at once rather
            # than paying ``wait_ms`` for company that is not coming.
            if self.busy and len(batch) < self.max_size:
                deadline = time.monotonic() + self.wait
                while len(batch) < self.max_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                    except TimeoutError:
                        break
            observability.BATCH_SIZE.observe(len(batch))
            pipeline = self.holder.pipeline
            self.busy += 1
            try:
                if pipeline is None:
                    raise RuntimeError("model not loaded")
                results = await asyncio.to_thread(self._screen_and_finish, pipeline, batch)
                self.batches += 1
                self.items += len(batch)
                for p, r in zip(batch, results, strict=True):
                    if p.future.done():
                        continue
                    if isinstance(r, BaseException):
                        p.future.set_exception(r)
                    else:
                        p.future.set_result(r)
            except Exception as exc:
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
            finally:
                self.busy -= 1
