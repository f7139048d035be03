/* Logging: one line per entry on stderr as key=value pairs.  The level is
 * checked before any formatting.  Secrets never reach this module. */
#ifndef BR_LOG_H
#define BR_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "bridge/conf.h"

struct br_log {
        enum br_log_level level;
        FILE *out; /* stderr unless a test redirects it */
};

void br_log_write(struct br_log *log, enum br_log_level level, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

/* s made safe inside a quoted log value: '"', '\\' and control bytes
 * as \xNN, UTF-8 kept, cut with "..." to fit size.  NULL gives "-".
 * Returns buf.  Object keys and reasons come from payloads: a newline or
 * quote in them must not forge a log line. */
/* Room for a 1024-byte key with every byte escaped. */
#define BR_LOG_KEY_MAX (1024 * 4 + 8)
const char *br_log_escape(char *buf, size_t size, const char *s);

#define br_log(LOG, LEVEL, ...)                                                \
        do {                                                                   \
                if ((LEVEL) <= (LOG)->level)                                   \
                        br_log_write((LOG), (LEVEL), __VA_ARGS__);             \
        } while (0)

#endif
