/*
 * test_jwt_claims.c — unit tests for fcgi/jwt.c's claim rules: the required
 * claims and their types, iss and aud against the policy, the time window
 * (exp, nbf, iat in the future, the leeway, the lifetime cap) and the key
 * chosen by kid. Formats, tampering and signing: test_jwt.c.
 */
#include "tap.h"

#include "jwt_fixtures.h"

static void test_claims(void)
{
    struct jwt_claims c;
    char *tok;

    is_int(checkf(HDR, "{" STD "\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "sub missing");
    is_int(checkf(HDR, "{" STD "\"sub\":\"\",\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub empty");
    is_int(checkf(HDR, "{" STD "\"sub\":\"%064d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_BAD_CLAIMS, "sub 64 characters: too long");
    is_int(checkf(HDR, "{" STD "\"sub\":\"%063d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_OK, "sub 63 characters: ok");
    is_int(checkf(HDR, "{" STD "\"sub\":\"%01000d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_BAD_CLAIMS, "sub 1000 characters: too long");
    is_int(checkf(HDR, "{" STD "\"sub\":12345,\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub a number");
    is_int(checkf(HDR, "{" STD "\"sub\":null,\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub null");
    is_int(checkf(HDR, "{" STD "\"sub\":[\"a\"],\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub an array");
    is_int(checkf(HDR, "{" STD "\"sub\":{\"id\":\"a\"},\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub an object");
    is_int(checkf(HDR, "{" STD "\"sub\":\"ab\\u0000cd\",\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub with \\u0000");

    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"root\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope root");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"USER\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope USER (case matters)");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user admin\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope as a space-separated list");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope empty");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope missing");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":2,\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope a number");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":[\"user\"],\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope an array");

    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\"}"), JWT_BAD_CLAIMS, "exp missing");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":\"1700003600\"}"),
           JWT_BAD_CLAIMS, "exp a string");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600.5}"),
           JWT_BAD_CLAIMS, "exp a float");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600.0}"),
           JWT_BAD_CLAIMS, "exp an integral float");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1.7000036e9}"),
           JWT_BAD_CLAIMS, "exp in exponent notation");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":true}"), JWT_BAD_CLAIMS,
           "exp true");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":null}"), JWT_BAD_CLAIMS,
           "exp null");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":9223372036854775808}"),
           JWT_BAD_CLAIMS, "exp INT64_MAX + 1");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":99999999999999999999999}"),
           JWT_BAD_CLAIMS, "exp beyond 64 bits");

    /* Extra and duplicate claims. */
    tok = make_token(HDR,
                     "{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"iat\":1699999000,\"jti\":\"j\","
                     "\"aud\":[\"x\",\"" AUD "\"],\"scope\":\"admin\",\"x\":{\"y\":[1,2.5,null]},"
                     "\"exp\":1700003600}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "extra claims (jti, nested) ignored, member order free: ok");
    is_str(c.sub, SUB, "extra claims: sub read");
    is_int(c.scope, JWT_SCOPE_ADMIN, "extra claims: scope read");
    free(tok);

    tok = make_token(HDR,
                     "{" STD "\"sub\":\"first\",\"scope\":\"user\",\"exp\":1700003600,"
                     "\"sub\":\"second\"}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "duplicate sub: ok");
    is_str(c.sub, "second", "duplicate sub: the last one counts");
    free(tok);

    tok = make_token(HDR, "{" STD "\"sub\":\"caf\xc3\xa9\",\"scope\":\"user\",\"exp\":1700003600}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "UTF-8 sub: ok");
    is_str(c.sub, "caf\xc3\xa9", "UTF-8 sub read back as bytes");
    free(tok);
}

/* Status of a token with header HDR and payload {iss..., sub, scope} + tail, at NOW. */
__attribute__((format(printf, 1, 2))) static enum jwt_status claimsf(const char *fmt, ...)
{
    char tail[2048], pl[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    snprintf(pl, sizeof pl, "{\"sub\":\"" SUB "\",\"scope\":\"user\",%s}", tail);
    return check(HDR, pl);
}

#define IA "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\""

static void test_issuer_audience(void)
{
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":1700003600"), JWT_OK,
           "iss and aud as configured: ok");

    is_int(claimsf("\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iss missing: bad claims");
    is_int(claimsf("\"iss\":1,\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "iss a number: bad claims");
    is_int(claimsf("\"iss\":\"\",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "iss empty: bad claims");
    is_int(
        claimsf("\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_CLAIMS, "iss an array: bad claims");
    is_int(claimsf("\"iss\":\"someone-else\",\"aud\":\"" AUD
                   "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_ISSUER, "iss another issuer: bad issuer");
    is_int(claimsf("\"iss\":\"ZS-TEST-ISSUER\",\"aud\":\"" AUD
                   "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_ISSUER, "iss in another case: bad issuer");
    is_int(
        claimsf("\"iss\":\"" ISS " \",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_ISSUER, "iss with a trailing space: bad issuer");
    is_int(claimsf("\"iss\":\"zs-test\",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_ISSUER, "iss a prefix of ours: bad issuer");
    is_int(claimsf("\"iss\":\"someone-else\",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1"),
           JWT_BAD_ISSUER, "bad issuer and expired: the issuer is reported first");

    is_int(claimsf("\"iss\":\"" ISS "\",\"iat\":1699999000,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "aud missing: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":7,\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud a number: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":\"\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud empty: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":{\"a\":\"" AUD
                   "\"},\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud an object: bad claims");
    is_int(
        claimsf("\"iss\":\"" ISS "\",\"aud\":\"other-api\",\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_AUDIENCE, "aud another audience: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":\"zs-test\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_AUDIENCE, "aud a prefix of ours: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[\"a\",\"" AUD "\",\"b\"],\"iat\":1699999000,"
                   "\"exp\":1700003600"),
           JWT_OK, "aud an array containing ours: ok (RFC 7519 4.1.3)");
    is_int(
        claimsf("\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\"],\"iat\":1699999000,\"exp\":1700003600"),
        JWT_OK, "aud an array of just ours: ok");
    is_int(
        claimsf("\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_AUDIENCE, "aud an array without ours: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[],\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_AUDIENCE, "aud an empty array: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[\"" AUD
                   "\",1],\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud an array with a number in it: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[[\"" AUD
                   "\"]],\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud a nested array: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\\u0000x\"],\"iat\":1699999000,"
                   "\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud element with \\u0000: bad claims");
    {
        struct jwt_policy other = POL;
        struct jwt_claims c;
        char *tok = make_token(HDR, PL_OK, KEY);
        other.audience = "zs-other-api";
        is_int(jwt_verify(tok, &RING, &other, NOW, &c), JWT_BAD_AUDIENCE,
               "the same token under a policy with another audience: bad audience");
        other = POL;
        other.issuer = "zs-other-issuer";
        is_int(jwt_verify(tok, &RING, &other, NOW, &c), JWT_BAD_ISSUER,
               "the same token under a policy with another issuer: bad issuer");
        free(tok);
    }
}

static void test_window(void)
{
    struct jwt_policy strict = POL;
    struct jwt_claims c;
    char *tok;

    /* iat: required, an integer, not in the future beyond the leeway. */
    is_int(claimsf(IA ",\"exp\":1700003600"), JWT_BAD_CLAIMS, "iat missing: bad claims");
    is_int(claimsf(IA ",\"iat\":\"1699999000\",\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iat a string: bad claims");
    is_int(claimsf(IA ",\"iat\":1699999000.5,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iat a float: bad claims");
    is_int(claimsf(IA ",\"iat\":null,\"exp\":1700003600"), JWT_BAD_CLAIMS, "iat null: bad claims");
    is_int(claimsf(IA ",\"iat\":9223372036854775808,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iat beyond int64: bad claims");
    is_int(claimsf(IA ",\"iat\":1700000030,\"exp\":1700003600"), JWT_OK,
           "iat = now + leeway: ok (a minter's clock 30 s ahead)");
    is_int(claimsf(IA ",\"iat\":1700000031,\"exp\":1700003600"), JWT_NOT_YET_VALID,
           "iat = now + leeway + 1: not yet valid");
    is_int(claimsf(IA ",\"iat\":1800000000,\"exp\":1800003600"), JWT_NOT_YET_VALID,
           "iat far in the future: not yet valid");
    is_int(claimsf(IA ",\"iat\":1700000031,\"nbf\":1699999000,\"exp\":1700003600"),
           JWT_NOT_YET_VALID, "iat in the future with an nbf in the past: not yet valid");
    is_int(claimsf(IA ",\"iat\":1,\"exp\":1700003600"), JWT_BAD_LIFETIME,
           "iat long ago with exp ahead: lifetime over the cap");

    /* exp: required, checked first among the clock rules, without leeway. */
    is_int(claimsf(IA ",\"iat\":1699999000"), JWT_BAD_CLAIMS,
           "exp missing (iat present): bad claims");
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":1700000000"), JWT_EXPIRED, "exp = now: expired");
    is_int(claimsf(IA ",\"iat\":1800000000,\"exp\":1699999999"), JWT_EXPIRED,
           "expired and iat in the future: expired is reported");

    /* nbf: optional, an integer, not in the future beyond the leeway. */
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1699999500,\"exp\":1700003600"), JWT_OK,
           "nbf in the past: ok");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1700000030,\"exp\":1700003600"), JWT_OK,
           "nbf = now + leeway: ok");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1700000031,\"exp\":1700003600"),
           JWT_NOT_YET_VALID, "nbf = now + leeway + 1: not yet valid");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":\"1\",\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "nbf a string: bad claims");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1.5,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "nbf a float: bad claims");
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1699999000,"
                     "\"nbf\":1699999900,\"exp\":1700003600}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "nbf given: ok");
    is_int(c.nbf, 1699999900LL, "nbf read back");
    free(tok);

    /* The leeway is a setting: with 0, a second ahead is refused. */
    strict.leeway = 0;
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1700000000,"
                     "\"exp\":1700003600}",
                     KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_OK, "leeway 0, iat = now: ok");
    free(tok);
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1700000001,"
                     "\"exp\":1700003600}",
                     KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_NOT_YET_VALID,
           "leeway 0, iat = now + 1: not yet valid");
    is_int(verify(tok, &c), JWT_OK, "...accepted with the 30 s leeway");
    free(tok);
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1699999000,"
                     "\"nbf\":1700000001,\"exp\":1700003600}",
                     KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_NOT_YET_VALID,
           "leeway 0, nbf = now + 1: not yet valid");
    free(tok);

    /* Lifetime: 0 < exp - iat <= max_lifetime. */
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":%lld", 1699999000LL + MAX_LIFE), JWT_OK,
           "lifetime = max_lifetime: ok");
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":%lld", 1699999000LL + MAX_LIFE + 1),
           JWT_BAD_LIFETIME, "lifetime = max_lifetime + 1: bad lifetime");
    is_int(claimsf(IA ",\"iat\":1700000010,\"exp\":1700000010"), JWT_BAD_LIFETIME,
           "exp = iat (iat within the leeway): bad lifetime");
    is_int(claimsf(IA ",\"iat\":1700000020,\"exp\":1700000010"), JWT_BAD_LIFETIME,
           "exp before iat: bad lifetime");
    is_int(claimsf(IA ",\"iat\":-9223372036854775808,\"exp\":1700003600"), JWT_BAD_LIFETIME,
           "iat INT64_MIN: exp - iat overflows: bad lifetime");
    strict = POL;
    strict.max_lifetime = 60;
    tok = make_token(HDR, PL_OK, KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_BAD_LIFETIME,
           "the cap is a setting: the same token under a 60 s cap: bad lifetime");
    free(tok);
}

static void test_kid(void)
{
    struct jwt_keyring two;
    struct jwt_claims c, in = CLAIMS(SUB, JWT_SCOPE_USER, LATER);
    char *tok;

    is_int(check("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid missing: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"k2\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid not in the ring: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"K1\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid in another case: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid empty: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":1}", PL_OK), JWT_UNKNOWN_KID,
           "kid a number: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":[\"k1\"]}", PL_OK), JWT_UNKNOWN_KID,
           "kid an array: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"k1\\u0000\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid with \\u0000: unknown kid");
    is_int(check("{\"alg\":\"none\",\"kid\":\"k2\"}", PL_OK), JWT_BAD_ALG,
           "alg is judged before kid");
    tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k2\"}", "not json", KEY2);
    is_int(verify(tok, &c), JWT_UNKNOWN_KID, "unknown kid is reported before the signature");
    free(tok);

    /* Two keys: a token of either verifies; each only under its own kid. */
    two = RING;
    two.n = 2;
    two.keys[1] = RING2.keys[0];
    strcpy(two.keys[1].kid, "k0");
    tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k0\"}", PL_OK, KEY2);
    is_int(jwt_verify(tok, &two, &POL, NOW, &c), JWT_OK, "previous key (k0): ok");
    is_str(c.kid, "k0", "reported as verified by k0");
    is_int(verify(tok, &c), JWT_UNKNOWN_KID, "the ring without k0: unknown kid");
    free(tok);
    tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k0\"}", PL_OK, KEY);
    is_int(jwt_verify(tok, &two, &POL, NOW, &c), JWT_BAD_SIGNATURE,
           "kid k0 but signed with k1's key: bad signature");
    free(tok);
    tok = jwt_sign(&in, &two.keys[1]);
    is_int(jwt_verify(tok, &two, &POL, NOW, &c), JWT_OK, "jwt_sign with the previous key: ok");
    free(tok);

    ok(jwt_kid_valid("20231114T221320Z-ab12") && jwt_kid_valid("a") && jwt_kid_valid("a.b_c-D"),
       "kid_valid: the generated form and the allowed characters");
    ok(!jwt_kid_valid("") && !jwt_kid_valid(NULL) && !jwt_kid_valid("a/b") && !jwt_kid_valid("a b")
           && !jwt_kid_valid("0123456789abcdef0123456789abcdefX"),
       "kid_valid: empty, NULL, '/', space, 33 characters refused");
}

int main(void)
{
    init_rings();
    test_claims();
    test_issuer_audience();
    test_window();
    test_kid();
    is_int(out_not_zeroed, 0, "every failed verify left *out zeroed");
    return done_testing();
}
