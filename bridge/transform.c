/* bucketbridge transform: the plan of bridge/event.c run over files, so a
 * user can see what a message would become without Kafka or MDSS. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/conf.h"
#include "bridge/event.h"
#include "bridge/transform.h"

/* The loader's default for limits.max_message_bytes, used without -c. */
#define DEF_MAX_MESSAGE_BYTES (1024 * 1024)

static const char usage_text[] =
    "usage: bucketbridge transform [-c FILE] [--storage-client-id ID]\n"
    "                              [--format s3|alibaba|generic] "
    "[--scan-id ID]\n"
    "                              [FILE...]\n"
    "\n"
    "Reads each FILE (standard input when none is given, or for \"-\") as "
    "one\n"
    "Kafka message value, byte for byte, and prints the MDSS webhook body "
    "of\n"
    "every record bucketbridge would forward, one compact JSON line each.\n"
    "Skipped records (deletes, tagging, test events, ...) print nothing;\n"
    "rejected ones print \"FILE: rejected: [record N: ]REASON\" on "
    "standard\n"
    "error.\n"
    "\n"
    "  -c, --config FILE        routes, forward set and limits from FILE\n"
    "                           (kafka.* and webhook.* may be left out)\n"
    "  --storage-client-id ID   send every record to storage unit ID, "
    "ignoring\n"
    "                           routes; the usual way to use transform: "
    "without\n"
    "                           it and without -c no record has a route\n"
    "  --format F               metadata form s3, alibaba or generic "
    "(default:\n"
    "                           the route's; alibaba for OSS events, else "
    "s3)\n"
    "  --scan-id ID             add \"scanId\": ID to every body\n"
    "  -h, --help               print this text\n"
    "\n"
    "Exit status: 0 nothing rejected, 1 something rejected, 2 usage,\n"
    "configuration or read errors.\n";

struct opts {
        const char *config;
        struct br_plan_override ov;
        const char **files;
        size_t file_cnt;
};

/* "--name VALUE" or "--name=VALUE" (and "-c VALUE"); 1 when arg is this
 * option, -1 when its value is missing or empty. */
static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **val) {
        const char *arg = argv[*i];
        size_t n        = strlen(name);

        if (strncmp(arg, name, n) != 0)
                return 0;
        if (arg[n] == '=') {
                *val = arg + n + 1;
        } else if (arg[n] == '\0') {
                if (*i + 1 >= argc)
                        return -1;
                *val = argv[++*i];
        } else {
                return 0;
        }
        return **val ? 1 : -1;
}

static int parse_format(const char *s) {
        if (!strcmp(s, "s3"))
                return BR_FORMAT_S3;
        if (!strcmp(s, "alibaba"))
                return BR_FORMAT_ALIBABA;
        if (!strcmp(s, "generic"))
                return BR_FORMAT_GENERIC;
        return -1;
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs("transform: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'bucketbridge transform --help'.\n", stderr);
        return 2;
}

/* Returns -1 to go on, else the exit code (help: 0, errors: 2). */
static int parse_args(int argc, char **argv, struct opts *o) {
        const char *val = NULL;
        int i, rc, files_only = 0;

        o->ov.format = -1;
        o->files     = calloc((size_t)argc + 1, sizeof(*o->files));
        if (!o->files) {
                fputs("transform: out of memory\n", stderr);
                return 2;
        }
        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if (files_only || arg[0] != '-' || !strcmp(arg, "-")) {
                        o->files[o->file_cnt++] = arg;
                        continue;
                }
                if (!strcmp(arg, "--")) {
                        files_only = 1;
                        continue;
                }
                if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
                        fputs(usage_text, stdout);
                        return 0;
                }
                if ((rc = opt_value(argc, argv, &i, "-c", &val)) != 0 ||
                    (rc = opt_value(argc, argv, &i, "--config", &val)) != 0) {
                        if (rc == -1)
                                return usage_error("%s needs a file name", arg);
                        o->config = val;
                } else if ((rc = opt_value(argc, argv, &i,
                                           "--storage-client-id", &val)) != 0) {
                        if (rc == -1)
                                return usage_error("%s needs an id", arg);
                        o->ov.storage_client_id = val;
                } else if ((rc = opt_value(argc, argv, &i, "--scan-id",
                                           &val)) != 0) {
                        if (rc == -1)
                                return usage_error("%s needs an id", arg);
                        o->ov.scan_id = val;
                } else if ((rc = opt_value(argc, argv, &i, "--format", &val)) !=
                           0) {
                        if (rc == -1)
                                return usage_error("%s needs a value", arg);
                        o->ov.format = parse_format(val);
                        if (o->ov.format < 0)
                                return usage_error(
                                    "--format: expected s3, alibaba or "
                                    "generic, got \"%s\"",
                                    val);
                } else {
                        return usage_error("unknown option \"%s\"", arg);
                }
        }
        return -1;
}

/* Reads the whole value, at most cap + 1 bytes (cap 0: no limit) so an
 * oversized one is known without holding it.  *total is its size when
 * known (regular files), else the bytes read. */
