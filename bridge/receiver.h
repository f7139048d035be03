/* A local stand-in for the MDSS real-time webhook (FORMATS.md 5), scriptable
 * while it runs.  `bucketbridge demo` and every integration test talk to it.
 *
 * It runs on libmicrohttpd's threads (one per connection, so a delayed reply
 * never holds up another connection), binds 127.0.0.1 only and keeps every
 * piece of state under one mutex: any function below may be called from any
 * thread while requests are being served.
 *
 * Each request is answered by the first rule that matches it; with none, by
 * 200 {"correlationId":"<24 hex>"}.  Every request is recorded up to a
 * cap, and counted always. */
#ifndef BR_RECEIVER_H
#define BR_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* MDSS error bodies (FORMATS.md 5.2).  Only the RTP responseKey is
 * documented; the other two keys are made up, so code under test must read
 * responseMessage, as the real service gives no more. */
#define BR_RECEIVER_BODY_STORAGE_NOT_FOUND                                     \
        "{\"responseKey\":\"REST_API_MSG_STORAGE_NOT_FOUND\","                 \
        "\"responseMessage\":\"The storage could not be found\"}"
#define BR_RECEIVER_BODY_RTP_NOT_ENABLED                                       \
        "{\"responseKey\":\"REST_API_MSG_FAILED_STORAGE_RTP_NOT_ENABLED\","    \
        "\"responseMessage\":\"Real-Time Process is not enabled.\"}"
#define BR_RECEIVER_BODY_NOT_EVENT_BASED                                       \
        "{\"responseKey\":"                                                    \
        "\"REST_API_MSG_FAILED_STORAGE_RTP_NOT_EVENT_BASED\","                 \
        "\"responseMessage\":\"Real-Time Process is enabled, but it is not "   \
        "set to Event Based.\"}"
/* What a wrong or missing ApiKey gets (see br_receiver_set_api_key). */
#define BR_RECEIVER_BODY_UNAUTHORIZED                                          \
        "{\"responseKey\":\"REST_API_MSG_UNAUTHORIZED\","                      \
        "\"responseMessage\":\"Unauthorized\"}"

/* Largest request body read; a bigger one is answered 413. */
#define BR_RECEIVER_MAX_BODY (1024 * 1024)
/* Default cap on recorded requests (counting goes on past it). */
#define BR_RECEIVER_DEFAULT_KEEP 1000000

/* One scripted answer.  Strings are copied by br_receiver_add_rule. */
struct br_receiver_rule {
        const char *storage_client_id; /* NULL: any request; else an exact
                                        * match on the body's storageClientId */
        const char *key_contains;      /* NULL: any; else a substring of the
                                        * object key inside metadata */
        int count;                /* how many matching requests it answers: > 0,
                                   * or -1 for all of them */
        int status;               /* HTTP status; 0 means 200 */
        const char *body;         /* NULL: {"correlationId":..} for 2xx, empty
                                   * otherwise */
        const char *content_type; /* NULL: application/json */
        const char *retry_after;  /* NULL: no Retry-After header; else its
                                   * text, "2" or an HTTP-date */
        int delay_ms;             /* wait this long before answering (or
                                   * dropping); other connections go on */
        int drop;                 /* close the connection with no response */
};
/* Note on drop: libcurl resends a request once, on a new connection, when
 * a reused connection closes before any byte of the answer.  A bridge that
 * keeps connections alive therefore sees a drop with count 1 only as a
 * slower success; give count >= 2 (or -1) to make it see the failure. */

/* One recorded request.  Strings are owned by the copy that
 * br_receiver_get hands out; free them with br_received_free. */
