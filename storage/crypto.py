"""Encryption at rest for originals and anonymous authors. The key lives in settings, never in the database."""

from __future__ import annotations

from cryptography.fernet import Fernet


class Vault:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
