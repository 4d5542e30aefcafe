"""Keys: MultiFernet round trips, rotation, foreign keys, the tenant hash and dev mode."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.crypto import Codec, codec_from_env, codec_from_keys, dev_mode, generate_key, tenant_of
from switchboard.exceptions import DecryptError, EncryptionKeyError

#: Fernet keys drawn from their 32 random bytes, so Hypothesis can shrink and replay them.
fernet_keys = st.binary(min_size=32, max_size=32).map(lambda raw: base64.urlsafe_b64encode(raw).decode("ascii"))
key_lists = st.lists(fernet_keys, min_size=1, max_size=5, unique=True)

MISSING = (
    "SWITCHBOARD_ENCRYPTION_KEY is not set — run `switchboard keys generate` and set the key it prints as "
    "SWITCHBOARD_ENCRYPTION_KEY (and as the repository secret of the same name)"
)
FOREIGN = (
    "cannot decrypt data/x.json.enc with the keys in SWITCHBOARD_ENCRYPTION_KEY — it was written with another "
    "key: put that key in the list (comma-separated, newest first)"
)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), keys=key_lists)
def test_any_bytes_round_trip_with_any_number_of_keys(data: bytes, keys: list[str]) -> None:
    codec = codec_from_keys(",".join(keys))
    token = codec.encrypt(data)
    if len(data) >= 16:  # shorter runs of bytes may turn up in any token by chance
        assert data not in token
    assert codec.decrypt(token) == data
    # The newest (first) key encrypts: it alone opens the token.
    assert Fernet(keys[0].encode()).decrypt(token) == data


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=512), old=key_lists, new=fernet_keys)
def test_rotation_keeps_everything_readable_and_frees_the_old_keys(data: bytes, old: list[str], new: str) -> None:
    if new in old:
        return
    written = codec_from_keys(",".join(old)).encrypt(data)
    both = codec_from_keys(",".join([new, *old]))
    assert both.decrypt(written) == data  # the old keys still open what they wrote
    rotated = both.rotate(written)
    only_new = codec_from_keys(new)
    assert only_new.decrypt(rotated) == data  # after rotation the old keys can go
    with pytest.raises(DecryptError):
        only_new.decrypt(written)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=512), mine=key_lists, foreign=fernet_keys)
def test_a_foreign_key_is_one_clear_error(data: bytes, mine: list[str], foreign: str) -> None:
    if foreign in mine:
        return
    token = codec_from_keys(foreign).encrypt(data)
    with pytest.raises(DecryptError) as caught:
        codec_from_keys(",".join(mine)).decrypt(token, path="data/x.json.enc")
    assert str(caught.value) == FOREIGN
    # Raised "from None": nothing of cryptography's own error is chained onto it.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    for key in [*mine, foreign]:
        assert key not in str(caught.value)


def test_rotating_a_foreign_token_names_the_file() -> None:
    token = codec_from_keys(generate_key()).encrypt(b"x")
    with pytest.raises(DecryptError, match=r"cannot decrypt data/x\.json\.enc"):
        codec_from_keys(generate_key()).rotate(token, path="data/x.json.enc")


def test_garbage_is_not_called_another_keys_token() -> None:
    with pytest.raises(DecryptError) as caught:
        codec_from_keys(generate_key()).decrypt(b"not a fernet token at all", path="data/x.json.enc")
    assert str(caught.value) == (
        "data/x.json.enc is not a Fernet token (random or foreign bytes): no key can open it — restore it from git "
        "history or remove it"
    )


# -- reading the environment ---------------------------------------------------------


def test_keys_are_comma_separated_newest_first_with_spaces_ignored() -> None:
    a, b = generate_key(), generate_key()
    codec = codec_from_keys(f" {a} ,\n{b}, ")
    assert codec.keys == (a, b)
    assert Fernet(a.encode()).decrypt(codec.encrypt(b"hi")) == b"hi"


@pytest.mark.parametrize("value", ["", "  ", ",", " , "])
def test_a_missing_key_is_one_clear_error(value: str) -> None:
    with pytest.raises(EncryptionKeyError) as caught:
        codec_from_env({"SWITCHBOARD_ENCRYPTION_KEY": value})
    assert str(caught.value) == MISSING
    with pytest.raises(EncryptionKeyError, match="is not set"):
        codec_from_env({})


@pytest.mark.parametrize(
    ("value", "position"),
    [("abc", 1), ("{good},abc", 2), ("{good},{cut}", 2), ("=" * 44, 1)],
)
def test_a_malformed_key_is_named_by_position_never_shown(value: str, position: int) -> None:
    value = value.replace("{good}", generate_key()).replace("{cut}", generate_key()[:-4])
    with pytest.raises(EncryptionKeyError) as caught:
        codec_from_keys(value)
    assert str(caught.value) == (
        f"key number {position} in SWITCHBOARD_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64 bytes) "
        f"— make one with `switchboard keys generate`"
    )
    for part in value.split(","):
        assert part not in str(caught.value)


def test_generated_keys_are_fernet_keys() -> None:
    keys = {generate_key() for _ in range(5)}
    assert len(keys) == 5
    for key in keys:
        Fernet(key.encode())


# -- dev mode ------------------------------------------------------------------------------


def test_dev_mode_is_plaintext_and_needs_no_key() -> None:
    codec = codec_from_env({"SWITCHBOARD_DEV_MODE": "true"})
    assert codec.plaintext and codec.suffix == ".json"
    assert codec.encrypt(b"hello") == b"hello" and codec.decrypt(b"hello") == b"hello"
    assert codec_from_keys(generate_key()).suffix == ".json.enc"
    assert not dev_mode({"SWITCHBOARD_DEV_MODE": "no"})


@pytest.mark.parametrize("wanted", ["true", "1", "yes", "TRUE"])
def test_dev_mode_is_refused_inside_github_actions(wanted: str) -> None:
    with pytest.raises(EncryptionKeyError) as caught:
        codec_from_env({"SWITCHBOARD_DEV_MODE": wanted, "GITHUB_ACTIONS": "true", "SWITCHBOARD_ENCRYPTION_KEY": "x"})
    assert str(caught.value) == (
        "SWITCHBOARD_DEV_MODE=true stores schedules in plaintext and is refused inside GitHub Actions — "
        "unset it and set the SWITCHBOARD_ENCRYPTION_KEY secret instead"
    )


# -- tenant hash -----------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(secret=st.binary(min_size=32, max_size=32), key=st.text(min_size=1, max_size=80))
def test_the_tenant_is_a_keyed_hash_of_the_letta_key(secret: bytes, key: str) -> None:
    tenant = tenant_of(secret, key)
    assert len(tenant) == 32 and all(c in "0123456789abcdef" for c in tenant)
    assert tenant == tenant_of(secret, key)  # stable: the same key finds its schedules again
    assert tenant != tenant_of(secret, key + "x")
    assert tenant != tenant_of(bytes(b ^ 1 for b in secret), key)  # unguessable without the secret


def test_codec_equality_ignores_the_fernet_object() -> None:
    key = generate_key()
    assert codec_from_keys(key) == Codec(keys=(key,))
