#!/usr/bin/env python3
"""Makes the JWT and JWKS seeds of tests/fuzz with fresh keys (python3
cryptography). Prints the JWKS and the token that fuzz_jwt.c and
fuzz_jwks.c embed: paste them there when rerunning this."""
import base64, json, os
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

NOW = 1767225600  # fuzz_jwt.c's expect.now
ISS, AUD, NONCE = "https://127.0.0.1:8443", "dhis2-auth", "n-0S6_WzA2Mj"
here = os.path.dirname(os.path.abspath(__file__))


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n, size):
    return b64(n.to_bytes(size, "big"))


rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ek = ec.generate_private_key(ec.SECP256R1())
rn = rk.public_key().public_numbers()
en = ek.public_key().public_numbers()
jwks = {"keys": [
    {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
     "n": uint(rn.n, 256), "e": uint(rn.e, 3)},
    {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
     "x": uint(en.x, 32), "y": uint(en.y, 32)},
]}


def token(header, claims, key=None):
    msg = (b64(json.dumps(header, separators=(",", ":")).encode()) + "." +
           b64(json.dumps(claims, separators=(",", ":")).encode()))
    if key is rk:
        sig = rk.sign(msg.encode(), padding.PKCS1v15(), hashes.SHA256())
    elif key is ek:
        r, s = utils.decode_dss_signature(
            ek.sign(msg.encode(), ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sig = b""
    return msg + "." + b64(sig)


good = {"iss": ISS, "sub": "admin", "aud": AUD, "azp": AUD, "nonce": NONCE,
        "username": "admin", "scope": "openid username",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3600, "jti": "j1"}
seeds = {
    "es256": token({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}, good, ek),
    "rs256": token({"alg": "RS256", "kid": "rsa-1"}, good, rk),
    "rs256-aud-array": token({"alg": "RS256"},
                             dict(good, aud=[AUD, "other"]), rk),
    "expired": token({"alg": "ES256", "kid": "ec-1"},
                     dict(good, exp=NOW - 7200), ek),
    "alg-none": token({"alg": "none"}, good),
    "hs256": token({"alg": "HS256", "kid": "ec-1"}, good),
    "scope-array": token({"alg": "ES256", "kid": "ec-1"},
                         dict(good, scope=["openid", "username"]), ek),
}
for name, t in seeds.items():
    with open(os.path.join(here, "corpus/jwt", name), "w") as f:
        f.write(t)
doc = json.dumps(jwks, separators=(",", ":"))
with open(os.path.join(here, "corpus/jwks/two-keys.json"), "w") as f:
    f.write(doc)
print("JWKS:", doc)
print("TOKEN:", seeds["es256"])
