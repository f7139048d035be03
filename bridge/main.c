/* bucketbridge: command line, signals, start/stop order.  The only exit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bridge/cli.h"
#include "bridge/ctx.h"
#include "bridge/transform.h"

static const char usage[] =
    "usage: bucketbridge COMMAND [OPTIONS]\n"
    "\n"
    "Consumes S3-style bucket notifications (MinIO, Ceph RGW, AWS S3,\n"
    "EventBridge, Alibaba OSS) from Kafka and posts each created object to\n"
    "the OPSWAT MetaDefender Storage Security real-time webhook.\n"
    "\n"
    "commands:\n"
    "  run -c FILE          run the daemon (SIGTERM/SIGINT: drain, commit, "
    "exit)\n"
    "  check -c FILE        validate a configuration (exit 2 when invalid)\n"
    "  transform [-c FILE] [--storage-client-id ID] [--format F] "
    "[--scan-id ID] [FILE...]\n"
    "                       print the bodies that messages would produce\n"
    "  replay -c FILE (--from-topic T | --from-file F) [--class C] "
    "[--dry-run]\n"
    "                       re-send dead-lettered records\n"
    "  demo [FILE...]       embedded Kafka + local MDSS stand-in, end to end\n"
    "  help-config [--markdown]\n"
    "                       every configuration option\n"
    "  dump-config -c FILE  the effective configuration (secrets hidden)\n"
    "  --version, --help\n";

/* Signals are blocked before any library starts a thread, so they reach
 * us only through the signalfd. */
static int signals_setup(void) {
        sigset_t set;

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
                return -1;
        return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static const char *conf_arg(int argc, char **argv) {
        int i;

        for (i = 1; i < argc; i++) {
                if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
                    i + 1 < argc)
                        return argv[i + 1];
                if (!strncmp(argv[i], "--config=", 9))
                        return argv[i] + 9;
        }
        return NULL;
}

static struct br_conf *load_or_report(const char *path) {
        char errstr[8192];
        struct br_conf *conf;

        if (!path) {
                fprintf(stderr, "bucketbridge: missing -c FILE\n");
                return NULL;
        }
        conf = br_conf_load_file(path, 0, errstr, sizeof(errstr));
        if (!conf)
                fprintf(stderr, "%s\n", errstr);
        return conf;
}

static int cmd_check(int argc, char **argv) {
        struct br_conf *conf = load_or_report(conf_arg(argc, argv));
        char errstr[1024];

        if (!conf)
                return 2;
        if (br_consumer_check_properties(conf, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "%s\n", errstr);
                br_conf_destroy(conf);
                return 2;
        }
        printf("%s: ok\n", conf->origin);
        br_conf_destroy(conf);
        return 0;
}

static int cmd_dump(int argc, char **argv) {
        struct br_conf *conf = load_or_report(conf_arg(argc, argv));

        if (!conf)
                return 2;
        br_conf_dump(conf, stdout);
        br_conf_destroy(conf);
        return 0;
}

static int cmd_run(int argc, char **argv, int signal_fd) {
        struct br_conf *conf = load_or_report(conf_arg(argc, argv));
        struct br_ctx *ctx;
        char errstr[1024];
        int rc;

        if (!conf)
                return 2;
        ctx = br_ctx_new(conf, signal_fd, errstr, sizeof(errstr));
        if (!ctx) {
                fprintf(stderr, "bucketbridge: %s\n", errstr);
                br_conf_destroy(conf);
                return 1;
        }
        rc = br_loop_run(ctx);
        br_log(&ctx->log, BR_LOG_INFO,
               "msg=\"stopped\" messages=%llu delivered=%llu skipped=%llu "
               "dead_lettered=%llu retries=%llu",
               (unsigned long long)ctx->stats.messages,
               (unsigned long long)ctx->stats.delivered,
               (unsigned long long)ctx->stats.skipped,
               (unsigned long long)ctx->stats.dead_lettered,
               (unsigned long long)ctx->stats.retries);
        br_ctx_destroy(ctx);
        br_conf_destroy(conf);
        return rc;
}

int main(int argc, char **argv) {
        const char *cmd = argc > 1 ? argv[1] : NULL;
        int signal_fd, rc;

        if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
            !strcmp(cmd, "help")) {
                fputs(usage, cmd ? stdout : stderr);
                return cmd ? 0 : 2;
        }
        if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
                printf("bucketbridge %s (librdkafka %s, %s)\n", BR_VERSION,
                       rd_kafka_version_str(), curl_version());
                return 0;
        }
        if (!strcmp(cmd, "help-config")) {
                br_conf_help(stdout,
                             argc > 2 && !strcmp(argv[2], "--markdown"));
                return 0;
        }
        if (!strcmp(cmd, "check"))
                return cmd_check(argc - 1, argv + 1);
        if (!strcmp(cmd, "dump-config"))
                return cmd_dump(argc - 1, argv + 1);
        if (!strcmp(cmd, "transform"))
                return br_transform_main(argc - 1, argv + 1);

        signal_fd = signals_setup();
        if (signal_fd == -1) {
                perror("bucketbridge: signalfd");
                return 1;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!strcmp(cmd, "run")) {
                rc = cmd_run(argc - 1, argv + 1, signal_fd);
        } else if (!strcmp(cmd, "demo")) {
                rc = br_demo_main(argc - 1, argv + 1, signal_fd);
        } else if (!strcmp(cmd, "replay")) {
                rc = br_replay_main(argc - 1, argv + 1, signal_fd);
        } else {
                fprintf(stderr, "bucketbridge: unknown command \"%s\"\n%s", cmd,
                        usage);
                rc = 2;
        }
        curl_global_cleanup();
        close(signal_fd);
        return rc;
}
