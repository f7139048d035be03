#include <stdlib.h>
#include <string.h>

#include "bridge/offsets.h"

void br_offsets_init(struct br_offsets *o) {
        memset(o, 0, sizeof(*o));
}

void br_offsets_destroy(struct br_offsets *o) {
        struct br_partition *p, *next;

        for (p = o->parts; p; p = next) {
                next = p->next;
                free(p->topic);
                free(p->offsets);
                free(p->done);
                free(p);
        }
        o->parts = NULL;
        o->open  = 0;
}

struct br_partition *br_offsets_partition(struct br_offsets *o,
                                          const char *topic,
                                          int32_t partition) {
        struct br_partition *p;

        for (p = o->parts; p; p = p->next)
                if (p->partition == partition && !strcmp(p->topic, topic))
                        return p;
        p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->topic = strdup(topic);
        if (!p->topic) {
                free(p);
                return NULL;
        }
        p->partition = partition;
        p->last_seen = -1;
        p->stored    = -1;
        p->next      = o->parts;
        o->parts     = p;
        return p;
}

static size_t slot(const struct br_partition *p, size_t i) {
        return (p->head + i) % p->cap;
}

static int grow(struct br_partition *p) {
        size_t cap          = p->cap ? p->cap * 2 : 64;
        int64_t *offsets    = malloc(cap * sizeof(*offsets));
        unsigned char *done = malloc(cap);
        size_t i;

        if (!offsets || !done) {
                free(offsets);
                free(done);
                return -1;
        }
        /* unroll the ring so head is 0 again */
        for (i = 0; i < p->cnt; i++) {
                offsets[i] = p->offsets[slot(p, i)];
                done[i]    = p->done[slot(p, i)];
        }
        free(p->offsets);
        free(p->done);
        p->offsets = offsets;
        p->done    = done;
        p->cap     = cap;
        p->head    = 0;
        return 0;
}

void br_offsets_orphan(struct br_offsets *o, struct br_partition *p) {
        size_t i;

        for (i = 0; i < p->cnt; i++)
                if (!p->done[slot(p, i)])
                        o->open--;
        p->cnt  = 0;
        p->head = 0;
        p->generation++;
        p->last_seen = -1;
        p->stored    = -1;
}

int br_offsets_track(struct br_offsets *o, struct br_partition *p,
                     int64_t offset) {
        if (p->last_seen >= 0 && offset <= p->last_seen)
                br_offsets_orphan(o, p);
        if (p->cnt == p->cap && grow(p) == -1)
                return -1;
        p->offsets[slot(p, p->cnt)] = offset;
        p->done[slot(p, p->cnt)]    = 0;
        p->cnt++;
        p->last_seen = offset;
        o->open++;
        return 0;
}

void br_offsets_mark_done(struct br_offsets *o, struct br_partition *p,
                          int64_t offset) {
        size_t lo = 0, hi = p->cnt;

        /* offsets are ascending in the ring: binary search */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (p->offsets[slot(p, mid)] < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == p->cnt || p->offsets[slot(p, lo)] != offset ||
            p->done[slot(p, lo)])
                return;
        p->done[slot(p, lo)] = 1;
        o->open--;
        while (p->cnt && p->done[p->head]) {
                p->head = (p->head + 1) % p->cap;
                p->cnt--;
        }
}

int64_t br_offsets_watermark(const struct br_partition *p) {
        if (p->cnt)
                return p->offsets[p->head];
        return p->last_seen >= 0 ? p->last_seen + 1 : -1;
}
