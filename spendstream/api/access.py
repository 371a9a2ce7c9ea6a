"""Who may see and change which account: JWT bearer tokens with per-account permissions.

Claims as in the design: ``sub``, ``exp``, ``roles`` (admin, engineer, finance, viewer) and
``accountPermissions`` = [{accountId, permissions: read | optimize | configure | admin}]. Access
is decided by the account permissions alone; roles are carried for display and audit. ``admin``
on an account implies every permission on it, and ``optimize``/``configure`` imply ``read``.

Keys come from the environment or files only: ``SPENDSTREAM_API_JWT_SECRET`` (HS256) or
``api.jwt_secret_file``, or an RS256 public key (``api.jwt_public_key_file``, PEM).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from spendstream.config import JWT_SECRET_ENV, ApiSettings, ConfigError

ROLES = ("admin", "engineer", "finance", "viewer")
PERMISSIONS = ("read", "optimize", "configure", "admin")
IMPLIES = {"admin": set(PERMISSIONS), "configure": {"configure", "read"}, "optimize": {"optimize", "read"}}
SECRET_ENV = JWT_SECRET_ENV
MIN_SECRET_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash


class Unauthorized(Exception):
    """No usable token: missing, malformed, badly signed or expired (HTTP 401)."""


class Forbidden(Exception):
    """A valid token without the permission asked for (HTTP 403); says nothing of the account."""


@dataclass(frozen=True)
class Principal:
    """The verified holder of a token."""

    subject: str
    roles: frozenset[str]
    grants: dict[str, frozenset[str]]  # account id → permissions, implied ones included
    expires_at: float

    def may(self, account_id: str, permission: str) -> bool:
        return permission in self.grants.get(account_id, frozenset()) and time.time() < self.expires_at

    def require(self, account_id: str, permission: str) -> None:
        if not self.may(account_id, permission):
            raise Forbidden(f"this token does not carry {permission!r} on the account asked for")

    @property
    def readable(self) -> list[str]:
        return sorted(account for account, granted in self.grants.items() if "read" in granted)


@dataclass(frozen=True)
class TokenKeys:
    """The key that checks signatures (and, for HS256, signs the tokens ``api token`` mints)."""

    algorithm: str
    verifying_key: str | bytes | jwt.PyJWKSet

    @classmethod
    def from_settings(cls, api: ApiSettings, env: dict[str, str] | None = None) -> TokenKeys:
        env = os.environ if env is None else env
        if api.jwt_public_key_file:
            text = _read(api.jwt_public_key_file, "api.jwt_public_key_file")
            return cls("RS256", _jwks(text) if text.lstrip().startswith(b"{") else text)
        secret = env.get(SECRET_ENV, "").encode() or (
            _read(api.jwt_secret_file, "api.jwt_secret_file").strip() if api.jwt_secret_file else b""
        )
        if not secret:
            raise ConfigError(
                f"the API needs a token key: set {SECRET_ENV} (HS256, at least {MIN_SECRET_BYTES} bytes), "
                "api.jwt_secret_file, or api.jwt_public_key_file (RS256 PEM)"
            )
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"the HS256 secret is {len(secret)} bytes; use at least {MIN_SECRET_BYTES}")
        return cls("HS256", secret)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key_for(token), algorithms=[self.algorithm], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired: mint a new one") from None
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"the token is not valid: {error}") from None
        return principal_of(claims)

    def _key_for(self, token: str) -> object:
        """The key that signed ``token``: the one key, or the JWKS key its header's ``kid`` names."""
        if not isinstance(self.verifying_key, jwt.PyJWKSet):
            return self.verifying_key
        kid = jwt.get_unverified_header(token).get("kid")
        try:
            return self.verifying_key[kid].key
        except KeyError:
            raise jwt.InvalidTokenError(f"no key with kid {kid!r} in the JWKS file") from None

    def mint(self, subject: str, grants: dict[str, str], roles: tuple[str, ...], ttl_s: int) -> str:
        """A token for local use (HS256 only: an RS256 private key never comes near this server)."""
        if self.algorithm != "HS256":
            raise ConfigError("tokens can be minted here only with an HS256 secret (RS256 tokens come from your IdP)")
        now = int(time.time())
        claims = {
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
            "roles": list(roles),
            "accountPermissions": [{"accountId": a, "permissions": p} for a, p in sorted(grants.items())],
        }
        return jwt.encode(claims, self.verifying_key, algorithm="HS256")


def _jwks(text: bytes) -> jwt.PyJWKSet:
    """A JWKS document (your identity provider's keys, saved to a file): its RSA signing keys."""
    try:
        return jwt.PyJWKSet.from_json(text.decode())
    except (jwt.PyJWKSetError, ValueError) as error:
        raise ConfigError(f"api.jwt_public_key_file holds JSON but not a JWKS with RSA keys: {error}") from None


def principal_of(claims: dict) -> Principal:
    roles = claims.get("roles", [])
    entries = claims.get("accountPermissions", [])
    if not isinstance(roles, list) or not isinstance(entries, list):
        raise Unauthorized("the token's roles and accountPermissions must be lists")
    grants: dict[str, set[str]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("accountId"), str):
            raise Unauthorized("each accountPermissions entry needs an accountId")
        permissions = entry.get("permissions")
        permissions = [permissions] if isinstance(permissions, str) else permissions
        if not isinstance(permissions, list) or not set(permissions) <= set(PERMISSIONS):
            raise Unauthorized(f"accountPermissions: permissions must be among {', '.join(PERMISSIONS)}")
        granted = grants.setdefault(entry["accountId"], set())
        for permission in permissions:
            granted |= IMPLIES.get(permission, {permission})
    return Principal(
        subject=str(claims["sub"]),
        roles=frozenset(str(r) for r in roles if r in ROLES),
        grants={account: frozenset(p) for account, p in grants.items()},
        expires_at=float(claims["exp"]),
    )


def _read(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path}: {error.strerror}") from None
