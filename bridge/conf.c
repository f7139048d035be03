/* Configuration loader, help and dump, all driven by the option table in
 * conf_opts.c.  YAML comes from libyaml's document API: the whole document
 * is composed first, then its nodes are walked against the table, so every
 * problem can be reported with its line and column, all in one go. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "adapters/adapter.h"
#include "bridge/conf.h"

#define CONF_MAX_FILE_BYTES (1024 * 1024)
#define ERR_OMIT_RESERVE    48  /* errstr room kept for the omitted line */
#define ERR_LINE_MAX        512 /* one message, before the origin */
#define SHOW_MAX            40  /* bytes of a bad value quoted back */
#define PATH_MAX_LEN        128 /* longest option path we look up */
#define VAR_NAME_MAX        128
#define GROUPS_MAX          16
#define PROPERTY_NAME_MAX   256
#define YAML_MAX_DEPTH      64     /* a configuration needs about 4 */
#define YAML_MAX_NODES      100000 /* and a few hundred nodes */

/* 1-based; line 0 means "nowhere yet". */
struct pos {
        int line;
        int col;
};

/* Per table row, while loading. */
struct seen {
        struct pos at; /* where its key was written */
        int valued;    /* given a non-null value */
        int bad;       /* that value was refused */
};

/* A table applied to one YAML map: the top level, or one route. */
struct scope {
        const struct br_conf_opt *opts;
        void *base;        /* struct the rows' offsets point into */
        struct seen *seen; /* one per row */
        const char *disp;  /* prefix for messages: "" or "routes[2]." */
        struct pos at;     /* missing keys are reported here */
};

struct errs {
        char *buf;
        size_t size;
        size_t len;
        unsigned cnt;
        unsigned omitted;
        const char *origin;
};

/* A nested map of the top level ("webhook"), for duplicate detection and
 * for reporting its missing options where it starts. */
struct group {
        char path[PATH_MAX_LEN];
        struct pos at;
};

struct loader {
        struct br_conf *conf;
        yaml_document_t *doc;
        int flags;
        struct errs errs;
        struct group groups[GROUPS_MAX];
        size_t group_cnt;
        struct seen *route_seen; /* reused for each route */
        int oom;
};

static const char *const type_names[] = {
    [BR_T_STRING]   = "string",
    [BR_T_BOOL]     = "bool",
    [BR_T_INT]      = "int",
    [BR_T_DURATION] = "duration",
    [BR_T_SIZE]     = "size",
    [BR_T_ENUM]     = "enum",
    [BR_T_STRLIST]  = "string list",
    [BR_T_MAP]      = "string map",
    [BR_T_KINDS]    = "event kinds",
    [BR_T_ROUTES]   = "route list",
};

/* What a value of each type looks like, for "expected ..." messages. */
static const char *const type_expect[] = {
    [BR_T_STRING]   = "a string",
    [BR_T_BOOL]     = "true or false",
    [BR_T_INT]      = "an integer",
    [BR_T_DURATION] = "a duration like 10s",
    [BR_T_SIZE]     = "a size like 64K or 1M",
    [BR_T_ENUM]     = "one of",
    [BR_T_STRLIST]  = "a list of strings",
    [BR_T_MAP]      = "a map of strings",
    [BR_T_KINDS]    = "a list of event kinds",
    [BR_T_ROUTES]   = "a list of routes",
};

/* Substrings of kafka.properties names whose values are credentials. */
static const char *const secret_property_parts[] = {
    "password", "secret", ".pem", "oauthbearer.config", NULL};

/*
 * Error collection.
 */

static void errs_add_line(struct errs *e, const char *line) {
        size_t need = strlen(line) + (e->len ? 1 : 0);

        e->cnt++;
        if (!e->buf || !e->size)
                return;
        /* Keep room for the final "omitted" line so the reader always
         * learns that the list is incomplete. */
        if (e->omitted || e->len + need + 1 + ERR_OMIT_RESERVE > e->size) {
                if (e->len == 0 && e->size > ERR_OMIT_RESERVE + 1) {
                        /* Better a truncated first line than none. */
                        snprintf(e->buf, e->size - ERR_OMIT_RESERVE, "%s",
                                 line);
                        e->len = strlen(e->buf);
                        return;
                }
                e->omitted++;
                return;
        }
        snprintf(e->buf + e->len, e->size - e->len, "%s%s", e->len ? "\n" : "",
                 line);
        e->len += need;
}

static void errs_finish(struct errs *e) {
        if (!e->buf || !e->size)
                return;
        if (e->omitted)
                snprintf(e->buf + e->len, e->size - e->len,
                         "%s... %u more errors omitted", e->len ? "\n" : "",
                         e->omitted);
        else if (!e->cnt)
                e->buf[0] = '\0';
}

static void err_at(struct loader *L, struct pos at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_at(struct loader *L, struct pos at, const char *fmt, ...) {
        char msg[ERR_LINE_MAX];
        char line[ERR_LINE_MAX + 256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (at.line < 1)
                at.line = at.col = 1;
        snprintf(line, sizeof(line), "%.200s:%d:%d: %s", L->errs.origin,
                 at.line, at.col, msg);
        errs_add_line(&L->errs, line);
}

static void err_oom(struct loader *L) {
        char line[256];

        if (L->oom++)
                return;
        snprintf(line, sizeof(line), "%.200s: out of memory", L->errs.origin);
        errs_add_line(&L->errs, line);
}

/* Writes s as a double-quoted, escaped string for a message, cut with
 * "..." where out is full. */
static const char *show(char *out, size_t size, const char *s, size_t len) {
        size_t o = 0, i;

        if (size < 12) {
                if (size)
                        out[0] = '\0';
                return out;
        }
        out[o++] = '"';
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];

                /* Room for an escape, "...", the quote and the NUL. */
                if (o + 9 > size) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char)c;
                } else if (c < 0x20 || c == 0x7f) {
                        snprintf(out + o, size - o, "\\x%02x", c);
                        o += 4;
                } else {
                        out[o++] = (char)c;
                }
        }
        out[o++] = '"';
        out[o]   = '\0';
        return out;
}

/*
 * Small helpers over the table and libyaml.
 */

static size_t opt_cnt(const struct br_conf_opt *opts) {
        size_t n = 0;

        while (opts[n].name)
                n++;
        return n;
}

static const struct br_conf_opt *opt_find(const struct br_conf_opt *opts,
                                          const char *name) {
        for (; opts->name; opts++)
                if (!strcmp(opts->name, name))
                        return opts;
        return NULL;
}

/* Is path the parent of some option ("webhook" of "webhook.url")? */
static int opt_is_group(const struct br_conf_opt *opts, const char *path) {
        size_t n = strlen(path);

        for (; opts->name; opts++)
                if (!strncmp(opts->name, path, n) && opts->name[n] == '.')
                        return 1;
        return 0;
}

static void *field(void *base, size_t offset) {
        return (char *)base + offset;
}

static const void *cfield(const void *base, size_t offset) {
        return (const char *)base + offset;
}

static struct pos node_pos(const yaml_node_t *n) {
        struct pos p = {(int)n->start_mark.line + 1,
                        (int)n->start_mark.column + 1};
        return p;
}

static const char *node_desc(const yaml_node_t *n) {
        switch (n->type) {
        case YAML_MAPPING_NODE:
                return "a map";
        case YAML_SEQUENCE_NODE:
                return "a list";
        default:
                return "a scalar";
        }
}

