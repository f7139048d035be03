/* Chaos: the daemon killed mid-stream, a second bridge joining the group
 * (eager and cooperative rebalancing), brokers going down and coming back,
 * and both ways a SIGTERM can end a drain (a second signal, or the grace
 * period running out).  At-least-once throughout: an event may arrive
 * twice, never not at all, and no committed offset may pass an event the
 * receiver has not seen.
 *
 * Events are produced to explicit partitions, and the topic is read back
 * to learn which event sits at which offset ("the book"), so a committed
 * offset can be checked against the keys the receiver got. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bridge/ctx.h"
#include "bridge/receiver.h"
#include "bridge/util.h"
#include "tests/integration/lib_bridge.h"

#define TOPIC   "chaos"
#define BUCKET  "chaos"
#define PARTS   4
#define API_KEY "chaos-secret-key-7"

/* Deadlines only catch hangs; they are far above the expected times. */
#define LONG_MS 90000

/* ------------------------------------------------------------------ */
/* Events and where they landed                                        */

/* Produces events first..first+n-1 of prefix, event i to partition
 * i % PARTS, key "<bucket>/<raw key>".  Not flushed.  0/-1. */
static int produce_range(struct br_h_cluster *c, const char *prefix, int first,
                         int n) {
        char raw[256], key[300];
        int i;

        for (i = first; i < first + n; i++) {
                size_t len;
                char *value;
                int rc;

                br_h_event_key(raw, sizeof(raw), prefix, i);
                snprintf(key, sizeof(key), "%s/%s", BUCKET, raw);
                value = br_h_minio_event(BUCKET, raw, NULL, &len);
                if (!value)
                        return -1;
                rc = br_h_produce(c, TOPIC, i % PARTS, key, strlen(key), value,
                                  len);
                free(value);
                if (rc == -1)
                        return -1;
        }
        return 0;
}

/* The event number in a raw object key of prefix, -1 if it is not one
 * of ours. */
static int event_index(const char *raw, const char *prefix, int total) {
        size_t plen = strlen(prefix);
        char again[256];
        int idx;

        if (!raw || strncmp(raw, prefix, plen) != 0 ||
            sscanf(raw + plen, "doc %d", &idx) != 1 || idx < 0 || idx >= total)
                return -1;
        br_h_event_key(again, sizeof(again), prefix, idx);
        return strcmp(again, raw) == 0 ? idx : -1;
}

/* Which event sits at which offset, read back from the topic. */
struct book {
        const char *prefix;
        int total;
        int *at[PARTS]; /* event number at each offset, -1 unknown */
        int64_t end[PARTS];
        int unknown; /* messages that were not our events */
};

static int book_add(const rd_kafka_message_t *m, void *arg) {
        struct book *b  = arg;
        size_t plen     = strlen(BUCKET) + 1;
        char raw[300]   = "";
        const char *key = m->key;
        int idx;

        if (key && m->key_len > plen && m->key_len - plen < sizeof(raw))
                memcpy(raw, key + plen, m->key_len - plen);
        idx = event_index(raw, b->prefix, b->total);
        if (idx < 0 || m->partition < 0 || m->partition >= PARTS ||
            m->offset >= b->total)
                b->unknown++;
        else
                b->at[m->partition][m->offset] = idx;
        return 0;
}

static void book_read(struct br_h_cluster *c, struct book *b,
                      const char *prefix, int total) {
        int p, i;

        memset(b, 0, sizeof(*b));
        b->prefix = prefix;
        b->total  = total;
        for (p = 0; p < PARTS; p++) {
                b->at[p] = malloc((size_t)total * sizeof(int));
                assert_non_null(b->at[p]);
                for (i = 0; i < total; i++)
                        b->at[p][i] = -1;
        }
        assert_int_equal(br_h_read_topic(c, TOPIC, PARTS, 30000, book_add, b),
                         total);
        assert_int_equal(b->unknown, 0);
        assert_int_equal(br_h_end_offsets(c, TOPIC, PARTS, b->end, 10000), 0);
        assert_int_equal(br_h_offsets_sum(b->end, PARTS), total);
}

/* Offset of event idx, -1 when not in the book. */
static int64_t book_offset(const struct book *b, int idx, int *part) {
        int p;
        int64_t o;

        for (p = 0; p < PARTS; p++)
                for (o = 0; o < b->end[p]; o++)
                        if (b->at[p][o] == idx) {
                                *part = p;
                                return o;
                        }
        return -1;
}

static void book_free(struct book *b) {
        int p;

        for (p = 0; p < PARTS; p++)
                free(b->at[p]);
        memset(b, 0, sizeof(*b));
}

/* What the receiver answered 2xx, per event.  A delayed answer is
 * recorded before its delay, so this may count a request whose answer
 * never left: a superset of what the bridge saw delivered, which is the
 * safe side for "committed implies received". */
