"""The name recognizer's word data: one source for the role cues (config.yaml), strings only from the YAML."""

from __future__ import annotations

from models.pii import name_words
from models.pii.config import default_config
from models.pii.recognizers import REGISTRY, PersonNameRecognizer
from models.pii.role_inferer import RoleInferer


def test_default_cues_are_the_config_context() -> None:
    context = default_config()["context"]
    assert list(name_words.DEFAULT_RESIDENT_CUES) == context["resident"]
    assert list(name_words.DEFAULT_FAMILY_CUES) == context["family"]
    assert list(name_words.DEFAULT_OTHER_CUES) == context["other"]


def test_recognizer_without_config_matches_the_served_one() -> None:
    context = default_config()["context"]
    bare = PersonNameRecognizer()
    served = PersonNameRecognizer(resident_cues=context["resident"], family_cues=context["family"])
    assert bare._cue_before.pattern == served._cue_before.pattern
    assert RoleInferer().infer("her daughter Karen rang", 13, 18) == "family"


def test_yaml_words_are_strings() -> None:
    # unquoted No/Yes/On/Off would be booleans in YAML
    assert {"no", "yes", "i'm", "a&e"} <= name_words.STOPWORDS
    assert all(isinstance(w, str) for w in name_words.STOPWORDS)
    assert name_words.TITLES[:2] == ("Mr", "Mrs")


def test_config_names_registered_recognizers() -> None:
    assert set(default_config()["recognizers"]) <= set(REGISTRY)