static int is_null(const yaml_node_t *n) {
        const char *v;

        if (n->type != YAML_SCALAR_NODE ||
            n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return 0;
        v = (const char *)n->data.scalar.value;
        return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") ||
               !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int valid_var_name(const char *s, size_t len) {
        size_t i;

        if (!len || len >= VAR_NAME_MAX || isdigit((unsigned char)s[0]))
                return 0;
        for (i = 0; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_')
                        return 0;
        return 1;
}

/* Appends n bytes to a growing buffer; -1 when memory runs out. */
static int buf_add(char **buf, size_t *len, size_t *cap, const char *s,
                   size_t n) {
        if (*len + n + 1 > *cap) {
                size_t ncap = (*len + n + 1) * 2;
                char *nbuf  = realloc(*buf, ncap);

                if (!nbuf)
                        return -1;
                *buf = nbuf;
                *cap = ncap;
        }
        memcpy(*buf + *len, s, n);
        *len += n;
        (*buf)[*len] = '\0';
        return 0;
}

/* The scalar's text with ${VAR} replaced from the environment and $${
 * written as a literal ${.  Returns a malloc'd string, or NULL after
 * reporting every problem (under name, at the node). */
static char *scalar_text(struct loader *L, const char *name,
                         const yaml_node_t *n) {
        const char *s = (const char *)n->data.scalar.value;
        size_t len    = n->data.scalar.length;
        size_t i = 0, olen = 0, cap = len + 1;
        char *out  = malloc(cap);
        int failed = 0;

        if (!out) {
                err_oom(L);
                return NULL;
        }
        out[0] = '\0';
        if (memchr(s, '\0', len)) {
                err_at(L, node_pos(n), "%s: contains a NUL character", name);
                goto fail;
        }
        while (i < len) {
                const char *close, *val;
                char var[VAR_NAME_MAX];
                size_t vlen;

                if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' &&
                    s[i + 2] == '{') {
                        if (buf_add(&out, &olen, &cap, "${", 2) == -1)
                                goto oom;
                        i += 3;
                        continue;
                }
                if (s[i] != '$' || i + 1 >= len || s[i + 1] != '{') {
                        if (buf_add(&out, &olen, &cap, s + i, 1) == -1)
                                goto oom;
                        i++;
                        continue;
                }
                close = memchr(s + i + 2, '}', len - i - 2);
                if (!close) {
                        err_at(L, node_pos(n),
                               "%s: unterminated ${ (write $${ for a "
                               "literal ${)",
                               name);
                        goto fail;
                }
                vlen = (size_t)(close - (s + i + 2));
                if (!valid_var_name(s + i + 2, vlen)) {
                        char shown[SHOW_MAX + 16];

                        err_at(L, node_pos(n),
                               "%s: bad environment variable name %s", name,
                               show(shown, sizeof(shown), s + i + 2, vlen));
                        failed = 1;
                } else {
                        memcpy(var, s + i + 2, vlen);
                        var[vlen] = '\0';
                        val       = getenv(var);
                        if (!val) {
                                err_at(L, node_pos(n),
                                       "%s: environment variable \"%s\" is "
                                       "not set",
                                       name, var);
                                failed = 1;
                        } else if (buf_add(&out, &olen, &cap, val,
                                           strlen(val)) == -1) {
                                goto oom;
                        }
                }
                i = (size_t)(close - s) + 1;
        }
        if (failed)
                goto fail;
        return out;
oom:
        err_oom(L);
fail:
        free(out);
        return NULL;
}

/*
 * Typed values.
 */

static void fmt_duration(int64_t ms, char *buf, size_t size) {
        if (ms != 0 && ms % (3600 * 1000) == 0)
                snprintf(buf, size, "%" PRId64 "h", ms / (3600 * 1000));
        else if (ms != 0 && ms % (60 * 1000) == 0)
                snprintf(buf, size, "%" PRId64 "m", ms / (60 * 1000));
        else if (ms % 1000 == 0)
                snprintf(buf, size, "%" PRId64 "s", ms / 1000);
        else
                snprintf(buf, size, "%" PRId64 "ms", ms);
}

static void fmt_size(int64_t n, char *buf, size_t size) {
        static const char units[] = "GMK";
        int i;

        for (i = 0; i < 3 && n != 0; i++) {
                int64_t unit = (int64_t)1 << (10 * (3 - i));

                if (n % unit == 0) {
                        snprintf(buf, size, "%" PRId64 "%c", n / unit,
                                 units[i]);
                        return;
                }
        }
        snprintf(buf, size, "%" PRId64, n);
}

/* Digits only (no sign, no space), then *end points past them. */
static int parse_digits(const char *s, int64_t *v, const char **end) {
        char *e;
        long long x;

        if (!isdigit((unsigned char)s[0]))
                return -1;
        errno = 0;
        x     = strtoll(s, &e, 10);
        *v    = errno == ERANGE ? INT64_MAX : (int64_t)x;
        *end  = e;
        return 0;
}

/* Saturates: a huge value then fails the range check. */
static int64_t mul_sat(int64_t v, int64_t m) {
        return v > INT64_MAX / m ? INT64_MAX : v * m;
}

static int parse_duration(const char *s, int64_t *ms) {
        static const struct {
                const char *unit;
                int64_t ms;
        } units[] = {
            {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
        const char *end;
        int64_t v;
        size_t i;

        if (parse_digits(s, &v, &end) == -1)
                return -1;
        if (!*end && v == 0) { /* zero needs no unit */
                *ms = 0;
                return 0;
        }
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (!strcmp(end, units[i].unit)) {
                        *ms = mul_sat(v, units[i].ms);
                        return 0;
                }
        return -1;
}

static int parse_size(const char *s, int64_t *bytes) {
        const char *end;
        int64_t v;
        int shift;

        if (parse_digits(s, &v, &end) == -1)
                return -1;
        switch (*end) {
        case '\0':
                shift = 0;
                break;
        case 'K':
        case 'k':
                shift = 10;
                break;
        case 'M':
        case 'm':
                shift = 20;
                break;
        case 'G':
        case 'g':
                shift = 30;
                break;
        default:
                return -1;
        }
        if (shift && end[1])
                return -1;
        *bytes = mul_sat(v, (int64_t)1 << shift);
        return 0;
}

static int parse_int(const char *s, int64_t *v) {
        const char *end;
        int neg = s[0] == '-';

        if (parse_digits(s + neg, v, &end) == -1 || *end)
                return -1;
        if (neg)
                *v = -*v;
        return 0;
}

static int parse_bool(const char *s, int *v) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
                *v = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "False") ||
                 !strcmp(s, "FALSE"))
                *v = 0;
        else
                return -1;
        return 0;
}

static int url_ok(const char *s) {
        size_t n = 0;

        if (!strncasecmp(s, "http://", 7))
                n = 7;
        else if (!strncasecmp(s, "https://", 8))
                n = 8;
        if (!n || !s[n] || s[n] == '/')
                return 0;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7f)
                        return 0;
        return 1;
}

static void fmt_number(const struct br_conf_opt *o, int64_t v, char *buf,
                       size_t size) {
        if (o->type == BR_T_DURATION)
                fmt_duration(v, buf, size);
        else if (o->type == BR_T_SIZE)
                fmt_size(v, buf, size);
        else
                snprintf(buf, size, "%" PRId64, v);
}

static void join_names(const char *const *names, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (; *names && len < size; names++) {
                snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
                         *names);
                len += strlen(buf + len);
        }
}

static void join_kinds(char *buf, size_t size) {
        const char *names[BR_KIND__CNT + 1];
        int k;

        for (k = 0; k < BR_KIND__CNT; k++)
                names[k] = br_kind_name((enum br_event_kind)k);
        names[BR_KIND__CNT] = NULL;
        join_names(names, buf, size);
}