struct seen {
        struct br_receiver *recv;
        const char *prefix;
        int total;
        unsigned *hits;
        int distinct;
        size_t scanned; /* receiver records looked at */
        size_t foreign; /* 2xx requests for keys that are not ours */
};

static void seen_init(struct seen *s, struct br_receiver *recv,
                      const char *prefix, int total) {
        memset(s, 0, sizeof(*s));
        s->recv   = recv;
        s->prefix = prefix;
        s->total  = total;
        s->hits   = calloc((size_t)total, sizeof(*s->hits));
        assert_non_null(s->hits);
        s->scanned = br_receiver_count(recv);
}

/* Forgets the counts; only requests from now on will count. */
static void seen_restart(struct seen *s) {
        memset(s->hits, 0, (size_t)s->total * sizeof(*s->hits));
        s->distinct = 0;
        s->scanned  = br_receiver_count(s->recv);
}

static void seen_update(struct seen *s) {
        size_t n = br_receiver_count(s->recv);

        for (; s->scanned < n; s->scanned++) {
                struct br_received rec;
                int idx;

                if (br_receiver_get(s->recv, s->scanned, &rec) == -1)
                        fail_msg("receiver record %zu missing", s->scanned);
                if (rec.status >= 200 && rec.status < 300) {
                        idx = event_index(rec.key, s->prefix, s->total);
                        if (idx < 0)
                                s->foreign++;
                        else if (s->hits[idx]++ == 0)
                                s->distinct++;
                }
                br_received_free(&rec);
        }
}

static void seen_free(struct seen *s) {
        free(s->hits);
        s->hits = NULL;
}

/* Every event below a partition's committed offset was received. */
static void check_covered(const struct book *b, struct seen *s,
                          const int64_t *committed) {
        int p;
        int64_t o;

        seen_update(s);
        for (p = 0; p < PARTS; p++) {
                if (committed[p] < 0)
                        continue;
                assert_true(committed[p] <= b->end[p]);
                for (o = 0; o < committed[p]; o++) {
                        int idx = b->at[p][o];

                        if (idx < 0 || !s->hits[idx])
                                fail_msg("partition %d committed %lld but "
                                         "event %d at offset %lld was never "
                                         "received",
                                         p, (long long)committed[p], idx,
                                         (long long)o);
                }
        }
}

static int committed_is(struct br_h_cluster *c, const char *group,
                        const int64_t *want) {
        int64_t got[PARTS];
        int p;

        if (br_h_committed(c, group, TOPIC, PARTS, got, 5000) == -1)
                return 0;
        for (p = 0; p < PARTS; p++)
                if (got[p] != want[p])
                        return 0;
        return 1;
}

static void assert_committed_is_end(struct br_h_cluster *c, const char *group) {
        int64_t end[PARTS], committed[PARTS];
        int p;

        assert_int_equal(br_h_end_offsets(c, TOPIC, PARTS, end, 10000), 0);
        assert_int_equal(
            br_h_committed(c, group, TOPIC, PARTS, committed, 10000), 0);
        for (p = 0; p < PARTS; p++)
                if (committed[p] != end[p])
                        fail_msg("partition %d: committed %lld, end %lld", p,
                                 (long long)committed[p], (long long)end[p]);
}

/* ------------------------------------------------------------------ */
/* Environment: a cluster, a receiver, a scratch directory, and whatever
 * a test started, so that teardown can clean up after a failed one. */

struct env {
        struct br_h_cluster *cluster;
        struct br_receiver *recv;
        char url[256];
        char dir[256];
        char cfg[512];
        char log[512];
        struct br_h_proc proc;
        struct br_b_run runs[2];
        struct book book; /* freed by teardown, whatever happened */
        struct seen seen;
};

static struct env *env_new(int brokers) {
        struct env *e = calloc(1, sizeof(*e));
        char errstr[256];

        assert_non_null(e);
        e->cluster = br_h_cluster_new(brokers, TOPIC, PARTS);
        assert_non_null(e->cluster);
        e->recv = br_receiver_new(NULL, 0, errstr, sizeof(errstr));
        if (!e->recv)
                fail_msg("receiver: %s", errstr);
        br_receiver_set_api_key(e->recv, API_KEY);
        br_receiver_url(e->recv, e->url, sizeof(e->url));
        assert_int_equal(br_h_tmpdir(e->dir, sizeof(e->dir)), 0);
        assert_int_equal(br_h_path(e->cfg, sizeof(e->cfg), e->dir, "b.yaml"),
                         0);
        assert_int_equal(br_h_path(e->log, sizeof(e->log), e->dir, "b.log"), 0);
        return e;
}

static int setup_one_broker(void **state) {
        *state = env_new(1);
        return 0;
}

