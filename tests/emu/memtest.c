/* Test program for the remote-memory emulator.
 *
 * Fills memory with a position-dependent pattern, touches it repeatedly (so a
 * small local budget forces eviction and refetch), and verifies every byte.
 * Modes exercise threads, fork, mremap, munmap/madvise and exit statuses.
 * Prints "OK <checksum>" on success; exits 3 on a data mismatch. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static uint64_t pat(uint64_t seed, uint64_t i) {
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 29;
    return x;
}

static void fill(uint64_t *p, size_t n, uint64_t seed) { for (size_t i = 0; i < n; i++) p[i] = pat(seed, i); }

static int check(const uint64_t *p, size_t n, uint64_t seed, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(seed, i)) {
            fprintf(stderr, "MISMATCH %s at word %zu (page %zu): %lx != %lx\n", what, i, i * 8 / PAGE,
                    (unsigned long)p[i], (unsigned long)pat(seed, i));
            return 0;
        }
    return 1;
}

/* Touch every page several times in a strided order so pages go remote and back. */
static void churn(uint64_t *p, size_t n, int rounds) {
    size_t pages = n * 8 / PAGE;
    volatile uint64_t sink = 0;
    for (int r = 0; r < rounds; r++)
        for (size_t k = 0; k < pages; k++) sink += p[((k * 7919) % pages) * (PAGE / 8)];
    (void)sink;
}

struct targ { uint64_t *p; size_t n; uint64_t seed; int ok; };
static void *worker(void *a) {
    struct targ *t = a;
    fill(t->p, t->n, t->seed);
    churn(t->p, t->n, 2);
    t->ok = check(t->p, t->n, t->seed, "thread");
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "basic";
    size_t mb = argc > 2 ? strtoul(argv[2], 0, 10) : 16;
    size_t n = mb * 1024 * 1024 / 8;
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "exit")) return (int)mb;          /* exit status passes through */
    if (!strcmp(mode, "signal")) { raise(SIGSEGV + 0 * mb); kill(getpid(), SIGKILL); }
    if (!strcmp(mode, "sleep")) { uint64_t *p = malloc(n * 8); fill(p, n, 1); sleep(mb); return 0; }

    if (!strcmp(mode, "basic")) {  /* malloc (glibc's internal mmap) */
        uint64_t *p = malloc(n * 8);
        fill(p, n, 42);
        churn(p, n, 3);
        if (!check(p, n, 42, "basic")) return 3;
        /* small allocations on the main heap (brk) too */
        uint64_t *h[256];
        for (int i = 0; i < 256; i++) { h[i] = malloc(8000); fill(h[i], 1000, 1000 + i); }
        churn(p, n, 1);
        for (int i = 0; i < 256; i++) if (!check(h[i], 1000, 1000 + i, "heap")) return 3;
        printf("OK %lx\n", (unsigned long)p[n / 2]);
        return 0;
    }
    if (!strcmp(mode, "threads")) {
        enum { T = 4 };
        pthread_t th[T]; struct targ a[T];
        for (int i = 0; i < T; i++) {
            a[i] = (struct targ){ mmap(0, n * 8 / T, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), n / T, 7 + i, 0 };
            pthread_create(&th[i], 0, worker, &a[i]);
        }
        for (int i = 0; i < T; i++) { pthread_join(th[i], 0); if (!a[i].ok) return 3; }
        printf("OK threads\n");
        return 0;
    }
    if (!strcmp(mode, "fork")) {
        uint64_t *p = mmap(0, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        fill(p, n, 5);
        churn(p, n, 2);
        pid_t c = fork();
        if (c == 0) {
            if (!check(p, n, 5, "child-inherited")) _exit(3);
            fill(p, n, 6);            /* child's own writes, under its own emulator */
            churn(p, n, 2);
            _exit(check(p, n, 6, "child-own") ? 0 : 3);
        }
        int st; waitpid(c, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "child failed %x\n", st); return 3; }
        if (!check(p, n, 5, "parent-after-fork")) return 3;
        fill(p, n, 8); churn(p, n, 2);
        if (!check(p, n, 8, "parent-rewrite")) return 3;
        printf("OK fork\n");
        return 0;
    }
    if (!strcmp(mode, "mremap")) {
        size_t half = n / 2;
        uint64_t *p = mmap(0, half * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        fill(p, half, 9);
        churn(p, half, 2);
        /* grow, forcing a move: contents (local and remote) must follow */
        fprintf(stderr, "phase: grow\n");
        uint64_t *q = mremap(p, half * 8, n * 8, MREMAP_MAYMOVE);
        if (q == MAP_FAILED) { perror("mremap"); return 4; }
        if (!check(q, half, 9, "mremap-moved")) return 3;
        for (size_t i = half; i < n; i++) if (q[i] != 0) { fprintf(stderr, "grown tail not zero\n"); return 3; }
        fill(q, n, 10); churn(q, n, 2);
        if (!check(q, n, 10, "mremap-grown")) return 3;
        fprintf(stderr, "phase: shrink\n");
        /* shrink: the cut part must be forgotten, the rest kept */
        uint64_t *r = mremap(q, n * 8, half * 8, 0);
        if (r == MAP_FAILED || !check(r, half, 10, "mremap-shrunk")) return 3;
        fprintf(stderr, "phase: dontneed\n");
        /* discard with madvise: must read back as zeros, not stale data */
        madvise(r, half * 8, MADV_DONTNEED);
        for (size_t i = 0; i < half; i++) if (r[i] != 0) { fprintf(stderr, "stale data after DONTNEED at %zu\n", i); return 3; }
        /* unmap and map again at the same place: fresh zeros */
        munmap(r, half * 8);
        uint64_t *s = mmap(r, half * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        for (size_t i = 0; i < half; i++) if (s[i] != 0) { fprintf(stderr, "stale data after remap at %zu\n", i); return 3; }
        printf("OK mremap\n");
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
