/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_main.c - runs a libFuzzer-style target over every file of a
 * corpus folder, so `make test` replays the seeds without libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    rewind(f);
    buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    struct dirent *de;
    DIR *dir;
    int n = 0, bad = 0;
    char path[4096];

    if (argc != 2 || (dir = opendir(argv[1])) == NULL) {
        fprintf(stderr, "usage: %s CORPUS_DIR (a readable folder)\n", argv[0]);
        return 2;
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
        if (replay_file(path) != 0) {
            bad++;
        } else {
            n++;
        }
    }
    closedir(dir);
    printf("%d passed, %d failed\n", n, bad);
    return bad == 0 && n > 0 ? 0 : 1;
}
