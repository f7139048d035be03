/* The adapter registry, the strict message parser and the event list.
 * Detection is by shape, never by configuration: the same topic may carry
 * several dialects. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

/* Detection order matters: EventBridge and OSS have unique members, MinIO
 * has its envelope, and aws_s3 comes last because it also reads any
 * Records[] document whose first record names no known source. */
/* clang-format off */
const struct br_adapter *const br_adapters[] = {
    &br_adapter_aws_eventbridge,
    &br_adapter_alibaba_oss,
    &br_adapter_minio,
    &br_adapter_ceph,
    &br_adapter_aws_s3,
    NULL,
};

static const char *const dialect_names[BR_DIALECT__CNT] = {
    [BR_DIALECT_MINIO]           = "minio",
    [BR_DIALECT_CEPH]            = "ceph",
    [BR_DIALECT_AWS_S3]          = "aws_s3",
    [BR_DIALECT_AWS_EVENTBRIDGE] = "aws_eventbridge",
    [BR_DIALECT_ALIBABA_OSS]     = "alibaba_oss",
};

static const char *const kind_names[BR_KIND__CNT] = {
    [BR_KIND_CREATED]     = "created",
    [BR_KIND_REMOVED]     = "removed",
    [BR_KIND_ACCESSED]    = "accessed",
    [BR_KIND_TAGGING]     = "tagging",
    [BR_KIND_RETENTION]   = "retention",
    [BR_KIND_PART]        = "part",
    [BR_KIND_RESTORE]     = "restore",
    [BR_KIND_REPLICATION] = "replication",
    [BR_KIND_LIFECYCLE]   = "lifecycle",
    [BR_KIND_TEST]        = "test",
    [BR_KIND_OTHER]       = "other",
};
/* clang-format on */

const char *br_dialect_name(enum br_dialect dialect) {
        if ((unsigned)dialect >= BR_DIALECT__CNT)
                return "unknown";
        return dialect_names[dialect];
}

const char *br_kind_name(enum br_event_kind kind) {
        if ((unsigned)kind >= BR_KIND__CNT)
                return "unknown";
        return kind_names[kind];
}

int br_kind_parse(const char *name) {
        int k;

        if (!name)
                return -1;
        for (k = 0; k < BR_KIND__CNT; k++)
                if (strcmp(name, kind_names[k]) == 0)
                        return k;
        return -1;
}

/* --- event list ------------------------------------------------------- */

/* Bump storage for the events' strings.  A typical message needs a few
 * hundred bytes, so one block serves it and is reused by the next. */
#define STRBLOCK_SIZE 4096

struct br_strblock {
        struct br_strblock *next;
        size_t size;
        size_t used;
        char data[];
};

void br_event_list_init(struct br_event_list *list) {
        memset(list, 0, sizeof(*list));
}

void br_event_list_clear(struct br_event_list *list) {
        struct br_strblock *b, *next, *keep = NULL;

        if (!list)
                return;
        /* keep one standard block; big ones were for a rare big message */
        for (b = list->strings; b; b = next) {
                next = b->next;
                if (!keep && b->size == STRBLOCK_SIZE) {
                        keep = b;
                        continue;
                }
                free(b);
        }
        if (keep) {
                keep->next = NULL;
                keep->used = 0;
        }
        list->strings = keep;
        list->cnt     = 0;
        list->oom     = 0;
}

void br_event_list_free(struct br_event_list *list) {
        if (!list)
                return;
        br_event_list_clear(list);
        free(list->strings);
        free(list->v);
        if (list->tok)
                json_tokener_free(list->tok);
        br_event_list_init(list);
}

struct br_object_event *br_event_list_add(struct br_event_list *list,
                                          int index) {
        struct br_object_event *ev;

        if (list->cnt == list->cap) {
                size_t cap = list->cap ? list->cap * 2 : 8;
                struct br_object_event *v;

                v = realloc(list->v, cap * sizeof(*v));
                if (!v) {
                        list->oom = 1;
                        return NULL;
                }
                list->v   = v;
                list->cap = cap;
        }
        ev = &list->v[list->cnt++];
        memset(ev, 0, sizeof(*ev));
        ev->record = index;
        ev->size   = -1;
        return ev;
}

