"""The screening pipeline: normalise -> find identifiers -> redact -> classify the redacted text -> decide.

Pure (no web, no database): the service, the batch re-screen, the benchmark and evaluation all call this.
Every stage that fails is recorded in ``degraded`` and the policy then fails closed (never ``allow``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from models.classifier import Classifier
from models.normalize import Normalized, has_hidden_text, is_judgeable, normalize
from models.parts import score_posts
from models.pii.findings import Finding, Redaction, placeholder_for
from models.policy import PolicyEngine
from models.taxonomy import CATEGORIES
from models.themes import ThemeTagger

log = logging.getLogger(__name__)


class EntityAnalyzer(Protocol):
    """What the pipeline needs from the PII engine: spans (with roles) in the text it was given."""

    version: str

    def analyze(self, text: str, *, staff_names: Collection[str] = ()) -> list[Finding]: ...

    def analyze_many(
        self, texts: Sequence[str], *, staff_names: Sequence[Collection[str]] | None = None
    ) -> list[list[Finding]]: ...


@dataclass(frozen=True)
class ScreenRequest:
    text: str
    staff_names: Collection[str] = ()
    kind: str = "post"
    #: Confidentiality-rule holds the author's organisation switched off (``special_category``,
    #: ``access_details``); access codes are redacted whatever this says.
    holds_off: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ScreenResult:
    decision: str
    redacted_text: str
    scores: dict[str, float]
    flags: list[str]
    entities: list[Finding]
    kept: list[Finding]
    priority: str | None
    author_message: str
    reasons: list[str]
    model_version: str
    policy_version: str
    pii_version: str
    judgeable: bool = True
    degraded: list[str] = field(default_factory=list)
    #: For each flag, the span of ``redacted_text`` (the sentence or window) whose score raised it.
    evidence: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Milliseconds per stage for the micro-batch this post was screened in (``Server-Timing``): "pii"
    #: (normalise, recognise, redact), "normalise" (the classifier's input), "classifier", "themes" (with a
    #: tagger), "policy".
    timings: dict[str, float] = field(default_factory=dict)
    #: Practice themes of the post (``models/themes.yaml``), tagged on the text the classifier reads. Tagged
    #: for every post, so one a moderator publishes later has them too; culture evidence counts only
    #: published posts. Empty when none applies or no tagger is loaded.
    themes: tuple[str, ...] = ()
    #: The tagger's version (the list's version + the fitted artifact's fingerprint); None: no tagger ran.
    themes_version: str | None = None


class _Clock:
    """Stage laps in milliseconds (what ``Server-Timing`` reports)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round((now - self._last) * 1000, 2)
        self._last = now


def apply_redactions(text: str, findings: Sequence[Finding]) -> str:
    """Replace each finding's span with its typed placeholder, right to left so offsets stay valid."""
    out = text
    for f in sorted(findings, key=lambda f: f.start, reverse=True):
        out = out[: f.start] + placeholder_for(f.type, f.role) + out[f.end :]
    return out