static int setup_three_brokers(void **state) {
        *state = env_new(3);
        return 0;
}

static int teardown(void **state) {
        struct env *e = *state;
        int i;

        br_h_proc_kill(&e->proc);
        for (i = 0; i < 2; i++)
                br_b_destroy(&e->runs[i]);
        book_free(&e->book);
        seen_free(&e->seen);
        /* wakes replies still held by a delay rule */
        br_receiver_destroy(e->recv);
        br_h_cluster_destroy(e->cluster);
        if (getenv("BR_H_KEEP"))
                fprintf(stderr, "chaos: kept %s\n", e->dir);
        else
                br_h_rmtree(e->dir);
        free(e);
        return 0;
}

/* The bridge's configuration.  auto.commit.interval.ms is short so that
 * commits happen while the chaos does. */
static void make_yaml(char *buf, size_t size, struct env *e, const char *group,
                      int max_in_flight, const char *grace,
                      const char *log_level, const char *more_props) {
        int n = snprintf(buf, size,
                         "kafka:\n"
                         "  brokers: %s\n"
                         "  group: %s\n"
                         "  topics: [" TOPIC "]\n"
                         "  properties:\n"
                         "    session.timeout.ms: 6000\n"
                         "    auto.commit.interval.ms: 200\n"
                         "%s"
                         "webhook:\n"
                         "  url: %s\n"
                         "  api_key: " API_KEY "\n"
                         "  max_in_flight: %d\n"
                         "  timeout: 60s\n"
                         "routes:\n"
                         "  - bucket: " BUCKET "\n"
                         "    storage_client_id: sc-chaos\n"
                         "dead_letter: {none: true}\n"
                         "shutdown: {grace: %s}\n"
                         "log: {level: %s}\n",
                         br_h_bootstraps(e->cluster), group,
                         more_props ? more_props : "", e->url, max_in_flight,
                         grace, log_level);

        assert_true(n > 0 && (size_t)n < size);
}

/* In-process bridges log to our stderr: errors only, unless
 * BR_CHAOS_LOG=debug (or info, warn) asks for more. */
static const char *inproc_log_level(void) {
        const char *level = getenv("BR_CHAOS_LOG");

        return level && *level ? level : "error";
}

static void run_start(struct br_b_run *r, const char *yaml) {
        assert_int_equal(br_b_start(r, yaml), 0);
}

/* Graceful stop of every started run together, then destroy. */
static void runs_stop(struct br_b_run *runs, int n) {
        int64_t until = br_now_us() + 30 * 1000000LL;
        int i, busy;

        for (i = 0; i < n; i++)
                if (runs[i].ctx)
                        br_loop_stop(runs[i].ctx);
        do {
                busy = 0;
                for (i = 0; i < n; i++) {
                        if (!runs[i].ctx || br_loop_done(runs[i].ctx))
                                continue;
                        busy = 1;
                        br_loop_run_once(runs[i].ctx, 10);
                }
        } while (busy && br_now_us() < until);
        assert_false(busy);
        for (i = 0; i < n; i++) {
                if (!runs[i].ctx)
                        continue;
                assert_int_equal(runs[i].ctx->exit_code, 0);
                br_b_destroy(&runs[i]);
        }
}

static size_t assignment_cnt(struct br_b_run *r) {
        rd_kafka_topic_partition_list_t *list = NULL;
        size_t n;

        if (rd_kafka_assignment(r->ctx->rk, &list) || !list)
                return 0;
        n = (size_t)list->cnt;
        rd_kafka_topic_partition_list_destroy(list);
        return n;
}

/* The daemon as a child, on the configuration file as it is. */
static void respawn(struct env *e) {
        br_h_proc_kill(&e->proc); /* releases the previous one's pidfd */
        assert_int_equal(br_h_spawn_bridge(&e->proc, e->cfg, e->log), 0);
}

static void spawn(struct env *e, const char *yaml) {
        assert_int_equal(br_h_write_file(e->cfg, yaml, strlen(yaml)), 0);
        respawn(e);
}

static void delay_all(struct br_receiver *recv, int delay_ms) {
        struct br_receiver_rule rule;

        memset(&rule, 0, sizeof(rule));
        rule.count    = -1;
        rule.delay_ms = delay_ms;
        assert_int_equal(br_receiver_add_rule(recv, &rule), 0);
}

/* ------------------------------------------------------------------ */
/* 1. SIGKILL mid-stream, then a restart on the same group              */

#define KILL_EVENTS 2000

struct kill_watch {
        struct env *e;
        struct seen *seen;
        const char *group;
};

