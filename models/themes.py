"""Practice themes: the versioned list (``themes.yaml``) and the tagger that gives a post zero or more of them.

Pure and light: NumPy and the standard library only (no torch, no scikit-learn), so the service loads a tagger
artifact in milliseconds and tags a micro-batch in well under a millisecond a post. The tagger is TF-IDF over
word (1-2) and character (2-5, within words) n-grams with one logistic-regression row per theme and a threshold
per theme (``LinearThemeTagger``); its artifact is plain JSON + ``.npz`` (vocabularies, IDF, coefficients,
thresholds), never a pickle. Fitting it is ``models/theme_fit.py`` (scikit-learn, training only); the features
here are the ones it fits on, computed by the same code, so a loaded tagger scores exactly as fitted.

The pipeline tags the text the classifier reads: the normalised, redacted post. Placeholders such as
``[RESIDENT]`` are not words of the post and are dropped before n-grams are taken.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

THEMES_FILE = Path(__file__).with_name("themes.yaml")
#: The tagger's folder inside a model bundle (and inside the ``var/`` cache).
ARTIFACT_DIR = "themes"
_META = "themes.json"
_ARRAYS = "themes.npz"
FORMAT = 1

_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\]")
_WORD = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    includes: str


@dataclass(frozen=True)
class ThemeList:
    version: str
    rule: str
    themes: tuple[Theme, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.themes)


@lru_cache(maxsize=4)
def theme_list(path: Path = THEMES_FILE) -> ThemeList:
    """The theme list (read once). Ids are unique lower-case identifiers; their order is the tagger's columns."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    themes = tuple(
        Theme(str(t["id"]), str(t["name"]), " ".join(str(t["includes"]).split())) for t in raw["themes"]
    )
    ids = [t.id for t in themes]
    if len(set(ids)) != len(ids) or not all(re.fullmatch(r"[a-z][a-z_]*", i) for i in ids):
        raise ValueError(f"theme ids must be unique snake_case words: {ids}")
    return ThemeList(str(raw["version"]), " ".join(str(raw.get("rule", "")).split()), themes)


def theme_ids() -> tuple[str, ...]:
    return theme_list().ids


class ThemeTagger(Protocol):
    """Anything that gives each text the ids of the practice themes it is substantially about."""

    @property
    def version(self) -> str: ...

    def tag(self, texts: Sequence[str], kinds: Sequence[str] | None = None) -> list[tuple[str, ...]]:
        """One tuple of theme ids per text (in the list's order; empty when no theme applies)."""
        ...


# ----------------------------------------------------------------------------------------------- features


def clean(text: str) -> str:
    """Lower case, placeholders dropped, runs of white space collapsed (what every n-gram is taken from)."""
    return _SPACES.sub(" ", _PLACEHOLDER.sub(" ", text)).strip().lower()


def word_ngrams(text: str, n_range: tuple[int, int]) -> list[str]:
    """Word n-grams of a cleaned text (words of two or more word characters, as scikit-learn's default)."""
    words = _WORD.findall(text)
    lo, hi = n_range
    out: list[str] = words[:] if lo <= 1 else []
    for n in range(max(lo, 2), hi + 1):
        out.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return out


def char_ngrams(text: str, n_range: tuple[int, int]) -> list[str]:
    """Character n-grams inside word boundaries, each word padded with one space (scikit-learn's char_wb)."""
    out: list[str] = []
    for word in text.split():
        out.extend(word_char_ngrams(word, n_range))
    return out


def word_char_ngrams(word: str, n_range: tuple[int, int]) -> list[str]:
    lo, hi = n_range
    w = f" {word} "
    length = len(w)
    out: list[str] = []
    for n in range(lo, hi + 1):
        if n > length:
            if n == lo:
                out.append(w)  # a word shorter than the smallest n counts once, whole
            break
        out.extend(w[i : i + n] for i in range(length - n + 1))
    return out


#: Words whose character n-gram columns a block remembers (then it starts afresh): about 8 MB at most.
_WORD_CACHE_SIZE = 50_000


