#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/util.h"

int64_t br_now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t br_wallclock_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void br_rfc3339(int64_t wall_us, char *buf, size_t size) {
        time_t secs = (time_t)(wall_us / 1000000);
        struct tm tm;
        char base[24];

        gmtime_r(&secs, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, size, "%s.%03dZ", base, (int)((wall_us / 1000) % 1000));
}

static const char base64_abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *br_base64_encode(const void *data, size_t n, size_t *out_len) {
        const unsigned char *s = data;
        size_t len, i, o = 0;
        char *out;

        if (n > (SIZE_MAX - 1) / 4 * 3 - 2)
                return NULL;
        len = (n + 2) / 3 * 4;
        if (!(out = malloc(len + 1)))
                return NULL;
        for (i = 0; i + 2 < n; i += 3) {
                uint32_t v =
                    (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

                out[o++] = base64_abc[v >> 18];
                out[o++] = base64_abc[(v >> 12) & 63];
                out[o++] = base64_abc[(v >> 6) & 63];
                out[o++] = base64_abc[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t)s[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)s[i + 1] << 8;
                out[o++] = base64_abc[v >> 18];
                out[o++] = base64_abc[(v >> 12) & 63];
                out[o++] = i + 1 < n ? base64_abc[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        out[o]   = '\0';
        *out_len = o;
        return out;
}

static int base64_value(char c) {
        const char *p = c ? strchr(base64_abc, c) : NULL;

        return p ? (int)(p - base64_abc) : -1;
}

void *br_base64_decode(const char *text, size_t len, size_t *out_len) {
        unsigned char *out;
        size_t i, o = 0;

        if (len % 4)
                return NULL;
        if (!(out = malloc(len / 4 * 3 + 1)))
                return NULL;
        for (i = 0; i < len; i += 4) {
                int a = base64_value(text[i]), b = base64_value(text[i + 1]);
                int pad3 = text[i + 2] == '=', pad4 = text[i + 3] == '=';
                int c = pad3 ? 0 : base64_value(text[i + 2]);
                int d = pad4 ? 0 : base64_value(text[i + 3]);
                uint32_t v;

                /* padding only at the very end, and "x=y" is not padding */
                if (a < 0 || b < 0 || c < 0 || d < 0 || (pad3 && !pad4) ||
                    ((pad3 || pad4) && i + 4 != len)) {
                        free(out);
                        return NULL;
                }
                v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
                    (uint32_t)d;
                out[o++] = (unsigned char)(v >> 16);
                if (!pad3)
                        out[o++] = (unsigned char)(v >> 8);
                if (!pad4)
                        out[o++] = (unsigned char)v;
        }
        out[o]   = '\0';
        *out_len = o;
        return out;
}

#define HIGH_BITS 0x8080808080808080ULL

size_t br_utf8_check(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *)s;
        size_t i               = 0;

        while (i < len) {
                unsigned char c, lo = 0x80, hi = 0xBF;
                size_t need, k;
                uint64_t w;

                /* keys and payloads are mostly ASCII: 8 bytes per step */
                while (i + 8 <= len) {
                        memcpy(&w, p + i, 8);
                        if (w & HIGH_BITS)
                                break;
                        i += 8;
                }
                if (i >= len)
                        break;
                c = p[i];
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c < 0xC2) /* continuation byte, or C0/C1 (overlong) */
                        return i;
                if (c < 0xE0) {
                        need = 1;
                } else if (c < 0xF0) {
                        need = 2;
                        if (c == 0xE0)
                                lo = 0xA0; /* overlong */
                        else if (c == 0xED)
                                hi = 0x9F; /* UTF-16 surrogates */
                } else if (c < 0xF5) {
                        need = 3;
                        if (c == 0xF0)
                                lo = 0x90; /* overlong */
                        else if (c == 0xF4)
                                hi = 0x8F; /* above U+10FFFF */
                } else {
                        return i;
                }
                if (len - i <= need)
                        return i;
                if (p[i + 1] < lo || p[i + 1] > hi)
                        return i;
                for (k = 2; k <= need; k++)
                        if ((p[i + k] & 0xC0) != 0x80)
                                return i;
                i += need + 1;
        }
        return len;
}

size_t br_utf8_seq_len(unsigned char lead) {
        if (lead < 0x80)
                return 1;
        if (lead >= 0xC2 && lead <= 0xDF)
                return 2;
        if (lead >= 0xE0 && lead <= 0xEF)
                return 3;
        if (lead >= 0xF0 && lead <= 0xF4)
                return 4;
        return 0;
}

size_t br_utf8_seq(const char *s, size_t n) {
        size_t len = n ? br_utf8_seq_len((unsigned char)s[0]) : 0;

        return len && len <= n && br_utf8_check(s, len) == len ? len : 0;
}
