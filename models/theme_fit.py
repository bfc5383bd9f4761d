"""Fitting the practice-theme tagger (``models/themes.py``): vocabulary, one logistic regression per theme, and
per-theme thresholds chosen on out-of-fold probabilities of the training data.

scikit-learn is imported here only (training, and the service's one-off fallback fit, ``models.theme_store``);
loading and applying a fitted tagger never needs it. The features are ``models.themes.Features``, the code the
served tagger runs, so fitted and served scores are the same numbers.

Labelled data is ``datasets/themes/train_*.jsonl``; ``frozen_eval.jsonl`` is the frozen evaluation split and
``read_examples`` refuses any file whose name starts with "frozen": no fit, threshold or choice ever sees it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from carescreen.config import PROJECT_ROOT
from models.themes import Block, Features, LinearThemeTagger, has_tagger, kind_token, theme_list

log = logging.getLogger(__name__)

#: The labelled theme data (card: ``datasets/themes/README.md``).
DATA_DIR = PROJECT_ROOT / "datasets" / "themes"
FROZEN_PREFIX = "frozen"
TRAIN_GLOB = "train_*.jsonl"
#: Candidate thresholds (probabilities) a theme's cut-off is chosen from.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


@dataclass(frozen=True)
class ThemeExample:
    text: str
    themes: tuple[str, ...]
    kind: str = "post"
    source: str = ""


class FrozenDataError(ValueError):
    """A fit was pointed at the frozen evaluation split."""


def refuse_frozen(path: Path) -> None:
    if Path(path).name.lower().startswith(FROZEN_PREFIX):
        raise FrozenDataError(f"{path} is the frozen evaluation split: it is never read for fitting")


def training_files(data_dir: Path) -> list[Path]:
    """The training files of a theme data folder (``train_*.jsonl``), never the frozen split."""
    files = sorted(Path(data_dir).glob(TRAIN_GLOB))
    for f in files:
        refuse_frozen(f)
    return files


def read_jsonl(path: Path) -> list[ThemeExample]:
    """Examples of one file; unknown theme ids are an error (the data must match the list's version)."""
    known = set(theme_list().ids)
    out: list[ThemeExample] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        themes = tuple(dict.fromkeys(str(t) for t in row.get("themes") or ()))
        unknown = set(themes) - known
        if unknown:
            raise ValueError(f"{path}:{n}: unknown theme ids {sorted(unknown)}")
        out.append(ThemeExample(str(row["text"]), themes, str(row.get("kind") or "post"), Path(path).name))
    return out


def read_examples(paths: Sequence[Path]) -> list[ThemeExample]:
    """Training examples from ``paths``; refuses the frozen split before reading anything."""
    for p in paths:
        refuse_frozen(p)
    return [ex for p in paths for ex in read_jsonl(p)]


def data_hash(examples: Sequence[ThemeExample]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.text, list(ex.themes), ex.kind]).encode())
    return h.hexdigest()[:16]


def label_matrix(examples: Sequence[ThemeExample], themes: Sequence[str]) -> np.ndarray:
    col = {t: j for j, t in enumerate(themes)}
    y = np.zeros((len(examples), len(themes)), dtype=np.int8)
    for i, ex in enumerate(examples):
        for t in ex.themes:
            y[i, col[t]] = 1
    return y


