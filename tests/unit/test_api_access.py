"""Tokens and per-account permissions of the API (spendstream/api/access.py)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from spendstream.api.access import SECRET_ENV, Forbidden, TokenKeys, Unauthorized
from spendstream.config import ApiSettings, ConfigError

SECRET = "a-secret-of-at-least-thirty-two-bytes-long"


def keys() -> TokenKeys:
    return TokenKeys.from_settings(ApiSettings(), env={SECRET_ENV: SECRET})


def test_a_minted_token_grants_exactly_its_accounts_and_what_its_permission_implies():
    who = keys().verify(keys().mint("ana", {"111": "configure", "222": "read"}, ("engineer",), 60))
    assert who.subject == "ana" and who.roles == {"engineer"}
    assert who.may("111", "configure") and who.may("111", "read") and not who.may("111", "admin")
    assert who.may("222", "read") and not who.may("222", "configure") and not who.may("333", "read")
    assert who.readable == ["111", "222"]
    with pytest.raises(Forbidden) as refused:
        who.require("333", "read")
    assert "333" not in str(refused.value)  # says nothing of the account asked for


def test_admin_on_an_account_implies_every_permission_on_it_only():
    claims = {"sub": "x", "exp": time.time() + 60, "accountPermissions": [{"accountId": "1", "permissions": ["admin"]}]}
    who = keys().verify(jwt.encode(claims, SECRET, "HS256"))
    assert all(who.may("1", p) for p in ("read", "optimize", "configure", "admin")) and not who.may("2", "read")


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"sub": "x", "exp": 1}, "expired"),
        ({"exp": 9_999_999_999}, "sub"),
        (
            {"sub": "x", "exp": 9_999_999_999, "accountPermissions": [{"accountId": "1", "permissions": ["own"]}]},
            "read",
        ),
        ({"sub": "x", "exp": 9_999_999_999, "accountPermissions": "all"}, "lists"),
    ],
)
def test_tokens_that_cannot_be_trusted_are_refused_with_why(claims, reason):
    with pytest.raises(Unauthorized, match=reason):
        keys().verify(jwt.encode(claims, SECRET, "HS256"))


def test_a_token_signed_with_another_key_or_algorithm_is_refused():
    forged = jwt.encode({"sub": "x", "exp": time.time() + 60}, "another-secret-of-thirty-two-bytes!!", "HS256")
    with pytest.raises(Unauthorized):
        keys().verify(forged)
    unsigned = jwt.encode({"sub": "x", "exp": time.time() + 60}, None, "none")
    with pytest.raises(Unauthorized):
        keys().verify(unsigned)


def test_rs256_tokens_are_checked_with_the_public_key_file(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "public.pem").write_bytes(public)
    verifier = TokenKeys.from_settings(ApiSettings(jwt_public_key_file=str(tmp_path / "public.pem")), env={})
    claims = {
        "sub": "idp-user",
        "exp": time.time() + 60,
        "accountPermissions": [{"accountId": "1", "permissions": "read"}],
    }
    assert verifier.verify(jwt.encode(claims, private, "RS256")).may("1", "read")
    with pytest.raises(ConfigError, match="IdP"):
        verifier.mint("x", {"1": "read"}, (), 60)


def test_rs256_tokens_are_checked_with_the_jwks_key_their_kid_names(tmp_path):
    signing = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("old", "new")}
    keys = [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key())), "kid": kid, "use": "sig"}
        for kid, private in signing.items()
    ]
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": keys}))
    verifier = TokenKeys.from_settings(ApiSettings(jwt_public_key_file=str(tmp_path / "jwks.json")), env={})
    claims = {
        "sub": "idp-user",
        "exp": time.time() + 60,
        "accountPermissions": [{"accountId": "1", "permissions": "read"}],
    }
    for kid in ("old", "new"):
        assert verifier.verify(jwt.encode(claims, signing[kid], "RS256", headers={"kid": kid})).may("1", "read")
    with pytest.raises(Unauthorized, match="kid"):
        verifier.verify(jwt.encode(claims, signing["new"], "RS256", headers={"kid": "gone"}))
    with pytest.raises(Unauthorized):  # signed by the other key of the set
        verifier.verify(jwt.encode(claims, signing["old"], "RS256", headers={"kid": "new"}))
    (tmp_path / "bad.json").write_text('{"keys": [{"kty": "nonsense"}]}')
    with pytest.raises(ConfigError, match="JWKS"):
        TokenKeys.from_settings(ApiSettings(jwt_public_key_file=str(tmp_path / "bad.json")), env={})


def test_a_missing_or_short_secret_is_a_config_error_that_never_shows_the_secret(tmp_path):
    with pytest.raises(ConfigError, match=SECRET_ENV):
        TokenKeys.from_settings(ApiSettings(), env={})
    with pytest.raises(ConfigError, match="at least 32") as short:
        TokenKeys.from_settings(ApiSettings(), env={SECRET_ENV: "tiny-secret"})
    assert "tiny-secret" not in str(short.value)
    (tmp_path / "secret").write_text(SECRET + "\n")
    from_file = TokenKeys.from_settings(ApiSettings(jwt_secret_file=str(tmp_path / "secret")), env={})
    assert from_file.verify(keys().mint("x", {"1": "read"}, (), 60)).may("1", "read")
