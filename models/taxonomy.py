"""The care taxonomy: the eight categories every post is scored on.

The order of ``CATEGORIES`` is the order of the classifier's output heads; it is part of the
model contract, so never reorder it (append only, with a new policy version).
"""

from __future__ import annotations

from typing import Final

CATEGORIES: Final[tuple[str, ...]] = (
    "safeguarding",
    "self_harm",
    "toxicity",
    "bullying",
    "hate",
    "threat",
    "sexual",
    "confidentiality",
)

#: Categories where a miss is the worst error: thresholds are tuned for recall and posts escalate.
URGENT_CATEGORIES: Final[frozenset[str]] = frozenset({"safeguarding", "self_harm"})

#: The ten types of abuse and neglect named in the Care Act 2014 statutory guidance.
CARE_ACT_TYPES: Final[tuple[str, ...]] = (
    "physical",
    "domestic",
    "sexual",
    "psychological",
    "financial",
    "modern_slavery",
    "discriminatory",
    "organisational",
    "neglect",
    "self_neglect",
)

PII_ROLES: Final[tuple[str, ...]] = ("resident", "family", "staff", "other")
