"""Person names in care posts, including the first-name-only and title+surname forms spaCy misses.

Three sources, merged: spaCy PERSON entities (via Presidio's NlpArtifacts), title + surname ("Mrs Hughes"), and
capitalised words next to care cues ("resident Doris", "Doris in room 4", "her daughter Karen"). A name found once
is then found everywhere in the post, so a second bare "Doris" is not left behind. Role inference (resident /
family / other) lives here too because it reads the same cues.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

ENTITY: Final[str] = "PERSON"

TITLES: Final[tuple[str, ...]] = ("Mr", "Mrs", "Miss", "Ms", "Mx", "Mister", "Master")
OTHER_TITLES: Final[tuple[str, ...]] = ("Dr", "Doctor", "PC", "DC", "Sgt", "Rev", "Father", "Sister", "Nurse")

DEFAULT_RESIDENT_CUES: Final[tuple[str, ...]] = (
    "resident",
    "service user",
    "su",
    "client",
    "lady",
    "gentleman",
    "gent",
    "patient",
    "man",
    "woman",
    "customer",
    "tenant",
    "person we support",
    "supported person",
)
DEFAULT_FAMILY_CUES: Final[tuple[str, ...]] = (
    "daughter",
    "son",
    "husband",
    "wife",
    "partner",
    "sister",
    "brother",
    "niece",
    "nephew",
    "grandson",
    "granddaughter",
    "grandaughter",
    "mum",
    "mother",
    "dad",
    "father",
    "family",
    "relative",
    "nok",
    "next of kin",
    "visitor",
    "cousin",
    "aunt",
    "uncle",
    "in-law",
    "daughter-in-law",
    "son-in-law",
    "stepdaughter",
    "stepson",
    "carer's",
    "friend",
)
DEFAULT_OTHER_CUES: Final[tuple[str, ...]] = (
    "dr",
    "doctor",
    "gp",
    "pc",
    "officer",
    "police",
    "paramedic",
    "sw",
    "social worker",
    "solicitor",
    "dentist",
    "optician",
    "vicar",
)
#: Words after a name that make it the resident's ("Doris in room 4", "Doris's daughter").
DEFAULT_RESIDENT_AFTER: Final[tuple[str, ...]] = (
    r"\s+(?:in|from|on|at)\s+(?:room|rm|bed|flat|bay)\b",
    r"\s*\(\s*(?:room|rm|bed|flat|rm\.)",
    r"\s*,?\s+(?:room|rm|bed)\s*\d",
    r"['’]s\s+(?:daughter|son|husband|wife|family|room|care\s?plan|meds|medication|nok|relatives?|pad|bed|"
    r"catheter|obs|fluids|dinner|tea|breakfast|hearing|dentures|glasses|skin|sacrum|heels|weight|key\s?safe)\b",
    r"\s+(?:had|has\s+had)\s+(?:a|another)\s+(?:fall|fit|seizure|funny\s+turn)",
    r",\s*(?:aged\s+)?(?:[5-9]\d|1[01]\d)\s*(?:,|\.|yo\b|years|yrs)",
    r"\s+(?:on\s+(?:our|the)\s+unit|has\s+(?:dementia|gone\s+missing|been\s+moved|had\s+(?:a|another)\s+fall)"
    r"|had\s+\d+\s+loose|is\s+(?:a\s+)?(?:falls\s+risk|end\s+of\s+life|nil\s+by\s+mouth|refusing|palliative))",
    r"['’]s\s+(?:NI|NHS|DoLS|GP|new\s+GP|repeat|prescription|social\s+worker|birthday|funeral)\b",
)
#: Care tasks done to a person: the object is almost always the resident ("rolled Ted", "hoisted Doris").
DEFAULT_RESIDENT_BEFORE_VERBS: Final[tuple[str, ...]] = (
    "rolled",
    "hoisted",
    "turned",
    "washed",
    "showered",
    "bathed",
    "fed",
    "dressed",
    "repositioned",
    "toileted",
    "transferred",
    "supporting",
    "support",
    "update on",
    "visiting",
    "checked on",
    "sat with",
)

#: Capitalised words that are never a name on their own in these posts.
STOPWORDS: Final[frozenset[str]] = frozenset(
    w.lower()
    for w in [
        "Email",
        "Emailed",
        "Text",
        "Texted",
        "Ring",
        "Phone",
        "Message",
        "WhatsApp",
        "I",
        "I'm",
        "Im",
        "I've",
        "Ive",
        "I'll",
        "Ill",
        "Id",
        "I'd",
        "The",
        "A",
        "An",
        "And",
        "But",
        "Or",
        "So",
        "If",
        "When",
        "Then",
        "This",
        "That",
        "These",
        "Those",
        "There",
        "Here",
        "He",
        "She",
        "They",
        "We",
        "You",
        "It",
        "His",
        "Her",
        "Their",
        "Our",
        "My",
        "Your",
        "Its",
        "Him",
        "Them",
        "Us",
        "Me",
        "Who",
        "What",
        "Why",
        "How",
        "Where",
        "Which",
        "Just",
        "Not",
        "No",
        "Yes",
        "Ok",
        "Okay",
        "Please",
        "Thanks",
        "Thank",
        "Sorry",
        "Hi",
        "Hello",
        "Morning",
        "Evening",
        "Night",
        "Today",
        "Tonight",
        "Tomorrow",
        "Yesterday",
        "Shout",
        "Out",
        "Special",
        "Mention",
        "OOO",
        "Huge",
        "Massive",
        "Big",
        "Well",
        "Done",
        "Proud",
        "Love",
        "Lol",
        "Omg",
        "Anyone",
        "Someone",
        "Everyone",
        "Nobody",
        "All",
        "Some",
        "Any",
        "Every",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Mon",
        "Tue",
        "Tues",
        "Wed",
        "Thu",
        "Thur",
        "Thurs",
        "Fri",
        "Sat",
        "Sun",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "Christmas",
        "Easter",
        "Xmas",
        "Room",
        "Bed",
        "Flat",
        "Staff",
        "Nurse",
        "Carer",
        "Carers",
        "Senior",
        "Manager",
        "Management",
        "Team",
        "Unit",
        "Ward",
        "Home",
        "Office",
        "Agency",
        "Resident",
        "Residents",
        "Client",
        "Lady",
        "Gent",
        "Gentleman",
        "Family",
        "Daughter",
        "Son",
        "Husband",
        "Wife",
        "Mum",
        "Dad",
        "Nan",
        "Grandad",
        "GP",
        "NHS",
        "CQC",
        "Covid",
        "COVID",
        "Safeguarding",
        "DoLS",
        "MCA",
        "PRN",
        "Paracetamol",
        "Oramorph",
        "Ensure",
        "Also",
        "After",
        "Before",
        "During",
        "Again",
        "Still",
        "Even",
        "Only",
        "Very",
        "Really",
        "Found",
        "Went",
        "Came",
        "Told",
        "Said",
        "Asked",
        "Called",
        "Had",
        "Has",
        "Have",
        "Was",
        "Were",
        "Is",
        "Are",
        "Be",
        "Been",
        "Being",
        "Do",
        "Did",
        "Does",
        "Can",
        "Could",
        "Would",
        "Should",
        "Will",
        "Shall",
        "Must",
        "Might",
        "New",
        "Old",
        "Dear",
        "Bless",
        "Sir",
        "Madam",
        "Honestly",
        "Literally",
        "Anyway",
        "Apparently",
        "Obviously",
        "Basically",
        "Seriously",
        "Guys",
        "Girls",
        "Lads",
        "Ladies",
        "Folks",
        "Bank",
        "Handover",
        "Lates",
        "Earlies",
        "Nights",
        "Days",
        "Shift",
        "Rota",
        "Break",
        "Lunch",
        "Tea",
        "Dinner",
        "Breakfast",
        "Supper",
        "Care",
        "Plan",
        "Day",
        "Centre",
        "Police",
        "Ambulance",
        "Hospital",
        "A&E",
        "Dr",
        "Doctor",
        "Mr",
        "Mrs",
        "Miss",
        "Ms",
        "Mx",
        "One",
        "Two",
        "Three",
        "Four",
        "Five",
        "Six",
        "Seven",
        "Eight",
        "Nine",
        "Ten",
        "Not",
        "Now",
        "Never",
        "Always",
        "Maybe",
        "Got",
        "Get",
        "Going",
        "Gone",
        "Keep",
        "Kept",
        "Let",
        "Look",
        "Made",
        "Make",
        "Need",
        "Needs",
        "Put",
        "Saw",
        "See",
        "Seen",
        "Sat",
        "Think",
        "Thought",
        "Tried",
        "Want",
        "Wanted",
        "Yeah",
        "Yep",
        "Nope",
        "Cheers",
        "Ta",
        "Xx",
        "Xxx",
        "Fab",
        "Amazing",
        "Great",
        "Good",
        "Bad",
        "Sad",
        "Happy",
        "Bless",
        "UK",
        "England",
        "London",
        "Manchester",
        "Leeds",
        "Birmingham",
        "Grandson",
        "Granddaughter",
        "Nephew",
        "Niece",
        "Brother",
        "Sister",
        "Partner",
        "Parkinson",
        "Parkinson's",
        "Alzheimer",
        "Alzheimer's",
        "Huntington",
        "Huntington's",
        "Crohn",
        "Addison",
        "Standard",
        "Time-critical",
    ]
)

#: Latin capitals and small letters with the diacritics of the names staff write (Ní Bhriain, Wójcik, Ionescu).
UPPER: Final[str] = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĘĚŁŃŇŐŒŘŚŞŠŢŤŮŰŸŹŻŽȘȚ"
LOWER: Final[str] = "a-zß-öø-ÿāăąćčďđęěłńňőœřśşšţťůűźżžșț"
_NAME_WORD: Final[str] = rf"[{UPPER}][{LOWER}]+(?:['’-][{UPPER}]?[{LOWER}]+)?"
_TITLE_RE: Final[re.Pattern[str]] = re.compile(
    rf"\b(?:{'|'.join(TITLES)})\.?\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)"
)
#: Typed in lower case on a phone ("mrs pritchard", "mr o'donnell"): a title then one surname-like word.
_LOWER_TITLE_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?<![\w@])(?i:mrs|mr|miss|ms)\.?\s+(?P<name>[{LOWER}][{LOWER}'’-]{{2,}})(?![\w@])"
)
_POSSESSIVE_RE: Final[re.Pattern[str]] = re.compile(r"['’]s?$")


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))


class ResidentNameRecognizer(LocalRecognizer):
    """PERSON spans from spaCy + care-specific patterns; scores: title 0.85, spaCy 0.85, cue 0.8, repeat 0.75."""

    def __init__(
        self,
        supported_language: str = "en",
        resident_cues: Sequence[str] = DEFAULT_RESIDENT_CUES,
        family_cues: Sequence[str] = DEFAULT_FAMILY_CUES,
        resident_after: Sequence[str] = DEFAULT_RESIDENT_AFTER,
        stopwords: Iterable[str] = (),
    ) -> None:
        self.stopwords = STOPWORDS | {w.lower() for w in stopwords}
        before = _alternation([*resident_cues, *family_cues, "called", "named", "nicknamed"])
        # "resident Doris", "her daughter Karen", "the lady in room 4, Doris": cue then up to 2 capitalised words
        self._cue_before = re.compile(
            rf"(?i:\b(?:{before}))(?:\s+(?i:in\s+(?:room|rm|bed|flat)\s*\d+\w?))?[\s,:;-]+"
            rf"(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)"
        )
        self._cue_after = re.compile(
            rf"\b(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)(?=(?i:{'|'.join(resident_after)}))"
        )
        super().__init__(
            supported_entities=[ENTITY],
            name="ResidentNameRecognizer",
            supported_language=supported_language,
            context=None,
        )

    def load(self) -> None:
        pass

    def _is_name(self, surface: str) -> bool:
        words = surface.split()
        return bool(words) and all(w.lower() not in self.stopwords for w in words) and surface[:1].isupper()

    def _trim(self, surface: str) -> str:
        """Drop a trailing possessive and any trailing stopword ("Doris She" -> "Doris")."""
        words = surface.split()
        while words and words[-1].lower().rstrip("'’s") in self.stopwords | {""}:
            words.pop()
        while words and words[0].lower() in self.stopwords:
            words.pop(0)
        out = " ".join(words)
        return _POSSESSIVE_RE.sub("", out) if out.endswith(("'s", "’s", "s'", "'", "’")) else out

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Collect candidate spans, then add every other capitalised occurrence of a found name word."""
        spans: dict[tuple[int, int], float] = {}

        def add(start: int, surface: str, score: float) -> None:
            trimmed = self._trim(surface)
            if not trimmed:
                return
            offset = surface.find(trimmed)
            if offset < 0:
                return
            s, e = start + offset, start + offset + len(trimmed)
            if spans.get((s, e), 0.0) < score:
                spans[(s, e)] = score

        for m in _TITLE_RE.finditer(text):
            name = m.group("name")
            if self._is_name(name.split()[0]):
                surname = name if self._is_name(name) else name.split()[0]
                spans[(m.start(), m.start("name") + len(self._trim(surname)))] = 0.85
        for m in _LOWER_TITLE_RE.finditer(text):
            surname = self._trim(m.group("name"))
            if surname and surname.lower() not in self.stopwords:
                spans.setdefault((m.start(), m.start("name") + len(surname)), 0.8)
        for rx in (self._cue_before, self._cue_after):
            for m in rx.finditer(text):
                name = m.group("name")
                first = name.split()[0]
                if not self._is_name(first):
                    continue
                add(m.start("name"), name if self._is_name(name) else first, 0.8)
        if nlp_artifacts is not None:
            for ent, score in zip(nlp_artifacts.entities, nlp_artifacts.scores, strict=False):
                if ent.label_ != ENTITY:
                    continue
                surface = text[ent.start_char : ent.end_char]
                if not any(c.isupper() for c in surface) or not any(
                    w.lower() not in self.stopwords for w in surface.split()
                ):
                    continue
                add(ent.start_char, surface, float(score))

        # propagate: each name word found anywhere is a name everywhere in this post
        words = {
            w
            for (s, e) in spans
            for w in re.findall(_NAME_WORD, text[s:e])
            if w.lower() not in self.stopwords
        }
        words -= set(TITLES) | set(OTHER_TITLES)
        if words:
            rx = re.compile(rf"\b(?:{'|'.join(sorted(map(re.escape, words), key=len, reverse=True))})\b")
            for m in rx.finditer(text):
                if not any(s <= m.start() < e for (s, e) in spans):
                    spans[(m.start(), m.end())] = 0.75

        return [
            RecognizerResult(
                entity_type=ENTITY,
                start=s,
                end=e,
                score=score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: "ResidentNameRecognizer",
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for (s, e), score in spans.items()
        ]


class RoleInferer:
    """Decides resident / family / other for a PERSON span from the words around it (staff is decided upstream)."""

    def __init__(
        self,
        resident_cues: Sequence[str] = DEFAULT_RESIDENT_CUES,
        family_cues: Sequence[str] = DEFAULT_FAMILY_CUES,
        other_cues: Sequence[str] = DEFAULT_OTHER_CUES,
        resident_after: Sequence[str] = DEFAULT_RESIDENT_AFTER,
    ) -> None:
        self._title = re.compile(rf"^(?:{'|'.join(TITLES)})\b\.?", re.IGNORECASE)
        self._other_title = re.compile(rf"^(?:{'|'.join(OTHER_TITLES)})\b\.?")
        # cue word(s) within the last ~4 words before the name
        self._family_before = re.compile(rf"\b(?:{_alternation(family_cues)})\b\W*(?:\w+\W+){{0,2}}$", re.I)
        self._resident_before = re.compile(
            rf"\b(?:{_alternation(resident_cues)})\b\W*(?:\w+\W+){{0,4}}$", re.I
        )
        self._care_verb_before = re.compile(rf"\b(?:{_alternation(DEFAULT_RESIDENT_BEFORE_VERBS)})\s+$", re.I)
        self._other_before = re.compile(rf"\b(?:{_alternation(other_cues)})\b\.?\W*(?:\w+\W+){{0,1}}$", re.I)
        self._family_after = re.compile(
            rf"^\s*(?:,\s*|\(\s*)(?:her|his|their|the|res(?:ident)?'?s)?\s*(?:{_alternation(family_cues)})\b",
            re.I,
        )
        self._resident_after = re.compile(rf"^(?:{'|'.join(resident_after)})", re.I)

    def infer(self, text: str, start: int, end: int) -> str:
        """Return "resident", "family" or "other"; family cues win over a bare title ("her son Mr Jones")."""
        before = text[max(0, start - 40) : start]
        after = text[end : end + 60]
        surface = text[start:end]
        if self._family_before.search(before) or self._family_after.search(after):
            return "family"
        if self._other_title.search(surface) or self._other_before.search(before):
            return "other"
        if (
            self._title.search(surface)
            or self._resident_before.search(before)
            or self._resident_after.search(after)
            or self._care_verb_before.search(before)
        ):
            return "resident"
        # "Mrs" right before the span when the span itself excludes the title
        if re.search(rf"\b(?:{'|'.join(TITLES)})\.?\s*$", before):
            return "resident"
        return "other"