/* Adds the named kind to *set.  Returns -1 with why on an unknown name. */
static int add_kind(const char *name, unsigned *set, char *why, size_t size) {
        int k = br_kind_parse(name);
        char shown[SHOW_MAX + 16], kinds[256];

        if (k >= 0) {
                *set |= BR_KIND_BIT(k);
                return 0;
        }
        join_kinds(kinds, sizeof(kinds));
        snprintf(why, size, "unknown event kind %s (expected one of %s)",
                 show(shown, sizeof(shown), name, strlen(name)), kinds);
        return -1;
}

/* Parses text as a scalar option into base.  Returns 0, -1 with why (the
 * message after "name: "), or -2 when memory runs out. */
static int parse_scalar(const struct br_conf_opt *o, const char *text,
                        void *base, char *why, size_t size) {
        char shown[SHOW_MAX + 16], lo[32], hi[32], names[256];
        const char *got = show(shown, sizeof(shown), text, strlen(text));
        int64_t v;
        int b;

        /* A secret is never quoted back, whatever went wrong. */
        if (o->flags & BR_O_SECRET)
                got = "(hidden)";

        switch (o->type) {
        case BR_T_STRING: {
                char **p = field(base, o->offset);
                char *copy;

                if (!*text) {
                        snprintf(why, size,
                                 "must not be empty (omit the key to "
                                 "leave it unset)");
                        return -1;
                }
                if ((o->flags & BR_O_URL) && !url_ok(text)) {
                        snprintf(why, size,
                                 "expected an http:// or https:// URL");
                        return -1;
                }
                if (!(copy = strdup(text)))
                        return -2;
                free(*p);
                *p = copy;
                return 0;
        }
        case BR_T_BOOL:
                if (parse_bool(text, &b) == -1) {
                        snprintf(why, size, "expected true or false, got %s",
                                 got);
                        return -1;
                }
                *(int *)field(base, o->offset) = b;
                return 0;
        case BR_T_ENUM:
                for (b = 0; o->enums[b]; b++)
                        if (!strcmp(o->enums[b], text)) {
                                *(int *)field(base, o->offset) = b;
                                return 0;
                        }
                join_names(o->enums, names, sizeof(names));
                snprintf(why, size, "expected one of %s, got %s", names, got);
                return -1;
        case BR_T_KINDS: {
                unsigned set = 0; /* a default: one kind */

                if (add_kind(text, &set, why, size) == -1)
                        return -1;
                *(unsigned *)field(base, o->offset) = set;
                return 0;
        }
        case BR_T_INT:
        case BR_T_DURATION:
        case BR_T_SIZE:
                break;
        default:
                snprintf(why, size, "expected %s", type_expect[o->type]);
                return -1;
        }

        if ((o->type == BR_T_INT && parse_int(text, &v) == -1) ||
            (o->type == BR_T_DURATION && parse_duration(text, &v) == -1) ||
            (o->type == BR_T_SIZE && parse_size(text, &v) == -1)) {
                snprintf(why, size, "expected %s, got %s", type_expect[o->type],
                         got);
                return -1;
        }
        if (v < o->min || v > o->max) {
                fmt_number(o, o->min, lo, sizeof(lo));
                fmt_number(o, o->max, hi, sizeof(hi));
                snprintf(why, size, "%s is out of range %s..%s",
                         o->flags & BR_O_SECRET ? got : text, lo, hi);
                return -1;
        }
        if (o->type == BR_T_INT)
                *(int *)field(base, o->offset) = (int)v;
        else
                *(int64_t *)field(base, o->offset) = v;
        return 0;
}

/* Frees what one row owns in base and resets it to empty. */
static void clear_value(const struct br_conf_opt *o, void *base) {
        size_t *cnt = field(base, o->cnt_offset); /* lists and maps only */
        size_t i;

        switch (o->type) {
        case BR_T_STRING: {
                char **p = field(base, o->offset);

                free(*p);
                *p = NULL;
                break;
        }
        case BR_T_STRLIST: {
                char ***p = field(base, o->offset);

                for (i = 0; i < *cnt; i++)
                        free((*p)[i]);
                free(*p);
                *p   = NULL;
                *cnt = 0;
                break;
        }
        case BR_T_MAP: {
                struct br_kv **p = field(base, o->offset);

                for (i = 0; i < *cnt; i++) {
                        free((*p)[i].key);
                        free((*p)[i].value);
                }
                free(*p);
                *p   = NULL;
                *cnt = 0;
                break;
        }
        case BR_T_ROUTES: {
                struct br_route **p = field(base, o->offset);
                const struct br_conf_opt *r;

                for (i = 0; i < *cnt; i++)
                        for (r = br_conf_route_opts; r->name; r++)
                                clear_value(r, &(*p)[i]);
                free(*p);
                *p   = NULL;
                *cnt = 0;
                break;
        }
        default:
                break;
        }
}

/*
 * The walk.
 */

static void walk_map(struct loader *L, struct scope *sc, const yaml_node_t *map,
                     const char *rel);

static yaml_node_t *node_at(struct loader *L, int index) {
        return yaml_document_get_node(L->doc, index);
}

/* Reports a refused value and marks the row bad. */
static void refuse(struct loader *L, struct seen *s, struct pos at,
                   const char *name, const char *why) {
        s->bad = 1;
        err_at(L, at, "%s: %s", name, why);
}

static void refuse_type(struct loader *L, struct seen *s,
                        const struct br_conf_opt *o, const char *name,
                        const yaml_node_t *v) {
        char why[300], names[256];

        if (o->type == BR_T_ENUM) {
                join_names(o->enums, names, sizeof(names));
                snprintf(why, sizeof(why), "expected one of %s, got %s", names,
                         node_desc(v));
        } else {
                snprintf(why, sizeof(why), "expected %s, got %s",
                         type_expect[o->type], node_desc(v));
        }
        refuse(L, s, node_pos(v), name, why);
}

/* Checks a list node's length against the row's bounds. */
static int list_len_ok(struct loader *L, struct seen *s,
                       const struct br_conf_opt *o, const char *name,
                       const yaml_node_t *v, size_t n) {
        char why[128];

        if ((int64_t)n < o->min) {
                snprintf(why, sizeof(why),
                         "expected at least %" PRId64 " item%s", o->min,
                         o->min == 1 ? "" : "s");
                refuse(L, s, node_pos(v), name, why);
                return 0;
        }
        if (o->max && (int64_t)n > o->max) {
                snprintf(why, sizeof(why), "more than %" PRId64 " items",
                         o->max);
                refuse(L, s, node_pos(v), name, why);
                return 0;
        }
        return 1;
}

/* A list item or map value that must be a non-null scalar. */
static char *item_text(struct loader *L, struct seen *s, const char *name,
                       const yaml_node_t *item) {
        char *text;

        if (item->type != YAML_SCALAR_NODE || is_null(item)) {
                s->bad = 1;
                err_at(L, node_pos(item), "%s: expected a string, got %s", name,
                       is_null(item) ? "null" : node_desc(item));
                return NULL;
        }
        if (!(text = scalar_text(L, name, item)))
                s->bad = 1;
        else if (!*text) {
                refuse(L, s, node_pos(item), name, "must not be empty");
                free(text);
                text = NULL;
        }
        return text;
}

static void set_strlist(struct loader *L, struct scope *sc,
                        const struct br_conf_opt *o, struct seen *s,
                        const char *name, const yaml_node_t *v) {
        const yaml_node_item_t *it = v->data.sequence.items.start;
        size_t n                   = (size_t)(v->data.sequence.items.top - it);
        char ***list               = field(sc->base, o->offset);
        size_t *cnt                = field(sc->base, o->cnt_offset);
        size_t i;

        if (!list_len_ok(L, s, o, name, v, n))
                return;
        clear_value(o, sc->base);
        if (n && !(*list = calloc(n, sizeof(**list)))) {
                err_oom(L);
                return;
        }
        for (i = 0; i < n; i++) {
                const yaml_node_t *item = node_at(L, it[i]);
                char iname[PATH_MAX_LEN * 2 + 32];
                char *text;

                if (!item)
                        continue;
                snprintf(iname, sizeof(iname), "%s[%zu]", name, i);
                if ((text = item_text(L, s, iname, item)))
                        (*list)[(*cnt)++] = text;
        }
}