@dataclass
class Block:
    """One block of TF-IDF features (words or characters): its vocabulary and IDF, L2-normalised on its own."""

    kind: str  # "word" or "char"
    ngrams: tuple[int, int]
    vocabulary: dict[str, int] = field(default_factory=dict)
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    #: The block's weight once normalised (both 1.0: word and character evidence count alike).
    weight: float = 1.0
    #: Character blocks: each word's columns, remembered (see ``columns``).
    _word_columns: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    def grams(self, text: str) -> list[str]:
        return word_ngrams(text, self.ngrams) if self.kind == "word" else char_ngrams(text, self.ngrams)

    def extend_columns(self, out: list[int], text: str, extra: Sequence[str] = ()) -> None:
        """Append the vocabulary columns of every n-gram of a cleaned text to ``out`` (repeats kept: they are
        the counts). Character n-grams are looked up per word and a word's columns are remembered: posts reuse
        a small vocabulary of words, so a post costs about one dictionary look-up a word."""
        vocab = self.vocabulary
        if self.kind == "word":
            grams = word_ngrams(text, self.ngrams)
            grams.extend(extra)
            out.extend(j for g in grams if (j := vocab.get(g)) is not None)
            return
        cache = self._word_columns
        for word in text.split():
            cols = cache.get(word)
            if cols is None:
                if len(cache) >= _WORD_CACHE_SIZE:
                    cache.clear()
                cols = tuple(
                    j for g in word_char_ngrams(word, self.ngrams) if (j := vocab.get(g)) is not None
                )
                cache[word] = cols
            out.extend(cols)

    def tfidf(self, cols: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc, column, weight) of the distinct columns of each document, for a whole batch at once: sublinear
        TF x IDF, L2-normalised per document, times ``weight``. ``lengths``: how many of ``cols`` each has."""
        width = len(self.vocabulary)
        if not width or not len(cols):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.float32)
        docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        keys, counts = np.unique(docs * width + cols, return_counts=True)
        doc, col = np.divmod(keys, width)
        w = (1.0 + np.log(counts)).astype(np.float32) * self.idf[col]
        norms = np.sqrt(np.bincount(doc, weights=w * w, minlength=len(lengths))).astype(np.float32)
        return doc, col, w * (self.weight / norms[doc])  # every weight is > 0 (IDF >= 1): no norm is 0


def kind_token(kind: str | None) -> str:
    """The post's kind as one more word ("post", "comment", "special_mention", "ooo"): Special Mentions and
    OOOs are mostly recognition, whatever their words."""
    return f"kindx{(kind or 'post').replace('_', 'x')}"


class Features:
    """Blocks side by side: the sparse rows a tagger (and the fit) multiplies by its coefficients."""

    def __init__(self, blocks: Sequence[Block], *, use_kind: bool) -> None:
        self.blocks = list(blocks)
        self.use_kind = use_kind
        self.offsets = np.cumsum([0] + [len(b.vocabulary) for b in self.blocks])

    @property
    def width(self) -> int:
        return int(self.offsets[-1])

    def rows(
        self, texts: Sequence[str], kinds: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR parts (indptr, indices, data) of the feature rows of ``texts``: the n-grams are looked up post by
        post, everything else is a handful of array operations for the whole batch."""
        cleaned = [clean(t) for t in texts]
        docs: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for b, block in enumerate(self.blocks):
            found: list[int] = []
            lengths: list[int] = []
            for i, text in enumerate(cleaned):
                before = len(found)
                extra: tuple[str, ...] = ()
                if self.use_kind and block.kind == "word":
                    extra = (kind_token(kinds[i] if kinds is not None else None),)
                block.extend_columns(found, text, extra)
                lengths.append(len(found) - before)
            d, c, w = block.tfidf(np.asarray(found, dtype=np.int64), np.asarray(lengths, dtype=np.int64))
            docs.append(d)
            cols.append(c + self.offsets[b])
            weights.append(w)
        doc, col, data = np.concatenate(docs), np.concatenate(cols), np.concatenate(weights)
        order = np.lexsort((col, doc))
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(doc, minlength=len(texts)), out=indptr[1:])
        return indptr, col[order], data[order]


# ------------------------------------------------------------------------------------------------- tagger


