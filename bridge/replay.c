/* `bucketbridge replay`: re-sends dead-lettered records. */
#include <stdio.h>

#include "bridge/cli.h"

int br_replay_main(int argc, char **argv, int signal_fd)
{
        (void)argc;
        (void)argv;
        (void)signal_fd;
        fprintf(stderr, "bucketbridge: replay is not available yet\n");
        return 2;
}
