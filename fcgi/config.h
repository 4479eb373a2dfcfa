/*
 * config.h — settings of the zerosum daemon.
 *
 * Settings live in one table (name, type, default, reloadable) in config.c,
 * read from a `key = value` file. The supervisor loads the file at start and
 * again on SIGHUP; workers inherit the parsed struct across fork().
 */
#ifndef ZS_CONFIG_H
#define ZS_CONFIG_H

#include <stddef.h>

enum zs_policy { ZS_POLICY_PER_REQUEST, ZS_POLICY_PER_WORKER };
enum zs_dialect { ZS_DIALECT_POSTGRES, ZS_DIALECT_DSQL };

#define ZS_PATH_MAX 512
#define ZS_MAX_POOLS 8

struct zs_pool_conf {
    char name[16];
    int size;
};

struct zs_config {
    char var_dir[ZS_PATH_MAX];
    char socket_dir[ZS_PATH_MAX];
    char pid_file[ZS_PATH_MAX];
    char log_file[ZS_PATH_MAX];
    char access_log[ZS_PATH_MAX];
    char jwt_secret_file[ZS_PATH_MAX]; /* the bearer-token key ring (jwt.h) */
    char jwt_issuer[64];               /* "iss" every token must carry */
    char jwt_audience[64];             /* "aud" every token must carry (or list) */
    int jwt_leeway;                    /* seconds iat/nbf may lie ahead (clock skew) */
    int jwt_max_lifetime;              /* seconds, longest exp - iat accepted */
    char log_level[16];

    /* database */
    char db_host[ZS_PATH_MAX];
    int db_port;
    char db_name[64];
    char db_user[64];
    char db_password_file[ZS_PATH_MAX];
    char db_sslmode[32];
    char db_sslrootcert[ZS_PATH_MAX];
    int db_connect_timeout;
    char db_token_provider[16]; /* static | dsql | rds */
    char aws_region[32];
    int token_expires;
    enum zs_policy connection_policy;
    int connection_max_lifetime; /* seconds, per-worker policy */
    int prepared_statements;     /* per-worker: 1 = named prepared statements */
    enum zs_dialect dialect;

    /* transactions */
    int tx_max_attempts;
    int tx_backoff_base_ms;
    int tx_backoff_max_ms;

    /* requests */
    int body_max;
    int header_max;
    int json_max_depth;
    int max_requests;
    int retry_after;         /* seconds, sent with 503 */
    int idempotency_ttl;     /* seconds */
    int idempotency_wait_ms; /* postgres: wait for a concurrent claim of a key */
    int resolve_lease;       /* seconds a resolution's owner is presumed alive */
    int idempotency_purge_batch;

    /* processes */
    char stampede_script[ZS_PATH_MAX]; /* scripts/stampede, run for POST /proof/runs */
    int drain_timeout;                 /* seconds for SIGQUIT before TERM */
    int jobs_interval_ms;
    /* nginx is reloaded when this log says a worker died; "": not watched */
    char nginx_error_log[ZS_PATH_MAX];
    int respawn_window; /* crash-loop throttle: window seconds */
    int respawn_max;    /* deaths per window before throttling */

    /* the full pass (domain/fullpass.c) */
    int full_audit_chunk_rows; /* rows streamed between two yields */
    int full_audit_yield_ms;   /* the pause between chunks (low priority) */
    int full_audit_timeout_ms; /* statement_timeout of the pass's statements (postgres) */
    int full_audit_nice;       /* CPU niceness of the pass and its own backends; 0: unchanged */
    /* sealing (domain/seal.h, docs/PROOF-FORMAT.md) */
    int seal_interval_ms; /* the jobs child seals this often; 0: never */
    int seal_batch_rows;  /* rows one seal may write, all counted */
    /* the verifiable log */
    char log_origin[128];           /* checkpoint origin line = signing key name */
    char log_key_file[ZS_PATH_MAX]; /* Ed25519 PEM, 0600, created on first use */
    char witness_dir[ZS_PATH_MAX];  /* hand each new checkpoint to a witness here; "": none */
    /* the live /proof's bounds (checks sealer_keeps_up, full_audit_passed) */
    int seal_backlog_max_s;    /* oldest sealable row left unsealed, seconds */
    int full_audit_interval_s; /* longest time without a passed full pass, seconds; the jobs
                                * child starts one when the last finished is older */
    /* live events: the publisher (domain/publish.h) and webhooks */
    int events_poll_ms;     /* the publisher's poll interval; 0: no publisher */
    int events_batch;       /* events ordered and published per transaction */
    int events_coalesce_ms; /* while events flow, a round starts at most this often */
    int events_buffer;      /* nchan_message_buffer_length of nginx's publisher location */
    int events_buffer_s;    /* nchan_message_timeout of it, seconds */
    int events_retention_s; /* events older than this (and published) are purged */
    int events_purge_batch; /* rows deleted per purge transaction */
    int webhook_timeout_ms; /* one delivery attempt's bound */
    int webhook_max_age_s;  /* deliveries are retried for this long, then given up */

    struct zs_pool_conf pools[ZS_MAX_POOLS];
    int npools;
};

/* Fill cfg with defaults. */
void config_defaults(struct zs_config *cfg);

/*
 * Read `key = value` lines from path into cfg (on top of what cfg holds).
 * Returns 0, or -1 with a message naming the file and line in err.
 */
int config_load(struct zs_config *cfg, const char *path, char *err, size_t errlen);

/* Pool size by name, or -1 if no such pool. */
int config_pool_index(const struct zs_config *cfg, const char *name);

const char *config_policy_name(enum zs_policy p);
const char *config_dialect_name(enum zs_dialect d);

#endif
