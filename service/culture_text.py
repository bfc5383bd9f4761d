"""The words of the culture evidence report (issue 21): what each section evidences, for which inspection
question, and what each figure is. Written for a registered manager to show an inspector, so kept apart from
the arithmetic (``service/culture_report.py``) and worded once for the JSON, the CSV and both HTML pages.

The quality statements are those of CQC's single assessment framework; the report is supporting evidence
for them, never a rating.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SectionText:
    title: str
    #: The inspection question in plain words, as the issue names it.
    question: str
    #: Where CQC asks it (key question: quality statement).
    cqc: str
    #: What the figures show, for the manager and the inspector.
    evidences: str
    #: What to be careful of when reading them.
    caveat: str


SECTIONS: dict[str, SectionText] = {
    "recognition": SectionText(
        title="Recognition",
        question="A positive, open culture; teamwork across roles",
        cqc="Well-led: Shared direction and culture. Effective: How staff, teams and services work together.",
        evidences=(
            "How often colleagues thank and recognise each other (Special Mentions and OOOs), how widely that "
            "recognition reaches the team, and whether it crosses roles: carers recognising nurses, seniors "
            "recognising bank staff and so on."
        ),
        caveat=(
            "Rates use the staff directory as it is today for both periods. Roles with fewer than 5 colleagues "
            "in the directory are grouped as 'other roles' so that no one person's recognition can be picked "
            "out."
        ),
    ),
    "staff_voice": SectionText(
        title="Staff voice",
        question="Freedom to speak up",
        cqc="Well-led: Freedom to speak up.",
        evidences=(
            "How many colleagues take part, how many choose to post anonymously, whether questions get answered "
            "by colleagues, and how many concerns were raised and how quickly the first person acted on them."
        ),
        caveat=(
            "Anonymous posts stay anonymous: their authors are counted without being shown to anyone (an "
            "anonymous post sent without an author counts as a post, not as a colleague). A concern is a post "
            "escalated at screening or by a moderator; the time to first action covers escalations at "
            "screening."
        ),
    ),
    "shared_practice": SectionText(
        title="Shared practice",
        question="Learning and improvement",
        cqc="Safe: Learning culture. Well-led: Learning, improvement and innovation.",
        evidences=(
            "Which care topics staff share practice about (falls, medication, dementia and distress ...), how "
            "that changes week to week, and whether circles connect staff across homes and services."
        ),
        caveat=(
            "Themes are tagged automatically on published posts; a post can have several or none. A circle is "
            "named only when it had at least 5 published posts in the period."
        ),
    ),
    "culture_health": SectionText(
        title="Culture health",
        question="A positive, open culture",
        cqc="Well-led: Shared direction and culture.",
        evidences=(
            "The share of posts held back because they were rude, hostile or bullying towards colleagues, and "
            "its trend: a falling share is evidence that the culture is improving."
        ),
        caveat=(
            "A held post never reached colleagues. The share depends on how much is posted, so read it beside "
            "the number of posts."
        ),
    ),
    "wellbeing": SectionText(
        title="Wellbeing",
        question="Workforce wellbeing",
        cqc="Caring: Workforce wellbeing and enablement.",
        evidences=(
            "How often a post about a colleague in crisis (self-harm) was escalated for support, and how much "
            "of what staff share is about their own wellbeing and workload."
        ),
        caveat=(
            "Crisis escalations are counted, never described. A rise in wellbeing posts can mean pressure, or "
            "that staff feel safe to say so: read it with the rest of the report."
        ),
    ),
}

#: (section, metric) -> label. Units decide how a value is written (``UNITS``).
METRICS: dict[tuple[str, str], tuple[str, str]] = {
    ("recognition", "recognitions"): ("Special Mentions and OOOs published", "count"),
    ("recognition", "recognitions_by_kind"): ("By kind", "count"),
    ("recognition", "staff_in_directory"): ("Staff in the directory (today)", "count"),
    ("recognition", "recognitions_per_100_staff_per_week"): ("Per 100 staff per week", "rate"),
    ("recognition", "colleagues_recognised"): ("Colleagues recognised at least once", "count"),
    ("recognition", "share_of_staff_recognised"): ("Share of staff recognised at least once", "share"),
    ("recognition", "role_matrix"): ("Who recognises whom (by role)", "count"),
    ("staff_voice", "active_authors"): ("Colleagues who posted", "count"),
    ("staff_voice", "posts"): ("Posts, comments and mentions screened", "count"),
    ("staff_voice", "posts_by_voice"): ("Named and anonymous", "count"),
    ("staff_voice", "anonymous_share"): ("Share posted anonymously", "share"),
    ("staff_voice", "questions"): ("Questions asked and answered", "count"),
    ("staff_voice", "answered_share"): ("Share of questions answered by a colleague", "share"),
    ("staff_voice", "concerns_raised"): ("Concerns raised (escalations)", "count"),
    ("staff_voice", "escalation_response"): ("Escalations at screening and first action", "count"),
    ("staff_voice", "median_minutes_to_first_action"): ("Median minutes to first action", "minutes"),
    ("shared_practice", "published_posts"): ("Posts published", "count"),
    ("shared_practice", "themes"): ("Published posts by theme", "count"),
    ("shared_practice", "themes_by_week"): ("Themes week by week", "count"),
    ("shared_practice", "circles"): ("Circles", "count"),
    ("shared_practice", "spanning_share"): ("Share of circle posts in circles spanning locations", "share"),
    ("shared_practice", "spanning_circles"): ("Circles spanning locations (posts)", "count"),
    ("culture_health", "held_for_conduct"): ("Posts held for rudeness or bullying", "count"),
    ("culture_health", "held_share"): ("Share of posts held for rudeness or bullying", "share"),
    ("wellbeing", "crisis_escalations"): ("Crisis escalations (self-harm)", "count"),
    ("wellbeing", "wellbeing_posts"): ("Published posts about wellbeing and workload", "count"),
    ("wellbeing", "wellbeing_share"): ("Share of published posts about wellbeing and workload", "share"),
}

#: How a unit is written on the page (``models.disclosure.shown``).
UNITS = {"count": "{}", "rate": "{:.1f}", "share": "{:.0%}", "minutes": "{:.0f}"}

#: Keys that are not weeks, themes or roles: how they read.
KEY_LABELS = {
    "total": "Period total",
    "special_mention": "Special Mentions",
    "ooo": "OOOs",
    "named": "Posts under the author's name",
    "anonymous": "Posts made anonymously",
    "asked": "Questions asked",
    "answered": "Questions answered by a colleague",
    "unanswered": "Questions not answered yet",
    "escalated_at_screening": "Escalated at screening",
    "acted_on": "Escalations acted on",
    "awaiting": "Escalations awaiting a first action",
    "active": "Circles with published posts",
    "spanning": "Circles spanning more than one location",
    "posts_in_circles": "Posts in circles",
    "posts_in_spanning": "Posts in circles spanning locations",
    "smaller": "Smaller circles (fewer than 5 posts each)",
}

ROLE_LABELS = {
    "carer": "Carer",
    "senior_carer": "Senior carer",
    "nurse": "Nurse",
    "support_worker": "Support worker",
    "team_leader": "Team leader",
    "manager": "Manager",
    "bank": "Bank",
    "volunteer": "Volunteer",
    "other": "Other",
    "unknown": "Role not given",
    "other_roles": "Other roles (fewer than 5 staff each)",
    "all": "All roles",
}

PRIVACY = (
    "Only counts leave CareScreen in this report: no post, author, recipient, post id or small circle is ever "
    "named. Any count under 5 (zero included) is shown as '<5'. Where a hidden count could be worked out from a "
    "total beside it, the next smallest count is hidden too and shown as '[c]'; a rate or share worked out "
    "from a hidden count is '[c]' as well. Roles with fewer than 5 colleagues in the directory are grouped."
)
