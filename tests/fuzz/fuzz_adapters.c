/* libFuzzer harness for the notification path: one input is one Kafka
 * message value, planned three ways (a small routed config, transform's
 * catch-all override, and no config at all).  Besides memory errors it
 * checks what the plan promises: every body is strict JSON whose metadata
 * is JSON holding exactly the item's key, keys are valid UTF-8 without NUL
 * and within the limit, rejects say why.  Also feeds the input to the
 * form decoder as a key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"
#include "bridge/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char conf_yaml[] = "events: [created, removed]\n"
                                "limits:\n"
                                "  max_message_bytes: 64K\n"
                                "  max_depth: 16\n"
                                "  max_records: 50\n"
                                "  max_key_bytes: 256\n"
                                "routes:\n"
                                "  - bucket: \"up*\"\n"
                                "    prefix: in\n"
                                "    storage_client_id: sc-in\n"
                                "    scan_id: s1\n"
                                "  - bucket: \"*\"\n"
                                "    suffix: .pdf\n"
                                "    storage_client_id: sc-pdf\n"
                                "    format: generic\n"
                                "  - bucket: acme-oss\n"
                                "    storage_client_id: sc-oss\n"
                                "    events: [created, part]\n";

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "fuzz_adapters: %s:%d: %s\n",          \
                                __FILE__, __LINE__, #cond);                    \
                        abort();                                               \
                }                                                              \
        } while (0)

static struct json_object *parse_exact(const char *s, size_t len) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o;

        CHECK(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, s, (int)len);
        CHECK(o && json_tokener_get_parse_end(tok) == len);
        json_tokener_free(tok);
        return o;
}

/* The body holds the item's key in the form asked for. */
static void check_body(const struct br_plan_item *it, const char *scid) {
        struct json_object *b, *m, *v, *k = NULL;

        CHECK(it->body && it->key && it->route);
        CHECK(strlen(it->body) == it->body_len);
        b = parse_exact(it->body, it->body_len);
        CHECK(json_object_object_get_ex(b, "storageClientId", &v));
        if (scid)
                CHECK(strcmp(json_object_get_string(v), scid) == 0);
        CHECK(json_object_object_get_ex(b, "metadata", &v));
        m = parse_exact(json_object_get_string(v),
                        (size_t)json_object_get_string_len(v));
        if (!json_object_object_get_ex(m, "Name", &k)) {
                CHECK(json_object_object_get_ex(m, "s3", &v) ||
                      json_object_object_get_ex(m, "oss", &v));
                CHECK(json_object_object_get_ex(v, "object", &v));
                CHECK(json_object_object_get_ex(v, "key", &k));
        }
        CHECK((size_t)json_object_get_string_len(k) == strlen(it->key));
        CHECK(memcmp(json_object_get_string(k), it->key, strlen(it->key)) == 0);
        json_object_put(m);
        json_object_put(b);
}

static void check_plan(const struct br_plan *plan, const char *scid,
                       size_t max_key) {
        size_t i;

        for (i = 0; i < plan->cnt; i++) {
                const struct br_plan_item *it = &plan->items[i];

                CHECK(it->record >= -1);
                if (it->key) {
                        size_t n = strlen(it->key);

                        CHECK(n > 0 && n <= max_key);
                        CHECK(br_utf8_check(it->key, n) == n);
                }
                switch (it->action) {
                case BR_PLAN_POST:
                        check_body(it, scid);
                        break;
                case BR_PLAN_REJECT:
                        CHECK(it->reason && strlen(it->reason) > 0);
                        CHECK(!it->body);
                        break;
                case BR_PLAN_SKIP:
                        CHECK(!it->body && !it->reason);
                        break;
                }
        }
}

static void check_decode(const char *in, size_t len) {
        char *out = malloc(len ? len : 1), err[256];
        size_t n  = 0;

        CHECK(out);
        if (br_form_decode(in, len, out, &n, err, sizeof(err)) == 0) {
                CHECK(n <= len);
                CHECK(br_utf8_check(out, n) == n);
                CHECK(!memchr(out, '\0', n));
        } else {
                CHECK(err[0]);
        }
        free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* loaded once: YAML parsing per input would dominate */
        static struct br_conf *conf;
        struct br_plan_override ov = {"sc-fuzz", -1, NULL};
        const char *buf            = (const char *)data;
        struct br_plan plan;
        char err[2048];

        if (!conf) {
                conf = br_conf_load(conf_yaml, sizeof(conf_yaml) - 1, "<fuzz>",
                                    BR_CONF_F_PARTIAL, err, sizeof(err));
                if (!conf) {
                        fprintf(stderr, "fuzz_adapters: %s\n", err);
                        abort();
                }
        }
        br_plan_init(&plan);
        CHECK(br_plan_message(conf, NULL, buf, size, &plan) == 0);
        check_plan(&plan, NULL, 256);
        /* the same plan struct again: reuse must be clean */
        CHECK(br_plan_message(NULL, &ov, buf, size, &plan) == 0);
        check_plan(&plan, "sc-fuzz", 1024);
        ov.format  = size % 3 + 1; /* s3, alibaba, generic */
        ov.scan_id = "scan";
        CHECK(br_plan_message(NULL, &ov, buf, size, &plan) == 0);
        check_plan(&plan, "sc-fuzz", 1024);
        CHECK(br_plan_message(NULL, NULL, buf, size, &plan) == 0);
        check_plan(&plan, NULL, 1024);
        br_plan_free(&plan);

        if (size <= 4096)
                check_decode(buf, size);
        return 0;
}
