"""Turns scores, flags and findings into one decision, following the versioned ``policy.yaml``."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from models.taxonomy import CATEGORIES

POLICY_FILE = Path(__file__).with_name("policy.yaml")
DECISIONS = ("allow", "allow_redacted", "hold", "escalate", "block")
PUBLISHABLE = frozenset({"allow", "allow_redacted"})


@dataclass(frozen=True)
class Verdict:
    decision: str
    priority: str | None
    author_message: str
    reasons: tuple[str, ...]


class PolicyEngine:
    """The decision rules. Pure: no model, no database, so it is trivially testable and auditable."""

    def __init__(self, path: Path = POLICY_FILE) -> None:
        raw: dict[str, Any] = yaml.safe_load(path.read_text())
        self.version: str = str(raw["version"])
        self.categories: dict[str, Any] = raw["categories"]
        missing = set(CATEGORIES) - set(self.categories)
        if missing:
            raise ValueError(f"policy file lacks categories {sorted(missing)}")
        rules = raw["decision"]
        self.escalate_on = tuple(rules["escalate_on"])
        self.block_on = tuple(rules["block_on"])
        self.block_threshold = float(rules["block_threshold"])
        self.hold_on = tuple(rules["hold_on"])
        self.confidentiality_requires_redaction = bool(rules["confidentiality_requires_redaction"])
        self.hold_unjudgeable = bool(rules["hold_unjudgeable"])
        self.hold_hidden_text = bool(rules.get("hold_hidden_text", True))
        rule = raw.get("confidentiality_rule") or {}
        self.hold_entities = frozenset(rule.get("hold_entities", ()))
        self.access_patterns = [re.compile(p, re.IGNORECASE) for p in rule.get("access_patterns", ())]
        self.special_patterns = [
            re.compile(p, re.IGNORECASE) for p in rule.get("special_category_patterns", ())
        ]
        self.identifier_types = frozenset(rule.get("identifier_types", ()))
        self.identifier_roles = frozenset(rule.get("identifier_roles", ()))
        self.priorities: dict[str, str] = raw["priorities"]
        self.messages: dict[str, str] = {k: " ".join(str(v).split()) for k, v in raw["messages"].items()}
        self.reasons: dict[str, str] = raw["reasons"]

    def _reason_text(self, reasons: Sequence[str]) -> str:
        texts = [self.reasons[r] for r in reasons if r in self.reasons]
        return " and ".join(dict.fromkeys(texts)) or "it needs a second look"

    def decide(
        self,
        *,
        scores: Mapping[str, float],
        flags: Sequence[str],
        redacted: bool,
        judgeable: bool = True,
        degraded: Sequence[str] = (),
        hidden_text: bool = False,
        text: str = "",
        entities: Sequence[tuple[str, str]] = (),
        whole_scores: Mapping[str, float] | None = None,
        holds_off: Collection[str] = (),
    ) -> Verdict:
        """Highest precedence wins: escalate > block > hold > allow_redacted > allow.

        Fails closed: if any stage is ``degraded`` the post is held, never allowed.
        """
        flagset = set(flags)
        urgent = [c for c in self.escalate_on if c in flagset]
        if urgent:
            key = "escalate_self_harm" if "self_harm" in urgent else "escalate_safeguarding"
            if "self_harm" in urgent and "safeguarding" in urgent:
                message = self.messages["escalate_self_harm"] + " " + self.messages["escalate_safeguarding"]
            else:
                message = self.messages[key]
            return Verdict("escalate", self.priorities["escalate"], message, tuple(urgent))
        if degraded:
            return Verdict(
                "hold", "high", self.messages["unscreenable"], tuple(f"degraded:{d}" for d in degraded)
            )
        # Blocking (the one decision an author sees as a rejection) needs the whole post to read as hate, a
        # threat or sexual content; a single sentence that does (a slur quoted to condemn it) is held instead.
        block_scores = scores if whole_scores is None else whole_scores
        blocking = [
            c for c in self.block_on if c in flagset and block_scores.get(c, 0.0) >= self.block_threshold
        ]
        if blocking:
            msg = self.messages["block"].format(reason=self._reason_text(blocking))
            return Verdict("block", self.priorities["block"], msg, tuple(blocking))
        holding = [c for c in self.hold_on if c in flagset]
        if "confidentiality" in flagset and self.confidentiality_requires_redaction and not redacted:
            holding.append("confidentiality")
        if not judgeable and self.hold_unjudgeable:
            holding.append("unjudgeable")
        if hidden_text and self.hold_hidden_text:
            holding.append("hidden_text")
        holding += [h for h in self.confidentiality_holds(text, entities) if h not in holds_off]
        if holding:
            msg = self.messages["hold"].format(reason=self._reason_text(holding))
            return Verdict("hold", self.priorities["hold"], msg, tuple(holding))
        if redacted:
            return Verdict("allow_redacted", None, self.messages["allow_redacted"], ())
        return Verdict("allow", None, self.messages["allow"], ())

    def confidentiality_holds(self, text: str, entities: Sequence[tuple[str, str]]) -> list[str]:
        """The confidentiality rule: what may not be published even redacted (``entities``: (type, role)).

        ``access_details``: a home access code was found, or the text says where a key is kept.
        ``special_category``: a special-category detail (diagnosis, HIV, DNACPR, sectioning, medication and dose,
        infection...) in a post that also names or locates a person cared for.
        """
        out: list[str] = []
        types = {t for t, _ in entities}
        if types & self.hold_entities or any(p.search(text) for p in self.access_patterns):
            out.append("access_details")
        identifiable = any(t in self.identifier_types and r in self.identifier_roles for t, r in entities)
        if identifiable and any(p.search(text) for p in self.special_patterns):
            out.append("special_category")
        return out


@lru_cache(maxsize=1)
def default_policy() -> PolicyEngine:
    return PolicyEngine()
