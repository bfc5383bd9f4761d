"""Issue 19 §4: keys derived with HKDF, rotation with MultiFernet (old ciphertexts still readable, then
re-encrypted), first-release ciphertexts still readable, and production mode refusing a key file."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from carescreen.config import Settings
from storage.crypto import Vault, derive_key
from storage.db import Database
from storage.secrets_rotation import reencrypt_all
from storage.tables import Screening


def test_keys_are_derived_per_purpose() -> None:
    assert derive_key("s", "fernet") != derive_key("s", "audit-mac") != derive_key("s", "console-cookie")
    assert derive_key("s", "fernet") == derive_key("s", "fernet") and len(derive_key("s", "fernet")) == 32
    assert derive_key("s", "fernet") != hashlib.sha256(b"s").digest()  # not the first release's bare hash


def test_rotation_keeps_old_ciphertexts_readable_until_reencrypted() -> None:
    old = Vault(["old"])
    token = old.encrypt("Doris told me")
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"old").digest())).encrypt(b"from release one")
    new = Vault(["new", "old"])
    assert new.decrypt(token) == "Doris told me" and new.decrypt(legacy.decode()) == "from release one"
    assert not new.is_current(token)
    rotated = new.rotate(token)
    assert new.is_current(rotated) and Vault(["new"]).decrypt(rotated) == "Doris told me"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidToken)
        Vault(["new"]).decrypt(token)


def test_secrets_rotate_reencrypts_what_is_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    from tests.helpers import store_screening

    old = Vault(["old"])
    db = Database(url, secrets=["old"])
    with db.session() as s:
        store_screening(
            s,
            org="org-a",
            post_id="p1",
            review_priority=None,
            fields={
                "decision": "allow",
                "priority": None,
                "redacted_text": "x",
                "scores": {},
                "flags": [],
                "entities": [],
                "model_version": "m",
                "policy_version": "p",
                "original_enc": old.encrypt("the original"),
                "author_enc": old.encrypt("author-1"),
                "anonymous": True,
            },
            risk=0.0,
            categories=[],
            sla_due_minutes=60,
            actor="test",
        )
    db.dispose()
    db = Database(url, secrets=["new", "old"])
    vault = Vault(["new", "old"])
    with db.session() as s:
        assert reencrypt_all(s, vault=vault, actor="test") == {
            "original": 1,
            "author": 1,
            "webhook_secret": 0,
        }
        assert reencrypt_all(s, vault=vault, actor="test") == {
            "original": 0,
            "author": 0,
            "webhook_secret": 0,
        }
    with db.read_session() as s:
        row = s.execute(select(Screening)).scalar_one()
        assert Vault(["new"]).decrypt(row.original_enc) == "the original"
        assert Vault(["new"]).decrypt(row.author_enc) == "author-1"
    db.dispose()


def test_production_mode_refuses_a_key_file_beside_the_database(tmp_path: Path) -> None:
    dev = Settings(var_dir=tmp_path, secret_key="")
    assert dev.secrets()[0] and (tmp_path / "secret.key").exists()
    prod = Settings(var_dir=tmp_path, secret_key="", production=True)
    with pytest.raises(RuntimeError, match="CARESCREEN_SECRET_KEY"):
        prod.secrets()
    assert Settings(var_dir=tmp_path, secret_key="from-a-store", production=True).secrets() == [
        "from-a-store"
    ]
    rotated = Settings(var_dir=tmp_path, secret_key="new", previous_secret_keys=["old", "new", ""])
    assert rotated.secrets() == ["new", "old"]
