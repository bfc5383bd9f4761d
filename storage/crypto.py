"""Keys derived from the service secret (never stored in the database), and encryption at rest.

Every key is derived with HKDF-SHA256 from the secret, with a salt and a purpose, so the Fernet key, the audit
MAC key, the checkpoint signing key, the console-cookie key and the recipient-pseudonym key are independent: one
leaking reveals none of the others. ``Vault`` decrypts under the current and previous secrets (MultiFernet) and
encrypts under the current one; ``carescreen secrets rotate`` re-encrypts what is stored. Fernet keys of the
first release (an unsalted SHA-256 of the secret) are still accepted for decryption, so a stored original is never
lost to an upgrade.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SALT = b"carescreen/hkdf-salt/v1"


def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    """HKDF-SHA256(secret, salt, info=purpose): a key for one purpose only."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=SALT, info=purpose.encode()).derive(
        secret.encode("utf-8")
    )


@lru_cache(maxsize=8)
def _recipient_mac_key(secret: str) -> bytes:
    return derive_key(secret, "recipient")


def recipient_key(secret: str, *, org: str, name: str) -> str:
    """A colleague's keyed pseudonym: HMAC-SHA256 (key derived for the purpose "recipient") over the organisation
    and the name (NFKC, spacing and case ignored), hex. Lets a report count distinct colleagues
    recognised without storing who; without the secret it cannot be tied back to a name. A new secret gives new
    pseudonyms, so counts over a period that spans a rotation may count a colleague twice."""
    normal = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    message = org.encode("utf-8") + b"\x00" + normal.encode("utf-8")
    return hmac.new(_recipient_mac_key(secret), message, hashlib.sha256).hexdigest()


def _legacy_fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


class Vault:
    """Encrypts with the current secret's key; decrypts with any current or previous one."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets or not secrets[0]:
            raise ValueError("a vault needs at least the current secret")
        keys: list[Fernet] = []
        for s in secrets:
            keys.append(Fernet(base64.urlsafe_b64encode(derive_key(s, "fernet"))))
            keys.append(Fernet(_legacy_fernet_key(s)))
        self._current = keys[0]
        self._all = MultiFernet(keys)

    def encrypt(self, plaintext: str) -> str:
        return self._current.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self._all.decrypt(token.encode("ascii")).decode("utf-8")

    def rotate(self, token: str) -> str:
        """The same plaintext under the current key (keeps the original timestamp)."""
        return self._all.rotate(token.encode("ascii")).decode("ascii")

    def is_current(self, token: str) -> bool:
        try:
            self._current.decrypt(token.encode("ascii"))
        except Exception:
            return False
        return True


@dataclass(frozen=True)
class AuditKeys:
    """MAC keys (current first) and checkpoint signing keys derived from the secrets."""

    mac_keys: tuple[bytes, ...]
    signing_key: Ed25519PrivateKey
    verify_keys: tuple[Ed25519PublicKey, ...]

    @classmethod
    def from_secrets(cls, secrets: Sequence[str]) -> AuditKeys:
        signers = [Ed25519PrivateKey.from_private_bytes(derive_key(s, "audit-checkpoint")) for s in secrets]
        return cls(
            mac_keys=tuple(derive_key(s, "audit-mac") for s in secrets),
            signing_key=signers[0],
            verify_keys=tuple(k.public_key() for k in signers),
        )

    def public_key_hex(self) -> str:
        return self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
