/* Subcommands that live outside main.c; each returns the exit code. */
#ifndef BR_CLI_H
#define BR_CLI_H

#include <stddef.h>

struct br_conf;
struct rd_kafka_conf_s;

/* demo.c: embedded Kafka + local MDSS stand-in, end to end. */
int br_demo_main(int argc, char **argv, int signal_fd);
/* replay.c: re-sends dead-lettered records. */
int br_replay_main(int argc, char **argv, int signal_fd);
/* consumer.c: applies kafka.properties to a librdkafka conf; errors name
 * file:line:col. */
int br_kafka_conf_apply(struct rd_kafka_conf_s *kconf,
                        const struct br_conf *conf, char *errstr,
                        size_t errstr_size);
/* consumer.c: kafka.properties accepted by librdkafka (for check). */
int br_consumer_check_properties(const struct br_conf *conf, char *errstr,
                                 size_t errstr_size);

#endif