/* Mid-stream: some deliveries made and some of them committed. */
static int some_delivered_and_committed(void *arg) {
        struct kill_watch *w = arg;

        seen_update(w->seen);
        return w->seen->distinct >= 300 &&
               br_h_committed_sum(w->e->cluster, w->group, TOPIC, PARTS, 5000) >
                   0;
}

static int all_seen(void *arg) {
        struct seen *s = arg;

        seen_update(s);
        return s->distinct == s->total;
}

static void test_sigkill_mid_stream(void **state) {
        struct env *e      = *state;
        const char *group  = "chaos-kill";
        const char *prefix = "kill/";
        int64_t committed[PARTS];
        struct kill_watch w;
        char yaml[2048];

        assert_int_equal(produce_range(e->cluster, prefix, 0, KILL_EVENTS), 0);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);
        book_read(e->cluster, &e->book, prefix, KILL_EVENTS);
        seen_init(&e->seen, e->recv, prefix, KILL_EVENTS);

        /* 8 in flight, 20 ms each: at most ~400 a second, so the kill
         * lands well before the 2000th */
        delay_all(e->recv, 20);
        make_yaml(yaml, sizeof(yaml), e, group, 8, "10s", "info", NULL);
        spawn(e, yaml);
        w.e     = e;
        w.seen  = &e->seen;
        w.group = group;
        assert_int_equal(br_h_wait(some_delivered_and_committed, &w, LONG_MS,
                                   br_h_step_receiver, e->recv),
                         0);
        assert_int_equal(br_h_proc_signal(&e->proc, SIGKILL), 0);
        assert_int_equal(br_h_proc_wait(&e->proc, 10000), 0);
        assert_int_equal(br_h_proc_exit_code(&e->proc), 128 + SIGKILL);

        seen_update(&e->seen);
        assert_true(e->seen.distinct < KILL_EVENTS);
        assert_int_equal(
            br_h_committed(e->cluster, group, TOPIC, PARTS, committed, 10000),
            0);
        assert_true(br_h_offsets_sum(committed, PARTS) > 0);
        check_covered(&e->book, &e->seen, committed);

        /* the receiver recovers; a new process of the same group takes
         * over once the mock cluster has timed the dead member out */
        br_receiver_clear_rules(e->recv);
        respawn(e);
        assert_int_equal(
            br_h_wait(all_seen, &e->seen, LONG_MS, br_h_step_receiver, e->recv),
            0);
        assert_int_equal(br_h_proc_signal(&e->proc, SIGTERM), 0);
        assert_int_equal(br_h_proc_wait(&e->proc, 30000), 0);
        assert_int_equal(br_h_proc_exit_code(&e->proc), 0);
        assert_committed_is_end(e->cluster, group);
        assert_int_equal(e->seen.foreign, 0);
        assert_int_equal(br_h_file_contains(e->log, API_KEY), 0);
}

/* ------------------------------------------------------------------ */
/* 2. A second bridge joins the group mid-stream                        */

#define REBAL_FIRST 200
#define REBAL_TOTAL 1600
#define REBAL_BATCH 10

struct duo {
        struct env *e;
        struct br_b_run *a, *b;
        const char *prefix;
        int produced;
        int64_t next_us;
        int failed;
        size_t a_at_join; /* a's finished messages when b started */
};

/* Both loops take a turn; every 50 ms ten more events are produced, so
 * that production spans the rebalance. */
static void duo_step(void *arg) {
        struct duo *d = arg;
        int64_t now   = br_now_us();

        br_loop_run_once(d->a->ctx, 5);
        if (d->b->ctx)
                br_loop_run_once(d->b->ctx, 5);
        if (d->produced < REBAL_TOTAL && now >= d->next_us) {
                if (produce_range(d->e->cluster, d->prefix, d->produced,
                                  REBAL_BATCH) == -1)
                        d->failed = 1;
                d->produced += REBAL_BATCH;
                d->next_us = now + 50000;
        }
}

static int first_has_worked(void *arg) {
        struct duo *d = arg;

        return d->a->finished >= 50;
}

/* Production is over and both bridges own partitions and have finished
 * messages since the second one joined. */
static int both_working(void *arg) {
        struct duo *d = arg;

        return d->failed ||
               (d->produced >= REBAL_TOTAL && d->b->finished > 0 &&
                d->a->finished > d->a_at_join && assignment_cnt(d->a) > 0 &&
                assignment_cnt(d->b) > 0);
}

struct duo_done {
        struct duo *d;
        struct seen *seen;
        const char *group;
        int64_t end[PARTS];
};

static int all_seen_and_committed(void *arg) {
        struct duo_done *x = arg;

        seen_update(x->seen);
        return x->seen->distinct == x->seen->total &&
               committed_is(x->d->e->cluster, x->group, x->end);
}

