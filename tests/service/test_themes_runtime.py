"""The model holder serves the theme tagger with the classifier; a tagger that fails to load costs themes only."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from carescreen.config import Settings
from models.pii.findings import Finding
from models.pipeline import ScreenRequest
from models.theme_fit import FitOptions, ThemeExample, fit_tagger
from models.themes import LinearThemeTagger
from service.runtime import ModelHolder
from tests.helpers import KeywordClassifier


class _NoFindings:
    version = "none/1"

    def analyze(self, text: str, *, staff_names: Collection[str] = ()) -> list[Finding]:
        return []

    def analyze_many(self, texts: Sequence[str], *, staff_names: Any = None) -> list[list[Finding]]:
        return [[] for _ in texts]


def _tagger() -> LinearThemeTagger:
    examples = [
        ThemeExample(f"{t} {n}", (theme,), "post", f"w{n % 3}")
        for n in range(12)
        for theme, t in (
            ("falls", "found her on the floor after a fall"),
            ("medication", "missed dose on the MAR"),
        )
    ] + [ThemeExample(f"rota swap {n}", (), "post", f"w{n % 3}") for n in range(6)]
    return fit_tagger(examples, FitOptions(by_source=False, folds=3)).tagger


def _holder(tmp_path: Path, themes_loader: Any = None) -> ModelHolder:
    return ModelHolder(
        Settings(var_dir=tmp_path, gc_freeze=False),
        classifier_loader=KeywordClassifier,
        analyzer_factory=_NoFindings,
        themes_loader=themes_loader,
    )


def test_the_holder_serves_the_tagger_with_the_classifier(tmp_path: Path) -> None:
    tagger = _tagger()
    seen: list[Any] = []

    def loader(classifier: Any) -> LinearThemeTagger:
        seen.append(classifier)
        return tagger

    holder = _holder(tmp_path, loader)
    holder.load()
    assert holder.pipeline is not None and holder.pipeline.themes is tagger
    assert seen == [holder.pipeline.classifier]
    r = holder.pipeline.screen(ScreenRequest(text="found him on the floor after a fall in the night"))
    assert r.themes == ("falls",) and r.themes_version == tagger.version
    holder.reload()  # a new champion gets its own tagger too
    assert len(seen) == 2 and holder.pipeline.themes is tagger


def test_a_tagger_that_fails_to_load_leaves_the_service_screening(tmp_path: Path) -> None:
    def broken(classifier: Any) -> LinearThemeTagger:
        raise OSError("artifact unreadable")

    holder = _holder(tmp_path, broken)
    holder.load()
    assert holder.pipeline is not None and holder.pipeline.themes is None
    assert holder.readiness.model and holder.readiness.pii
    r = holder.pipeline.screen(ScreenRequest(text="a fall"))
    assert r.decision == "allow" and r.themes == () and r.themes_version is None


def test_a_classifier_without_a_bundle_gets_no_tagger(tmp_path: Path) -> None:
    holder = _holder(tmp_path)  # the default loader: the bundle's tagger, or the cached or fitted one
    holder.load()
    assert holder.pipeline is not None and holder.pipeline.themes is None
    assert not (tmp_path / "themes").exists()
