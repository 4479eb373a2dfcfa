"""Bearer tokens: the key ring (fcgi/jwt.h) and the one routine that signs
them. What `zerosum token SUB [--admin] [--ttl S]` mints under the default
settings (fcgi/main.c: iss = aud = "zerosum", HS256 with the ring's current
key, its kid in the header) is mint(); tests forge other tokens with
sign_jwt() and std_claims()."""
import base64
import hashlib
import hmac
import json
import time


def b64url(data):
    """base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_ring(path):
    """The key ring file as [(kid, key bytes)], current first: "KID HEX" lines
    (# comments allowed), or one legacy line of 64 hex digits."""
    with open(path) as f:
        text = f.read()
    if len(text.strip()) == 64 and " " not in text.strip():
        return [("legacy", bytes.fromhex(text.strip()))]
    keys = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            kid, hexkey = line.split(" ")
            keys.append((kid, bytes.fromhex(hexkey)))
    return keys


def std_claims(sub, scope="user", ttl=3600, iat=None, **extra):
    """The claims `zerosum token` mints under the default settings, with overrides."""
    now = int(time.time()) if iat is None else iat
    c = {"iss": "zerosum", "aud": "zerosum", "sub": sub, "scope": scope, "iat": now,
         "nbf": now, "exp": now + ttl}
    c.update(extra)
    return c


def sign_jwt(claims, ring, header=None, key=None, kid=None):
    """A JWT with exactly these claims, HS256 with key (bytes; default the
    ring's current key) and header (default {"alg":"HS256","typ":"JWT","kid":
    kid or the current kid})."""
    cur_kid, cur_key = ring[0]
    if header is None:
        header = {"alg": "HS256", "typ": "JWT", "kid": kid or cur_kid}
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(cur_key if key is None else key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}." + b64url(mac)


def mint(ring, sub, admin=False, ttl=3600):
    """The token `zerosum token sub [--admin] --ttl ttl` prints (a negative
    ttl gives an already expired one)."""
    return sign_jwt(std_claims(sub, scope="admin" if admin else "user", ttl=ttl), ring)
