/* Plain main() for the fuzz harnesses: replays a corpus through
 * LLVMFuzzerTestOneInput so `make test` runs every saved input (a crash
 * is the failure).  Arguments are files or directories; with none, the
 * corpus is tests/fuzz/corpus/<name>/, <name> being the program's name
 * without its "fuzz_" prefix, looked up from the current directory and
 * then from the program's (build/tests/ -> ../../). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file; -1 when it cannot be read. */
static int replay_file(const char *prog, const char *path) {
        FILE *f = fopen(path, "rb");
        struct stat st;
        uint8_t *buf;
        size_t len;

        if (!f || fstat(fileno(f), &st) == -1) {
                fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
                if (f)
                        fclose(f);
                return -1;
        }
        /* Exactly the file's size, so ASan sees any read past the end. */
        len = (size_t)st.st_size;
        buf = malloc(len ? len : 1);
        if (!buf || fread(buf, 1, len, f) != len) {
                fprintf(stderr, "%s: %s: short read\n", prog, path);
                free(buf);
                fclose(f);
                return -1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir, in name order.  Returns how many, or
 * -1 when the directory cannot be read. */
static long replay_dir(const char *prog, const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char **names = NULL;
        size_t cnt = 0, cap = 0, i;
        long done = 0;

        if (!d) {
                fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
                return -1;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (cnt == cap) {
                        size_t ncap   = cap ? cap * 2 : 64;
                        char **nnames = realloc(names, ncap * sizeof(*names));

                        if (!nnames)
                                break;
                        names = nnames;
                        cap   = ncap;
                }
                if (!(names[cnt] = strdup(de->d_name)))
                        break;
                cnt++;
        }
        closedir(d);
        qsort(names, cnt, sizeof(*names), by_name);
        for (i = 0; i < cnt; i++) {
                char path[4096];
                struct stat st;

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                    replay_file(prog, path) == 0)
                        done++;
                free(names[i]);
        }
        free(names);
        return done;
}

static long replay_arg(const char *prog, const char *arg) {
        struct stat st;

        if (stat(arg, &st) == -1) {
                fprintf(stderr, "%s: %s: %s\n", prog, arg, strerror(errno));
                return -1;
        }
        if (S_ISDIR(st.st_mode))
                return replay_dir(prog, arg);
        return replay_file(prog, arg) == 0 ? 1 : -1;
}

int main(int argc, char **argv) {
        const char *slash = strrchr(argv[0], '/');
        const char *prog  = slash ? slash + 1 : argv[0];
        const char *name  = prog;
        long total        = 0, n;
        int i;

        if (!strncmp(name, "fuzz_", 5))
                name += 5;
        if (argc > 1) {
                for (i = 1; i < argc; i++) {
                        if ((n = replay_arg(prog, argv[i])) < 0)
                                return 1;
                        total += n;
                }
        } else {
                char dir[4096];
                struct stat st;

                snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
                if (stat(dir, &st) == -1 && slash)
                        snprintf(dir, sizeof(dir),
                                 "%.*s/../../tests/fuzz/corpus/%s",
                                 (int)(slash - argv[0]), argv[0], name);
                if ((total = replay_dir(prog, dir)) < 0)
                        return 1;
        }
        printf("%s: %ld inputs replayed\n", prog, total);
        return 0;
}