struct br_received {
        int64_t arrival_us; /* monotonic (br_now_us) when headers arrived */
        int64_t decided_us; /* monotonic when the whole body was in */
        uint64_t conn_id;   /* 1, 2, ...: which TCP connection carried it */
        char *method;
        char *path;
        char *body; /* NUL-terminated, NULL when over the cap */
        size_t body_len;
        char *api_key;           /* ApiKey header, NULL when absent */
        char *content_type;      /* Content-Type header, NULL when absent */
        char *storage_client_id; /* from the body, NULL if not parseable */
        char *key;               /* s3/oss object key or Name inside metadata,
                                  * NULL if not parseable */
        char *scan_id;           /* from the body, NULL when absent */
        char *correlation_id;    /* what a 2xx default body carried, or NULL */
        int status;              /* status sent, or 0 when dropped */
        int rule;                /* index of the rule that answered (order of
                                  * adding since the last clear), -1: default */
};

struct br_receiver;

/* Starts the receiver on 127.0.0.1:port (0: an ephemeral port).  path is
 * the request path it serves (NULL: /api/webhook/realtime); other paths
 * get 404, other methods 405.  Returns NULL with errstr set on failure. */
struct br_receiver *br_receiver_new(const char *path, uint16_t port,
                                    char *errstr, size_t errstr_size);
/* The same over HTTPS, with a PEM certificate and key (both copied). */
struct br_receiver *br_receiver_new_tls(const char *path, uint16_t port,
                                        const char *cert_pem,
                                        const char *key_pem, char *errstr,
                                        size_t errstr_size);
/* Stops the daemon, wakes delayed replies (they are dropped) and frees
 * everything.  NULL-safe. */
void br_receiver_destroy(struct br_receiver *r);

uint16_t br_receiver_port(const struct br_receiver *r);
/* http://127.0.0.1:PORT/PATH (https:// with TLS) */
void br_receiver_url(const struct br_receiver *r, char *buf, size_t size);

/* Appends a rule (checked in the order added).  -1 if the rule is
 * invalid (count 0 or below -1, status outside 100..599, negative delay)
 * or memory runs out. */
int br_receiver_add_rule(struct br_receiver *r,
                         const struct br_receiver_rule *rule);
/* Removes every rule; later requests get the default answer. */
void br_receiver_clear_rules(struct br_receiver *r);
/* When key is non-NULL, a request whose ApiKey header differs gets 401
 * BR_RECEIVER_BODY_UNAUTHORIZED before any rule is looked at.  NULL turns
 * the check off.  The key is copied. */
void br_receiver_set_api_key(struct br_receiver *r, const char *key);
/* One line per request to out (NULL: none), e.g.
 * `POST storageClientId=sc-1 key=a/b.pdf -> 200`.  The ApiKey is never
 * printed.  out must outlive the receiver or be reset to NULL. */
void br_receiver_set_log(struct br_receiver *r, FILE *out);
/* Record at most max requests (counting goes on past it). */
void br_receiver_set_keep(struct br_receiver *r, size_t max);

/* Requests seen (answered or dropped), recorded or not. */
size_t br_receiver_count(struct br_receiver *r);
/* Requests answered with this status: 100..599 exactly, 1..5 a class
 * (2 = every 2xx), 0 the dropped ones. */
size_t br_receiver_count_status(struct br_receiver *r, int status);
/* TCP connections accepted so far. */
size_t br_receiver_connections(struct br_receiver *r);
/* Blocks until at least n requests were seen (0) or timeout_ms passes
 * (-1).  A condition variable, not a sleep: it returns as soon as the
 * n-th request is decided. */
int br_receiver_wait(struct br_receiver *r, size_t n, int timeout_ms);

/* Copies request i into out.  i is 0-based, in the order the requests
 * were decided (their whole body in), which is arrival order for one
 * connection.  -1 if i was not recorded or memory runs out (out is then
 * zeroed). */
int br_receiver_get(struct br_receiver *r, size_t i, struct br_received *out);
/* Frees the strings of a copy and zeroes it.  NULL-safe. */
void br_received_free(struct br_received *rec);
/* Forgets recorded requests and zeroes every counter (rules stay). */
void br_receiver_reset(struct br_receiver *r);

#endif
