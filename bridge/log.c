#include "bridge/log.h"

#include <stdarg.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void br_log_write(struct br_log *log, enum br_log_level level,
                  const char *fmt, ...)
{
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
