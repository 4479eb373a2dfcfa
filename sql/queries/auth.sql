-- Bearer tokens (fcgi/api/auth.c).

-- name: auth_token_revoked
-- The revocation check, first in every authenticated request's first round
-- trip: no row changes; it answers one row, and fails (SQLSTATE 22P02, the
-- text cast) when the token's iat ($2) is before its subject's ($1) or the
-- global ('*') revocation time, which stops the transaction before anything
-- else runs.
SELECT CASE WHEN max(valid_after) > $2::bigint
            THEN ('token_revoked ' || max(valid_after))::bigint END
FROM token_revocations WHERE subject IN ($1::text, '*');
