#include "bridge/classify.h"
#include "bridge/util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

/* One row of the policy.  A row with a response_key or a message is a body
 * row: it matches on what MDSS wrote, whatever the status (MDSS documents
 * none, so a 200 carrying "Real-Time Process is not enabled." is still an
 * outage).  The other rows match on the status range alone.  First match
 * wins, so body rows come first. */
struct rule {
        const char *response_key; /* exact, case-insensitive */
        const char *message;      /* normalised substring of responseMessage */
        long lo, hi;              /* status range, inclusive */
        enum br_outcome outcome;
};

/* Messages are compared after keeping only lower-cased letters and digits,
 * so "Real-Time Process is not enabled.", "Real Time process is not
 * enabled" and a reworded "...is enabled, but it is not set to
 * Event-Based" all match (FORMATS.md 5.2). */
static const struct rule rules[] = {
    /* storageClientId names no storage unit: every record for it will get
     * the same answer, and the route is what must change */
    {NULL, "storagecouldnotbefound", LONG_MIN, LONG_MAX, BR_OUTCOME_PERMANENT},
    /* the unit exists but real-time processing is off or polling: the
     * operator fixes the unit, the records wait */
    {"REST_API_MSG_FAILED_STORAGE_RTP_NOT_ENABLED", NULL, LONG_MIN, LONG_MAX,
     BR_OUTCOME_OUTAGE},
    {NULL, "realtimeprocessisnotenabled", LONG_MIN, LONG_MAX,
     BR_OUTCOME_OUTAGE},
    {NULL, "notsettoeventbased", LONG_MIN, LONG_MAX, BR_OUTCOME_OUTAGE},
    {NULL, NULL, 200, 299, BR_OUTCOME_DELIVERED},
    /* a bad or revoked ApiKey is the whole endpoint's setup, not the
     * record: dead-lettering would flood the sink with good records */
    {NULL, NULL, 401, 401, BR_OUTCOME_OUTAGE},
    {NULL, NULL, 403, 403, BR_OUTCOME_OUTAGE},
    /* request timeout, too early, rate limited: the same request can
     * succeed later */
    {NULL, NULL, 408, 408, BR_OUTCOME_RETRY},
    {NULL, NULL, 425, 425, BR_OUTCOME_RETRY},
    {NULL, NULL, 429, 429, BR_OUTCOME_RETRY},
    /* the server refused this request: sending it again will not help */
    {NULL, NULL, 400, 499, BR_OUTCOME_PERMANENT},
    {NULL, NULL, 500, 599, BR_OUTCOME_RETRY},
    /* 1xx as a final status, 3xx (we follow no redirects for a POST),
     * status 0 without a transport error, 6xx and beyond: nothing says the
     * record is bad; it usually means a proxy or load balancer in the way
     * is misconfigured.  Retrying keeps the record until that is fixed,
     * and retry.max_age still ends it in the dead-letter sink. */
    {NULL, NULL, LONG_MIN, LONG_MAX, BR_OUTCOME_RETRY},
};

const char *br_outcome_name(enum br_outcome outcome) {
        switch (outcome) {
        case BR_OUTCOME_DELIVERED:
                return "delivered";
        case BR_OUTCOME_RETRY:
                return "retry";
        case BR_OUTCOME_PERMANENT:
                return "permanent";
        case BR_OUTCOME_OUTAGE:
                return "outage";
        }
        return "unknown";
}

/* Appends src to buf (size > 0, NUL-terminated at *pos) so that the reason
 * stays one clean log line: control characters become spaces, invalid
 * UTF-8 becomes '?', and a character that does not fit is left out
 * whole. */
static void append_clean(char *buf, size_t size, size_t *pos, const char *src,
                         size_t len) {
        const unsigned char *s = (const unsigned char *)src;
        size_t i               = 0, n;

        while (i < len) {
                n = br_utf8_seq((const char *)s + i, len - i);
                if (*pos + (n ? n : 1) >= size)
                        break;
                if (n == 0) {
                        buf[(*pos)++] = '?';
                        i++;
                } else if (n == 1) {
                        buf[(*pos)++] =
                            (s[i] < 0x20 || s[i] == 0x7f) ? ' ' : (char)s[i];
                        i++;
                } else {
                        memcpy(buf + *pos, s + i, n);
                        *pos += n;
                        i += n;
                }
        }
        buf[*pos] = '\0';
}

static void append_str(char *buf, size_t size, size_t *pos, const char *s) {
        append_clean(buf, size, pos, s, strlen(s));
}

/* Lower-cased letters and digits of s, at most size - 1 of them. */
static void normalise(const char *s, size_t len, char *out, size_t size) {
        size_t i, o = 0;

        for (i = 0; i < len && o + 1 < size; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c >= 'A' && c <= 'Z')
                        out[o++] = (char)(c - 'A' + 'a');
                else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                        out[o++] = (char)c;
        }
        out[o] = '\0';
}

