"""Request and response bodies of the public API (fields may be added, never renamed)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, StrictBool
from pydantic import StrictStr as _StrictStr

from models.taxonomy import CATEGORIES


def _storable(value: str) -> str:
    """Text every database can store: no NUL characters, no lone surrogates (PostgreSQL rejects both)."""
    if "\x00" in value:
        raise ValueError("contains NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode (lone surrogate)") from exc
    return value


#: A strict string that can be stored anywhere; every request body uses it for free text.
StrictStr = Annotated[_StrictStr, AfterValidator(_storable)]


def _storable_or_none(value: str | None) -> str | None:
    return None if value is None else _storable(value)


#: An optional query-string value that can be stored anywhere (a filter also written to the audit trail):
#: NUL or a lone surrogate is a 422, where PostgreSQL would otherwise fail the request.
StorableQuery = Annotated[str | None, AfterValidator(_storable_or_none)]

# Characters that render as nothing although Unicode does not class them as spaces or format characters.
_BLANK_LOOKALIKES = frozenset("\u2800\u3164\u115f\u1160\uffa0\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})


def _is_visible(ch: str) -> bool:
    return unicodedata.category(ch) not in _INVISIBLE_CATEGORIES and ch not in _BLANK_LOOKALIKES


def has_visible_text(value: str) -> bool:
    return any(_is_visible(ch) for ch in value)


def _visible(value: str) -> str:
    """A post of only zero-width, blank or control characters would publish as nothing: refused (422)."""
    if not has_visible_text(value):
        raise ValueError("has no visible characters")
    return value


#: A post's text: storable and with at least one visible character.
PostText = Annotated[StrictStr, AfterValidator(_visible)]

Kind = Literal["post", "comment", "special_mention", "ooo"]
#: ``models.culture_signals.STAFF_ROLES`` (kept equal by a test): an author's or a colleague's role. Strict: no
#: spaces, hyphens or capitals ("senior_carer", not "Senior carer").
StaffRole = Literal[
    "carer", "senior_carer", "nurse", "support_worker", "team_leader", "manager", "bank", "volunteer", "other"
]
DecisionName = Literal["allow", "allow_redacted", "hold", "escalate", "block"]
Priority = Literal["urgent", "high", "normal"]


class ScreenBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "Doris in room 12 told me her nephew took her money again when he visited on Sunday. "
                    "What do I do?",
                    "post_id": "post-8841",
                    "author_id": "staff-203",
                    "anonymous": False,
                    "circle": "night-shift",
                    "kind": "post",
                    "author_role": "carer",
                    "location": "Oak House",
                }
            ]
        },
    )

    text: PostText = Field(description="The post as written (1-10,000 characters, at least one visible).")
    post_id: StrictStr | None = Field(default=None, max_length=200)
    author_id: StrictStr | None = Field(default=None, max_length=200)
    anonymous: StrictBool | None = False
    circle: StrictStr | None = Field(default=None, max_length=200)
    kind: Kind | None = "post"
    # Culture evidence (issue 21): optional, stored with the screening, never shown to other callers.
    author_role: StaffRole | None = Field(default=None, description="The author's role.")
    location: StrictStr | None = Field(
        default=None, max_length=200, description="The home, branch or service the post comes from."
    )
    reply_to: StrictStr | None = Field(
        default=None, max_length=200, description="The `post_id` this comment answers (questions answered)."
    )


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    posts: list[ScreenBody] = Field(min_length=1, max_length=256)


class EntityOut(BaseModel):
    type: str
    start: int
    end: int
    score: float
    role: str


class ReviewRef(BaseModel):
    id: str
    priority: Priority


class ScreenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "post_id": "post-8841",
                    "decision": "escalate",
                    "redacted_text": "[RESIDENT] in [ROOM] told me her nephew took her money again when he "
                    "visited on Sunday. What do I do?",
                    "scores": {
                        "safeguarding": 0.97,
                        "self_harm": 0.02,
                        "toxicity": 0.01,
                        "bullying": 0.01,
                        "hate": 0.0,
                        "threat": 0.01,
                        "sexual": 0.0,
                        "confidentiality": 0.08,
                    },
                    "flags": ["safeguarding"],
                    "entities": [
                        {"type": "PERSON", "start": 0, "end": 5, "score": 0.85, "role": "resident"},
                        {"type": "ROOM", "start": 9, "end": 16, "score": 1.0, "role": "resident"},
                    ],
                    "review": {"id": "22da5203-90ec-41ff-abdd-246f105b8b6d", "priority": "urgent"},
                    "author_message": "Thank you for speaking up. What you've described has gone straight to your "
                    "organisation's safeguarding lead, who will follow it up; it hasn't been posted publicly. If "
                    "someone is in immediate danger, call 999. You can also contact your local authority's adult "
                    "safeguarding team.",
                    "model_version": "care-screen/7",
                    "policy_version": "2026-12-02.1",
                    "degraded": [],
                }
            ]
        }
    )

    post_id: str
    decision: DecisionName
    redacted_text: str
    scores: dict[str, float]
    flags: list[str]
    entities: list[EntityOut]
    review: ReviewRef | None
    author_message: str
    model_version: str
    policy_version: str
    degraded: list[str] = Field(default_factory=list, description="Stages that failed (the post is held).")
    themes: list[str] = Field(
        default_factory=list,
        description="Practice themes of the post (ids of the versioned list, models/themes.yaml). Every post is "
        "tagged; culture evidence counts a post's themes only once it is published.",
        examples=[["end_of_life", "recognition"]],
    )
    #: Milliseconds per stage of this answer, sent as the ``Server-Timing`` header (not in the body).
    _timings: dict[str, float] = PrivateAttr(default_factory=dict)

    def server_timing(self) -> str:
        """``Server-Timing`` header value: ``lookup;dur=0.8, pii;dur=9.1, ...``."""
        return ", ".join(f"{stage};dur={ms:.2f}" for stage, ms in self._timings.items())


class BatchResponse(BaseModel):
    results: list[ScreenResponse]


class ErrorBody(BaseModel):
    """Every error except a body that fails validation (422 with a list) carries one sentence in ``detail``."""

    detail: str = Field(examples=["missing or malformed bearer token"])


class StaffEntryIn(BaseModel):
    """A colleague of the staff directory with their role and location (both optional)."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1, max_length=200)
    role: StaffRole | None = None
    location: StrictStr | None = Field(default=None, max_length=200)


class StaffDirectoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Plain names (as before) or objects with a role and location; mixed lists are fine.
    names: list[StrictStr | StaffEntryIn] = Field(max_length=20_000)


class StaffDirectoryOut(BaseModel):
    org: str
    count: int


class StaffEntryOut(BaseModel):
    name: str
    role: str | None
    location: str | None


class StaffDirectoryListing(BaseModel):
    """The directory as an admin set it, with counts per role and per location ("" for none given)."""

    names: list[str]
    count: int
    entries: list[StaffEntryOut]
    by_role: dict[str, int]
    by_location: dict[str, int]


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "approve_redacted", "reject", "escalate"]
    labels: dict[str, StrictBool] = Field(default_factory=dict)
    redacted_text: StrictStr | None = Field(default=None, max_length=10_000)
    note: StrictStr | None = Field(default=None, max_length=2_000)

    def unknown_labels(self) -> list[str]:
        return sorted(set(self.labels) - set(CATEGORIES))


def written_reason(value: str) -> str:
    """A reason someone actually wrote: at least 10 visible characters (not blanks or zero-width padding)."""
    visible = sum(1 for ch in value if _is_visible(ch))
    if visible < 10:
        raise ValueError("must say why, in at least 10 visible characters")
    return value


#: The written reason for reading what redaction or anonymity hides (recorded in the audit trail).
Reason = Annotated[StrictStr, AfterValidator(written_reason)]


class RevealBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(min_length=10, max_length=2_000)


class ReviewOut(BaseModel):
    id: str
    post_id: str
    status: str
    priority: Priority
    risk: float
    decision: DecisionName
    redacted_text: str
    scores: dict[str, float]
    flags: list[str]
    entities: list[EntityOut]
    circle: str | None
    kind: str
    anonymous: bool
    author_id: str | None = Field(description="Never set for anonymous posts.")
    created_at: str
    age_seconds: float
    due_at: str
    sla_state: Literal["ok", "due_soon", "breached"]
    claimed_by_me: bool
    claimed: bool
    lease_expires_at: str | None
    moderator_decision: str | None = None
    reasons: list[str] = Field(default_factory=list)
    #: "appeal": the author contests an earlier decision; the moderator who made it may not decide this one.
    kind_of_review: Literal["screen", "appeal"] = "screen"
    #: The author's reason when this item decides an appeal (redacted like a post).
    appeal_reason: str | None = None
    #: When the safeguarding lead acknowledged this urgent item.
    acknowledged_at: str | None = None


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None


class DecisionOut(BaseModel):
    id: str
    review_id: str
    action: str
    labels: dict[str, bool]
    decided_at: str


class ClaimOut(BaseModel):
    id: str
    lease_expires_at: str
