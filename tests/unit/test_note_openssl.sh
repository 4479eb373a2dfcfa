#!/bin/sh
# test_note_openssl.sh — the OpenSSL command line checks our C2SP note
# signatures: `test_note --sign DIR` writes a key (through the server's own
# note_key_load_or_create), its public PEM, a checkpoint body and the signed
# note; `openssl pkeyutl -verify -rawin` must accept the Ed25519 signature
# over the body and refuse it over a body with one byte changed. TAP output.
set -u
BUILD=${ZS_BUILD:-build}
bin=$BUILD/tests/test_note
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
fail=0
check() { # check <name> <command...>
    name=$1
    shift
    n=$((n + 1))
    if "$@" >"$dir/out" 2>&1; then echo "ok $n - $name"; else
        echo "not ok $n - $name"
        sed 's/^/# /' "$dir/out"
        fail=1
    fi
}
refuse() { # refuse <name> <command...>: the command must fail
    name=$1
    shift
    n=$((n + 1))
    if "$@" >"$dir/out" 2>&1; then
        echo "not ok $n - $name"
        fail=1
    else echo "ok $n - $name"; fi
}

check "test_note --sign writes the files" "$bin" --sign "$dir"
check "key file is mode 0600" test "$(stat -c %a "$dir/key.pem")" = 600
# The signature line carries base64(4-byte key id || 64-byte signature).
base64 -d <"$dir/sig.b64" >"$dir/blob"
check "the signature blob is 68 bytes" test "$(stat -c %s "$dir/blob")" = 68
tail -c 64 "$dir/blob" >"$dir/sig"
check "openssl verifies the signature over the body" \
    openssl pkeyutl -verify -pubin -inkey "$dir/pub.pem" -rawin -in "$dir/body" -sigfile "$dir/sig"
check "the key id is SHA-256(name LF 0x01 pubkey)[:4]" sh -c "
    openssl pkey -pubin -in '$dir/pub.pem' -outform DER | tail -c 32 >'$dir/raw'
    { printf 'zerosum.local/ledger\n\001'; cat '$dir/raw'; } | openssl dgst -sha256 -binary | head -c 4 >'$dir/id'
    head -c 4 '$dir/blob' | cmp - '$dir/id'"
check "openssl signs the same bytes (Ed25519 is deterministic)" sh -c "
    openssl pkeyutl -sign -inkey '$dir/key.pem' -rawin -in '$dir/body' -out '$dir/sig2' && cmp '$dir/sig' '$dir/sig2'"
sed 's/^7$/8/' "$dir/body" >"$dir/body2"
refuse "openssl refuses the signature over a changed body" \
    openssl pkeyutl -verify -pubin -inkey "$dir/pub.pem" -rawin -in "$dir/body2" -sigfile "$dir/sig"
echo "1..$n"
exit $fail
