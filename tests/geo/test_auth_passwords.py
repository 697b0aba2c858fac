"""Password hashing (scrypt) and the password policy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.auth.passwords import (
    DEFAULT_PARAMS,
    PasswordPolicy,
    ScryptParams,
    dummy_hash,
    hash_password,
    needs_rehash,
    normalise,
    parse_hash,
    verify_password,
)
from geo.errors import AuthError, ConfigError, PasswordPolicyError

FAST = ScryptParams(ln=4, r=8, p=1)  # cheap hashes for property tests; the format is the same


@settings(max_examples=60, deadline=None)
@given(password=st.text(max_size=40), other=st.text(max_size=40))
def test_hash_round_trip(password, other):
    encoded = hash_password(password, params=FAST)
    assert verify_password(password, encoded)
    assert verify_password(other, encoded) is (normalise(other) == normalise(password))


def test_default_parameters_and_format():
    encoded = hash_password("correct horse battery")
    assert ScryptParams(ln=15, r=8, p=1) == DEFAULT_PARAMS
    assert DEFAULT_PARAMS.memory_bytes == 32 * 2**20
    empty, scheme, params, _salt, _key = encoded.split("$")
    assert (empty, scheme, params) == ("", "scrypt", "ln=15,r=8,p=1")
    assert parse_hash(encoded)[0] == DEFAULT_PARAMS
    assert len(parse_hash(encoded)[1]) == 16
    assert len(parse_hash(encoded)[2]) == 32
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    assert not needs_rehash(encoded)


def test_every_hash_has_its_own_salt():
    first, second = (hash_password("same password!", params=FAST) for _ in range(2))
    assert first != second
    assert verify_password("same password!", first)
    assert verify_password("same password!", second)


def test_unicode_forms_of_one_password_match():
    encoded = hash_password("contraseña segura", params=FAST)
    assert verify_password("contrasen\u0303a segura", encoded)


def test_needs_rehash():
    weak = hash_password("x" * 12, params=FAST)
    assert needs_rehash(weak)
    assert not needs_rehash(weak, params=FAST)
    assert needs_rehash("not a hash")


@pytest.mark.parametrize("encoded", [
    "", "plain", "$scrypt$ln=4,r=8$AAAA$AAAA", "$bcrypt$ln=4,r=8,p=1$AAAA$AAAA",
    "$scrypt$ln=4,r=8,p=1$!!!!$AAAA", "$scrypt$ln=4,r=8,p=1$AAAA$AAAA",
    "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # 2**40: refused, not run
    "$scrypt$ln=x,r=8,p=1$AAAA$AAAA",
], ids=range(8))
def test_malformed_hashes_are_refused_without_echo(encoded):
    with pytest.raises(ConfigError) as info:
        verify_password("whatever", encoded)
    assert encoded not in str(info.value) or not encoded


@pytest.mark.parametrize(("password", "username", "problem"), [
    ("short", "ana", "it has 5 characters; use at least 12"),
    ("Ana.Lopez.99", "ana.lopez.99", "it is the user name"),
    (" " * 14, "ana", "it is only spaces"),
    ("x" * 1025, "ana", "use at most 1,024"),
], ids=["short", "username", "spaces", "long"])
def test_policy_refuses_with_clear_messages(password, username, problem):
    with pytest.raises(PasswordPolicyError) as info:
        PasswordPolicy().check(password, username=username)
    assert problem in str(info.value)
    assert isinstance(info.value, AuthError)
    assert isinstance(info.value, ValueError)
    assert password.strip() == "" or password not in str(info.value)


def test_policy_accepts_a_long_passphrase():
    PasswordPolicy().check("correct horse battery staple", username="ana")
    assert PasswordPolicy(min_length=8).problems("8 chars!", username="ana") == []


@given(password=st.text(max_size=60), username=st.text(max_size=20))
def test_policy_never_crashes(password, username):
    assert isinstance(PasswordPolicy().problems(password, username=username), list)


def test_dummy_hash_is_made_once_per_parameters():
    assert dummy_hash(FAST) is dummy_hash(FAST)
    assert parse_hash(dummy_hash(FAST))[0] == FAST


@pytest.mark.parametrize("kw", [{"ln": 0}, {"ln": 21}, {"r": 0}, {"p": 17}], ids=str)
def test_unusable_parameters_are_refused(kw):
    with pytest.raises(ConfigError):
        ScryptParams(**kw)


def test_a_refused_password_reads_in_the_readers_language():
    from geo.i18n import Translator, localize

    with pytest.raises(PasswordPolicyError) as info:
        PasswordPolicy().check("ana", username="ana")
    assert str(info.value).startswith("the password was refused: it has 3 characters")
    assert localize(info.value, Translator("es")) == (
        "la contraseña fue rechazada: tiene 3 caracteres; use al menos 12 (unas cuantas "
        "palabras forman una contraseña larga y fácil de recordar); es igual al nombre de "
        "usuario; elija algo que otros no puedan adivinar")
