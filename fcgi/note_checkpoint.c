/*
 * note_checkpoint.c — the C2SP tlog-checkpoint body of the log: origin,
 * tree size, base64 root and the zerosum-state extension line. See note.h.
 */
#include "note.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next line of [*p, end) (without LF) into [*line, *line_end); 0, or -1 if no LF. */
static int next_line(const char **p, const char *end, const char **line, const char **line_end)
{
    const char *eol = memchr(*p, '\n', (size_t)(end - *p));

    if (*p >= end || eol == NULL)
        return -1;
    *line = *p;
    *line_end = eol;
    *p = eol + 1;
    return 0;
}

int note_checkpoint_parse(const char *body, size_t len, struct checkpoint *out)
{
    const char *p = body, *end = body + len, *l, *le;
    static const char ext[] = "zerosum-state ";
    unsigned char root[34];
    uint64_t size = 0;
    size_t n;

    if (body == NULL || out == NULL || !note_text_ok(body, len))
        return -1;
    memset(out, 0, sizeof *out);
    if (next_line(&p, end, &l, &le) != 0 || le == l || (size_t)(le - l) >= sizeof out->origin)
        return -1;
    memcpy(out->origin, l, (size_t)(le - l));
    if (next_line(&p, end, &l, &le) != 0 || le == l || (le - l > 1 && *l == '0') || le - l > 20)
        return -1;
    for (; l < le; l++) {
        if (*l < '0' || *l > '9' || size > (UINT64_MAX - (uint64_t)(*l - '0')) / 10)
            return -1;
        size = size * 10 + (uint64_t)(*l - '0');
    }
    out->size = size;
    if (next_line(&p, end, &l, &le) != 0
        || note_b64_decode(l, (size_t)(le - l), root, sizeof root) != 32)
        return -1;
    memcpy(out->root, root, 32);
    n = strlen(ext);
    if (next_line(&p, end, &l, &le) != 0 || (size_t)(le - l) != n + 64 || memcmp(l, ext, n) != 0)
        return -1;
    for (l += n; l < le; l++)
        if (!strchr("0123456789abcdef", *l))
            return -1;
    for (n = 0; n < 32; n++) {
        unsigned int v;
        sscanf(le - 64 + 2 * n, "%2x", &v);
        out->state[n] = (unsigned char)v;
    }
    return p == end ? 0 : -1;
}

char *note_checkpoint_body(const struct checkpoint *c)
{
    char root[45], state[65], *out;
    size_t need, i;

    if (c == NULL || c->origin[0] == '\0' || memchr(c->origin, '\0', sizeof c->origin) == NULL)
        return NULL;
    for (i = 0; c->origin[i] != '\0'; i++)
        if ((unsigned char)c->origin[i] < 0x20 || c->origin[i] == 0x7f)
            return NULL;
    note_b64_encode(c->root, 32, root);
    for (i = 0; i < 32; i++)
        snprintf(state + 2 * i, 3, "%02x", c->state[i]);
    need = strlen(c->origin) + 1 + 21 + 1 + 44 + 1 + 14 + 64 + 2;
    out = malloc(need);
    if (out != NULL)
        snprintf(out, need, "%s\n%" PRIu64 "\n%s\nzerosum-state %s\n", c->origin, c->size, root,
                 state);
    return out;
}