char *br_event_list_alloc(struct br_event_list *list, size_t n) {
        struct br_strblock *b = list->strings;
        char *p;

        if (!b || b->size - b->used < n) {
                size_t size = n > STRBLOCK_SIZE ? n : STRBLOCK_SIZE;

                b = malloc(sizeof(*b) + size);
                if (!b) {
                        list->oom = 1;
                        return NULL;
                }
                b->size       = size;
                b->used       = 0;
                b->next       = list->strings;
                list->strings = b;
        }
        p = b->data + b->used;
        b->used += n;
        return p;
}

void br_event_list_trim(struct br_event_list *list, char *p, size_t used) {
        struct br_strblock *b = list->strings;

        /* only the latest reservation can shrink: it ends the head block */
        if (b && p >= b->data && p <= b->data + b->used &&
            (size_t)(p - b->data) + used <= b->used)
                b->used = (size_t)(p - b->data) + used;
}

char *br_event_list_strdup(struct br_event_list *list, const char *s,
                           size_t len) {
        char *p = br_event_list_alloc(list, len + 1);

        if (!p)
                return NULL;
        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

void br_event_reject(struct br_event_list *list, struct br_object_event *ev,
                     const char *fmt, ...) {
        char buf[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t)n >= sizeof(buf))
                n = sizeof(buf) - 1;
        ev->reject = br_event_list_strdup(list, buf, (size_t)n);
}

/* --- strict parsing ---------------------------------------------------- */

/* True when some byte of w is below 0x20 (bit hack: exact for "any"). */
#define HAS_CTRL(w) (((w)-0x2020202020202020ULL) & ~(w)&0x8080808080808080ULL)

/* Offset of the first raw control character JSON never allows (bytes
 * below 0x20 other than tab, LF, CR), or len.  json-c lets them through
 * inside strings and stops at a NUL as if the input ended there. */
static size_t ctrl_check(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *)s;
        size_t i               = 0;
        uint64_t w;

        for (;;) {
                while (i + 8 <= len) {
                        memcpy(&w, p + i, 8);
                        if (HAS_CTRL(w))
                                break;
                        i += 8;
                }
                if (i >= len)
                        return len;
                if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
                        return i;
                i++;
                /* the word had a tab/LF/CR: rescan from the next byte */
        }
}

/* On the error path only: whether buf[0..end) alone is a complete
 * document, so the unexpected character is trailing data. */
static int complete_before(struct json_tokener *tok, const char *buf,
                           size_t end) {
        struct json_object *obj;
        int ok;

        if (end == 0)
                return 0;
        json_tokener_reset(tok);
        obj = json_tokener_parse_ex(tok, buf, (int)end);
        ok  = obj && json_tokener_get_error(tok) == json_tokener_success &&
             json_tokener_get_parse_end(tok) == end;
        json_object_put(obj);
        return ok;
}

