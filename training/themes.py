"""Training the practice-theme tagger: arguments, a fit from ``datasets/themes/train_*.jsonl``, the artifact in the
model bundle, and its figures in the classifier's MLflow run.

``carescreen train`` (``training.run.train_and_register``) calls ``fit_bundle_themes`` after the classifier is
saved, so every bundle carries ``themes/`` (JSON + npz: serving needs neither scikit-learn nor torch). The
frozen evaluation split (``frozen_eval.jsonl``) is never read here: ``train_themes`` refuses any file whose
name starts with "frozen"; its figure comes from ``carescreen evaluate-themes`` through the served pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.theme_fit import (
    DATA_DIR,
    FitOptions,
    ThemeFit,
    fit_tagger,
    read_examples,
    served_texts,
    training_files,
)

log = logging.getLogger(__name__)


@dataclass
class ThemeTrainingArguments:
    """Every knob of a theme fit (logged to MLflow with the classifier's run, prefixed ``themes.``)."""

    data_dir: Path = DATA_DIR
    #: Explicit training files instead of ``data_dir/train_*.jsonl`` (never a ``frozen*`` file).
    files: tuple[Path, ...] = ()
    options: FitOptions = field(default_factory=FitOptions)
    #: Fit on what the pipeline tags: identifiers redacted by the PII engine, then normalised. False fits on
    #: the raw text (tests; about 8 s faster without the engine).
    redact: bool = True

    def to_params(self) -> dict[str, Any]:
        params = {f"themes.{k}": v for k, v in self.options.to_params().items()}
        params["themes.redact"] = self.redact
        params["themes.files"] = ",".join(p.name for p in self.training_paths()) or "(none)"
        return params

    def training_paths(self) -> list[Path]:
        return [Path(p) for p in self.files] if self.files else training_files(self.data_dir)


def train_themes(
    args: ThemeTrainingArguments | None = None, *, analyzer: Any = None, out_dir: Path | None = None
) -> ThemeFit:
    """Fit the tagger on the training files (refusing the frozen split) and, with ``out_dir``, save it there
    (``out_dir/themes/``). ``analyzer`` is the PII engine to redact with (one is loaded when needed)."""
    args = args or ThemeTrainingArguments()
    examples = read_examples(args.training_paths())  # raises FrozenDataError before reading a frozen file
    if not examples:
        raise FileNotFoundError(f"no theme training examples in {args.data_dir}")
    prepare = None
    if args.redact:
        if analyzer is None:
            from models.pii import Redactor

            analyzer = Redactor()
        prepare = served_texts(analyzer)
    fit = fit_tagger(examples, args.options, prepare=prepare)
    fit.extra["params"] = args.to_params()
    if out_dir is not None:
        fit.tagger.save(out_dir)
    log.info(
        "theme tagger: %d posts, cross-validated macro-F1 %.3f, %.1f s",
        fit.examples,
        fit.cv["macro_f1"],
        fit.seconds,
    )
    return fit


def fit_bundle_themes(bundle_dir: Path, args: ThemeTrainingArguments | None = None) -> ThemeFit | None:
    """The bundle's tagger (``bundle_dir/themes/``); None, with a warning, when there is no theme data yet (the
    service then fits and caches one from the data when it appears: ``models.theme_fit.load_or_fit``)."""
    args = args or ThemeTrainingArguments()
    if not args.training_paths():
        log.warning("no theme training data in %s: the bundle gets no theme tagger", args.data_dir)
        return None
    return train_themes(args, out_dir=bundle_dir)


def log_theme_fit(fit: ThemeFit) -> None:
    """Params and cross-validated figures of the tagger into the active MLflow run."""
    import mlflow

    mlflow.log_params(fit.extra.get("params") or {})
    mlflow.log_params(
        {
            "themes.data_hash": fit.tagger.info["data_hash"],
            "themes.train_n": fit.examples,
            "themes.c": fit.options.c,
        }
    )
    mlflow.log_metric("themes.cv.macro_f1", fit.cv["macro_f1"])
    mlflow.log_metric("themes.cv.micro_f1", fit.cv["micro_f1"])
    for theme, m in fit.cv["themes"].items():
        mlflow.log_metric(f"themes.cv.{theme}.f1", m["f1"])
    mlflow.log_dict({"cv": fit.cv, "info": fit.tagger.info}, "themes_cv.json")
