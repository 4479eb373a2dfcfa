#!/usr/bin/env python3
"""Write the hand-made seed corpus of the fuzz targets.

    tests/fuzz/make_seeds.py [ZEROSUM_BIN]

Writes tests/fuzz/corpus/<target>/seed-*; files libFuzzer added (named by
their SHA-1) are left alone. JWT seeds that must verify are minted by
`zerosum token` (default build/zerosum) with the fuzz key, written to a
temporary 0600 key ring file (kid "fuzz") at the harness's clock (--at); the
edge cases a CLI cannot mint (expired, not yet valid, other issuers or
audiences, unknown kids, other algorithms, forged) are built here with hmac.

The key is the 32 ASCII bytes "zerosum-fuzz-key-0123456789abcde", the same
as FUZZ_KEY in fuzz_jwt.c (kid "fuzz"); OTHER_KEY plays the harness's
previous key "old" only where noted. The fuzz targets' clock is fixed at
1700000000, and tokens are minted at it.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEY = b"zerosum-fuzz-key-0123456789abcde"
OTHER_KEY = b"some-other-key-0123456789abcdefg"
OTHER_KEY_OLD = b"zerosum-fuzz-key-0123456789abcdX"   # the harness's previous key, kid "old"
FUZZ_NOW = 1700000000

U1 = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
U2 = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def craft(header, payload, key=KEY, sig=None):
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":")).encode()
    if isinstance(payload, dict):
        payload = json.dumps(payload, separators=(",", ":")).encode()
    signing = b64(header) + "." + b64(payload)
    if sig is None:
        sig = b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())
    return signing + "." + sig


def request_seeds():
    t = "fuzz_request"
    # byte 0: bit 7 clear = body; bits 0-1 validator (0 transfer, 1 bid,
    # 2 lot, 3 all); bits 2-4 content type (0 application/json,
    # 1 "; charset=utf-8", 2 upper case, 3 "application/json;", 4 jsonx,
    # 5 text/plain, 6 empty, 7 problem+json).
    def body(sel, text, name):
        write(t, name, bytes([sel]) + (text.encode() if isinstance(text, str) else text))

    tr = {"from": U1, "to": U2, "amount": 1250}
    body(0, json.dumps(tr), "transfer-ok")
    body(0, json.dumps(dict(tr, memo="rent \u00e9t\u00e9 \U0001f600")), "transfer-memo")
    body(0, json.dumps(dict(tr, memo=None)), "transfer-memo-null")
    body(0, json.dumps(dict(tr, memo="\u00e9" * 140)), "transfer-memo-140")
    body(0, json.dumps(dict(tr, memo="x" * 141)), "transfer-memo-141")
    body(0, '{"from":"%s","to":"%s","amount":1,"memo":"a\\u0000b"}' % (U1, U2), "transfer-memo-nul")
    body(0, json.dumps(dict(tr, to=U1)), "transfer-same")
    body(0, json.dumps(dict(tr, to=U1.upper())), "transfer-same-upper")
    body(0, '{"from":"%s","to":"%s","amount":9223372036854775807}' % (U1, U2), "transfer-max")
    body(0, '{"from":"%s","to":"%s","amount":9223372036854775808}' % (U1, U2), "transfer-overflow")
    body(0, '{"from":"%s","to":"%s","amount":-9223372036854775809}' % (U1, U2), "transfer-underflow")
    body(0, '{"from":"%s","to":"%s","amount":1e3}' % (U1, U2), "transfer-exp")
    body(0, '{"from":"%s","to":"%s","amount":1.0}' % (U1, U2), "transfer-float")
    body(0, '{"from":"%s","to":"%s","amount":"5"}' % (U1, U2), "transfer-string-amount")
    body(0, '{"from":"%s","to":"%s","amount":0}' % (U1, U2), "transfer-zero")
    body(0, '{"from":"%s","to":"%s","amount":NaN}' % (U1, U2), "transfer-nan")
    body(0, '{"from":"%s","to":"%s","amount":-Infinity}' % (U1, U2), "transfer-inf")
    body(0, "{'from':'%s'}" % U1, "transfer-single-quotes")
    body(0, '{"from":"%s","from":"%s","to":"%s","amount":2}' % (U1, U2, U1), "transfer-dup-keys")
    body(0, '{"from":"%s","to":"%s","amount":1,"admin":true}' % (U1, U2), "transfer-unknown")
    body(0, '{"from":"%s-","to":"%s","amount":1}' % (U1[:-1], U2), "transfer-bad-uuid")
    body(0, '{"from":"%s","to":"%s","amount":1} x' % (U1, U2), "transfer-trailing")
    body(0, '{"from":"%s","to":"%s","amount":1}\n\t ' % (U1, U2), "transfer-trailing-ws")
    body(0, '\ufeff{"amount":1}', "transfer-bom")
    body(0, b'{"memo":"\xc3\x28","amount":1}', "transfer-bad-utf8")
    body(0, b'{"amount":1,\x00}', "transfer-nul")
    # U+0000 escaped inside a string: refused at parse time (400 invalid_string)
    body(0, '{"from":"%s","to":"%s\\u0000garbage","amount":1}' % (U1, U2), "transfer-to-nul-suffix")
    body(0, '{"from":"%s","to":"%s","amount":1,"memo\\u0000x":"m"}' % (U1, U2), "member-name-nul")
    body(0, '{"from":"%s","to":"%s","amount":1,"memo":"\\\\u0000"}' % (U1, U2), "memo-escaped-backslash-u0000")
    body(3, '{"kind":"drop","seller":"%s","price":1,"quantity":1,"title":["\\u0000"]}' % U1, "nested-nul")
    body(0, "", "empty")
    body(0, "[1,2,3]", "array")
    body(0, '"just a string"', "string")
    body(0, "{" + '"a":[' * 20 + "]" * 20 + "}", "deep-20")
    body(0, '{"a":' * 15 + "1" + "}" * 15, "deep-15")
    body(0, '{"from":"%s","to":"%s","amount":1' % (U1, U2), "transfer-truncated")
    body(0, '{"from":"%s\'; DROP TABLE ledger;--","to":"%s","amount":1}' % (U1, U2), "transfer-sqli")
    body(0x04, json.dumps(tr), "ct-charset")
    body(0x08, json.dumps(tr), "ct-upper")
    body(0x0c, json.dumps(tr), "ct-semicolon")
    body(0x10, json.dumps(tr), "ct-jsonx")
    body(0x14, json.dumps(tr), "ct-text-plain")
    body(0x18, json.dumps(tr), "ct-empty")

    body(1, json.dumps({"lot": U1, "amount": 500}), "bid-english")
    body(1, json.dumps({"lot": U1, "max_price": 900}), "bid-dutch")
    body(1, json.dumps({"lot": U1, "quantity": 3}), "bid-drop")
    body(1, json.dumps({"lot": U1, "quantity": 1000001}), "bid-qty-over")
    body(1, json.dumps({"lot": 7}), "bid-lot-number")
    body(1, json.dumps({"amount": 5}), "bid-missing-lot")

    eng = {"kind": "english", "seller": U1, "title": "Vase", "start": 100, "increment": 10,
           "ends_in": 3600, "reserve": 500, "snipe_window": 30, "snipe_extend": 60}
    body(2, json.dumps(eng), "lot-english")
    body(2, json.dumps({"kind": "dutch", "seller": U1, "start": 1000, "floor": 100, "step": 10,
                        "interval": 5}), "lot-dutch")
    body(2, json.dumps({"kind": "dutch", "seller": U1, "start": 100, "floor": 1000, "step": 10,
                        "interval": 5}), "lot-dutch-floor-above")
    body(2, json.dumps({"kind": "drop", "seller": U1, "price": 25, "quantity": 10,
                        "max_per_claim": 2}), "lot-drop")
    body(2, json.dumps({"kind": "drop", "seller": U1, "price": 25, "quantity": 10,
                        "start": 5}), "lot-drop-start")
    body(2, json.dumps(dict(eng, floor=3)), "lot-english-floor")
    body(2, json.dumps(dict(eng, title="t" * 201)), "lot-title-long")
    body(2, json.dumps(dict(eng, ends_in=366 * 86400 + 1)), "lot-ends-in-year")
    body(2, json.dumps(dict(eng, kind="vickrey")), "lot-kind")
    body(3, json.dumps({"scenario": "oversell", "n": 100, "k": 5}), "proof-run")

    # byte 0: bit 7 set = route; bits 0-2 method (GET POST PUT DELETE
    # PATCH HEAD OPTIONS get); bits 3-6 query output buffer (0 1 2 3 4 8
    # 16 24 32 37 40 48 64 65 128 256 bytes).
    def route(method, outlen_idx, text, name):
        write(t, name, bytes([0x80 | method | (outlen_idx << 3)]) + text.encode())

    route(0, 12, "/healthz", "route-healthz")
    route(0, 12, "/accounts/%s/entries?limit=10&after=%s" % (U1, U2), "route-entries")
    route(0, 9, "/accounts/%s/entries?after=%s" % (U1, U2), "route-entries-37")
    route(0, 8, "/accounts/%s/entries?after=%s" % (U1, U2), "route-entries-32")
    route(0, 12, "/proof/activity?lot=%s" % U1, "route-activity")
    route(0, 12, "/proof/activity?lot=%41%42%zz&limit=+1", "route-query-bad-pct")
    route(0, 12, "/proof/activity?lot=%00", "route-query-nul")
    route(0, 12, "/proof/activity?x=%zz&lot=%00", "route-query-nul-after-bad")
    route(0, 12, "/lots?%00=1&limit=2", "route-query-nul-name")
    route(0, 12, "/lots?limit&after=&lot", "route-query-bare")
    route(0, 0, "/lots?limit=", "route-query-outlen0")
    route(0, 1, "/lots?limit=&lot=x", "route-query-outlen1")
    route(1, 12, "/transfer", "route-post-transfer")
    route(3, 12, "/transfer", "route-delete-transfer")
    route(2, 12, "/lots/", "route-put-lots")
    route(0, 12, "/accounts/issuer", "route-issuer")
    route(1, 12, "/accounts/issuer", "route-post-issuer")
    route(0, 12, "/proof/runs/" + "x" * 63, "route-param-63")
    route(0, 12, "/proof/runs/" + "x" * 64, "route-param-64")
    route(0, 12, "/lots/a/b", "route-extra-segment")
    route(0, 12, "//", "route-double-slash")
    route(0, 12, "/accounts//entries", "route-empty-capture")
    route(0, 12, "/../etc/passwd", "route-dotdot")
    route(7, 12, "/healthz", "route-lower-method")
    route(6, 12, "/proof/runs", "route-options")
    route(0, 12, "", "route-empty")
    route(0, 12, "healthz", "route-no-slash")


def jwt_seeds(zs):
    t = "fuzz_jwt"
    fd, keyfile = tempfile.mkstemp(prefix="zs-fuzz-key-")
    try:
        os.write(fd, b"fuzz " + KEY.hex().encode() + b"\n")
        os.close(fd)
        os.chmod(keyfile, 0o600)

        def mint(name, *args):
            tok = subprocess.run([zs, "token", *args, "--at", str(FUZZ_NOW), "--key-file", keyfile],
                                 check=True,
                                 capture_output=True, text=True).stdout.strip()
            write(t, name, tok)
            return tok

        user = mint("user", U1)
        mint("admin", "00000000-0000-0000-0000-000000000000", "--admin")
        mint("user-ttl-30d", U2, "--ttl", "2592000")
        mint("sub-quote", 'a"b\\c')
        mint("sub-63", "s" * 63)
        mint("sub-1", "x")
        h, p, s = user.split(".")
        write(t, "user-trailing-dot", user + ".")
        write(t, "user-sig-padded", user + "=")
        write(t, "user-sig-flipped", h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])
        write(t, "user-sig-respelled", h + "." + p + "." + s[:-1] + chr(ord(s[-1]) ^ 1))
        write(t, "user-no-sig", h + "." + p + ".")
        write(t, "user-space", " " + user)
        write(t, "user-newline", user + "\n")
    finally:
        os.unlink(keyfile)

    hs = {"alg": "HS256", "typ": "JWT", "kid": "fuzz"}
    claims = {"iss": "zerosum", "aud": "zerosum", "sub": U1, "scope": "user",
              "iat": FUZZ_NOW - 60, "exp": FUZZ_NOW + 3600}
    write(t, "expired", craft(hs, dict(claims, exp=FUZZ_NOW - 1)))
    write(t, "exp-now", craft(hs, dict(claims, exp=FUZZ_NOW)))
    write(t, "exp-float", craft(hs, dict(claims, exp=2e9)))
    write(t, "exp-string", craft(hs, dict(claims, exp="2000000000")))
    write(t, "exp-big", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a","scope":"user",'
                                  b'"iat":1700000000,"exp":18446744073709551616}'))
    write(t, "exp-int64max", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a","scope":"user",'
                                       b'"iat":1700000000,"exp":9223372036854775807}'))
    write(t, "iat-missing", craft(hs, {k: v for k, v in claims.items() if k != "iat"}))
    write(t, "iat-future", craft(hs, dict(claims, iat=FUZZ_NOW + 31)))
    write(t, "iat-leeway", craft(hs, dict(claims, iat=FUZZ_NOW + 30)))
    write(t, "iat-min", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a","scope":"user",'
                                  b'"iat":-9223372036854775809,"exp":2000000000}'))
    write(t, "nbf-future", craft(hs, dict(claims, nbf=FUZZ_NOW + 31)))
    write(t, "nbf-past", craft(hs, dict(claims, nbf=FUZZ_NOW - 10)))
    write(t, "lifetime-over", craft(hs, dict(claims, iat=FUZZ_NOW, exp=FUZZ_NOW + 2592001)))
    write(t, "lifetime-max", craft(hs, dict(claims, iat=FUZZ_NOW, exp=FUZZ_NOW + 2592000)))
    write(t, "iss-other", craft(hs, dict(claims, iss="elsewhere")))
    write(t, "iss-missing", craft(hs, {k: v for k, v in claims.items() if k != "iss"}))
    write(t, "aud-other", craft(hs, dict(claims, aud="elsewhere")))
    write(t, "aud-array", craft(hs, dict(claims, aud=["x", "zerosum"])))
    write(t, "aud-array-without", craft(hs, dict(claims, aud=["x", "y"])))
    write(t, "aud-array-mixed", craft(hs, dict(claims, aud=["zerosum", 1])))
    write(t, "kid-missing", craft({"alg": "HS256", "typ": "JWT"}, claims))
    write(t, "kid-unknown", craft({"alg": "HS256", "kid": "nope"}, claims))
    write(t, "kid-previous", craft({"alg": "HS256", "kid": "old"}, claims, key=OTHER_KEY_OLD))
    write(t, "kid-previous-wrong-key", craft({"alg": "HS256", "kid": "old"}, claims))
    write(t, "scope-root", craft(hs, dict(claims, scope="root")))
    write(t, "sub-empty", craft(hs, dict(claims, sub="")))
    write(t, "sub-64", craft(hs, dict(claims, sub="s" * 64)))
    write(t, "sub-nul", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a\\u0000b",'
                                  b'"scope":"user","iat":1700000000,"exp":1700003600}'))
    write(t, "sub-utf8", craft(hs, dict(claims, sub="\u00e9l\u00e8ve")))
    write(t, "sub-control", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a\\nb",'
                                      b'"scope":"admin","iat":1700000000,"exp":1700003600}'))
    write(t, "dup-scope", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a","scope":"user",'
                                    b'"scope":"admin","iat":1700000000,"exp":1700003600}'))
    write(t, "payload-array", craft(hs, b"[1]"))
    write(t, "payload-trailing", craft(hs, b'{"iss":"zerosum","aud":"zerosum","sub":"a",'
                                           b'"scope":"user","iat":1700000000,"exp":1700003600} x'))
    write(t, "alg-none", craft({"alg": "none", "typ": "JWT"}, claims, sig=""))
    write(t, "alg-lower", craft({"alg": "hs256"}, claims))
    write(t, "alg-hs512", craft({"alg": "HS512"}, claims))
    write(t, "typ-other", craft({"alg": "HS256", "typ": "JOSE"}, claims))
    write(t, "crit", craft({"alg": "HS256", "crit": ["exp"]}, claims))
    write(t, "header-deep", craft(b'{"alg":"HS256","x":' + b"[" * 9 + b"]" * 9 + b"}", claims))
    write(t, "forged", craft(hs, dict(claims, scope="admin"), key=OTHER_KEY))
    write(t, "two-parts", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0")
    write(t, "four-parts", "a.b.c.d")
    write(t, "dots", "..")
    write(t, "b64-len1", "a.b.c")
    write(t, "b64-std-alphabet", "ab+/.cd.ef")
    # Raw payload JSON (no NUL): the harness signs it under the standard header.
    write(t, "raw-claims", json.dumps(claims, separators=(",", ":")))
    write(t, "raw-claims-admin", '{"sub":"x","scope":"admin","exp":1700000001,"iat":1700000000,'
                                 '"iss":"zerosum","aud":["zerosum"]}')
    write(t, "raw-claims-old", '{"sub":"x","scope":"admin","exp":1700000001,"iat":1}')
    # header NUL payload: the harness encodes and signs both.
    write(t, "raw-header-payload", b'{"alg":"HS256","kid":"fuzz"}\x00{"iss":"zerosum","aud":"zerosum",'
                                   b'"sub":"a","scope":"user","iat":1700000000,"exp":1700003600}')
    write(t, "raw-header-nokid", b'{"alg":"HS256"}\x00{"sub":"a","scope":"user","exp":2000000000}')


def fingerprint_seeds():
    t = "fuzz_fingerprint"
    write(t, "transfer", json.dumps({"from": U1, "to": U2, "amount": 1250, "memo": "rent"}))
    write(t, "order-ws", '{ "b" : [ 1 , {"z":1,"a":2} ] ,\n"a":"x" }')
    write(t, "escapes", r'{"s":"a\"b\\c\/d\b\f\n\r\t\u0001\u00e9\ud83d\ude00"}')
    write(t, "key-nul", r'{"a\u0000x":1,"a\u0000y":2,"a":3}')
    write(t, "value-nul", r'{"a":"x\u0000y"}')
    write(t, "numbers", '{"i":-0,"u":18446744073709551615,"o":18446744073709551616,'
                        '"n":-9223372036854775809,"d":1.50,"e":1E+2,"f":-0.0,"g":1e400}')
    write(t, "nan", '{"a":NaN,"b":-Infinity,"c":Infinity}')
    write(t, "comments", '{/* c */"a":1 // d\n}')
    write(t, "trailing-comma", '{"a":[1,2,],}')
    write(t, "single-quote", "{'a':'b'}")
    write(t, "dup", '{"a":1,"a":{"b":2},"a":[3]}')
    write(t, "literals", '[true,false,null,"",[],{}]')
    write(t, "bare-number", "123")
    write(t, "bare-string", '"x"')
    write(t, "deep-16", "[" * 16 + "]" * 16)
    write(t, "deep-17", "[" * 17 + "]" * 17)
    write(t, "utf8-bad", b'{"a":"\xff\xfe"}')
    write(t, "utf8-overlong", b'{"a":"\xc0\xaf"}')
    write(t, "utf8-4byte", '{"\U0001f600":"\U0001f600"}'.encode())
    write(t, "unicode-keys-order", '{"\u00e9":1,"e":2,"E":3,"\u00c9":4,"":5}')
    write(t, "big", json.dumps({"k%03d" % i: [i, str(i)] for i in range(60)}))


def main():
    zs = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "zerosum")
    request_seeds()
    jwt_seeds(zs)
    fingerprint_seeds()


if __name__ == "__main__":
    main()
