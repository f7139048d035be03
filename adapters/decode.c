/* Key decoding and the small JSON helpers the adapters share.  Pure code
 * over borrowed bytes and a length, in the manner of picohttpparser. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

static int hexval(unsigned char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Offset in the encoded input of the byte that decoded to out[pos]. */
static size_t input_offset(const char *in, size_t in_len, size_t pos) {
        size_t i, o = 0;

        for (i = 0; i < in_len && o < pos; i++, o++)
                if (in[i] == '%')
                        i += 2;
        return i;
}

int br_form_decode(const char *in, size_t in_len, char *out, size_t *out_len,
                   char *errstr, size_t errstr_size) {
        const unsigned char *p = (const unsigned char *)in;
        size_t i, o = 0, bad;

        for (i = 0; i < in_len; i++) {
                int hi, lo;

                switch (p[i]) {
                case '+':
                        out[o++] = ' ';
                        break;
                case '%':
                        hi = in_len - i > 2 ? hexval(p[i + 1]) : -1;
                        lo = in_len - i > 2 ? hexval(p[i + 2]) : -1;
                        if (hi < 0 || lo < 0) {
                                snprintf(errstr, errstr_size,
                                         "invalid percent-encoding at byte "
                                         "%zu",
                                         i);
                                return -1;
                        }
                        if (hi == 0 && lo == 0) {
                                snprintf(errstr, errstr_size,
                                         "percent-encoded NUL byte at byte "
                                         "%zu",
                                         i);
                                return -1;
                        }
                        out[o++] = (char)(hi << 4 | lo);
                        i += 2;
                        break;
                case '\0':
                        snprintf(errstr, errstr_size, "NUL byte at byte %zu",
                                 i);
                        return -1;
                default:
                        out[o++] = (char)p[i];
                        break;
                }
        }
        bad = br_utf8_check(out, o);
        if (bad != o) {
                snprintf(errstr, errstr_size,
                         "not valid UTF-8 after decoding at byte %zu",
                         input_offset(in, in_len, bad));
                return -1;
        }
        *out_len = o;
        return 0;
}

const char *br_quote(char *buf, size_t size, const char *s, size_t len) {
        static const char hex[] = "0123456789ABCDEF";
        const unsigned char *p  = (const unsigned char *)s;
        size_t max = len > 64 ? 64 : len, i = 0, o = 0;

        if (size < 8) {
                if (size)
                        buf[0] = '\0';
                return buf;
        }
        buf[o++] = '"';
        /* room kept for the closing quote, "..." and the NUL */
        while (i < max) {
                size_t seq = br_utf8_seq_len(p[i]);

                /* valid UTF-8 passes as is: names are UTF-8 text */
                if (seq > 1 && i + seq <= len &&
                    br_utf8_check(s + i, seq) == seq) {
                        if (o + seq + 5 > size)
                                break;
                        memcpy(buf + o, s + i, seq);
                        o += seq;
                        i += seq;
                        continue;
                }
                if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' &&
                    p[i] != '\\') {
                        if (o + 1 + 5 > size)
                                break;
                        buf[o++] = (char)p[i];
                } else {
                        if (o + 4 + 5 > size)
                                break;
                        buf[o++] = '\\';
                        buf[o++] = 'x';
                        buf[o++] = hex[p[i] >> 4];
                        buf[o++] = hex[p[i] & 0xF];
                }
                i++;
        }
        buf[o++] = '"';
        if (i < len) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
        return buf;
}

struct json_object *br_json_get(struct json_object *obj, const char *name) {
        struct json_object *val = NULL;

        if (!obj || !json_object_is_type(obj, json_type_object))
                return NULL;
        json_object_object_get_ex(obj, name, &val);
        return val; /* json-c represents null as NULL */
}

const char *br_json_str(struct json_object *obj, const char *name,
                        size_t *len) {
        struct json_object *val = br_json_get(obj, name);

        if (!val || !json_object_is_type(val, json_type_string))
                return NULL;
        *len = (size_t)json_object_get_string_len(val);
        return json_object_get_string(val);
}

int64_t br_json_size(struct json_object *val) {
        const char *s;
        int64_t n = 0;
        int len, i;

        if (!val)
                return -1;
        if (json_object_is_type(val, json_type_int)) {
                n = json_object_get_int64(val);
                return n < 0 ? -1 : n;
        }
        if (!json_object_is_type(val, json_type_string))
                return -1;
        s   = json_object_get_string(val);
        len = json_object_get_string_len(val);
        /* at most 18 digits: fits int64 without an overflow check */
        if (len < 1 || len > 18)
                return -1;
        for (i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                n = n * 10 + (s[i] - '0');
        }
        return n;
}

int br_event_take_key(struct br_event_list *list, struct br_object_event *ev,
                      const char *raw, size_t raw_len, int form,
                      const struct br_parse_limits *limits, char *why,
                      size_t why_size) {
        size_t max = limits->max_key_bytes, n, bad;
        const char *nul;
        char *p;

        if (raw_len == 0) {
                snprintf(why, why_size, "empty");
                return -1;
        }
        if (form) {
                p = br_event_list_alloc(list, raw_len + 1);
                if (!p)
                        return -1;
                if (br_form_decode(raw, raw_len, p, &n, why, why_size) == -1) {
                        br_event_list_trim(list, p, 0);
                        return -1;
                }
                if (max && n > max) {
                        br_event_list_trim(list, p, 0);
                        snprintf(why, why_size,
                                 "decoded key of %zu bytes exceeds %zu", n,
                                 max);
                        return -1;
                }
                p[n] = '\0';
                br_event_list_trim(list, p, n + 1);
        } else {
                /* raw names are never URL-decoded (FORMATS.md 2.3) but a
                 * \u0000 escape or a lone surrogate could still sneak in */
                nul = memchr(raw, '\0', raw_len);
                if (nul) {
                        snprintf(why, why_size, "NUL byte at byte %zu",
                                 (size_t)(nul - raw));
                        return -1;
                }
                bad = br_utf8_check(raw, raw_len);
                if (bad != raw_len) {
                        snprintf(why, why_size, "not valid UTF-8 at byte %zu",
                                 bad);
                        return -1;
                }
                if (max && raw_len > max) {
                        snprintf(why, why_size, "key of %zu bytes exceeds %zu",
                                 raw_len, max);
                        return -1;
                }
                n = raw_len;
                p = br_event_list_strdup(list, raw, raw_len);
                if (!p)
                        return -1;
        }
        ev->key     = p;
        ev->key_len = n;
        return 0;
}

enum br_event_kind br_kind_lookup(const struct br_kind_rule *rules,
                                  const char *name) {
        size_t n;

        if (strncmp(name, "s3:", 3) == 0)
                name += 3;
        for (; rules->name; rules++) {
                n = strlen(rules->name);
                if (n && rules->name[n - 1] == '*') {
                        if (strncmp(name, rules->name, n - 1) == 0)
                                return rules->kind;
                } else if (strcmp(name, rules->name) == 0) {
                        return rules->kind;
                }
        }
        return rules->kind;
}