class ScreeningPipeline:
    def __init__(
        self,
        *,
        classifier: Classifier,
        analyzer: EntityAnalyzer,
        policy: PolicyEngine,
        read_parts: bool = True,
        themes: ThemeTagger | None = None,
    ) -> None:
        self.classifier = classifier
        self.analyzer = analyzer
        self.policy = policy
        #: Practice-theme tagger (optional): one vectorised call per micro-batch, no second forward pass.
        self.themes = themes
        #: False scores only the whole text (the pre-issue-23 behaviour), kept for ablations in evaluation.
        self.read_parts = read_parts

    def _find_many(
        self, requests: Sequence[ScreenRequest]
    ) -> list[tuple[list[Finding], list[Finding]] | None]:
        return find_identifiers(self.analyzer, [r.text for r in requests], [r.staff_names for r in requests])

    def screen_many(self, requests: Sequence[ScreenRequest]) -> list[ScreenResult]:
        """Screen several posts with one NLP pass and one classifier forward pass (the unit of micro-batching)."""
        degraded: list[list[str]] = [[] for _ in requests]
        found: list[tuple[list[Finding], list[Finding]]] = []
        redacted_texts: list[str] = []
        model_inputs: list[Normalized] = []
        clock = _Clock()
        try:
            spans = self._find_many(requests)
        except Exception:  # normalisation itself failed: every post in the batch is held
            log.exception("PII stage failed; failing closed")
            spans = [None] * len(requests)
        for i, req in enumerate(requests):
            pair = spans[i]
            redact: list[Finding]
            kept: list[Finding]
            if pair is None:
                degraded[i].append("pii")
                redact, kept, redacted = [], [], ""
            else:
                redact, kept = pair
                redacted = apply_redactions(req.text, redact)
            found.append((redact, kept))
            redacted_texts.append(redacted)
        clock.lap("pii")
        for i, req in enumerate(requests):
            # The classifier reads the redacted text: names are not evidence of risk. If redaction failed we
            # still classify the original, so a disclosure can still escalate; it is never published.
            model_inputs.append(normalize(redacted_texts[i] if "pii" not in degraded[i] else req.text))
        clock.lap("normalise")

        evidence: list[dict[str, tuple[int, int]]] = [{} for _ in requests]
        whole = np.zeros((len(requests), len(CATEGORIES)))
        try:
            # Every part of every post is read (models/parts.py): one harmful sentence is enough.
            scored = score_posts(
                self.classifier.predict_proba, [m.text for m in model_inputs], parts=self.read_parts
            )
            probs = scored.probs
            if probs.shape != (len(requests), len(CATEGORIES)) or not np.all(np.isfinite(probs)):
                raise ValueError(f"classifier returned shape {probs.shape} or non-finite scores")
            probs = np.clip(probs, 0.0, 1.0)
            evidence = scored.evidence
            whole = scored.whole if scored.whole is not None else probs
        except Exception:
            log.exception("classifier failed; failing closed")
            probs = np.zeros((len(requests), len(CATEGORIES)))
            for d in degraded:
                d.append("classifier")
        clock.lap("classifier")
        themes, themes_version = self._tag_themes(requests, model_inputs)
        if self.themes is not None:
            clock.lap("themes")

        results: list[ScreenResult] = []
        thresholds = self.classifier.thresholds
        for i, req in enumerate(requests):
            scores = {c: round(float(probs[i, j]), 4) for j, c in enumerate(CATEGORIES)}
            flags = (
                [] if "classifier" in degraded[i] else [c for c in CATEGORIES if scores[c] >= thresholds[c]]
            )
            redact, kept = found[i]
            shown = {
                c: model_inputs[i].to_original(*evidence[i][c])
                for c in flags
                if c in evidence[i] and "pii" not in degraded[i]
            }
            judgeable = is_judgeable(req.text)
            verdict = self.policy.decide(
                scores=scores,
                flags=flags,
                redacted=bool(redact),
                judgeable=judgeable,
                degraded=degraded[i],
                hidden_text=has_hidden_text(req.text),
                text=model_inputs[i].text,
                entities=[(f.type, f.role) for f in redact],
                whole_scores={c: float(whole[i, j]) for j, c in enumerate(CATEGORIES)},
                holds_off=req.holds_off,
            )
            results.append(
                ScreenResult(
                    decision=verdict.decision,
                    redacted_text=redacted_texts[i],
                    scores=scores,
                    flags=flags,
                    entities=redact,
                    kept=kept,
                    priority=verdict.priority,
                    author_message=verdict.author_message,
                    reasons=list(verdict.reasons),
                    model_version=self.classifier.version,
                    policy_version=self.policy.version,
                    pii_version=getattr(self.analyzer, "version", "unknown"),
                    judgeable=judgeable,
                    degraded=degraded[i],
                    evidence=shown,
                    timings=clock.laps,
                    themes=themes[i],
                    themes_version=themes_version,
                )
            )
        clock.lap("policy")  # the laps dict is shared by every result of the batch
        return results

    def _tag_themes(
        self, requests: Sequence[ScreenRequest], model_inputs: Sequence[Normalized]
    ) -> tuple[list[tuple[str, ...]], str | None]:
        """Themes of every post of the batch in one call. A failure costs the batch its themes, never its
        decisions: themes are evidence for reports, not a safety stage, so nothing is held for them."""
        none: list[tuple[str, ...]] = [() for _ in requests]
        if self.themes is None:
            return none, None
        try:
            tagged = self.themes.tag([m.text for m in model_inputs], [r.kind for r in requests])
            if len(tagged) != len(requests):
                raise ValueError(f"theme tagger returned {len(tagged)} rows for {len(requests)} posts")
            return [tuple(t) for t in tagged], self.themes.version
        except Exception:
            log.exception("theme tagger failed; this batch gets no themes")
            return none, None

    def screen(self, request: ScreenRequest) -> ScreenResult:
        return self.screen_many([request])[0]