/* A map key, sanitised for messages. */
static void key_name(char *out, size_t size, const char *prefix,
                     const yaml_node_t *k) {
        size_t o = (size_t)snprintf(out, size, "%s.", prefix);
        size_t i;

        for (i = 0; i < k->data.scalar.length && o + 1 < size; i++) {
                unsigned char c = k->data.scalar.value[i];

                out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        if (o < size)
                out[o] = '\0';
}

static void set_map(struct loader *L, struct scope *sc,
                    const struct br_conf_opt *o, struct seen *s,
                    const char *name, const yaml_node_t *v) {
        const yaml_node_pair_t *p = v->data.mapping.pairs.start;
        size_t n                  = (size_t)(v->data.mapping.pairs.top - p);
        struct br_kv **kvs        = field(sc->base, o->offset);
        size_t *cnt               = field(sc->base, o->cnt_offset);
        size_t i, j;

        if (!list_len_ok(L, s, o, name, v, n))
                return;
        clear_value(o, sc->base);
        if (n && !(*kvs = calloc(n, sizeof(**kvs)))) {
                err_oom(L);
                return;
        }
        for (i = 0; i < n; i++) {
                const yaml_node_t *k   = node_at(L, p[i].key);
                const yaml_node_t *val = node_at(L, p[i].value);
                char kname[PATH_MAX_LEN + 64], shown[SHOW_MAX + 16];
                struct br_kv *kv = &(*kvs)[*cnt];
                const char *key;
                int dup = 0;

                if (!k || !val)
                        continue;
                /* Long names cannot be dumped as YAML simple keys, and no
                 * librdkafka property comes close. */
                if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length ||
                    k->data.scalar.length > PROPERTY_NAME_MAX ||
                    memchr(k->data.scalar.value, '\0', k->data.scalar.length)) {
                        refuse(L, s, node_pos(k), name,
                               "expected a property name");
                        continue;
                }
                key = (const char *)k->data.scalar.value;
                key_name(kname, sizeof(kname), name, k);
                for (j = 0; o->enums && o->enums[j]; j++)
                        if (!strcmp(o->enums[j], key))
                                break;
                if (o->enums && o->enums[j]) {
                        char why[200];

                        snprintf(why, sizeof(why),
                                 "%s is owned by bucketbridge and cannot "
                                 "be set here",
                                 show(shown, sizeof(shown), key,
                                      k->data.scalar.length));
                        refuse(L, s, node_pos(k), name, why);
                        continue;
                }
                /* Against every earlier key, refused ones included. */
                for (j = 0; j < i; j++) {
                        const yaml_node_t *pk = node_at(L, p[j].key);

                        dup |=
                            pk && pk->type == YAML_SCALAR_NODE &&
                            pk->data.scalar.length == k->data.scalar.length &&
                            !memcmp(pk->data.scalar.value, key,
                                    k->data.scalar.length);
                }
                if (dup) {
                        s->bad = 1;
                        err_at(L, node_pos(k), "duplicate key \"%s\"", kname);
                        continue;
                }
                if (!(kv->value = item_text(L, s, kname, val)))
                        continue;
                if (!(kv->key = strdup(key))) {
                        free(kv->value);
                        kv->value = NULL;
                        err_oom(L);
                        continue;
                }
                kv->line = node_pos(k).line;
                kv->col  = node_pos(k).col;
                (*cnt)++;
        }
}

static void set_kinds(struct loader *L, struct scope *sc,
                      const struct br_conf_opt *o, struct seen *s,
                      const char *name, const yaml_node_t *v) {
        const yaml_node_item_t *it = v->data.sequence.items.start;
        size_t n                   = (size_t)(v->data.sequence.items.top - it);
        unsigned set               = 0;
        size_t i;
        int bad = 0;

        if (!list_len_ok(L, s, o, name, v, n))
                return;
        for (i = 0; i < n; i++) {
                const yaml_node_t *item = node_at(L, it[i]);
                char iname[PATH_MAX_LEN * 2 + 32], why[400];
                char *text;

                if (!item)
                        continue;
                snprintf(iname, sizeof(iname), "%s[%zu]", name, i);
                if (!(text = item_text(L, s, iname, item))) {
                        bad = 1;
                        continue;
                }
                if (add_kind(text, &set, why, sizeof(why)) == -1) {
                        refuse(L, s, node_pos(item), iname, why);
                        bad = 1;
                }
                free(text);
        }
        if (!bad)
                *(unsigned *)field(sc->base, o->offset) = set;
}

static void apply_defaults(struct loader *L, struct scope *sc);
static void check_required(struct loader *L, struct scope *sc);

static void set_routes(struct loader *L, struct scope *sc,
                       const struct br_conf_opt *o, struct seen *s,
                       const char *name, const yaml_node_t *v) {
        const yaml_node_item_t *it = v->data.sequence.items.start;
        size_t n                   = (size_t)(v->data.sequence.items.top - it);
        struct br_route **routes   = field(sc->base, o->offset);
        size_t *cnt                = field(sc->base, o->cnt_offset);
        size_t i, nopts = opt_cnt(br_conf_route_opts);

        if (!list_len_ok(L, s, o, name, v, n))
                return;
        clear_value(o, sc->base);
        if (n && !(*routes = calloc(n, sizeof(**routes)))) {
                err_oom(L);
                return;
        }
        /* Every entry is zeroed, so destroy copes with a half-filled list. */
        *cnt = n;
        for (i = 0; i < n; i++) {
                const yaml_node_t *item = node_at(L, it[i]);
                struct br_route *r      = &(*routes)[i];
                char disp[PATH_MAX_LEN * 2 + 32];
                struct scope rs;

                r->index = i;
                if (!item)
                        continue;
                r->line = node_pos(item).line;
                snprintf(disp, sizeof(disp), "%s[%zu].", name, i);
                memset(L->route_seen, 0, nopts * sizeof(*L->route_seen));
                rs.opts = br_conf_route_opts;
                rs.base = r;
                rs.seen = L->route_seen;
                rs.disp = disp;
                rs.at   = node_pos(item);
                apply_defaults(L, &rs);
                if (item->type != YAML_MAPPING_NODE) {
                        s->bad = 1;
                        err_at(L, node_pos(item),
                               "%s[%zu]: expected a map, got %s", name, i,
                               is_null(item) ? "null" : node_desc(item));
                        continue;
                }
                walk_map(L, &rs, item, "");
                check_required(L, &rs);
        }
}

