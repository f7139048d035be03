/* From one finished webhook request to what happens to its record.  Pure:
 * no I/O, no logging, no allocation that outlives the call.  MDSS documents
 * no status codes (FORMATS.md 5.2), so the body's responseKey and
 * responseMessage are read before the status. */
#ifndef BR_CLASSIFY_H
#define BR_CLASSIFY_H

#include <stddef.h>

enum br_outcome {
        BR_OUTCOME_DELIVERED, /* commit */
        BR_OUTCOME_RETRY,     /* again later, see retry.h */
        BR_OUTCOME_PERMANENT, /* dead-letter: retrying will not help */
        BR_OUTCOME_OUTAGE     /* the storage unit's setup is wrong: hold */
};

/* Bodies longer than this are not parsed (the status alone decides). */
#define BR_CLASSIFY_MAX_BODY (64 * 1024)
/* JSON nesting accepted in a response body. */
#define BR_CLASSIFY_MAX_DEPTH 16

struct br_http_result {
        int transport_error;       /* 0, or a CURLcode for transport
                                    * failures */
        const char *transport_msg; /* curl error buffer text, may be NULL */
        long status;               /* HTTP status, 0 when none */
        const char *body;          /* response body: may be truncated, not
                                    * NUL-terminated, NULL when empty */
        size_t body_len;
        long retry_after_s; /* -1 when absent (curl gives seconds for both
                             * forms) */
};

struct br_classified {
        enum br_outcome outcome;
        /* Human text, valid UTF-8, no control characters: "HTTP 503",
         * "HTTP 404: The storage could not be found",
         * "transport: Connection refused", "timeout: Operation timed out
         * after 10000 milliseconds with 0 bytes received". */
        char reason[256];
        /* From a 2xx JSON body, printable ASCII, "" when absent. */
        char correlation_id[64];
        long retry_after_s; /* copied from the result, for retry.c */
};

void br_classify(const struct br_http_result *res, struct br_classified *out);

const char *br_outcome_name(enum br_outcome outcome);

#endif
