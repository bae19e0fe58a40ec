/* A program that links its own allocator (jemalloc, as Redis does), for the
 * emulator tests: the shim interposes malloc/calloc/realloc/free and must
 * forward them to the program's allocator, not to glibc's, or jemalloc's free
 * and malloc_usable_size receive glibc chunks (Redis crashed at start-up).
 *
 * Checks that every block comes from jemalloc (its per-thread byte counter
 * grows by the allocation), round-trips data through blocks of many sizes
 * (large ones are emulated memory and get evicted under a small budget), and
 * exercises realloc, calloc, posix_memalign and free from several threads.
 * Build: cc -O2 -pthread jemtest.c -ljemalloc. Prints "OK jemalloc". */
#define _GNU_SOURCE
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t allocated(void) {
    uint64_t v = 0;
    size_t sz = sizeof v;
    if (mallctl("thread.allocated", &v, &sz, NULL, 0)) { fprintf(stderr, "mallctl thread.allocated failed\n"); exit(4); }
    return v;
}

static uint64_t pat(uint64_t seed, uint64_t i) {
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 29;
    return x;
}

static int bad;

static void *worker(void *a) {
    uintptr_t t = (uintptr_t)a;
    enum { N = 64 };
    uint64_t *blk[N]; size_t len[N];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            len[i] = (size_t)8 << ((i + round + t) % 18);           /* 8 B .. 1 MiB */
            uint64_t before = allocated();
            blk[i] = (i % 3 == 0) ? calloc(len[i] / 8, 8) : malloc(len[i]);
            if (!blk[i]) { fprintf(stderr, "allocation failed\n"); bad = 1; return NULL; }
            if (allocated() - before < len[i]) {
                fprintf(stderr, "MISMATCH %zu-byte block did not come from jemalloc\n", len[i]);
                bad = 1; return NULL;
            }
            if (i % 3 == 0)
                for (size_t w = 0; w < len[i] / 8; w++)
                    if (blk[i][w]) { fprintf(stderr, "MISMATCH calloc not zero\n"); bad = 1; return NULL; }
            if (malloc_usable_size(blk[i]) < len[i]) { fprintf(stderr, "MISMATCH usable size\n"); bad = 1; return NULL; }
            for (size_t w = 0; w < len[i] / 8; w++) blk[i][w] = pat(t * 1000 + i, w);
        }
        for (int i = 0; i < N; i += 2) {                               /* grow half of them */
            uint64_t *q = realloc(blk[i], len[i] * 2);
            if (!q) { bad = 1; return NULL; }
            blk[i] = q;
            for (size_t w = len[i] / 8; w < len[i] / 4; w++) q[w] = pat(t * 1000 + i, w);
            len[i] *= 2;
        }
        for (int i = 0; i < N; i++) {
            for (size_t w = 0; w < len[i] / 8; w++)
                if (blk[i][w] != pat(t * 1000 + i, w)) {
                    fprintf(stderr, "MISMATCH block %d word %zu\n", i, w); bad = 1; return NULL;
                }
            free(blk[i]);
        }
        void *al = NULL;
        if (posix_memalign(&al, 4096, 3 * 4096) || ((uintptr_t)al & 4095)) { fprintf(stderr, "posix_memalign\n"); bad = 1; return NULL; }
        memset(al, 0x5a, 3 * 4096);
        free(al);
    }
    return NULL;
}

int main(void) {
    enum { T = 3 };
    pthread_t th[T];
    for (uintptr_t i = 0; i < T; i++) pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    if (bad) return 3;
    printf("OK jemalloc\n");
    return 0;
}