/* One option's key and value. */
static void set_option(struct loader *L, struct scope *sc,
                       const struct br_conf_opt *o, const yaml_node_t *k,
                       const yaml_node_t *v) {
        struct seen *s = &sc->seen[o - sc->opts];
        char name[PATH_MAX_LEN * 2], why[400];
        int scalar = o->type <= BR_T_ENUM;
        char *text;
        int rc;

        snprintf(name, sizeof(name), "%s%s", sc->disp, o->name);
        if (s->at.line) {
                err_at(L, node_pos(k), "duplicate key \"%s\"", name);
                return;
        }
        s->at = node_pos(k);
        if (is_null(v))
                return; /* as if absent: the default stays */
        s->valued = 1;

        if (scalar != (v->type == YAML_SCALAR_NODE) ||
            (o->type == BR_T_MAP && v->type != YAML_MAPPING_NODE) ||
            (!scalar && o->type != BR_T_MAP && v->type != YAML_SEQUENCE_NODE)) {
                refuse_type(L, s, o, name, v);
                return;
        }
        switch (o->type) {
        case BR_T_STRLIST:
                set_strlist(L, sc, o, s, name, v);
                return;
        case BR_T_MAP:
                set_map(L, sc, o, s, name, v);
                return;
        case BR_T_KINDS:
                set_kinds(L, sc, o, s, name, v);
                return;
        case BR_T_ROUTES:
                set_routes(L, sc, o, s, name, v);
                return;
        default:
                break;
        }
        if (!(text = scalar_text(L, name, v))) {
                s->bad = 1;
                return;
        }
        rc = parse_scalar(o, text, sc->base, why, sizeof(why));
        if (rc == -2)
                err_oom(L);
        else if (rc == -1)
                refuse(L, s, node_pos(v), name, why);
        free(text);
}

/* A nested map of options such as "webhook:". */
static void enter_group(struct loader *L, struct scope *sc,
                        const yaml_node_t *k, const yaml_node_t *v,
                        const char *path) {
        size_t i;

        for (i = 0; i < L->group_cnt; i++)
                if (!strcmp(L->groups[i].path, path)) {
                        err_at(L, node_pos(k), "duplicate key \"%s%s\"",
                               sc->disp, path);
                        return;
                }
        if (L->group_cnt < GROUPS_MAX) {
                snprintf(L->groups[L->group_cnt].path,
                         sizeof(L->groups[0].path), "%s", path);
                L->groups[L->group_cnt++].at = node_pos(k);
        }
        if (is_null(v))
                return; /* "webhook:" alone: its options are all unset */
        if (v->type != YAML_MAPPING_NODE) {
                err_at(L, node_pos(v), "%s%s: expected a map, got %s", sc->disp,
                       path, node_desc(v));
                return;
        }
        walk_map(L, sc, v, path);
}

/* "unknown option" with the full path, the key quoted as written. */
static void err_unknown(struct loader *L, const struct scope *sc,
                        const char *rel, const yaml_node_t *k) {
        char full[PATH_MAX_LEN + SHOW_MAX], shown[sizeof(full) + 16];
        size_t n    = (size_t)snprintf(full, sizeof(full) - SHOW_MAX, "%s%s%s",
                                       sc->disp, rel, *rel ? "." : "");
        size_t klen = k->data.scalar.length;

        if (n > sizeof(full) - SHOW_MAX - 1)
                n = sizeof(full) - SHOW_MAX - 1;
        if (klen > SHOW_MAX)
                klen = SHOW_MAX;
        memcpy(full + n, k->data.scalar.value, klen);
        err_at(L, node_pos(k), "unknown option %s",
               show(shown, sizeof(shown), full, n + klen));
}

static void walk_map(struct loader *L, struct scope *sc, const yaml_node_t *map,
                     const char *rel) {
        const yaml_node_pair_t *p;

        for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                const yaml_node_t *k = node_at(L, p->key);
                const yaml_node_t *v = node_at(L, p->value);
                const struct br_conf_opt *o;
                char path[PATH_MAX_LEN];
                size_t klen;
                int n;

                if (!k || !v)
                        continue;
                if (k->type != YAML_SCALAR_NODE) {
                        err_at(L, node_pos(k),
                               "%s%s%sexpected an option name, got %s",
                               sc->disp, rel, *sc->disp || *rel ? ": " : "",
                               node_desc(k));
                        continue;
                }
                klen = k->data.scalar.length;
                n    = snprintf(path, sizeof(path), "%s%s%.*s", rel,
                             *rel ? "." : "", (int)klen,
                                (const char *)k->data.scalar.value);
                /* A cut or NUL-bearing name must not match a real one. */
                if (n >= 0 && (size_t)n < sizeof(path) &&
                    !memchr(k->data.scalar.value, '\0', klen)) {
                        if ((o = opt_find(sc->opts, path))) {
                                set_option(L, sc, o, k, v);
                                continue;
                        }
                        if (opt_is_group(sc->opts, path)) {
                                enter_group(L, sc, k, v, path);
                                continue;
                        }
                }
                err_unknown(L, sc, rel, k);
        }
}

static void apply_defaults(struct loader *L, struct scope *sc) {
        const struct br_conf_opt *o;
        char why[400];

        for (o = sc->opts; o->name; o++) {
                int rc;

                if (!o->def)
                        continue;
                rc = parse_scalar(o, o->def, sc->base, why, sizeof(why));
                if (rc == -2)
                        err_oom(L);
                else if (rc == -1) /* a bug in conf_opts.c; tests catch */
                        err_at(L, sc->at, "%s%s: bad default: %s", sc->disp,
                               o->name, why);
        }
}

/* Where the map that should hold a missing option starts. */
static struct pos missing_pos(struct loader *L, struct scope *sc,
                              const char *name) {
        struct pos at = sc->at;
        size_t i, best = 0;

        for (i = 0; i < L->group_cnt; i++) {
                size_t n = strlen(L->groups[i].path);

                if (n > best && !strncmp(name, L->groups[i].path, n) &&
                    name[n] == '.') {
                        best = n;
                        at   = L->groups[i].at;
                }
        }
        return at;
}

static void check_required(struct loader *L, struct scope *sc) {
        const struct br_conf_opt *o;

        if (L->flags & BR_CONF_F_PARTIAL)
                return;
        for (o = sc->opts; o->name; o++) {
                const struct seen *s = &sc->seen[o - sc->opts];

                if ((o->flags & BR_O_REQUIRED) && !s->valued)
                        err_at(L,
                               s->at.line ? s->at : missing_pos(L, sc, o->name),
                               "%s%s: required", sc->disp, o->name);
        }
}

static const struct seen *seen_of(const struct scope *sc, const char *name) {
        const struct br_conf_opt *o = opt_find(sc->opts, name);

        return &sc->seen[o - sc->opts];
}

/* Every rule that involves more than one option. */
static void check_cross(struct loader *L, struct scope *sc) {
        const struct br_conf *c = L->conf;
        const struct seen *ib   = seen_of(sc, "retry.initial_backoff");
        const struct seen *mb   = seen_of(sc, "retry.max_backoff");
        const struct seen *dt   = seen_of(sc, "dead_letter.topic");
        const struct seen *df   = seen_of(sc, "dead_letter.file");
        const struct seen *dn   = seen_of(sc, "dead_letter.none");
        const struct seen *mf   = seen_of(sc, "webhook.max_in_flight");
        const struct seen *mp   = seen_of(sc, "webhook.max_pending");

        if (!ib->bad && !mb->bad &&
            c->retry.initial_backoff_ms > c->retry.max_backoff_ms) {
                char a[32], b[32];

                fmt_duration(c->retry.initial_backoff_ms, a, sizeof(a));
                fmt_duration(c->retry.max_backoff_ms, b, sizeof(b));
                err_at(L,
                       ib->at.line   ? ib->at
                       : mb->at.line ? mb->at
                                     : sc->at,
                       "retry.initial_backoff: %s is more than "
                       "retry.max_backoff (%s)",
                       a, b);
        }
        if (!mf->bad && !mp->bad &&
            c->webhook.max_pending < c->webhook.max_in_flight)
                err_at(L,
                       mp->at.line   ? mp->at
                       : mf->at.line ? mf->at
                                     : sc->at,
                       "webhook.max_pending: %d is less than "
                       "webhook.max_in_flight (%d)",
                       c->webhook.max_pending, c->webhook.max_in_flight);
        if (!(L->flags & BR_CONF_F_PARTIAL) && !dt->bad && !df->bad &&
            !dn->bad && !c->dead_letter.topic && !c->dead_letter.file &&
            !c->dead_letter.none)
                err_at(L, missing_pos(L, sc, "dead_letter.none"),
                       "dead_letter: no sink configured (set "
                       "dead_letter.topic or dead_letter.file, or "
                       "dead_letter.none: true to accept logged-only "
                       "rejects)");
}

