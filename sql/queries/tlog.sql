-- The verifiable log's read side (fcgi/api/tlog.c, api/tlog_records.c):
-- GET /proof/checkpoint, /proof/inclusion and /proof/consistency read the
-- seals and the stored Merkle nodes here; the sealed records themselves are
-- read with seal.sql's record statements (seal_record_<kind>,
-- seal_records_<kind>), the ones the encoding (domain/record.h) is defined on.

-- name: tlog_seal_latest
-- The latest seal: its number, tree size and signed checkpoint.
SELECT seal_no, tree_size, checkpoint FROM seals ORDER BY seal_no DESC LIMIT 1;

-- name: tlog_seal_at
-- The seal whose tree size is $1.
SELECT seal_no, tree_size, checkpoint FROM seals WHERE tree_size = $1;

-- name: tlog_node
-- One stored Merkle node: the root of the 2^$1 leaves from position $2 << $1.
SELECT hash FROM merkle_nodes WHERE level = $1 AND idx = $2;