/* Two in-process bridges on one group, stepped in turn.  Duplicates are
 * expected: besides records in flight when a partition moves, the mock
 * cluster refuses every commit while the group is joining (real brokers
 * accept the current generation's), so with the eager protocol the first
 * bridge's work since the join began is delivered again by the new owner.
 * Losses are what must not happen. */
static void rebalance_case(struct env *e, const char *group, const char *prefix,
                           const char *props, const char *protocol) {
        struct duo d;
        struct duo_done x;
        char yaml[2048];

        seen_init(&e->seen, e->recv, prefix, REBAL_TOTAL);
        /* slow enough that records are in flight when partitions move */
        delay_all(e->recv, 10);
        make_yaml(yaml, sizeof(yaml), e, group, 16, "10s", inproc_log_level(),
                  props);

        memset(&d, 0, sizeof(d));
        d.e      = e;
        d.a      = &e->runs[0];
        d.b      = &e->runs[1];
        d.prefix = prefix;
        assert_int_equal(produce_range(e->cluster, prefix, 0, REBAL_FIRST), 0);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);
        d.produced = REBAL_FIRST;
        d.next_us  = INT64_MAX; /* no more until the second one starts */

        run_start(d.a, yaml);
        assert_int_equal(br_h_wait(first_has_worked, &d, LONG_MS, duo_step, &d),
                         0);
        assert_string_equal(rd_kafka_rebalance_protocol(d.a->ctx->rk),
                            protocol);

        run_start(d.b, yaml);
        d.a_at_join = d.a->finished;
        d.next_us   = br_now_us();
        assert_int_equal(br_h_wait(both_working, &d, LONG_MS, duo_step, &d), 0);
        assert_false(d.failed);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);
        assert_string_equal(rd_kafka_rebalance_protocol(d.b->ctx->rk),
                            protocol);

        memset(&x, 0, sizeof(x));
        x.d     = &d;
        x.seen  = &e->seen;
        x.group = group;
        assert_int_equal(
            br_h_end_offsets(e->cluster, TOPIC, PARTS, x.end, 10000), 0);
        assert_int_equal(br_h_offsets_sum(x.end, PARTS), REBAL_TOTAL);
        assert_int_equal(
            br_h_wait(all_seen_and_committed, &x, LONG_MS, duo_step, &d), 0);
        /* still split between the two at the end */
        assert_true(assignment_cnt(d.a) > 0);
        assert_true(assignment_cnt(d.b) > 0);
        assert_true(assignment_cnt(d.a) + assignment_cnt(d.b) == PARTS);
        assert_false(d.a->ctx->stopping);
        assert_false(d.b->ctx->stopping);
        print_message("%s: first bridge finished %zu messages (%zu before "
                      "the join), second %zu; %llu records orphaned by "
                      "revokes; %zu requests for %d events\n",
                      protocol, d.a->finished, d.a_at_join, d.b->finished,
                      (unsigned long long)(d.a->ctx->stats.orphaned +
                                           d.b->ctx->stats.orphaned),
                      e->seen.scanned, REBAL_TOTAL);

        runs_stop(e->runs, 2);
        assert_committed_is_end(e->cluster, group);
        assert_int_equal(e->seen.foreign, 0);
}

static void test_rebalance_eager(void **state) {
        rebalance_case(*state, "chaos-eager", "eager/", NULL, "EAGER");
}

/* The mock cluster of librdkafka 2.0.2 only relays the leader's first
 * protocol and its assignment; the incremental protocol itself runs in
 * the clients, so cooperative-sticky works against it. */
static void test_rebalance_cooperative(void **state) {
        rebalance_case(*state, "chaos-coop", "coop/",
                       "    partition.assignment.strategy: "
                       "cooperative-sticky\n",
                       "COOPERATIVE");
}

/* ------------------------------------------------------------------ */
/* 3. Brokers down and back                                             */

#define BROKER_BATCH 400

struct solo {
        struct br_b_run *r;
        struct seen *seen;
        int want;     /* events that must have been seen */
        int odd_from; /* with want < 0: every odd event from this one */
};

static void solo_step(void *arg) {
        struct solo *s = arg;

        br_loop_run_once(s->r->ctx, 20);
}

static int seen_at_least(void *arg) {
        struct solo *s = arg;

        seen_update(s->seen);
        return s->seen->distinct >= s->want;
}

/* Events on partitions 1 and 3 (odd numbers) from odd_from on. */
static int odd_seen(void *arg) {
        struct solo *s = arg;
        int i;

        seen_update(s->seen);
        for (i = s->odd_from | 1; i < s->seen->total; i += 2)
                if (!s->seen->hits[i])
                        return 0;
        return 1;
}

struct solo_done {
        struct solo *s;
        struct env *e;
        const char *group;
        int64_t end[PARTS];
};