def find_identifiers(
    analyzer: EntityAnalyzer, texts: Sequence[str], staff_names: Sequence[Collection[str]] | None = None
) -> list[tuple[list[Finding], list[Finding]] | None]:
    """(to redact, kept) spans in the ORIGINAL texts: analysed on lightly folded copies ("D0ris"), mapped back.

    The one path from text to identifier spans: ``/v1/screen``, ``redact`` and ``carescreen evaluate-pii`` all
    come here. One NLP pass for the whole batch; if that fails, each post is retried alone so that one bad post
    degrades only itself. ``None`` marks a post whose PII stage failed.
    """
    names: Sequence[Collection[str]] = staff_names if staff_names is not None else [()] * len(texts)
    norms = [normalize(t, conservative=True) for t in texts]
    try:
        per_post: list[list[Finding] | None] = list(
            analyzer.analyze_many([n.text for n in norms], staff_names=list(names))
        )
    except Exception:
        if len(texts) == 1:
            log.exception("PII stage failed; failing closed")
            per_post = [None]
        else:
            log.warning("batched PII analysis failed; retrying post by post", exc_info=True)
            per_post = []
            for n, staff in zip(norms, names, strict=True):
                try:
                    per_post.append(analyzer.analyze(n.text, staff_names=staff))
                except Exception:
                    log.exception("PII stage failed; failing closed")
                    per_post.append(None)
    out: list[tuple[list[Finding], list[Finding]] | None] = []
    for norm, findings in zip(norms, per_post, strict=True):
        if findings is None:
            out.append(None)
            continue
        to_redact: list[Finding] = []
        kept: list[Finding] = []
        for f in findings:
            start, end = norm.to_original(f.start, f.end)
            mapped = Finding(type=f.type, start=start, end=end, score=f.score, role=f.role)
            (kept if f.role == "staff" and f.type == "PERSON" else to_redact).append(mapped)
        out.append((_without_overlaps(to_redact), kept))
    return out


def redact(analyzer: EntityAnalyzer, text: str, *, staff_names: Collection[str] = ()) -> Redaction:
    """The text as ``/v1/screen`` would publish it (same normalisation, spans, mapping and placeholders)."""
    found = find_identifiers(analyzer, [text], [staff_names])[0]
    if found is None:
        raise RuntimeError("the PII stage failed on this text")
    to_redact, kept = found
    return Redaction(apply_redactions(text, to_redact), tuple(to_redact), tuple(kept))


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep the longest (then highest-scoring) of overlapping spans so a placeholder never nests."""
    chosen: list[Finding] = []
    for f in sorted(findings, key=lambda f: (-(f.end - f.start), -f.score)):
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)
