#include "bridge/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void br_log_write(struct br_log *log, enum br_log_level level, const char *fmt,
                  ...) {
        FILE *out = log->out ? log->out : stderr;
        struct timespec ts;
        struct tm tm;
        char when[32];
        va_list ap;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        /* one fprintf per part, but flockfile keeps the line whole against
         * librdkafka's threads writing through us */
        flockfile(out);
        fprintf(out, "ts=%s.%03ldZ level=%s ", when, ts.tv_nsec / 1000000,
                level_names[level]);
        va_start(ap, fmt);
        vfprintf(out, fmt, ap);
        va_end(ap);
        fputc('\n', out);
        funlockfile(out);
}

const char *br_log_escape(char *buf, size_t size, const char *s) {
        size_t o = 0;

        if (!s)
                s = "-";
        for (; *s && o + 5 < size; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
                        snprintf(buf + o, size - o, "\\x%02x", c);
                        o += 4;
                } else {
                        buf[o++] = (char)c;
                }
        }
        if (*s && size >= 4) {
                /* cut on a character boundary, then mark the cut */
                while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
                        o--;
                if (o > 0 && ((unsigned char)buf[o - 1] & 0x80))
                        o--;
                if (o > size - 4)
                        o = size - 4;
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        if (size)
                buf[o < size ? o : size - 1] = '\0';
        return buf;
}