static int solo_all_committed(void *arg) {
        struct solo_done *x = arg;

        seen_update(x->s->seen);
        return x->s->seen->distinct == x->s->seen->total &&
               committed_is(x->e->cluster, x->group, x->end);
}

/* Broker 1 leads partitions 0 and 2 and coordinates the group; broker 2
 * leads 1 and 3.  Broker 1 goes down while records of its partitions are
 * in flight and more are being produced: the others keep flowing, commits
 * fail until it is back, then everything is delivered and committed. */
static void test_broker_down_and_back(void **state) {
        struct env *e                 = *state;
        rd_kafka_mock_cluster_t *mock = br_h_mock(e->cluster);
        const char *group             = "chaos-broker";
        const char *prefix            = "broker/";
        struct br_b_run *r            = &e->runs[0];
        struct solo s;
        struct solo_done x;
        char yaml[2048];
        int p;

        assert_int_equal(rd_kafka_mock_coordinator_set(mock, "group", group, 1),
                         0);
        for (p = 0; p < PARTS; p++)
                assert_int_equal(rd_kafka_mock_partition_set_leader(
                                     mock, TOPIC, p, p % 2 ? 2 : 1),
                                 0);
        seen_init(&e->seen, e->recv, prefix, 2 * BROKER_BATCH);
        assert_int_equal(produce_range(e->cluster, prefix, 0, BROKER_BATCH), 0);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);

        delay_all(e->recv, 10);
        make_yaml(yaml, sizeof(yaml), e, group, 8, "10s", inproc_log_level(),
                  NULL);
        run_start(r, yaml);
        memset(&s, 0, sizeof(s));
        s.r    = r;
        s.seen = &e->seen;
        s.want = 100;
        assert_int_equal(br_h_wait(seen_at_least, &s, LONG_MS, solo_step, &s),
                         0);

        assert_int_equal(rd_kafka_mock_broker_set_down(mock, 1), 0);
        /* the producer holds partitions 0 and 2 until broker 1 is back */
        assert_int_equal(
            produce_range(e->cluster, prefix, BROKER_BATCH, BROKER_BATCH), 0);
        s.odd_from = 0;
        assert_int_equal(br_h_wait(odd_seen, &s, LONG_MS, solo_step, &s), 0);
        assert_false(r->ctx->stopping);
        assert_int_equal(rd_kafka_mock_broker_set_up(mock, 1), 0);

        assert_int_equal(br_h_flush(e->cluster, 30000), 0);
        memset(&x, 0, sizeof(x));
        x.s     = &s;
        x.e     = e;
        x.group = group;
        assert_int_equal(
            br_h_end_offsets(e->cluster, TOPIC, PARTS, x.end, 10000), 0);
        assert_int_equal(br_h_offsets_sum(x.end, PARTS), 2 * BROKER_BATCH);
        assert_int_equal(
            br_h_wait(solo_all_committed, &x, LONG_MS, solo_step, &s), 0);
        assert_false(r->ctx->stopping);
        assert_false(r->ctx->fatal);
        runs_stop(e->runs, 1);
        assert_committed_is_end(e->cluster, group);
        assert_int_equal(e->seen.foreign, 0);
}

static int assignment_lost(void *arg) {
        struct solo *s = arg;
        struct br_partition *p;
        int any = 0;

        for (p = s->r->ctx->offsets.parts; p; p = p->next) {
                any = 1;
                if (p->assigned)
                        return 0;
        }
        return any;
}

/* The only broker goes away for longer than the session timeout: the
 * consumer loses its assignment (nothing is stored for lost partitions),
 * and when the broker is back it rejoins and finishes the work. */
static void test_whole_cluster_down_past_session_timeout(void **state) {
        struct env *e                 = *state;
        rd_kafka_mock_cluster_t *mock = br_h_mock(e->cluster);
        const char *group             = "chaos-outage";
        const char *prefix            = "outage/";
        struct br_b_run *r            = &e->runs[0];
        struct solo s;
        struct solo_done x;
        char yaml[2048];

        seen_init(&e->seen, e->recv, prefix, 2 * BROKER_BATCH);
        assert_int_equal(produce_range(e->cluster, prefix, 0, BROKER_BATCH), 0);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);

        delay_all(e->recv, 10);
        make_yaml(yaml, sizeof(yaml), e, group, 8, "10s", inproc_log_level(),
                  NULL);
        run_start(r, yaml);
        memset(&s, 0, sizeof(s));
        s.r    = r;
        s.seen = &e->seen;
        s.want = 100;
        assert_int_equal(br_h_wait(seen_at_least, &s, LONG_MS, solo_step, &s),
                         0);

        assert_int_equal(rd_kafka_mock_broker_set_down(mock, -1), 0);
        assert_int_equal(br_h_wait(assignment_lost, &s, LONG_MS, solo_step, &s),
                         0);
        assert_false(r->ctx->stopping);
        assert_int_equal(rd_kafka_mock_broker_set_up(mock, -1), 0);

        assert_int_equal(
            produce_range(e->cluster, prefix, BROKER_BATCH, BROKER_BATCH), 0);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);
        memset(&x, 0, sizeof(x));
        x.s     = &s;
        x.e     = e;
        x.group = group;
        assert_int_equal(
            br_h_end_offsets(e->cluster, TOPIC, PARTS, x.end, 10000), 0);
        assert_int_equal(br_h_offsets_sum(x.end, PARTS), 2 * BROKER_BATCH);
        assert_int_equal(
            br_h_wait(solo_all_committed, &x, LONG_MS, solo_step, &s), 0);
        assert_false(r->ctx->stopping);
        assert_false(r->ctx->fatal);
        runs_stop(e->runs, 1);
        assert_committed_is_end(e->cluster, group);
        assert_int_equal(e->seen.foreign, 0);
}