/* Line and column of a byte offset, for reader errors (bad encoding),
 * which libyaml reports by offset only. */
static struct pos offset_pos(const char *buf, size_t len, size_t offset) {
        struct pos at = {1, 1};
        size_t i;

        for (i = 0; i < offset && i < len; i++) {
                if (buf[i] == '\n') {
                        at.line++;
                        at.col = 1;
                } else {
                        at.col++;
                }
        }
        return at;
}

static void err_syntax(struct loader *L, const yaml_parser_t *parser,
                       const char *buf, size_t len) {
        struct pos at = {(int)parser->problem_mark.line + 1,
                         (int)parser->problem_mark.column + 1};

        if (parser->error == YAML_MEMORY_ERROR) {
                err_oom(L);
                return;
        }
        if (parser->error == YAML_READER_ERROR)
                at = offset_pos(buf, len, parser->problem_offset);
        if (parser->context)
                err_at(L, at, "YAML syntax error: %s (%s)",
                       parser->problem ? parser->problem : "unknown",
                       parser->context);
        else
                err_at(L, at, "YAML syntax error: %s",
                       parser->problem ? parser->problem : "unknown");
}

/* libyaml's scanner slows down with the square of the flow nesting depth
 * (500k "[" take minutes) and its composer keeps every node: one pass over
 * the events bounds both before a document is built.  Returns 0, or -1
 * after reporting. */