class LinearThemeTagger:
    """TF-IDF n-grams -> one logistic-regression row per theme -> a threshold per theme (``ThemeTagger``)."""

    def __init__(
        self,
        *,
        features: Features,
        coef: np.ndarray,
        intercept: np.ndarray,
        thresholds: np.ndarray,
        themes: Sequence[str],
        list_version: str,
        info: dict[str, Any] | None = None,
    ) -> None:
        if coef.shape != (features.width, len(themes)):
            raise ValueError(
                f"coefficients {coef.shape} do not fit {features.width} features x {len(themes)}"
            )
        self.features = features
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        self.themes = tuple(themes)
        self.list_version = list_version
        #: How it was fitted (data hashes, hyper-parameters, cross-validated figures): kept in the artifact.
        self.info = dict(info or {})
        self.version = f"{list_version}+{self.fingerprint()}"

    def fingerprint(self) -> str:
        h = hashlib.sha256(self.coef.tobytes())
        h.update(self.intercept.tobytes() + self.thresholds.tobytes())
        return h.hexdigest()[:10]

    def probabilities(self, texts: Sequence[str], kinds: Sequence[str] | None = None) -> np.ndarray:
        """(len(texts), len(themes)) probabilities, one sparse product for the whole batch."""
        out = np.zeros((len(texts), len(self.themes)), dtype=np.float32)
        if not texts:
            return out
        indptr, indices, data = self.features.rows(texts, kinds)
        if len(indices):
            contrib = self.coef[indices] * data[:, None]
            starts = indptr[:-1]
            filled = np.flatnonzero(indptr[1:] > starts)
            out[filled] = np.add.reduceat(contrib, starts[filled], axis=0)
        logits = out + self.intercept
        probs: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return probs

    def tag(self, texts: Sequence[str], kinds: Sequence[str] | None = None) -> list[tuple[str, ...]]:
        hits = self.probabilities(texts, kinds) >= self.thresholds
        return [tuple(t for t, on in zip(self.themes, row, strict=True) if on) for row in hits]

    # ---------------------------------------------------------------------------------------- artifact

    def save(self, directory: Path) -> Path:
        """Write ``directory/themes/`` (JSON + npz, no pickle); returns that folder."""
        folder = directory / ARTIFACT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "kind": "tfidf-logreg",
            "list_version": self.list_version,
            "themes": list(self.themes),
            "use_kind": self.features.use_kind,
            "blocks": [
                {
                    "kind": b.kind,
                    "ngrams": list(b.ngrams),
                    "weight": b.weight,
                    # index order: the n-gram of column j is vocabulary[j]
                    "vocabulary": sorted(b.vocabulary, key=b.vocabulary.__getitem__),
                }
                for b in self.features.blocks
            ],
            "info": self.info,
        }
        (folder / _META).write_text(json.dumps(meta, ensure_ascii=False, default=_jsonable))
        arrays = {f"idf_{k}": b.idf for k, b in enumerate(self.features.blocks)}
        np.savez_compressed(
            folder / _ARRAYS,
            coef=self.coef,
            intercept=self.intercept,
            thresholds=self.thresholds,
            **arrays,  # type: ignore[arg-type]
        )
        return folder

    @classmethod
    def load(cls, directory: Path) -> LinearThemeTagger:
        """Load from a bundle (or cache) directory holding ``themes/``; refuses another list's artifact."""
        folder = directory / ARTIFACT_DIR
        meta = json.loads((folder / _META).read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"theme artifact format {meta.get('format')} is not {FORMAT}")
        current = theme_list()
        if meta["list_version"] != current.version or tuple(meta["themes"]) != current.ids:
            raise ValueError(
                f"theme artifact was fitted for {meta['list_version']}, the list is {current.version}"
            )
        with np.load(folder / _ARRAYS, allow_pickle=False) as z:
            blocks = [
                Block(
                    kind=b["kind"],
                    ngrams=(int(b["ngrams"][0]), int(b["ngrams"][1])),
                    vocabulary={g: j for j, g in enumerate(b["vocabulary"])},
                    idf=z[f"idf_{k}"].astype(np.float32),
                    weight=float(b["weight"]),
                )
                for k, b in enumerate(meta["blocks"])
            ]
            return cls(
                features=Features(blocks, use_kind=bool(meta["use_kind"])),
                coef=z["coef"],
                intercept=z["intercept"],
                thresholds=z["thresholds"],
                themes=meta["themes"],
                list_version=meta["list_version"],
                info=meta.get("info") or {},
            )


def has_tagger(directory: Path) -> bool:
    return (directory / ARTIFACT_DIR / _META).exists() and (directory / ARTIFACT_DIR / _ARRAYS).exists()


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