/* ------------------------------------------------------------------ */
/* 4 and 5. SIGTERM with a receiver that hangs                          */

/* 16 events per partition; the 11th of each (offset 10) hangs. */
#define HANG_EVENTS (16 * PARTS)
#define HANG_FIRST  (10 * PARTS)

static void hang_events(struct env *e, const char *prefix, struct book *book,
                        int64_t *hang_off) {
        int i;

        assert_int_equal(produce_range(e->cluster, prefix, 0, HANG_EVENTS), 0);
        assert_int_equal(br_h_flush(e->cluster, 30000), 0);
        book_read(e->cluster, book, prefix, HANG_EVENTS);
        for (i = HANG_FIRST; i < HANG_FIRST + PARTS; i++) {
                struct br_receiver_rule rule;
                char needle[32];
                int part    = -1;
                int64_t off = book_offset(book, i, &part);

                assert_true(off >= 0 && part >= 0);
                hang_off[part] = off;
                /* "doc 000040+" names exactly one event */
                snprintf(needle, sizeof(needle), "doc %06d+", i);
                memset(&rule, 0, sizeof(rule));
                rule.key_contains = needle;
                rule.count        = -1;
                rule.delay_ms     = 30000;
                assert_int_equal(br_receiver_add_rule(e->recv, &rule), 0);
        }
        /* every partition has exactly one hanging event */
        for (i = 0; i < PARTS; i++)
                assert_true(hang_off[i] > 0 && hang_off[i] < book->end[i] - 1);
}

struct hung {
        struct env *e;
        struct seen *seen;
        const char *group;
        const int64_t *hang_off;
};

/* Every event reached the receiver (the hanging ones are recorded on
 * arrival), and the commits went up to the hanging offsets. */
static int stuck_at_hang(void *arg) {
        struct hung *h = arg;
        int64_t got[PARTS];
        int p, at = 1;

        seen_update(h->seen);
        if (br_h_committed(h->e->cluster, h->group, TOPIC, PARTS, got, 5000))
                return 0;
        for (p = 0; p < PARTS; p++) {
                /* past a record that is still hanging: lost on a crash */
                if (got[p] > h->hang_off[p])
                        fail_msg("partition %d committed %lld past the "
                                 "hanging record at %lld",
                                 p, (long long)got[p],
                                 (long long)h->hang_off[p]);
                at &= got[p] == h->hang_off[p];
        }
        return at && h->seen->distinct == h->seen->total;
}

static int log_says(void *arg) {
        const char **what = arg;

        return br_h_file_contains(what[0], what[1]);
}

static void start_hung(struct env *e, const char *group, const char *prefix,
                       const char *grace, struct book *book, struct seen *seen,
                       int64_t *hang_off) {
        struct hung h;
        char yaml[2048];

        hang_events(e, prefix, book, hang_off);
        seen_init(seen, e->recv, prefix, HANG_EVENTS);
        /* every event in flight at once, so the later ones finish while
         * the hanging ones hold their partitions' watermarks */
        make_yaml(yaml, sizeof(yaml), e, group, 64, grace, "info", NULL);
        spawn(e, yaml);
        h.e        = e;
        h.seen     = seen;
        h.group    = group;
        h.hang_off = hang_off;
        assert_int_equal(
            br_h_wait(stuck_at_hang, &h, LONG_MS, br_h_step_receiver, e->recv),
            0);
}

