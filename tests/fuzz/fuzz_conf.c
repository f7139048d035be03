/* The config loader must survive any bytes: every result is either a
 * configuration or an error list, and both are freed.  What loads must
 * also dump to YAML that loads back to the same dump (quoting, escapes,
 * units and $${ survive a round trip). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const struct br_conf *conf, size_t *len) {
        char *text = NULL;
        FILE *out  = open_memstream(&text, len);

        if (!out)
                return NULL;
        br_conf_dump(conf, out);
        fclose(out);
        return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const int flags[] = {0, BR_CONF_F_PARTIAL};
        /* Small on purpose: fills up, so the "omitted" path runs too. */
        char errstr[512];
        size_t i;

        for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
                struct br_conf *conf, *again;
                char *text, *text2;
                size_t len, len2;

                conf = br_conf_load((const char *)data, size, "fuzz.yaml",
                                    flags[i], errstr, sizeof(errstr));
                if (!conf)
                        continue;
                br_conf_route_match(conf, "uploads-1", "in/a.txt");
                if (!(text = dump(conf, &len))) {
                        br_conf_destroy(conf);
                        continue;
                }
                again = br_conf_load(text, len, "fuzz.yaml", flags[i], errstr,
                                     sizeof(errstr));
                if (!again) {
                        fprintf(stderr, "dump does not load back:\n%s\n%s\n",
                                errstr, text);
                        abort();
                }
                text2 = dump(again, &len2);
                if (text2 && (len != len2 || memcmp(text, text2, len))) {
                        fprintf(stderr, "dump changed on reload:\n%s\n%s\n",
                                text, text2);
                        abort();
                }
                free(text2);
                free(text);
                br_conf_destroy(again);
                br_conf_destroy(conf);
        }
        return 0;
}
