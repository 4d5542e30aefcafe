"""Keys: Fernet encryption of everything under data/, and the tenant hash.

``SWITCHBOARD_ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated,
newest first. The newest encrypts; every key decrypts (MultiFernet), so a new
key can be put in front, ``keys rotate`` run, and the old one dropped later.

The tenant directory name is HMAC-SHA256(tenant secret, Letta API key). The
tenant secret is 32 random bytes kept in ``data/tenant.key.enc``, encrypted
like everything else. It is made once and never changes, so rotating the
Fernet keys does not move anybody's schedules, and nobody can test a guessed
Letta key against the tree without first holding an encryption key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from switchboard.exceptions import DecryptError, EncryptionKeyError

KEY_ENV = "SWITCHBOARD_ENCRYPTION_KEY"
DEV_MODE_ENV = "SWITCHBOARD_DEV_MODE"


def generate_key() -> str:
    """A new random Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


def new_tenant_secret() -> bytes:
    """32 random bytes for the tenant hash."""
    return secrets.token_bytes(32)


def tenant_of(secret: bytes, api_key: str) -> str:
    """The tenant directory name for a Letta API key (32 hex characters)."""
    return hmac.new(secret, api_key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def dev_mode(env: Mapping[str, str]) -> bool:
    """Whether plaintext dev mode is asked for in ``env``; refused inside GitHub Actions."""
    wanted = env.get(DEV_MODE_ENV, "").strip().lower() in {"1", "true", "yes"}
    if wanted and env.get("GITHUB_ACTIONS", "").lower() == "true":
        raise EncryptionKeyError(
            f"{DEV_MODE_ENV}=true stores schedules in plaintext and is refused inside "
            f"GitHub Actions — unset it and set the {KEY_ENV} secret instead"
        )
    return wanted


@dataclass(frozen=True)
class Codec:
    """Turns stored bytes into plaintext and back: Fernet, or plaintext in dev mode."""

    keys: tuple[str, ...] = ()
    plaintext: bool = False
    _fernet: MultiFernet | None = field(default=None, repr=False, compare=False)

    @property
    def suffix(self) -> str:
        """The file ending of records written with this codec."""
        return ".json" if self.plaintext else ".json.enc"

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt with the newest key (or pass through in dev mode)."""
        if self.plaintext:
            return data
        assert self._fernet is not None
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes, *, path: str = "a file") -> bytes:
        """Decrypt with any of the keys, or raise DecryptError naming the path."""
        if self.plaintext:
            return token
        assert self._fernet is not None
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise DecryptError(
                f"cannot decrypt {path} with the keys in {KEY_ENV} — it was written with "
                f"another key: put that key in the list (comma-separated, newest first)"
            ) from None

    def rotate(self, token: bytes, *, path: str = "a file") -> bytes:
        """Re-encrypt a token with the newest key."""
        if self.plaintext:
            return token
        self.decrypt(token, path=path)  # for the error message on a foreign token
        assert self._fernet is not None
        return self._fernet.rotate(token)


def codec_from_env(env: Mapping[str, str]) -> Codec:
    """The codec ``env`` (the settings' environment) asks for; a missing or bad key is one clear error."""
    if dev_mode(env):
        return Codec(plaintext=True)
    return codec_from_keys(env.get(KEY_ENV, ""))


def codec_from_keys(value: str) -> Codec:
    """A codec from a comma-separated list of Fernet keys, newest first."""
    keys = tuple(part.strip() for part in value.split(",") if part.strip())
    if not keys:
        raise EncryptionKeyError(
            f"{KEY_ENV} is not set — run `switchboard keys generate` and set the key it "
            f"prints as {KEY_ENV} (and as the repository secret of the same name)"
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise EncryptionKeyError(
                f"key number {position} in {KEY_ENV} is not a Fernet key (32 url-safe "
                f"base64 bytes) — make one with `switchboard keys generate`"
            ) from None
    return Codec(keys=keys, _fernet=MultiFernet(fernets))
