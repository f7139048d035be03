/* HTTPS webhooks: a private CA given by webhook.ca_file is trusted; without
 * it the certificate is refused and records wait (never dead-lettered, never
 * committed); webhook.tls_verify: false skips the check.  The certificate is
 * made by the openssl command for each run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/integration/lib_bridge.h"

#define TOPIC "tls-events"

struct env {
        struct br_h_cluster *cluster;
        struct br_receiver *recv;
        char dir[256];
        char cert_path[512];
        char url[256];
};

static int make_cert(struct env *e) {
        char key_path[512], subj[] = "-subj", cn[] = "/CN=127.0.0.1";
        char bin[] = "/usr/bin/openssl", req[] = "req", x509[] = "-x509",
             newkey[] = "-newkey", ec[] = "ec", pkeyopt[] = "-pkeyopt",
             curve[] = "ec_paramgen_curve:prime256v1", nodes[] = "-nodes",
             keyout[] = "-keyout", out[] = "-out", days[] = "-days",
             one[] = "1", addext[] = "-addext",
             san[] = "subjectAltName=IP:127.0.0.1";
        char log[512];
        struct br_h_proc p;

        br_h_path(e->cert_path, sizeof(e->cert_path), e->dir, "cert.pem");
        br_h_path(key_path, sizeof(key_path), e->dir, "key.pem");
        br_h_path(log, sizeof(log), e->dir, "openssl.log");
        {
                char *argv[] = {bin,     req,          x509,  newkey, ec,
                                pkeyopt, curve,        nodes, keyout, key_path,
                                out,     e->cert_path, days,  one,    subj,
                                cn,      addext,       san,   NULL};

                if (br_h_spawn(&p, argv, log) || br_h_proc_wait(&p, 30000) ||
                    br_h_proc_exit_code(&p) != 0)
                        return -1;
        }
        {
                size_t cert_len, key_len;
                char *cert = br_h_read_file(e->cert_path, &cert_len);
                char *key  = br_h_read_file(key_path, &key_len);
                char errstr[256];

                if (cert && key)
                        e->recv = br_receiver_new_tls(NULL, 0, cert, key,
                                                      errstr, sizeof(errstr));
                if (!e->recv)
                        fprintf(stderr, "tls receiver: %s\n",
                                cert && key ? errstr : "no PEM files");
                free(cert);
                free(key);
        }
        return e->recv ? 0 : -1;
}

static int setup(void **state) {
        struct env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        *state = e; /* teardown cleans up whatever setup got to */
        assert_int_equal(br_h_tmpdir(e->dir, sizeof(e->dir)), 0);
        e->cluster = br_h_cluster_new(1, TOPIC, 1);
        assert_non_null(e->cluster);
        assert_int_equal(make_cert(e), 0);
        br_receiver_url(e->recv, e->url, sizeof(e->url));
        assert_memory_equal(e->url, "https://", 8);
        return 0;
}

static int teardown(void **state) {
        struct env *e = *state;

        if (!e)
                return 0;
        br_receiver_destroy(e->recv);
        br_h_cluster_destroy(e->cluster);
        if (e->dir[0])
                br_h_rmtree(e->dir);
        free(e);
        return 0;
}

static void start(struct env *e, struct br_b_run *r, const char *group,
                  const char *tls) {
        char yaml[2048];

        snprintf(yaml, sizeof(yaml),
                 "kafka:\n"
                 "  brokers: %s\n"
                 "  group: %s\n"
                 "  topics: [" TOPIC "]\n"
                 "  properties: {session.timeout.ms: 6000}\n"
                 "webhook:\n"
                 "  url: %s\n"
                 "  api_key: tls-key\n"
                 "%s"
                 "retry: {initial_backoff: 50ms, max_backoff: 200ms}\n"
                 "routes:\n"
                 "  - bucket: \"*\"\n"
                 "    storage_client_id: sc-tls\n"
                 "dead_letter: {none: true}\n"
                 "log: {level: error}\n",
                 br_h_bootstraps(e->cluster), group, e->url, tls);
        assert_int_equal(br_b_start(r, yaml), 0);
}

static int retried(void *arg) {
        return ((struct br_b_run *)arg)->ctx->stats.retries >= 3;
}

static void test_private_ca_trusted(void **state) {
        struct env *e = *state;
        struct br_b_run r;
        char tls[700];

        assert_int_equal(br_b_produce_minio(e->cluster, TOPIC, "sec", "a.pdf"),
                         0);
        snprintf(tls, sizeof(tls), "  ca_file: %s\n", e->cert_path);
        start(e, &r, "tls-ca", tls);
        assert_int_equal(br_b_wait_finished(&r, 1, 30000), 0);
        assert_int_equal(r.ctx->stats.delivered, 1);
        assert_int_equal(br_b_stop(&r, 10000), 0);
        assert_int_equal(br_receiver_count_status(e->recv, 200), 1);
        assert_true(br_b_committed_is_end(e->cluster, "tls-ca", TOPIC, 1));
}

/* The system's CAs do not know ours: the handshake fails, which is a
 * retry, so the record waits; nothing is committed past it. */
static void test_unknown_ca_refused_then_skip_verify(void **state) {
        struct env *e = *state;
        struct br_b_run r;
        size_t before = br_receiver_count_status(e->recv, 200);
        int64_t committed[1];

        start(e, &r, "tls-nocafile", "");
        assert_int_equal(br_b_wait(&r, retried, &r, 30000), 0);
        assert_int_equal(r.ctx->stats.delivered, 0);
        assert_int_equal(r.ctx->stats.dead_lettered, 0);
        assert_int_equal(br_b_stop(&r, 10000), 0);
        assert_int_equal(br_receiver_count_status(e->recv, 200), before);
        assert_int_equal(br_h_committed(e->cluster, "tls-nocafile", TOPIC, 1,
                                        committed, 10000),
                         0);
        /* at most the waiting record's own offset (0): it is read again */
        assert_true(committed[0] <= 0);

        /* tls_verify: false (tests only) accepts any certificate */
        start(e, &r, "tls-noverify", "  tls_verify: false\n");
        assert_int_equal(br_b_wait_finished(&r, 1, 30000), 0);
        assert_int_equal(r.ctx->stats.delivered, 1);
        assert_int_equal(br_b_stop(&r, 10000), 0);
        assert_int_equal(br_receiver_count_status(e->recv, 200), before + 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_private_ca_trusted),
            cmocka_unit_test(test_unknown_ca_refused_then_skip_verify),
        };

        return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
