/* Logging: one line per entry on stderr as key=value pairs.  The level is
 * checked before any formatting.  Secrets never reach this module. */
#ifndef BR_LOG_H
#define BR_LOG_H

#include <stdio.h>

#include "bridge/conf.h"

struct br_log {
        enum br_log_level level;
        FILE *out; /* stderr unless a test redirects it */
};

void br_log_write(struct br_log *log, enum br_log_level level,
                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define br_log(LOG, LEVEL, ...)                                                \
        do {                                                                   \
                if ((LEVEL) <= (LOG)->level)                                   \
                        br_log_write((LOG), (LEVEL), __VA_ARGS__);             \
        } while (0)

#endif
