/*
 * witness.c — hand the latest checkpoint to the witness directory (see
 * witness.h).
 */
#include "domain/witness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "store/db.h"

struct latest {
    int64_t size;
    char *note;
};

static enum tx_decision latest_tx(struct tx *tx, void *arg)
{
    struct latest *l = arg;
    PGresult *res = tx_exec_named(tx, SQL_TLOG_SEAL_LATEST, NULL);

    if (!res)
        return TX_ERROR;
    free(l->note);
    l->note = NULL;
    l->size = 0;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 2)) {
        l->size = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        l->note = strdup(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return TX_COMMIT;
}

/* Write text to dir/name through a temporary file and rename(). 0, or -1. */
static int write_file(const char *dir, const char *name, const char *text)
{
    char tmp[ZS_PATH_MAX + 64], path[ZS_PATH_MAX + 64];
    size_t len = strlen(text);
    int fd, rc = -1;

    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, name, (long)getpid());
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("witness: cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write(fd, text, len) == (ssize_t)len && fsync(fd) == 0)
        rc = 0;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        log_error("witness: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

/* Run git with argv (no shell) in dir, quietly. 0 when it exits 0. */
static int run_git(char *const argv[])
{
    pid_t pid = fork();
    int st;

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        execvp("git", argv);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/*
 * Commit latest and the checkpoints when dir is a git work tree (every
 * checkpoint file not committed yet: those written before it became one,
 * or while a commit failed, too).
 */
static int commit_git(const char *dir, int64_t size)
{
    char dotgit[ZS_PATH_MAX + 8], msg[64], d[ZS_PATH_MAX];
    struct stat st;

    snprintf(dotgit, sizeof(dotgit), "%s/.git", dir);
    if (stat(dotgit, &st) != 0)
        return 0;
    snprintf(d, sizeof(d), "%s", dir);
    snprintf(msg, sizeof(msg), "zerosum checkpoint %lld", (long long)size);
    char *add[] = { "git", "-C", d, "add", "--", "latest", "checkpoints", NULL };
    char *commit[] = {
        "git", "-C", d,   "-c", "user.name=zerosum", "-c", "user.email=zerosum@localhost", "commit",
        "-q",  "-m", msg, NULL
    };
    /* nothing staged: these checkpoints are committed already (a restarted
     * jobs child hands over the latest again); git commit would fail */
    char *staged[] = { "git", "-C", d, "diff", "--cached", "--quiet", "--", NULL };
    int added = run_git(add) == 0;

    if (added && run_git(staged) == 0)
        return 0;
    if (!added || run_git(commit) != 0) {
        log_error("witness: git commit in %s failed", dir);
        return -1;
    }
    return 0;
}

int witness_latest(const struct zs_config *cfg, int64_t *last_size)
{
    struct db_session s;
    struct latest l = { 0, NULL };
    enum tx_decision d;
    char sub[ZS_PATH_MAX + 16], file[96];
    int rc = 0;

    if (!cfg->witness_dir[0])
        return 0;
    db_session_init(&s, cfg, "jobs-witness", EP_PROOF);
    if (tx_run(&s, TX_READ_ONLY, latest_tx, &l, &d) != TX_RESULT_DONE) {
        free(l.note);
        return -1;
    }
    if (!l.note || l.size <= *last_size) {
        free(l.note);
        return 0;
    }
    snprintf(sub, sizeof(sub), "%s/checkpoints", cfg->witness_dir);
    if (mkdir(cfg->witness_dir, 0755) != 0 && errno != EEXIST)
        rc = -1;
    if (rc == 0 && mkdir(sub, 0755) != 0 && errno != EEXIST)
        rc = -1;
    snprintf(file, sizeof(file), "%lld", (long long)l.size);
    if (rc == 0)
        rc = write_file(sub, file, l.note);
    if (rc == 0)
        rc = write_file(cfg->witness_dir, "latest", l.note);
    if (rc == 0)
        rc = commit_git(cfg->witness_dir, l.size);
    if (rc == 0)
        *last_size = l.size;
    else
        log_error("witness: checkpoint %lld not handed to %s", (long long)l.size, cfg->witness_dir);
    free(l.note);
    return rc == 0 ? 1 : -1;
}
