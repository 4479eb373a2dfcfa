"""RFC 9162 section 2.1 Merkle trees, written from the RFC's text with hashlib only.

An independent implementation for the tests: it shares no code with the
server's C (fcgi/merkle.c). Hashes are bytes; leaves are given as leaf hashes
(a list of 32-byte values), so callers hash records with leaf_hash() first.

- mth(leaves)                          2.1.1  Merkle Tree Hash
- inclusion_path(m, leaves)            2.1.3.1 PATH(m, D[n])
- verify_inclusion(i, n, leaf, path, root)    2.1.3.2
- consistency_proof(m, leaves)         2.1.4.1 PROOF(m, D[n])
- verify_consistency(m, n, r1, r2, proof)     2.1.4.2
"""

import hashlib


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes (the empty tree: SHA-256 of nothing)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _k(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m: int, leaves: list) -> list:
    """PATH(m, D[n]): the audit path for leaf m, leaf side first."""
    n = len(leaves)
    if not 0 <= m < n:
        raise ValueError("index out of range")
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def _subproof(m: int, leaves: list, b: bool) -> list:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = _k(n)
    if m <= k:
        return _subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_proof(m: int, leaves: list) -> list:
    """PROOF(m, D[n]) for 0 < m <= n (empty when m == n)."""
    if not 0 < m <= len(leaves):
        raise ValueError("sizes out of range")
    return _subproof(m, leaves, True)


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: list, root: bytes) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                       proof: list) -> bool:
    """RFC 9162 2.1.4.2 for 0 < first < second; first == second holds iff the proof is
    empty and the roots are equal."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of 2
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