/* The body as a JSON object, or NULL when it is absent, too big, too deep,
 * not UTF-8, not JSON, or not an object.  Explicit length: the body is not
 * NUL-terminated and may hold any bytes. */
static struct json_object *parse_body(const char *body, size_t len) {
        struct json_tokener *tok;
        struct json_object *root;
        size_t end;

        if (!body || len == 0 || len > BR_CLASSIFY_MAX_BODY)
                return NULL;
        if (!(tok = json_tokener_new_ex(BR_CLASSIFY_MAX_DEPTH)))
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                        JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, body, (int)len);
        end  = json_tokener_get_parse_end(tok);
        if (root && json_tokener_get_error(tok) == json_tokener_success) {
                /* trailing whitespace (a final newline) is harmless */
                while (end < len && (body[end] == ' ' || body[end] == '\n' ||
                                     body[end] == '\r' || body[end] == '\t'))
                        end++;
        }
        json_tokener_free(tok);
        if (!root || end != len ||
            !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return NULL;
        }
        return root;
}

/* A string member of root, borrowed, or NULL. */
static const char *get_string(struct json_object *root, const char *name,
                              size_t *len) {
        struct json_object *v;

        if (!root || !json_object_object_get_ex(root, name, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        *len = (size_t)json_object_get_string_len(v);
        return json_object_get_string(v);
}

static int rule_matches(const struct rule *r, long status, const char *key,
                        const char *norm_msg) {
        if (status < r->lo || status > r->hi)
                return 0;
        if (r->response_key && (!key || strcasecmp(key, r->response_key) != 0))
                return 0;
        if (r->message && (!norm_msg || !strstr(norm_msg, r->message)))
                return 0;
        return 1;
}

/* correlationId is an opaque token we only log: keep it when it is short
 * printable ASCII, so it cannot break a log line. */
static void copy_correlation_id(struct json_object *root, char *out,
                                size_t size) {
        const char *id;
        size_t len = 0, i;

        out[0] = '\0';
        if (!(id = get_string(root, "correlationId", &len)) || len >= size)
                return;
        for (i = 0; i < len; i++)
                if (id[i] <= 0x20 || id[i] >= 0x7f)
                        return;
        memcpy(out, id, len);
        out[len] = '\0';
}

static void transport_reason(const struct br_http_result *res, char *buf,
                             size_t size) {
        const char *msg = res->transport_msg;
        size_t pos      = 0;

        buf[0] = '\0';
        append_str(buf, size, &pos,
                   res->transport_error == CURLE_OPERATION_TIMEDOUT
                       ? "timeout: "
                       : "transport: ");
        if (!msg || !*msg)
                msg = curl_easy_strerror((CURLcode)res->transport_error);
        append_str(buf, size, &pos, msg);
}

void br_classify(const struct br_http_result *res, struct br_classified *out) {
        struct json_object *root = NULL;
        const char *key = NULL, *msg = NULL;
        size_t key_len = 0, msg_len = 0, i, pos = 0;
        char norm[512], status_text[32];

        memset(out, 0, sizeof(*out));
        out->retry_after_s = res->retry_after_s;

        /* Even after a 2xx header, a broken transfer leaves us unsure the
         * request was taken whole: a duplicate scan is harmless, a lost
         * record is not. */
        if (res->transport_error != 0) {
                out->outcome = BR_OUTCOME_RETRY;
                transport_reason(res, out->reason, sizeof(out->reason));
                return;
        }

        root = parse_body(res->body, res->body_len);
        key  = get_string(root, "responseKey", &key_len);
        msg  = get_string(root, "responseMessage", &msg_len);
        /* an embedded NUL would let strcasecmp see a different key */
        if (key && strlen(key) != key_len)
                key = NULL;
        if (msg)
                normalise(msg, msg_len, norm, sizeof(norm));

        for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
                if (rule_matches(&rules[i], res->status, key,
                                 msg ? norm : NULL))
                        break;
        /* the last row matches everything */
        out->outcome = rules[i].outcome;

        if (res->status > 0) {
                snprintf(status_text, sizeof(status_text), "HTTP %ld",
                         res->status);
                append_str(out->reason, sizeof(out->reason), &pos, status_text);
        } else {
                append_str(out->reason, sizeof(out->reason), &pos,
                           "no HTTP status");
        }
        if (msg && msg_len > 0) {
                append_str(out->reason, sizeof(out->reason), &pos, ": ");
                append_clean(out->reason, sizeof(out->reason), &pos, msg,
                             msg_len);
        } else if (key && key_len > 0) {
                append_str(out->reason, sizeof(out->reason), &pos, ": ");
                append_clean(out->reason, sizeof(out->reason), &pos, key,
                             key_len);
        }
        if (out->outcome == BR_OUTCOME_DELIVERED)
                copy_correlation_id(root, out->correlation_id,
                                    sizeof(out->correlation_id));
        json_object_put(root);
}
