"""CareScreen PII recognizers, one per file in Presidio's style; ``REGISTRY`` maps config names to classes."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import EntityRecognizer

from models.pii.recognizers.access_code_recognizer import AccessCodeRecognizer
from models.pii.recognizers.date_of_birth_recognizer import DateOfBirthRecognizer
from models.pii.recognizers.email_recognizer import CareEmailRecognizer
from models.pii.recognizers.first_name_recognizer import FirstNameRecognizer
from models.pii.recognizers.nhs_number_recognizer import NhsNumberRecognizer
from models.pii.recognizers.person_name_recognizer import PersonNameRecognizer
from models.pii.recognizers.room_number_recognizer import RoomNumberRecognizer
from models.pii.recognizers.street_address_recognizer import StreetAddressRecognizer
from models.pii.recognizers.uk_ni_number_recognizer import UkNiNumberRecognizer
from models.pii.recognizers.uk_phone_recognizer import UkPhoneRecognizer
from models.pii.recognizers.uk_postcode_recognizer import CareUkPostcodeRecognizer

REGISTRY: Final[dict[str, type[EntityRecognizer]]] = {
    cls.__name__: cls
    for cls in (
        AccessCodeRecognizer,
        DateOfBirthRecognizer,
        CareEmailRecognizer,
        FirstNameRecognizer,
        NhsNumberRecognizer,
        PersonNameRecognizer,
        RoomNumberRecognizer,
        StreetAddressRecognizer,
        UkNiNumberRecognizer,
        UkPhoneRecognizer,
        CareUkPostcodeRecognizer,
    )
}

__all__ = [
    "REGISTRY",
    "AccessCodeRecognizer",
    "CareEmailRecognizer",
    "CareUkPostcodeRecognizer",
    "DateOfBirthRecognizer",
    "FirstNameRecognizer",
    "NhsNumberRecognizer",
    "PersonNameRecognizer",
    "RoomNumberRecognizer",
    "StreetAddressRecognizer",
    "UkNiNumberRecognizer",
    "UkPhoneRecognizer",
]