static int read_value(const char *path, size_t cap, char **buf_out,
                      size_t *len_out, size_t *total) {
        int fd     = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
        size_t len = 0, size = 0, want = cap ? cap + 1 : (size_t)-1;
        char *buf = NULL;
        struct stat st;
        ssize_t n;

        if (fd < 0)
                return -1;
        for (;;) {
                if (len == size) {
                        size_t nsize = size ? size * 2 : 64 * 1024;
                        char *nbuf;

                        if (nsize > want)
                                nsize = want;
                        if (nsize <= size)
                                break; /* read cap + 1 bytes: too big */
                        nbuf = realloc(buf, nsize);
                        if (!nbuf) {
                                errno = ENOMEM;
                                goto fail;
                        }
                        buf  = nbuf;
                        size = nsize;
                }
                n = read(fd, buf + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        *total = len;
        if (len > cap && cap && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                *total = (size_t)st.st_size;
        if (fd > 0)
                close(fd);
        *buf_out = buf;
        *len_out = len;
        return 0;
fail:
        n = errno;
        if (fd > 0)
                close(fd);
        free(buf);
        errno = (int)n;
        return -1;
}

/* Plans one value and prints it; returns the number of rejects, or -1
 * when memory ran out. */
static int transform_one(const struct br_conf *conf,
                         const struct br_plan_override *ov, const char *name,
                         const char *buf, size_t len, struct br_plan *plan) {
        int rejects = 0;
        size_t i;

        if (br_plan_message(conf, ov, buf, len, plan) == -1)
                return -1;
        for (i = 0; i < plan->cnt; i++) {
                const struct br_plan_item *it = &plan->items[i];

                if (it->action == BR_PLAN_POST) {
                        fwrite(it->body, 1, it->body_len, stdout);
                        fputc('\n', stdout);
                } else if (it->action == BR_PLAN_REJECT) {
                        rejects++;
                        if (it->record >= 0)
                                fprintf(stderr, "%s: rejected: record %d: %s\n",
                                        name, it->record, it->reason);
                        else
                                fprintf(stderr, "%s: rejected: %s\n", name,
                                        it->reason);
                }
        }
        br_plan_clear(plan);
        return rejects;
}

int br_transform_main(int argc, char **argv) {
        struct opts o        = {0};
        struct br_conf *conf = NULL;
        struct br_plan plan;
        char errstr[4096];
        size_t i, cap;
        int rc, rejected = 0, failed = 0;

        br_plan_init(&plan);
        rc = parse_args(argc, argv, &o);
        if (rc >= 0)
                goto done;
        if (o.config) {
                conf = br_conf_load_file(o.config, BR_CONF_F_PARTIAL, errstr,
                                         sizeof(errstr));
                if (!conf) {
                        /* already "FILE:LINE:COL: message" lines */
                        fprintf(stderr, "%s%s", errstr,
                                errstr[0] && errstr[strlen(errstr) - 1] == '\n'
                                    ? ""
                                    : "\n");
                        rc = 2;
                        goto done;
                }
        }
        cap = conf ? (conf->limits.max_message_bytes > 0
                          ? (size_t)conf->limits.max_message_bytes
                          : 0)
                   : DEF_MAX_MESSAGE_BYTES;

        for (i = 0; i < (o.file_cnt ? o.file_cnt : 1); i++) {
                const char *path = o.file_cnt ? o.files[i] : "-";
                const char *name = o.file_cnt ? path : "<stdin>";
                char *buf        = NULL;
                size_t len = 0, total = 0;
                int n;

                if (read_value(path, cap, &buf, &len, &total) == -1) {
                        fprintf(stderr, "%s: cannot read: %s\n", name,
                                strerror(errno));
                        failed = 1;
                        continue;
                }
                if (cap && len > cap) {
                        /* never parsed: the plan would say the same; a
                         * pipe's real size stays unknown */
                        if (total > len)
                                fprintf(stderr,
                                        "%s: rejected: message of %zu bytes "
                                        "exceeds limits.max_message_bytes "
                                        "(%zu)\n",
                                        name, total, cap);
                        else
                                fprintf(stderr,
                                        "%s: rejected: message of more than "
                                        "%zu bytes exceeds "
                                        "limits.max_message_bytes (%zu)\n",
                                        name, cap, cap);
                        rejected = 1;
                        free(buf);
                        continue;
                }
                n = transform_one(conf, &o.ov, name, buf, len, &plan);
                free(buf);
                if (n < 0) {
                        fprintf(stderr, "%s: out of memory\n", name);
                        failed = 1;
                        break;
                }
                if (n > 0)
                        rejected = 1;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "transform: writing the output: %s\n",
                        strerror(errno));
                failed = 1;
        }
        rc = failed ? 2 : rejected ? 1 : 0;
done:
        br_plan_free(&plan);
        br_conf_destroy(conf);
        free(o.files);
        return rc;
}
