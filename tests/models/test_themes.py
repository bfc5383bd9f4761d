"""Practice themes: the versioned list, the tagger's features, its artifact, and its place in the pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from models.pipeline import ScreeningPipeline, ScreenRequest
from models.policy import default_policy
from models.theme_fit import (
    DATA_DIR,
    FitOptions,
    FrozenDataError,
    ThemeExample,
    fit_tagger,
    load_or_fit,
    read_examples,
    training_files,
)
from models.themes import LinearThemeTagger, char_ngrams, clean, has_tagger, theme_list, word_ngrams
from tests.helpers import KeywordClassifier

BRIEF_IDS = (
    "falls", "dementia_distress", "medication", "nutrition_hydration", "skin_pressure_care", "end_of_life",
    "infection_control", "moving_handling", "mental_health", "learning_disability_autism",
    "safeguarding_learning", "wellbeing_workload", "recognition", "training_new_starters",
)  # fmt: skip

OBVIOUS = [
    ("Mrs [RESIDENT] had a fall in the lounge, found her on the floor, did the post-fall obs and checked her "
     "sensor mat", "post", "falls"),
    ("Reminder: sign the MAR chart for every dose, and PRN paracetamol needs the reason on the back", "post",
     "medication"),
    ("Practising with the hoist and the new slings before the transfer, always two carers for a full hoist",
     "post", "moving_handling"),
    ("Special mention to Sam for being an absolute star on nights this week, thank you so much", "special_mention",
     "recognition"),
    ("Norovirus outbreak on the first floor: full PPE, hand washing and isolate anyone with symptoms", "post",
     "infection_control"),
]  # fmt: skip

SYNTHETIC = {
    "falls": [
        "found her on the floor after a fall, post-fall checks done",
        "sensor mat alarm, near-miss fall",
    ],
    "medication": ["MAR chart missed dose again", "PRN given and signed on the eMAR"],
    "recognition": ["huge thanks to the team, amazing work", "shout out to our senior for staying late"],
}


def synthetic_examples(source: str = "s") -> list[ThemeExample]:
    out = [
        ThemeExample(f"{text} today", (theme,), "post", f"{source}{i % 3}")
        for theme, texts in SYNTHETIC.items()
        for i, text in enumerate(texts * 6)
    ]
    out += [
        ThemeExample(f"anyone swap my rota on {d}", (), "post", "s0") for d in ("monday", "friday", "sunday")
    ]
    return out


@pytest.fixture(scope="module")
def fitted() -> LinearThemeTagger:
    """The tagger fitted on the real training files (raw text: no PII engine needed here)."""
    examples = read_examples(training_files(DATA_DIR))
    if len(examples) < 100:
        pytest.skip("datasets/themes has no training data yet")
    return fit_tagger(examples, FitOptions()).tagger


def test_the_list_is_the_brief_and_versioned() -> None:
    tl = theme_list()
    assert tl.version == "themes-2026-12-02.1"
    assert tl.ids == BRIEF_IDS
    assert all(t.name and t.includes for t in tl.themes) and "passing word" in tl.rule


@pytest.mark.parametrize(
    "text",
    ["Mrs [RESIDENT] had a fall at 3am, the sensor mat didn't go off!! a b", "I  x yz hoist  LOLER", "a", ""],
)
def test_features_are_scikit_learns(text: str) -> None:
    """The served n-grams are scikit-learn's word and char_wb analysers, without importing it at serving."""
    from sklearn.feature_extraction.text import CountVectorizer

    cleaned = clean(text)
    assert "[RESIDENT]" not in cleaned and "resident" not in cleaned  # placeholders are not words of the post
    for analyzer, rng, ours in (("char_wb", (2, 5), char_ngrams), ("word", (1, 2), word_ngrams)):
        theirs = CountVectorizer(analyzer=analyzer, ngram_range=rng, lowercase=False).build_analyzer()
        assert Counter(theirs(cleaned)) == Counter(ours(cleaned, rng))


@pytest.mark.parametrize(("text", "kind", "theme"), OBVIOUS)
def test_obvious_posts_get_their_theme(fitted: LinearThemeTagger, text: str, kind: str, theme: str) -> None:
    assert theme in fitted.tag([text], [kind])[0]


def test_small_talk_gets_no_theme(fitted: LinearThemeTagger) -> None:
    tags = fitted.tag(
        ["anyone fancy swapping my saturday for a sunday?", "the car park barrier is broken again"]
    )
    assert tags == [(), ()]


