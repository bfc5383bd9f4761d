"""Loaders that turn the public corpora in ``../shared/datasets`` into masked ``LabelledText`` examples.

The corpora are never copied into the repository: they are read in place at run time from
``shared_datasets_dir()``. A fresh clone without ``../shared`` still works; every loader then yields nothing.
Each loader labels only the categories its source actually judged (see ``datasets/external/README.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Protocol, runtime_checkable

from training.corpora._common import SPLITS, PiiSample
from training.corpora.convabuse import ConvAbuseLoader
from training.corpora.counsel_chat import CounselChatLoader
from training.corpora.davidson_hate_offensive import DavidsonLoader
from training.corpora.edos_sexism import EdosLoader
from training.corpora.goemotions import GoEmotionsLoader
from training.corpora.jigsaw_toxic_sample import JigsawSampleLoader
from training.corpora.nhs_patient_experience_pxtextmining import NhsPatientExperienceLoader
from training.corpora.olid import OlidLoader
from training.corpora.online_misogyny_reddit import OnlineMisogynyLoader
from training.corpora.presidio_synth_pii import load_pii_spans
from training.corpora.toxic_spans_semeval2021 import ToxicSpansLoader
from training.corpora.toxigen_seed_statements import ToxigenSeedLoader
from training.corpora.wnut17 import load_wnut17_persons
from training.examples import LabelledText

_REPO_ROOT = Path(__file__).resolve().parents[2]


@runtime_checkable
class CorpusLoader(Protocol):
    """What the registry needs from a corpus: where it lives, how it maps, and how to read it."""

    @property
    def name(self) -> str:
        """Registry key, e.g. ``"olid"``."""
        ...

    @property
    def folder(self) -> str:
        """Folder name under the shared datasets root."""
        ...

    @property
    def mapping(self) -> str:
        """One line: how the source's labels become our categories (the module docstring has the reasons)."""
        ...

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        """Yield the corpus's examples (``split`` None = every split); ``root`` holds the corpus folders."""
        ...


def shared_datasets_dir() -> Path | None:
    """Where the shared corpora live: ``$CARESCREEN_SHARED_DATASETS``, else ``<repo>/../shared/datasets``."""
    env = os.environ.get("CARESCREEN_SHARED_DATASETS")
    if env:
        return Path(env)
    default = _REPO_ROOT.parent / "shared" / "datasets"
    return default if default.is_dir() else None


_ALL: tuple[CorpusLoader, ...] = (
    DavidsonLoader(),
    OlidLoader(),
    ConvAbuseLoader(),
    EdosLoader(),
    ToxicSpansLoader(),
    OnlineMisogynyLoader(),
    JigsawSampleLoader(),
    ToxigenSeedLoader(),
    GoEmotionsLoader(),
    CounselChatLoader(),
    NhsPatientExperienceLoader(),
)

#: Classification corpora by name. PII/NER corpora have their own functions (``load_pii_spans``, ...).
LOADERS: dict[str, CorpusLoader] = {loader.name: loader for loader in _ALL}


def available_corpora(root: Path | None = None) -> list[str]:
    """Names of registered corpora whose folder exists under ``root`` (default: the shared datasets dir)."""
    base = root if root is not None else shared_datasets_dir()
    if base is None or not base.is_dir():
        return []
    return [name for name, loader in LOADERS.items() if (base / loader.folder).is_dir()]


def load_corpus(
    name: str, root: Path | None = None, split: str | None = None, limit: int | None = None
) -> list[LabelledText]:
    """Load one corpus; ``[]`` when the shared folder (or this corpus's folder) is absent.

    Raises ``KeyError`` for an unknown corpus name and ``ValueError`` for an unknown split, because those
    are programming errors, whereas a missing folder is a normal setup (a fresh clone).
    """
    loader = LOADERS[name]
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    base = root if root is not None else shared_datasets_dir()
    if base is None or not (base / loader.folder).is_dir():
        return []
    examples = loader.load(base, split)
    return list(islice(examples, limit) if limit is not None else examples)


__all__ = [
    "LOADERS",
    "SPLITS",
    "CorpusLoader",
    "PiiSample",
    "available_corpora",
    "load_corpus",
    "load_pii_spans",
    "load_wnut17_persons",
    "shared_datasets_dir",
]