static void test_second_sigterm_exits_at_once(void **state) {
        struct env *e     = *state;
        const char *group = "chaos-twice";
        const char *stopping[2];
        int64_t hang_off[PARTS], committed[PARTS], t0, ms;
        int p;

        start_hung(e, group, "twice/", "20s", &e->book, &e->seen, hang_off);

        assert_int_equal(br_h_proc_signal(&e->proc, SIGTERM), 0);
        stopping[0] = e->log;
        stopping[1] = "msg=\"stopping\"";
        assert_int_equal(br_h_wait(log_says, stopping, 10000, NULL, NULL), 0);
        /* draining: the hanging records hold it for the grace period */
        assert_int_equal(br_h_proc_wait(&e->proc, 500), -1);

        t0 = br_now_us();
        assert_int_equal(br_h_proc_signal(&e->proc, SIGTERM), 0);
        assert_int_equal(br_h_proc_wait(&e->proc, 10000), 0);
        ms = (br_now_us() - t0) / 1000;
        assert_true(ms < 5000);
        assert_int_equal(br_h_proc_exit_code(&e->proc), 0);
        assert_true(br_h_file_contains(e->log, "second signal"));

        assert_int_equal(
            br_h_committed(e->cluster, group, TOPIC, PARTS, committed, 10000),
            0);
        for (p = 0; p < PARTS; p++)
                assert_int_equal(committed[p], hang_off[p]);
        check_covered(&e->book, &e->seen, committed);
}

struct tail {
        const struct book *book;
        struct seen *seen;
        const int64_t *committed;
};

/* Every event at or past its partition's committed offset was seen. */
static int tail_seen(void *arg) {
        struct tail *t = arg;
        int p;
        int64_t o;

        seen_update(t->seen);
        for (p = 0; p < PARTS; p++)
                for (o = t->committed[p] < 0 ? 0 : t->committed[p];
                     o < t->book->end[p]; o++)
                        if (!t->seen->hits[t->book->at[p][o]])
                                return 0;
        return 1;
}

static void test_grace_elapsed_then_restart(void **state) {
        struct env *e     = *state;
        const char *group = "chaos-grace";
        int64_t hang_off[PARTS], committed[PARTS], t0, ms;
        struct tail tail;
        int p, i;

        start_hung(e, group, "grace/", "1s", &e->book, &e->seen, hang_off);

        t0 = br_now_us();
        assert_int_equal(br_h_proc_signal(&e->proc, SIGTERM), 0);
        assert_int_equal(br_h_proc_wait(&e->proc, 15000), 0);
        ms = (br_now_us() - t0) / 1000;
        /* it waited out the grace period, then left promptly */
        assert_true(ms >= 1000);
        assert_true(ms < 1000 + 5000);
        assert_int_equal(br_h_proc_exit_code(&e->proc), 0);
        assert_true(br_h_file_contains(e->log, "grace period over"));

        assert_int_equal(
            br_h_committed(e->cluster, group, TOPIC, PARTS, committed, 10000),
            0);
        for (p = 0; p < PARTS; p++)
                assert_int_equal(committed[p], hang_off[p]);
        check_covered(&e->book, &e->seen, committed);

        /* the receiver recovers: a restart delivers the held records (and
         * again those after them, whose offsets were never committed) */
        br_receiver_clear_rules(e->recv);
        seen_restart(&e->seen);
        respawn(e);
        tail.book      = &e->book;
        tail.seen      = &e->seen;
        tail.committed = committed;
        assert_int_equal(
            br_h_wait(tail_seen, &tail, LONG_MS, br_h_step_receiver, e->recv),
            0);
        for (i = HANG_FIRST; i < HANG_FIRST + PARTS; i++)
                assert_true(e->seen.hits[i] > 0);
        assert_int_equal(br_h_proc_signal(&e->proc, SIGTERM), 0);
        assert_int_equal(br_h_proc_wait(&e->proc, 30000), 0);
        assert_int_equal(br_h_proc_exit_code(&e->proc), 0);
        assert_committed_is_end(e->cluster, group);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_sigkill_mid_stream,
                                            setup_one_broker, teardown),
            cmocka_unit_test_setup_teardown(test_rebalance_eager,
                                            setup_one_broker, teardown),
            cmocka_unit_test_setup_teardown(test_rebalance_cooperative,
                                            setup_one_broker, teardown),
            cmocka_unit_test_setup_teardown(test_broker_down_and_back,
                                            setup_three_brokers, teardown),
            cmocka_unit_test_setup_teardown(
                test_whole_cluster_down_past_session_timeout, setup_one_broker,
                teardown),
            cmocka_unit_test_setup_teardown(test_second_sigterm_exits_at_once,
                                            setup_one_broker, teardown),
            cmocka_unit_test_setup_teardown(test_grace_elapsed_then_restart,
                                            setup_one_broker, teardown),
        };
        const char *only = getenv("BR_TEST_FILTER");
        int rc;

        /* BR_TEST_FILTER=test_grace* runs the matching tests only */
        if (only && *only)
                cmocka_set_test_filter(only);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = cmocka_run_group_tests_name("chaos", tests, NULL, NULL);
        curl_global_cleanup();
        return rc;
}
