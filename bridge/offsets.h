/* Per-partition open offsets and the contiguous watermark (STYLE.md 3).
 * A message's offset is tracked on receipt and marked done when every one of
 * its records is delivered or dead-lettered; what is stored is the first
 * offset still open (or one past the last seen), so a crash can only repeat
 * work, never skip it. */
#ifndef BR_OFFSETS_H
#define BR_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

struct br_partition {
        char *topic;
        int32_t partition;
        unsigned generation; /* bumped on revoke: older messages are orphans */
        int assigned;
        int paused;
        /* ring of open offsets in arrival (= ascending) order */
        int64_t *offsets;
        unsigned char *done;
        size_t head;
        size_t cnt;
        size_t cap;
        int64_t last_seen; /* highest offset tracked, -1 none */
        int64_t stored;    /* last value handed to offsets_store, -1 none */
        struct br_partition *next;
};

struct br_offsets {
        struct br_partition *parts;
        size_t open; /* open messages over all partitions */
};

void br_offsets_init(struct br_offsets *o);
void br_offsets_destroy(struct br_offsets *o);

/* Finds or creates the partition; NULL on allocation failure. */
struct br_partition *br_offsets_partition(struct br_offsets *o,
                                          const char *topic, int32_t partition);

/* Tracks offset as open.  An offset at or below one already tracked means
 * the consumer went back (seek, reset): the open ones become orphans first.
 * Returns 0, or -1 on allocation failure. */
int br_offsets_track(struct br_offsets *o, struct br_partition *p,
                     int64_t offset);

/* Marks offset done; ignored when not tracked (orphaned). */
void br_offsets_mark_done(struct br_offsets *o, struct br_partition *p,
                          int64_t offset);

/* The offset to store: the first still-open one, else last seen + 1;
 * -1 when nothing was seen. */
int64_t br_offsets_watermark(const struct br_partition *p);

/* Forgets the open offsets (revoke): messages still in flight become
 * orphans that finish without moving the watermark. */
void br_offsets_orphan(struct br_offsets *o, struct br_partition *p);

#endif
