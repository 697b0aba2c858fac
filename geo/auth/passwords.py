"""Password hashing (scrypt, memory-hard, from the standard library) and the password policy.

A hash is stored as one self-describing string, ``$scrypt$ln=15,r=8,p=1$<salt>$<key>`` (salt
and key in unpadded base64), so the parameters can be raised later: :func:`needs_rehash` says
when a stored hash was made with weaker ones, and the store re-hashes at the next sign-in.

Notes
-----
The default cost, ``n = 2**15, r = 8, p = 1``, uses 32 MiB and takes about 0.1 s per hash on
one core (above the scrypt paper's interactive setting, ``2**14``). Streamlit serves every
session from one process, so a higher memory cost would be multiplied by concurrent sign-ins;
raise ``ln`` in :class:`ScryptParams` when the server has room. Passwords are normalised to
Unicode NFKC before hashing (NIST SP 800-63B), so the same password typed on two keyboards
that compose accents differently still matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from geo.errors import ConfigError, PasswordPolicyError
from geo.message import Message, join_messages

SCHEME = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32
# Bounds on the parameters read back from a stored hash: a tampered row must not make one
# sign-in allocate gigabytes.
_MAX_LN, _MAX_R, _MAX_P = 20, 32, 16


@dataclass(frozen=True)
class ScryptParams:
    """Cost parameters of scrypt.

    Attributes
    ----------
    ln
        log2 of the CPU/memory cost ``n`` (default 15: ``n = 32768``).
    r
        Block size (default 8).
    p
        Parallelism (default 1).

    Notes
    -----
    Memory per hash is ``128 * n * r`` bytes: 32 MiB with the defaults.
    """

    ln: int = 15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.ln <= _MAX_LN and 1 <= self.r <= _MAX_R and 1 <= self.p <= _MAX_P):
            raise ConfigError(
                f"scrypt parameters ln={self.ln}, r={self.r}, p={self.p} are out of range; "
                f"expected 1 <= ln <= {_MAX_LN}, 1 <= r <= {_MAX_R}, 1 <= p <= {_MAX_P}")

    @property
    def n(self) -> int:
        """CPU/memory cost ``2 ** ln``."""
        return 1 << self.ln

    @property
    def memory_bytes(self) -> int:
        """Memory one hash needs, in bytes."""
        return 128 * self.n * self.r * self.p

    def encode(self) -> str:
        """Return the parameter field of a stored hash, e.g. ``ln=15,r=8,p=1``."""
        return f"ln={self.ln},r={self.r},p={self.p}"


DEFAULT_PARAMS = ScryptParams()


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must satisfy.

    Attributes
    ----------
    min_length
        Minimum number of characters (after NFKC normalisation); default 12.
    max_length
        Maximum number of characters; default 1024 (a cap against slow hashing of megabytes).
    """

    min_length: int = 12
    max_length: int = 1024

    def problems(self, password: str, *, username: str) -> list[str]:
        """Every way ``password`` breaks the policy (empty when it is acceptable).

        Examples
        --------
        >>> PasswordPolicy().problems("short", username="ana")
        ['it has 5 characters; use at least 12 (a few words make a long, memorable password)']
        >>> PasswordPolicy().problems("correct horse battery", username="ana")
        []
        """
        text = normalise(password)
        found: list[str] = []
        if len(text) < self.min_length:
            found.append(Message("it has {n} characters; use at least {least} (a few words "
                                 "make a long, memorable password)", n=len(text),
                                 least=self.min_length))
        if len(text) > self.max_length:
            found.append(Message("it has {n} characters; use at most {most}", n=len(text),
                                 most=self.max_length))
        if not text.strip():
            found.append(Message("it is only spaces; type some letters, digits or words"))
        if text.strip().casefold() == username.strip().casefold():
            found.append(Message("it is the user name; choose something others cannot guess"))
        return found

    def check(self, password: str, *, username: str) -> None:
        """Raise :class:`~geo.errors.PasswordPolicyError` listing every problem, if any.

        The message describes the problems, never the password itself.
        """
        found = self.problems(password, username=username)
        if found:
            raise PasswordPolicyError(Message("the password was refused: {problems}",
                                              problems=join_messages("; ", found)))


DEFAULT_POLICY = PasswordPolicy()


def normalise(password: str) -> str:
    r"""Return the Unicode NFKC form of a password (what is hashed).

    Examples
    --------
    >>> normalise("cafe\u0301") == normalise("caf\u00e9")
    True
    """
    return unicodedata.normalize("NFKC", password)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(normalise(password).encode("utf-8"), salt=salt, n=params.n,
                          r=params.r, p=params.p, dklen=KEY_BYTES,
                          maxmem=params.memory_bytes + (1 << 20))


def hash_password(password: str, *, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """Hash a password with a fresh random salt; return the encoded string to store.

    Examples
    --------
    >>> encoded = hash_password("correct horse battery", params=ScryptParams(ln=4))
    >>> encoded.startswith("$scrypt$ln=4,r=8,p=1$")
    True
    >>> verify_password("correct horse battery", encoded)
    True
    """
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, params)
    return f"${SCHEME}${params.encode()}${_b64(salt)}${_b64(key)}"


def parse_hash(encoded: str) -> tuple[ScryptParams, bytes, bytes]:
    """Split a stored hash into its parameters, salt and key.

    Raises
    ------
    ConfigError
        The string is not a hash made by :func:`hash_password` (the message does not repeat it).
    """
    parts = encoded.split("$")
    try:
        if len(parts) != 5 or parts[0] or parts[1] != SCHEME:
            raise ValueError("not a scrypt hash")
        fields = dict(item.split("=", 1) for item in parts[2].split(","))
        if set(fields) != {"ln", "r", "p"}:
            raise ValueError("unexpected parameters")
        params = ScryptParams(ln=int(fields["ln"]), r=int(fields["r"]), p=int(fields["p"]))
        salt, key = _unb64(parts[3]), _unb64(parts[4])
    except (ValueError, ConfigError) as exc:  # binascii.Error is a ValueError
        raise ConfigError("a stored password hash is malformed (expected "
                          "$scrypt$ln=..,r=..,p=..$salt$key); set the password again") from exc
    if len(key) != KEY_BYTES or not salt:
        raise ConfigError("a stored password hash has a wrong key or salt length; "
                          "set the password again")
    return params, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison).

    A malformed stored hash raises :class:`~geo.errors.ConfigError`.
    """
    params, salt, key = parse_hash(encoded)
    return hmac.compare_digest(_derive(password, salt, params), key)


def needs_rehash(encoded: str, *, params: ScryptParams = DEFAULT_PARAMS) -> bool:
    """Whether a stored hash was made with other parameters than ``params`` (or is malformed).

    Examples
    --------
    >>> needs_rehash(hash_password("x" * 12, params=ScryptParams(ln=4)))
    True
    """
    try:
        found, _, _ = parse_hash(encoded)
    except ConfigError:
        return True
    return found != params


@lru_cache(maxsize=4)
def dummy_hash(params: ScryptParams = DEFAULT_PARAMS) -> str:
    """Return a hash of a random password, made once per process and parameters.

    Verifying against it costs as much as a real check: signing in as an unknown user takes
    as long as a wrong password for a known one, so timing does not reveal who has an account.
    """
    return hash_password(secrets.token_urlsafe(24), params=params)