static int check_shape(struct loader *L, const char *buf, size_t len) {
        yaml_parser_t parser;
        int depth = 0, rc = -1;
        long nodes = 0;

        if (!yaml_parser_initialize(&parser)) {
                err_oom(L);
                return -1;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        for (;;) {
                yaml_event_t ev;
                yaml_event_type_t type;
                struct pos at;

                if (!yaml_parser_parse(&parser, &ev)) {
                        err_syntax(L, &parser, buf, len);
                        break;
                }
                type    = ev.type;
                at.line = (int)ev.start_mark.line + 1;
                at.col  = (int)ev.start_mark.column + 1;
                yaml_event_delete(&ev);
                if (type == YAML_SEQUENCE_START_EVENT ||
                    type == YAML_MAPPING_START_EVENT)
                        depth++;
                else if (type == YAML_SEQUENCE_END_EVENT ||
                         type == YAML_MAPPING_END_EVENT)
                        depth--;
                if (type == YAML_SEQUENCE_START_EVENT ||
                    type == YAML_MAPPING_START_EVENT ||
                    type == YAML_SCALAR_EVENT || type == YAML_ALIAS_EVENT)
                        nodes++;
                if (depth > YAML_MAX_DEPTH) {
                        err_at(L, at, "YAML nesting deeper than %d levels",
                               YAML_MAX_DEPTH);
                        break;
                }
                if (nodes > YAML_MAX_NODES) {
                        err_at(L, at, "more than %d YAML nodes",
                               YAML_MAX_NODES);
                        break;
                }
                if (type == YAML_STREAM_END_EVENT) {
                        rc = 0;
                        break;
                }
        }
        yaml_parser_delete(&parser);
        return rc;
}

/* Composes the single document of buf into doc.  Returns 0, or -1 after
 * reporting. */
static int load_document(struct loader *L, const char *buf, size_t len,
                         yaml_document_t *doc) {
        yaml_parser_t parser;
        yaml_document_t extra;
        yaml_node_t *root;
        int rc = -1;

        if (check_shape(L, buf, len) == -1)
                return -1;
        if (!yaml_parser_initialize(&parser)) {
                err_oom(L);
                return -1;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        if (!yaml_parser_load(&parser, doc)) {
                err_syntax(L, &parser, buf, len);
                goto done;
        }
        if (!yaml_parser_load(&parser, &extra)) {
                err_syntax(L, &parser, buf, len);
                yaml_document_delete(doc);
                goto done;
        }
        if ((root = yaml_document_get_root_node(&extra))) {
                err_at(L, node_pos(root), "only one YAML document is allowed");
                yaml_document_delete(&extra);
                yaml_document_delete(doc);
                goto done;
        }
        yaml_document_delete(&extra);
        rc = 0;
done:
        yaml_parser_delete(&parser);
        return rc;
}

struct br_conf *br_conf_load(const char *buf, size_t len, const char *origin,
                             int flags, char *errstr, size_t errstr_size) {
        struct loader L = {.flags = flags};
        yaml_document_t doc;
        const yaml_node_t *root = NULL;
        struct scope top        = {.opts = br_conf_opts, .disp = ""};
        int have_doc            = 0;

        if (!origin)
                origin = "<string>";
        L.errs.buf    = errstr;
        L.errs.size   = errstr_size;
        L.errs.origin = origin;
        L.doc         = &doc;
        L.conf        = calloc(1, sizeof(*L.conf));
        top.seen      = calloc(opt_cnt(br_conf_opts), sizeof(*top.seen));
        L.route_seen =
            calloc(opt_cnt(br_conf_route_opts), sizeof(*L.route_seen));
        if (!L.conf || !top.seen || !L.route_seen ||
            !(L.conf->origin = strdup(origin))) {
                err_oom(&L);
                goto done;
        }
        top.base    = L.conf;
        top.at.line = top.at.col = 1;
        apply_defaults(&L, &top);
        if (load_document(&L, buf ? buf : "", buf ? len : 0, &doc) == -1)
                goto done;
        have_doc = 1;
        if ((root = yaml_document_get_root_node(&doc)))
                top.at = node_pos(root);
        if (root && root->type == YAML_MAPPING_NODE)
                walk_map(&L, &top, root, "");
        else if (root && !is_null(root)) {
                /* Nothing else can be said about such a file. */
                err_at(&L, node_pos(root),
                       "expected a map of options at the top level, got %s",
                       node_desc(root));
                goto done;
        }
        check_required(&L, &top);
        check_cross(&L, &top);
done:
        if (have_doc)
                yaml_document_delete(&doc);
        free(top.seen);
        free(L.route_seen);
        errs_finish(&L.errs);
        if (L.errs.cnt) {
                br_conf_destroy(L.conf);
                return NULL;
        }
        return L.conf;
}

struct br_conf *br_conf_load_file(const char *path, int flags, char *errstr,
                                  size_t errstr_size) {
        struct br_conf *conf = NULL;
        char *buf            = malloc(CONF_MAX_FILE_BYTES + 1);
        FILE *f              = NULL;
        size_t len           = 0, n;

        if (!buf) {
                snprintf(errstr, errstr_size, "%s: cannot read: %s", path,
                         strerror(ENOMEM));
                goto done;
        }
        if (!(f = fopen(path, "rb"))) {
                snprintf(errstr, errstr_size, "%s: cannot read: %s", path,
                         strerror(errno));
                goto done;
        }
        /* One byte more than the cap tells a full-size file from a big one. */
        while ((n = fread(buf + len, 1, CONF_MAX_FILE_BYTES + 1 - len, f)) > 0)
                len += n;
        if (ferror(f)) {
                snprintf(errstr, errstr_size, "%s: cannot read: %s", path,
                         strerror(errno));
                goto done;
        }
        if (len > CONF_MAX_FILE_BYTES) {
                snprintf(errstr, errstr_size,
                         "%s: cannot read: larger than %d bytes", path,
                         CONF_MAX_FILE_BYTES);
                goto done;
        }
        conf = br_conf_load(buf, len, path, flags, errstr, errstr_size);
done:
        if (f)
                fclose(f);
        free(buf);
        return conf;
}

void br_conf_destroy(struct br_conf *conf) {
        const struct br_conf_opt *o;

        if (!conf)
                return;
        for (o = br_conf_opts; o->name; o++)
                clear_value(o, conf);
        free(conf->origin);
        free(conf);
}

/*
 * Routing.
 */

static int has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && !memcmp(s + n - m, suffix, m);
}

const struct br_route *br_conf_route_match(const struct br_conf *conf,
                                           const char *bucket,
                                           const char *key) {
        size_t i;

        if (!conf || !bucket)
                return NULL;
        if (!key)
                key = "";
        for (i = 0; i < conf->route_cnt; i++) {
                const struct br_route *r = &conf->routes[i];

                /* Routes lack a bucket only when loaded partial. */
                if (!r->bucket || (strcmp(r->bucket, bucket) &&
                                   fnmatch(r->bucket, bucket, 0)))
                        continue;
                if (r->prefix && strncmp(key, r->prefix, strlen(r->prefix)))
                        continue;
                if (r->suffix && !has_suffix(key, r->suffix))
                        continue;
                return r;
        }
        return NULL;
}

/*
 * help-config and CONFIGURATION.md.
 */

static void opt_default(const struct br_conf_opt *o, char *buf, size_t size) {
        if (o->flags & BR_O_REQUIRED)
                snprintf(buf, size, "required");
        else if (!o->def)
                snprintf(buf, size,
                         o->type == BR_T_STRING  ? "unset"
                         : o->type == BR_T_KINDS ? "top-level events"
                                                 : "empty");
        else if (o->type == BR_T_KINDS)
                snprintf(buf, size, "[%s]", o->def);
        else
                snprintf(buf, size, "%s", o->def);
}

static void opt_range(const struct br_conf_opt *o, char *buf, size_t size) {
        char lo[32], hi[32];

        buf[0] = '\0';
        switch (o->type) {
        case BR_T_INT:
        case BR_T_DURATION:
        case BR_T_SIZE:
                fmt_number(o, o->min, lo, sizeof(lo));
                fmt_number(o, o->max, hi, sizeof(hi));
                snprintf(buf, size, "%s..%s", lo, hi);
                break;
        case BR_T_ENUM:
                join_names(o->enums, buf, size);
                break;
        case BR_T_BOOL:
                snprintf(buf, size, "true, false");
                break;
        case BR_T_STRING:
                if (o->flags & BR_O_URL)
                        snprintf(buf, size, "http:// or https:// URL");
                break;
        case BR_T_STRLIST:
        case BR_T_ROUTES:
        case BR_T_MAP:
                if (o->min > 0)
                        snprintf(buf, size, "%" PRId64 "..%" PRId64 " items",
                                 o->min, o->max);
                else
                        snprintf(buf, size, "at most %" PRId64 " entries",
                                 o->max);
                break;
        case BR_T_KINDS:
                snprintf(buf, size, "at least one kind");
                break;
        }
}

static const char *const help_intro[] = {
    "bucketbridge reads one YAML file (at most 1 MiB). Options are written "
    "nested (`webhook:` then `timeout: 10s` under it); the tables name them "
    "by their dotted path, and the dotted form is also accepted as a key.",
    "Keys that are not listed here are errors, and so are duplicate keys. "
    "All problems are reported at once, one per line, as "
    "`FILE:LINE:COLUMN: message`.",
    "`${VAR}` in any value is replaced by the environment variable VAR; an "
    "unset variable is an error. `$${` writes a literal `${`.",
    "A value left empty (`key:` or `key: ~`) counts as unset; an empty "
    "string (`\"\"`) is an error.",
    "**duration**: a whole number with a unit, `ms`, `s`, `m` or `h` "
    "(`250ms`, `10s`, `2m`, `1h`); a bare `0` means zero, any other bare "
    "number is an error.",
    "**size**: a whole number of bytes, or with `K`, `M` or `G` (powers of "
    "1024): `512`, `64K`, `1M`.",
    "**bool**: `true` or `false`.",
    NULL,
};

static const char *const help_routes_intro =
    "Each entry of `routes` is a map with these keys. Messages name an "
    "entry by its position counted from 0: `routes[0].bucket`.";

static const char *const help_secret =
    "Secrets are never printed: not in errors, not by dump-config, where "
    "they show as `***`.";

/* Prints text folded at 76 columns, each line indented. */
static void print_wrapped(FILE *out, const char *indent, const char *text) {
        size_t col = 0, ind = strlen(indent);

        while (*text) {
                size_t w = strcspn(text, " ");

                if (col && col + 1 + w > 76) {
                        fputc('\n', out);
                        col = 0;
                }
                if (!col) {
                        fputs(indent, out);
                        col = ind;
                } else {
                        fputc(' ', out);
                        col++;
                }
                fwrite(text, 1, w, out);
                col += w;
                text += w;
                while (*text == ' ')
                        text++;
        }
        if (col)
                fputc('\n', out);
}

static void help_table(FILE *out, const struct br_conf_opt *opts,
                       int markdown) {
        const struct br_conf_opt *o;

        if (markdown) {
                fprintf(out, "| Option | Type | Default | Range | "
                             "Description |\n");
                fprintf(out, "| --- | --- | --- | --- | --- |\n");
        }
        for (o = opts; o->name; o++) {
                char def[64], range[256];

                opt_default(o, def, sizeof(def));
                opt_range(o, range, sizeof(range));
                if (markdown) {
                        fprintf(out, "| `%s` | %s%s | %s | %s | %s |\n",
                                o->name, type_names[o->type],
                                o->flags & BR_O_SECRET ? ", secret" : "", def,
                                range, o->doc);
                        continue;
                }
                fprintf(out, "%s (%s%s; %s%s%s%s)\n", o->name,
                        type_names[o->type],
                        o->flags & BR_O_SECRET ? ", secret" : "",
                        o->flags & BR_O_REQUIRED ? "" : "default ", def,
                        range[0] ? "; " : "", range);
                print_wrapped(out, "    ", o->doc);
        }
}

void br_conf_help(FILE *out, int markdown) {
        char kinds[256], line[400];
        size_t i;

        join_kinds(kinds, sizeof(kinds));
        snprintf(line, sizeof(line),
                 "**event kinds**: %s. `created` covers put, post, copy, "
                 "completed multipart upload and OSS append.",
                 kinds);
        if (markdown) {
                fprintf(out, "# bucketbridge configuration\n\n"
                             "<!-- Generated by `bucketbridge help-config "
                             "--markdown` from bridge/conf_opts.c: edit the "
                             "table, then `make docs`. -->\n\n");
                for (i = 0; help_intro[i]; i++)
                        fprintf(out, "%s\n\n", help_intro[i]);
                fprintf(out, "%s\n\n%s\n\n## Options\n\n", line, help_secret);
                help_table(out, br_conf_opts, 1);
                fprintf(out, "\n## Route keys\n\n%s\n\n", help_routes_intro);
                help_table(out, br_conf_route_opts, 1);
                return;
        }
        for (i = 0; help_intro[i]; i++) {
                print_wrapped(out, "", help_intro[i]);
                fputc('\n', out);
        }
        print_wrapped(out, "", line);
        fputc('\n', out);
        print_wrapped(out, "", help_secret);
        fprintf(out, "\nOptions:\n\n");
        help_table(out, br_conf_opts, 0);
        fprintf(out, "\nRoute keys:\n\n");
        print_wrapped(out, "", help_routes_intro);
        fputc('\n', out);
        help_table(out, br_conf_route_opts, 0);
}

/*
 * dump-config.
 */

/* A double-quoted YAML string that loads back as s: escapes for what YAML
 * forbids raw or would fold (C0 and C1 controls, DEL, U+2028, U+2029,
 * U+FFFE, U+FFFF), and in values (not keys, which are never substituted)
 * $${ so that ${ is not substituted again. */
static void yaml_quoted(FILE *out, const char *s, int is_value) {
        const unsigned char *p = (const unsigned char *)s;

        fputc('"', out);
        for (; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(out, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(out, "\\x%02x", *p);
                else if (is_value && p[0] == '$' && p[1] == '{')
                        fputs("$$", out);
                else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fprintf(out, "\\x%02x", p[1]);
                        p++;
                } else if (p[0] == 0xe2 && p[1] == 0x80 &&
                           (p[2] == 0xa8 || p[2] == 0xa9)) {
                        fputs(p[2] == 0xa8 ? "\\L" : "\\P", out);
                        p += 2;
                } else if (p[0] == 0xef && p[1] == 0xbf &&
                           (p[2] == 0xbe || p[2] == 0xbf)) {
                        fprintf(out, "\\u%s", p[2] == 0xbe ? "FFFE" : "FFFF");
                        p += 2;
                } else {
                        fputc(*p, out);
                }
        }
        fputc('"', out);
}

static void yaml_str(FILE *out, const char *s) {
        yaml_quoted(out, s, 1);
}

/* A URL with "user:password@" has it replaced by "***@". */
static void yaml_url(FILE *out, const char *url) {
        const char *host = strstr(url, "://");
        const char *at, *end;

        if (host) {
                host += 3;
                end = host + strcspn(host, "/?#");
                at  = memchr(host, '@', (size_t)(end - host));
                if (at) {
                        char *masked = malloc(strlen(url) + 4);

                        if (!masked) {
                                yaml_str(out, "***");
                                return;
                        }
                        snprintf(masked, strlen(url) + 4, "%.*s***%s",
                                 (int)(host - url), url, at);
                        yaml_str(out, masked);
                        free(masked);
                        return;
                }
        }
        yaml_str(out, url);
}

static int secret_property(const char *name) {
        size_t i;

        for (i = 0; secret_property_parts[i]; i++)
                if (strstr(name, secret_property_parts[i]))
                        return 1;
        return 0;
}

static void dump_kinds(FILE *out, unsigned set) {
        int k, first = 1;

        fputc('[', out);
        for (k = 0; k < BR_KIND__CNT; k++)
                if (set & BR_KIND_BIT(k)) {
                        fprintf(out, "%s%s", first ? "" : ", ",
                                br_kind_name((enum br_event_kind)k));
                        first = 0;
                }
        fputc(']', out);
}

static void dump_table(FILE *out, const struct br_conf_opt *opts,
                       const void *base, int indent, const char *first);

/* Whether a row has something to print (unset strings are left out). */
static int dump_has(const struct br_conf_opt *o, const void *base) {
        if (o->type == BR_T_STRING)
                return *(char *const *)cfield(base, o->offset) != NULL;
        if (o->type == BR_T_KINDS && !o->def)
                return *(const unsigned *)cfield(base, o->offset) != 0;
        /* An empty list that may not be empty was never given (partial). */
        if (o->cnt_offset && o->min > 0)
                return *(const size_t *)cfield(base, o->cnt_offset) != 0;
        return 1;
}

static void dump_value(FILE *out, const struct br_conf_opt *o, const void *base,
                       int indent) {
        const size_t *cnt = cfield(base, o->cnt_offset); /* lists, maps */
        char buf[64];
        size_t i;

        /* Non-empty maps and lists of routes continue on the next lines. */
        if (!((o->type == BR_T_MAP || o->type == BR_T_ROUTES) && *cnt))
                fputc(' ', out);
        switch (o->type) {
        case BR_T_STRING: {
                const char *s = *(char *const *)cfield(base, o->offset);

                if (o->flags & BR_O_SECRET)
                        yaml_str(out, "***");
                else if (o->flags & BR_O_URL)
                        yaml_url(out, s);
                else
                        yaml_str(out, s);
                break;
        }
        case BR_T_BOOL:
                fputs(*(const int *)cfield(base, o->offset) ? "true" : "false",
                      out);
                break;
        case BR_T_INT:
                fprintf(out, "%d", *(const int *)cfield(base, o->offset));
                break;
        case BR_T_DURATION:
        case BR_T_SIZE:
                fmt_number(o, *(const int64_t *)cfield(base, o->offset), buf,
                           sizeof(buf));
                fputs(buf, out);
                break;
        case BR_T_ENUM:
                fputs(o->enums[*(const int *)cfield(base, o->offset)], out);
                break;
        case BR_T_KINDS:
                dump_kinds(out, *(const unsigned *)cfield(base, o->offset));
                break;
        case BR_T_STRLIST: {
                char *const *list = *(char **const *)cfield(base, o->offset);

                fputc('[', out);
                for (i = 0; i < *cnt; i++) {
                        fputs(i ? ", " : "", out);
                        yaml_str(out, list[i]);
                }
                fputc(']', out);
                break;
        }
        case BR_T_MAP: {
                const struct br_kv *kv =
                    *(struct br_kv *const *)cfield(base, o->offset);

                if (!*cnt)
                        fputs("{}", out);
                for (i = 0; i < *cnt; i++) {
                        fprintf(out, "\n%*s", indent + 2, "");
                        yaml_quoted(out, kv[i].key, 0);
                        fputs(": ", out);
                        yaml_str(out, secret_property(kv[i].key) ? "***"
                                                                 : kv[i].value);
                }
                break;
        }
        case BR_T_ROUTES: {
                const struct br_route *r =
                    *(struct br_route *const *)cfield(base, o->offset);

                if (!*cnt)
                        fputs("[]\n", out);
                for (i = 0; i < *cnt; i++) {
                        if (!i)
                                fputc('\n', out);
                        dump_table(out, br_conf_route_opts, &r[i], indent + 4,
                                   "- ");
                }
                return; /* dump_table ended the last line */
        }
        }
        fputc('\n', out);
}

/* Prints the rows of one table; nested groups ("webhook.") open a map.
 * first, when set, marks the first line (a list item's "- "). */
static void dump_table(FILE *out, const struct br_conf_opt *opts,
                       const void *base, int indent, const char *first) {
        const struct br_conf_opt *o;
        const char *group = NULL;
        size_t group_len  = 0;

        for (o = opts; o->name; o++) {
                const char *dot  = strchr(o->name, '.');
                const char *leaf = o->name;
                int ind          = indent;

                if (!dump_has(o, base))
                        continue;
                if (dot) {
                        size_t n = (size_t)(dot - o->name);

                        if (!group || n != group_len ||
                            strncmp(group, o->name, n)) {
                                fprintf(out, "%*s%.*s:\n", indent, "", (int)n,
                                        o->name);
                                group     = o->name;
                                group_len = n;
                        }
                        leaf = dot + 1;
                        ind += 2;
                } else {
                        group = NULL;
                }
                if (first) {
                        fprintf(out, "%*s%s%s:", ind - 2, "", first, leaf);
                        first = NULL;
                } else {
                        fprintf(out, "%*s%s:", ind, "", leaf);
                }
                dump_value(out, o, base, ind);
        }
}

void br_conf_dump(const struct br_conf *conf, FILE *out) {
        const char *c;

        if (!conf)
                return;
        fputs("# effective configuration from ", out);
        for (c = conf->origin; *c; c++) /* a comment ends at a newline */
                fputc((unsigned char)*c < 0x20 ? '?' : *c, out);
        fputc('\n', out);
        dump_table(out, br_conf_opts, conf, 0, NULL);
}
