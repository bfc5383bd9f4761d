"""Training the practice-theme tagger: a fit on a small sample, its artifact, and the frozen split kept out."""

from __future__ import annotations

import builtins
import io
import json
from pathlib import Path
from typing import Any

import pytest

from models.theme_fit import DATA_DIR, FitOptions, FrozenDataError, read_jsonl
from models.themes import LinearThemeTagger, has_tagger, theme_list
from training.themes import ThemeTrainingArguments, fit_bundle_themes, train_themes


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third of each real training file (about 260 posts), as three writers' files."""
    files = sorted(DATA_DIR.glob("train_*.jsonl"))
    if len(files) < 3:
        pytest.skip("datasets/themes has no training data yet")
    out = tmp_path_factory.mktemp("themes-sample")
    for f in files:
        rows = [json.dumps(r) for r in map(json.loads, f.read_text().splitlines()) if r][::3]
        (out / f.name).write_text("\n".join(rows) + "\n")
    return out


def test_a_fit_on_a_sample_writes_a_bundle_artifact(sample_dir: Path, tmp_path: Path) -> None:
    args = ThemeTrainingArguments(data_dir=sample_dir, redact=False)
    fit = train_themes(args, out_dir=tmp_path)
    assert has_tagger(tmp_path)
    loaded = LinearThemeTagger.load(tmp_path)
    assert loaded.version == fit.tagger.version
    assert fit.examples == sum(len(read_jsonl(f)) for f in sample_dir.glob("train_*.jsonl"))
    # cross-validated by writer (one fold per file), every theme reported
    assert set(fit.cv["themes"]) == set(theme_list().ids)
    assert 0.4 < fit.cv["macro_f1"] <= 1.0 and 0.4 < fit.cv["micro_f1"] <= 1.0
    assert loaded.info["data_hash"] and loaded.info["examples"] == fit.examples
    assert set(loaded.info["sources"]) == {f.name for f in sample_dir.glob("train_*.jsonl")}
    params = fit.extra["params"]
    assert params["themes.c"] == FitOptions().c and params["themes.redact"] is False
    assert "frozen" not in params["themes.files"]
    assert "falls" in loaded.tag(["found him on the floor by the bed, did the post-fall checks"])[0]


def test_training_refuses_the_frozen_split(tmp_path: Path) -> None:
    frozen = DATA_DIR / "frozen_eval.jsonl"
    with pytest.raises(FrozenDataError):
        train_themes(ThemeTrainingArguments(files=(frozen,), redact=False))
    renamed = tmp_path / "Frozen_copy.jsonl"
    renamed.write_text(json.dumps({"text": "a fall", "themes": ["falls"]}) + "\n")
    with pytest.raises(FrozenDataError):
        train_themes(ThemeTrainingArguments(files=(tmp_path / "train_ok.jsonl", renamed), redact=False))


def test_training_never_opens_the_frozen_file(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the data folder holds, the fit reads only ``train_*`` files (the frozen split sits beside them)."""
    (sample_dir / "frozen_eval.jsonl").write_text(json.dumps({"text": "x", "themes": []}) + "\n")
    opened: list[str] = []
    real_open = builtins.open
    real_read_text = Path.read_text

    def spy_open(file: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *a, **k)

    def spy_read_text(self: Path, *a: Any, **k: Any) -> str:
        opened.append(str(self))
        return real_read_text(self, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(Path, "read_text", spy_read_text)
    train_themes(ThemeTrainingArguments(data_dir=sample_dir, redact=False))
    assert any("train_" in p for p in opened)
    assert not any(Path(p).name.lower().startswith("frozen") for p in opened)


def test_no_data_means_no_tagger_in_the_bundle(tmp_path: Path) -> None:
    assert (
        fit_bundle_themes(tmp_path, ThemeTrainingArguments(data_dir=tmp_path / "empty", redact=False)) is None
    )
    assert not has_tagger(tmp_path)