int br_json_parse(struct br_event_list *list, const char *buf, size_t len,
                  const struct br_parse_limits *limits,
                  struct json_object **root, char *errstr, size_t errstr_size) {
        struct json_tokener *tok;
        struct json_object *obj = NULL;
        enum json_tokener_error jerr;
        size_t bad, end;
        int depth = limits->max_depth > 0 ? limits->max_depth
                                          : JSON_TOKENER_DEFAULT_DEPTH;

        *root = NULL;
        if (len == 0 || !buf) {
                snprintf(errstr, errstr_size, "empty message");
                return -1;
        }
        if (limits->max_message_bytes && len > limits->max_message_bytes) {
                snprintf(errstr, errstr_size,
                         "message of %zu bytes exceeds "
                         "limits.max_message_bytes (%zu)",
                         len, limits->max_message_bytes);
                return -1;
        }
        if (len > INT_MAX) { /* json-c takes an int length */
                snprintf(errstr, errstr_size,
                         "message of %zu bytes is too large to parse", len);
                return -1;
        }
        bad = br_utf8_check(buf, len);
        if (bad != len) {
                snprintf(errstr, errstr_size, "not valid UTF-8 at byte %zu",
                         bad);
                return -1;
        }
        bad = ctrl_check(buf, len);
        if (bad != len) {
                snprintf(errstr, errstr_size,
                         "not JSON: control character 0x%02X at byte %zu",
                         (unsigned)(unsigned char)buf[bad], bad);
                return -1;
        }

        if (list->tok && list->tok_depth != depth) {
                json_tokener_free(list->tok);
                list->tok = NULL;
        }
        if (!list->tok) {
                list->tok = json_tokener_new_ex(depth);
                if (!list->tok) {
                        list->oom = 1;
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                list->tok_depth = depth;
                /* no JSON_TOKENER_VALIDATE_UTF8: br_utf8_check() above
                 * is stricter (overlong forms, surrogates) and has passed,
                 * so json-c's own check could never fail and would cost
                 * an eighth of the parse */
                json_tokener_set_flags(list->tok, JSON_TOKENER_STRICT);
        }
        tok = list->tok;
        json_tokener_reset(tok);
        obj  = json_tokener_parse_ex(tok, buf, (int)len);
        jerr = json_tokener_get_error(tok);
        end  = json_tokener_get_parse_end(tok);
        if (!obj && jerr == json_tokener_continue) {
                /* a bare number or literal is only complete once something
                 * follows it; anything else that wants more is truncated */
                obj  = json_tokener_parse_ex(tok, " ", 1);
                jerr = json_tokener_get_error(tok);
                end  = len;
                if (jerr == json_tokener_continue) {
                        snprintf(errstr, errstr_size,
                                 "not JSON: unexpected end of data at byte "
                                 "%zu",
                                 len);
                        goto fail;
                }
        }
        if (jerr == json_tokener_error_depth) {
                snprintf(errstr, errstr_size, "nested deeper than %d levels",
                         depth);
                goto fail;
        }
        if (jerr != json_tokener_success) {
                if (jerr == json_tokener_error_parse_unexpected &&
                    complete_before(tok, buf, end))
                        snprintf(errstr, errstr_size,
                                 "not JSON: trailing data after the document "
                                 "at byte %zu",
                                 end);
                else
                        snprintf(errstr, errstr_size,
                                 "not JSON: %s at byte %zu",
                                 json_tokener_error_desc(jerr), end);
                goto fail;
        }
        if (end < len) {
                snprintf(errstr, errstr_size,
                         "not JSON: trailing data at byte %zu", end);
                goto fail;
        }
        /* json-c gives NULL for a JSON null */
        if (!json_object_is_type(obj, json_type_object)) {
                snprintf(errstr, errstr_size, "expected a JSON object, got %s",
                         json_type_to_name(json_object_get_type(obj)));
                goto fail;
        }
        *root = obj;
        return 0;
fail:
        json_object_put(obj);
        json_tokener_reset(tok); /* drop what a failed parse holds */
        return -1;
}

int br_adapters_parse(const char *buf, size_t len,
                      const struct br_parse_limits *limits,
                      struct br_event_list *out,
                      const struct br_adapter **adapter_out, char *errstr,
                      size_t errstr_size) {
        const struct br_adapter *const *a;
        struct json_object *root = NULL;
        char why[512];
        int rc = -1;

        br_event_list_clear(out);
        *adapter_out = NULL;
        if (br_json_parse(out, buf, len, limits, &root, errstr, errstr_size) ==
            -1)
                return -1;
        for (a = br_adapters; *a; a++)
                if ((*a)->match(root))
                        break;
        if (!*a) {
                snprintf(errstr, errstr_size,
                         "unknown notification shape (no Records, events, "
                         "detail-type or Event member)");
                goto done;
        }
        *adapter_out = *a;
        why[0]       = '\0';
        rc           = (*a)->extract(root, limits, out, why, sizeof(why));
        if (out->oom) {
                snprintf(errstr, errstr_size, "out of memory");
                rc = -1;
        } else if (rc == -1) {
                snprintf(errstr, errstr_size, "%s: %s", (*a)->name, why);
        }
        if (rc == -1) {
                int oom = out->oom;

                /* half-read messages give no events, only the reason */
                br_event_list_clear(out);
                out->oom = oom;
        }
done:
        json_object_put(root);
        return rc;
}