@dataclass
class FitOptions:
    """The tagger's hyper-parameters (``training.themes.ThemeTrainingArguments`` holds these and the data)."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    #: An n-gram must occur in at least this many training posts.
    min_df: int = 2
    #: Keep at most this many n-grams per block (the most frequent): bounds the artifact (None = all).
    max_features: int | None = 60_000
    #: Inverse regularisation strength of each theme's logistic regression.
    c: float = 10.0
    #: When set, ``c`` is chosen from these by cross-validated macro-F1 on the training data.
    c_grid: tuple[float, ...] = ()
    class_weight: str | None = "balanced"
    #: Whether the post's kind (post, comment, special_mention, ooo) is a feature.
    use_kind: bool = True
    #: Folds are the source files (writers) when there are three or more, else ``folds`` random ones.
    by_source: bool = True
    folds: int = 5
    seed: int = 13

    def to_params(self) -> dict[str, Any]:
        return {k: (",".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass
class ThemeFit:
    tagger: LinearThemeTagger
    #: Cross-validated figures on the training data (out-of-fold, thresholds chosen on the same folds).
    cv: dict[str, Any]
    options: FitOptions
    examples: int
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def fit_features(texts: Sequence[str], kinds: Sequence[str], options: FitOptions) -> Features:
    """Vocabulary and IDF of each block from ``texts`` (smoothed IDF, as scikit-learn's TfidfVectorizer)."""
    from models.themes import clean

    cleaned = [clean(t) for t in texts]
    blocks: list[Block] = []
    for kind, rng in (("word", options.word_ngrams), ("char", options.char_ngrams)):
        block = Block(kind=kind, ngrams=rng)
        df: Counter[str] = Counter()
        for i, c in enumerate(cleaned):
            grams = set(block.grams(c))
            if options.use_kind and kind == "word":
                grams.add(kind_token(kinds[i]))
            df.update(grams)
        kept = [(g, n) for g, n in df.items() if n >= options.min_df]
        kept.sort(key=lambda gn: (-gn[1], gn[0]))
        if options.max_features is not None:
            kept = kept[: options.max_features]
        kept.sort(key=lambda gn: gn[0])
        block.vocabulary = {g: j for j, (g, _) in enumerate(kept)}
        n = len(cleaned)
        block.idf = np.array([math.log((1 + n) / (1 + d)) + 1.0 for _, d in kept], dtype=np.float32)
        blocks.append(block)
    return Features(blocks, use_kind=options.use_kind)


def feature_matrix(features: Features, texts: Sequence[str], kinds: Sequence[str]) -> Any:
    from scipy.sparse import csr_matrix

    indptr, indices, data = features.rows(texts, kinds)
    return csr_matrix((data, indices, indptr), shape=(len(texts), features.width), dtype=np.float32)


def fit_linear(x: Any, y: np.ndarray, c: float, class_weight: str | None) -> tuple[np.ndarray, np.ndarray]:
    """One L2 logistic regression per theme column; (coef (features, themes), intercept (themes,))."""
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros((x.shape[1], y.shape[1]), dtype=np.float32)
    intercept = np.full(y.shape[1], -10.0, dtype=np.float32)  # a theme with no positives: never tagged
    for j in range(y.shape[1]):
        if y[:, j].min() == y[:, j].max():
            continue
        # newton-cg (intercept not penalised): about 9x faster than liblinear on these features
        m = LogisticRegression(C=c, class_weight=class_weight, solver="newton-cg", max_iter=1000)
        m.fit(x, y[:, j])
        coef[:, j] = m.coef_[0]
        intercept[j] = m.intercept_[0]
    return coef, intercept


def folds_of(n: int, groups: Sequence[str] | None, options: FitOptions) -> list[np.ndarray]:
    """Cross-validation folds: one per source file (writer) when ``options.by_source`` and there are at least
    three, so every post is scored by a tagger that never saw its writer; else ``options.folds`` random ones."""
    order = np.random.default_rng(options.seed).permutation(n)
    if options.by_source and groups is not None and len(set(groups)) >= 3:
        g = np.asarray(groups)
        return [order[g[order] == name] for name in sorted(set(groups))]
    return list(np.array_split(order, options.folds))


def out_of_fold(
    texts: Sequence[str],
    kinds: Sequence[str],
    y: np.ndarray,
    options: FitOptions,
    c: float,
    groups: Sequence[str] | None = None,
) -> np.ndarray:
    """Probabilities of every training post from a tagger fitted without its fold (vocabulary included)."""
    folds = folds_of(len(texts), groups, options)
    order = np.concatenate(folds)
    probs = np.zeros(y.shape, dtype=np.float32)
    for held in folds:
        train = np.setdiff1d(order, held)
        tr_texts, tr_kinds = [texts[i] for i in train], [kinds[i] for i in train]
        feats = fit_features(tr_texts, tr_kinds, options)
        coef, intercept = fit_linear(
            feature_matrix(feats, tr_texts, tr_kinds), y[train], c, options.class_weight
        )
        x_held = feature_matrix(feats, [texts[i] for i in held], [kinds[i] for i in held])
        probs[held] = 1.0 / (1.0 + np.exp(-(np.asarray(x_held @ coef) + intercept)))
    return probs


def f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float(np.sum(pred & truth))
    denom = float(np.sum(pred) + np.sum(truth))
    return 2 * tp / denom if denom else 0.0


def choose_thresholds(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per theme, the threshold of best F1 on ``probs``; among ties the middle one (less brittle)."""
    out = np.full(y.shape[1], 0.5, dtype=np.float32)
    for j in range(y.shape[1]):
        truth = y[:, j].astype(bool)
        if not truth.any():
            out[j] = 1.0
            continue
        scores = np.array([f1(probs[:, j] >= t, truth) for t in THRESHOLD_GRID])
        best = np.flatnonzero(scores >= scores.max() - 1e-9)
        out[j] = THRESHOLD_GRID[best[len(best) // 2]]
    return out


def scores(pred: np.ndarray, y: np.ndarray, themes: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 (mean over themes), micro-F1, and per theme precision, recall, F1 and support."""
    pred, truth = pred.astype(bool), y.astype(bool)
    per: dict[str, dict[str, float]] = {}
    for j, t in enumerate(themes):
        tp = float(np.sum(pred[:, j] & truth[:, j]))
        p, s = float(pred[:, j].sum()), float(truth[:, j].sum())
        per[t] = {
            "precision": tp / p if p else 0.0,
            "recall": tp / s if s else 0.0,
            "f1": f1(pred[:, j], truth[:, j]),
            "support": int(s),
        }
    return {
        "macro_f1": float(np.mean([m["f1"] for m in per.values()])),
        "micro_f1": f1(pred, truth),
        "posts": len(y),
        "posts_without_theme": int((~truth.any(axis=1)).sum()),
        "themes": per,
    }


def fit_tagger(
    examples: Sequence[ThemeExample],
    options: FitOptions | None = None,
    *,
    prepare: Callable[[Sequence[str]], list[str]] | None = None,
) -> ThemeFit:
    """Fit a tagger on ``examples``: choose C (if a grid is given) and thresholds by cross-validation, then fit
    the vocabulary and coefficients on all of them. ``prepare`` turns raw posts into the text the pipeline tags
    (normalised, redacted: ``served_texts``)."""
    started = time.perf_counter()
    options = options or FitOptions()
    tl = theme_list()
    texts = prepare([e.text for e in examples]) if prepare else [e.text for e in examples]
    kinds = [e.kind for e in examples]
    groups = [e.source for e in examples]
    y = label_matrix(examples, tl.ids)
    grid: dict[str, float] = {}
    c = options.c
    if options.c_grid:
        for cand in options.c_grid:
            oof = out_of_fold(texts, kinds, y, options, cand, groups)
            grid[str(cand)] = scores(oof >= choose_thresholds(oof, y), y, tl.ids)["macro_f1"]
        c = float(max(options.c_grid, key=lambda k: grid[str(k)]))
    oof = out_of_fold(texts, kinds, y, options, c, groups)
    thresholds = choose_thresholds(oof, y)
    cv = scores(oof >= thresholds, y, tl.ids)
    cv["c_grid"] = grid
    features = fit_features(texts, kinds, options)
    coef, intercept = fit_linear(feature_matrix(features, texts, kinds), y, c, options.class_weight)
    chosen = FitOptions(**{**asdict(options), "c": c})
    info = {
        "data_hash": data_hash(examples),
        "examples": len(examples),
        "sources": dict(Counter(e.source for e in examples)),
        "options": chosen.to_params(),
        "cv_macro_f1": cv["macro_f1"],
        "cv_micro_f1": cv["micro_f1"],
        "thresholds": dict(zip(tl.ids, map(float, thresholds), strict=True)),
    }
    tagger = LinearThemeTagger(
        features=features,
        coef=coef,
        intercept=intercept,
        thresholds=thresholds,
        themes=tl.ids,
        list_version=tl.version,
        info=info,
    )
    return ThemeFit(tagger, cv, chosen, len(examples), seconds=time.perf_counter() - started)


def served_texts(analyzer: Any) -> Callable[[Sequence[str]], list[str]]:
    """What the pipeline tags, for raw posts: identifiers redacted with ``analyzer``, then normalised (the same
    functions ``ScreeningPipeline.screen_many`` calls). A post whose PII stage fails is tagged unredacted."""
    from models.normalize import normalize
    from models.pipeline import apply_redactions, find_identifiers

    def prepare(texts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(texts), 64):
            chunk = list(texts[start : start + 64])
            for text, found in zip(chunk, find_identifiers(analyzer, chunk), strict=True):
                redacted = apply_redactions(text, found[0]) if found is not None else text
                out.append(normalize(redacted).text)
        return out

    return prepare


def load_or_fit(
    bundle: Path | None,
    *,
    cache_root: Path,
    data_dir: Path = DATA_DIR,
    prepare: Callable[[Sequence[str]], list[str]] | None = None,
    options: FitOptions | None = None,
) -> tuple[LinearThemeTagger, str]:
    """The tagger to serve with a model bundle, and where it came from ("bundle", "cache" or "fitted").

    A bundle trained since themes exist carries ``themes/`` (``carescreen train``). An older bundle (or one
    fitted for another list version) gets the tagger cached in ``cache_root/<list version>-<data hash>/``; if
    there is none yet, it is fitted here once from ``data_dir``'s training files (default options, thresholds
    by cross-validation: about ten seconds with redaction) and cached, so replicas sharing ``var/`` and later
    starts load it in milliseconds.
    """
    if bundle is not None and has_tagger(bundle):
        try:
            return LinearThemeTagger.load(bundle), "bundle"
        except ValueError as exc:
            log.warning("bundle's theme tagger is not usable (%s); using the data's", exc)
    examples = read_examples(training_files(data_dir))
    if not examples:
        raise FileNotFoundError(f"no theme training data in {data_dir}")
    target = cache_root / f"{theme_list().version}-{data_hash(examples)}"
    if has_tagger(target):
        return LinearThemeTagger.load(target), "cache"
    fit = fit_tagger(examples, options, prepare=prepare)
    log.warning("fitted the theme tagger from %s in %.1f s; cached in %s", data_dir, fit.seconds, target)
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".themes.", dir=cache_root))
    try:
        fit.tagger.save(tmp)
        try:
            os.rename(tmp, target)  # atomic; another process may have put its copy there first
        except OSError:
            if not has_tagger(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return fit.tagger, "fitted"
