#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "bridge/util.h"

int64_t br_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t br_wallclock_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void br_rfc3339(int64_t wall_us, char *buf, size_t size)
{
        time_t secs = (time_t)(wall_us / 1000000);
        struct tm tm;
        char base[24];

        gmtime_r(&secs, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, size, "%s.%03dZ", base, (int)((wall_us / 1000) % 1000));
}