def test_a_batch_tags_as_its_posts_alone(fitted: LinearThemeTagger) -> None:
    texts = [t for t, _, _ in OBVIOUS] + ["", "   ", "ok"]
    kinds = [k for _, k, _ in OBVIOUS] + ["post"] * 3
    together = fitted.probabilities(texts, kinds)
    alone = np.concatenate([fitted.probabilities([t], [k]) for t, k in zip(texts, kinds, strict=True)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    assert fitted.tag([]) == []


def test_artifact_round_trip_predicts_identically(tmp_path: Path) -> None:
    tagger = fit_tagger(synthetic_examples(), FitOptions(folds=3, by_source=False)).tagger
    tagger.save(tmp_path)
    assert has_tagger(tmp_path)
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pickle"))
    loaded = LinearThemeTagger.load(tmp_path)
    texts = [e.text for e in synthetic_examples()] + ["a fall and a missed dose", "nothing at all"]
    np.testing.assert_array_equal(loaded.probabilities(texts), tagger.probabilities(texts))
    assert loaded.tag(texts) == tagger.tag(texts) and loaded.version == tagger.version
    assert loaded.version.startswith("themes-2026-12-02.1+")


def test_loading_needs_neither_sklearn_nor_torch(tmp_path: Path) -> None:
    fit_tagger(synthetic_examples(), FitOptions(folds=3, by_source=False)).tagger.save(tmp_path)
    code = (
        "import sys; from pathlib import Path; from models.themes import LinearThemeTagger; "
        f"t = LinearThemeTagger.load(Path({str(tmp_path)!r})); print(t.tag(['a fall on nights'])); "
        "bad = [m for m in ('sklearn', 'torch', 'scipy') if m in sys.modules]; assert not bad, bad"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert done.returncode == 0, done.stderr
    assert "falls" in done.stdout


def test_an_artifact_of_another_list_version_is_refused(tmp_path: Path) -> None:
    folder = fit_tagger(synthetic_examples(), FitOptions(folds=3, by_source=False)).tagger.save(tmp_path)
    meta = json.loads((folder / "themes.json").read_text())
    meta["list_version"] = "themes-2020-01-01.1"
    (folder / "themes.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"themes-2020-01-01\.1"):
        LinearThemeTagger.load(tmp_path)


def test_the_frozen_split_is_never_read_for_fitting(tmp_path: Path) -> None:
    frozen = tmp_path / "frozen_eval.jsonl"
    frozen.write_text(json.dumps({"text": "a fall", "themes": ["falls"], "kind": "post"}) + "\n")
    (tmp_path / "train_x.jsonl").write_text(frozen.read_text())
    with pytest.raises(FrozenDataError):
        read_examples([tmp_path / "train_x.jsonl", frozen])
    assert [p.name for p in training_files(tmp_path)] == ["train_x.jsonl"]
    assert not any(p.name.startswith("frozen") for p in training_files(DATA_DIR))


def test_unknown_theme_ids_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "train_bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "themes": ["falls", "gardening"]}) + "\n")
    with pytest.raises(ValueError, match="gardening"):
        read_examples([bad])


def test_load_or_fit_prefers_the_bundle_then_the_cache(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        json.dumps({"text": e.text, "themes": list(e.themes), "kind": e.kind}) for e in synthetic_examples()
    ]
    for k in range(3):
        (data / f"train_{k}.jsonl").write_text("\n".join(rows[k::3]) + "\n")
    (data / "frozen_eval.jsonl").write_text("not json: reading it would fail the fit\n")
    bundle, cache = tmp_path / "bundle", tmp_path / "cache"
    bundle.mkdir()
    fitted, source = load_or_fit(bundle, cache_root=cache, data_dir=data)
    assert source == "fitted" and len([p for p in cache.iterdir() if has_tagger(p)]) == 1
    again, source = load_or_fit(bundle, cache_root=cache, data_dir=data)
    assert source == "cache" and again.version == fitted.version
    fitted.save(bundle)
    assert load_or_fit(bundle, cache_root=cache, data_dir=data)[1] == "bundle"


class _Broken:
    version = "broken"

    def tag(self, texts, kinds=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("injected tagger fault")


def test_the_pipeline_tags_every_post_of_a_batch(redactor) -> None:  # type: ignore[no-untyped-def]
    tagger = fit_tagger(synthetic_examples(), FitOptions(folds=3, by_source=False)).tagger
    pipeline = ScreeningPipeline(
        classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy(), themes=tagger
    )
    a, b, c = pipeline.screen_many(
        [
            ScreenRequest(text="She had a fall after tea, post-fall checks done, sensor mat on"),
            ScreenRequest(
                text="Doris has a bruise on her arm and a fall last night"
            ),  # escalated: still tagged
            ScreenRequest(text="anyone swap my rota"),
        ]
    )
    assert a.themes == ("falls",) and a.themes_version == tagger.version and a.decision == "allow"
    assert "falls" in b.themes and b.decision == "escalate"
    assert c.themes == () and "themes" in a.timings
    plain = ScreeningPipeline(classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy())
    r = plain.screen(ScreenRequest(text="a fall"))
    assert r.themes == () and r.themes_version is None and "themes" not in r.timings


def test_a_failing_tagger_costs_themes_not_decisions(redactor) -> None:  # type: ignore[no-untyped-def]
    pipeline = ScreeningPipeline(
        classifier=KeywordClassifier(), analyzer=redactor, policy=default_policy(), themes=_Broken()
    )
    r = pipeline.screen(ScreenRequest(text="Lovely sunny day in the garden with everyone"))
    assert r.decision == "allow" and r.degraded == [] and r.themes == () and r.themes_version is None


def test_no_frozen_post_is_a_near_copy_of_a_training_post() -> None:
    """The frozen figure measures new posts: every frozen post stays below 0.8 TF-IDF cosine of every training
    post (checked here, never used to choose anything)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    frozen_file = DATA_DIR / "frozen_eval.jsonl"
    train = [e.text for e in read_examples(training_files(DATA_DIR))]
    if not train or not frozen_file.exists():
        pytest.skip("datasets/themes has no data yet")
    frozen = [json.loads(line)["text"] for line in frozen_file.read_text().splitlines() if line.strip()]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train + frozen)
    similarity = (vec.transform(frozen) @ vec.transform(train).T).toarray()
    assert similarity.max() < 0.8
    assert not set(frozen) & set(train)
