"""Key-safe / door / alarm codes ("keysafe 4471", "door code is 1234#"): the code opens a vulnerable person's home."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import Pattern, PatternRecognizer

_STRONG_CUE: Final[str] = (
    r"(?:\bkey\s?-?safe(?:\s+code)?|\bkey\s+box(?:\s+code)?|\block\s?-?box(?:\s+code)?|\bdoor\s?(?:entry\s)?code"
    r"|\bgate\s+code|\balarm\s+code|\bentry\s+code|\baccess\s+code|\bpin(?:\s+code|\s+number)?|\bkeypad(?:\s+code)?"
    r"|\bsafe\s+code|\bcode\s+for\s+the\s+(?:door|key\s?safe|gate|alarm))"
)
_WEAK_CUE: Final[str] = r"(?:\bcode|\bdoor|\bgate|\balarm)"
_JOIN: Final[str] = r"\s{0,2}(?:[:=-]\s{0,2})?(?:(?:is|was|now|still|currently|of)\s+|=\s*){0,2}"
_CODE: Final[str] = (
    r"(?:[A-Z]?\d{3,8}[#*]?|\d(?:[\s-]\d){3,5}[#*]?)(?![\d:/.]\d)(?!\s*(?:am|pm|hrs?|hours?|mg|ml|mcg)\b)"
)
#: The cue first, then where ("the keysafe code at 4 Elm Road, LS6 2QR is 2580"): the code closes the clause.
_DEFERRED: Final[str] = (
    r"(?:[^.!?\n]|\.(?=\s?\d))(?:[^.!?\n]|\.(?=\s?\d)){0,79}?(?:\b(?:is|it's|its)\s|[=:,—-])\s{0,2}"
)


class AccessCodeRecognizer(PatternRecognizer):
    """The cue sits in a look-behind so only the digits are replaced ("keysafe [CODE]")."""

    PATTERNS: Final[list[Pattern]] = [
        Pattern("access_code_strong", rf"(?<={_STRONG_CUE}{_JOIN}){_CODE}", 0.85),
        Pattern("access_code_weak", rf"(?<={_WEAK_CUE}{_JOIN}){_CODE}", 0.5),
        Pattern("access_code_deferred", rf"(?<={_STRONG_CUE}{_DEFERRED}){_CODE}", 0.8),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="ACCESS_CODE",
            name="AccessCodeRecognizer",
            patterns=list(self.PATTERNS),
            context=["keysafe", "key safe", "code", "door", "pin"],
            supported_language=supported_language,
        )
