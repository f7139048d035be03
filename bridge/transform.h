/* bucketbridge transform: message values in, MDSS bodies out, offline. */
#ifndef BR_TRANSFORM_H
#define BR_TRANSFORM_H

/* argv[0] is "transform".  Prints one body per forwarded record on stdout
 * and one line per reject on stderr.  Returns the exit code: 0 nothing
 * rejected, 1 something rejected, 2 usage, configuration or read errors. */
int br_transform_main(int argc, char **argv);

#endif
