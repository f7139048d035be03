/* One thread, one loop (STYLE.md 2).  One epoll set holds curl's sockets
 * (handed to us by its socket callback) and ours: the consumer queue's
 * event fd, the dead-letter sink's and the signalfd. */
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bridge/ctx.h"
#include "bridge/dlq.h"
#include "bridge/util.h"

/* Longest wait without a reason to wake: bounds how late a deadline is. */
#define WAIT_CAP_US 1000000

int br_loop_done(const struct br_ctx *ctx) {
        if (!ctx->stopping)
                return 0;
        if (ctx->stop_now || ctx->open_records == 0)
                return 1;
        return br_now_us() >= ctx->stop_deadline_us;
}

void br_loop_stop(struct br_ctx *ctx) {
        if (ctx->stopping)
                return;
        ctx->stopping = 1;
        ctx->stop_deadline_us =
            br_now_us() + ctx->conf->shutdown.grace_ms * 1000;
        br_log(&ctx->log, BR_LOG_INFO,
               "msg=\"stopping\" open_records=%zu grace_ms=%lld",
               ctx->open_records, (long long)ctx->conf->shutdown.grace_ms);
}

static void read_signals(struct br_ctx *ctx) {
        struct signalfd_siginfo si;

        while (read(ctx->signal_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        br_log(&ctx->log, BR_LOG_WARN,
                               "msg=\"SIGHUP ignored: reload is not "
                               "supported yet\"");
                        continue;
                }
                if (ctx->stopping) {
                        /* second signal: leave now; what is not committed
                         * is redelivered, so nothing is lost */
                        br_log(&ctx->log, BR_LOG_WARN,
                               "msg=\"second signal, exiting now\"");
                        ctx->stop_now = 1;
                        continue;
                }
                br_loop_stop(ctx);
        }
}

int br_loop_watch(struct br_ctx *ctx, int fd) {
        struct epoll_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.events  = EPOLLIN;
        ev.data.fd = fd;
        return epoll_ctl(ctx->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void loop_wait(struct br_ctx *ctx, int timeout_ms) {
        struct epoll_event events[64];
        int64_t now = br_now_us(), wait_us;
        int i, n, running;

        wait_us = br_delivery_next_due(ctx, now, WAIT_CAP_US);
        if (ctx->curl_due_us >= 0 && ctx->curl_due_us - now < wait_us)
                wait_us = ctx->curl_due_us - now;
        if (ctx->drain_more || wait_us < 0)
                wait_us = 0;
        if (ctx->stopping) {
                int64_t left = ctx->stop_deadline_us - now;

                if (left < wait_us)
                        wait_us = left < 0 ? 0 : left;
        }
        if (timeout_ms >= 0 && (int64_t)timeout_ms * 1000 < wait_us)
                wait_us = (int64_t)timeout_ms * 1000;
        /* round up: a due time must not be polled for with 0 repeatedly */
        n = epoll_wait(ctx->epoll_fd, events, 64,
                       (int)((wait_us + 999) / 1000));
        for (i = 0; i < n; i++) {
                int fd = events[i].data.fd;
                int what;

                if (fd == ctx->signal_fd) {
                        read_signals(ctx);
                        continue;
                }
                /* the consumer queue and dead-letter fds are drained by
                 * the steps of the next turn */
                if (fd == ctx->queue_fds[0] ||
                    (ctx->dlq && fd == br_dlq_fd(ctx->dlq)))
                        continue;
                what =
                    (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR
                                                              : 0);
                curl_multi_socket_action(ctx->multi, fd, what, &running);
        }
        if (ctx->curl_due_us >= 0 && br_now_us() >= ctx->curl_due_us) {
                ctx->curl_due_us = -1;
                curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0,
                                         &running);
        }
}

void br_loop_run_once(struct br_ctx *ctx, int timeout_ms) {
        br_delivery_collect(ctx);
        br_consumer_drain(ctx);
        br_dlq_serve_ctx(ctx);
        br_retry_fire(ctx);
        br_delivery_dispatch(ctx);
        br_offsets_flush(ctx);
        br_consumer_backpressure(ctx);
        if (!br_loop_done(ctx))
                loop_wait(ctx, timeout_ms);
}

int br_loop_run(struct br_ctx *ctx) {
        while (!br_loop_done(ctx))
                br_loop_run_once(ctx, -1);
        if (ctx->open_records)
                br_log(&ctx->log, BR_LOG_WARN,
                       "msg=\"grace period over, leaving unfinished records "
                       "to be redelivered\" open_records=%zu",
                       ctx->open_records);
        return ctx->exit_code;
}
