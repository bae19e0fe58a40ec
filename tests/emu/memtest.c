/* Test program for the remote-memory emulator.
 *
 * Fills memory with a position-dependent pattern, touches it repeatedly (so a
 * small local budget forces eviction and refetch), and verifies every byte.
 * Modes exercise threads, fork, mremap, munmap/madvise, all of those at once
 * from several threads ("churn"), mprotect, and exit statuses.
 * Prints "OK <checksum>" on success; exits 3 on a data mismatch. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* "churn": the address-space event pattern of a multi-threaded server under a
 * tiny budget, all at once:
 *  - region threads cycle mmap / fill / mremap (grow, moving) / madvise
 *    (DONTNEED) / mremap (shrink) / munmap + mmap at the same address, checking
 *    every byte after each step (moved data intact, grown tails and discarded
 *    pages zero);
 *  - hot threads increment counters at random in a shared array, so pages are
 *    written while the evictor moves them (the kernel then retries moves
 *    internally);
 *  - a discard pair: one thread refills a small area and discards it with
 *    MADV_DONTNEED in a loop while the other reads it, so faults land between
 *    a REMOVE event and the kernel's zap; every word read must be the pattern
 *    or zero, and the reader must never hang. */
#define CHURN_HOT 2
#define HOT_WORDS (64 * PAGE / 8)
static uint64_t *hot;
static volatile int discard_done;
static uint64_t *disc;
#define DISC_PAGES 16

/* words [lo, hi) of p hold pat(seed, i) at index i */
static int check_abs(const uint64_t *p, size_t lo, size_t hi, uint64_t seed, const char *what) {
    for (size_t i = lo; i < hi; i++)
        if (p[i] != pat(seed, i)) {
            fprintf(stderr, "MISMATCH %s at word %zu (page %zu): %lx != %lx\n", what, i, i * 8 / PAGE,
                    (unsigned long)p[i], (unsigned long)pat(seed, i));
            return 0;
        }
    return 1;
}

static uint64_t rng(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }

static void *hot_worker(void *a) {
    uintptr_t t = (uintptr_t)a;
    uint64_t s = 0x1234567 + t;
    /* word w belongs to thread w % CHURN_HOT: no two threads write one word */
    for (int i = 0; i < 200000; i++) {
        size_t w = (rng(&s) % (HOT_WORDS / CHURN_HOT)) * CHURN_HOT + t;
        hot[w]++;
    }
    return NULL;
}

struct rarg { size_t pages; uint64_t seed; int rounds; int ok; };
static void *region_worker(void *a) {
    struct rarg *t = a;
    size_t np = t->pages, nw = np * PAGE / 8;
    uint64_t seed = t->seed;
    uint64_t *p = mmap(0, np * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return NULL; }
    for (int r = 0; r < t->rounds; r++) {
        seed = seed * 31 + r;
        fill(p, nw, seed);
        churn(p, nw, 1);
        if (!check(p, nw, seed, "churn-fill")) return NULL;
        /* grow 2x, moving: old part intact, new tail zero */
        uint64_t *q = mremap(p, np * PAGE, 2 * np * PAGE, MREMAP_MAYMOVE);
        if (q == MAP_FAILED) { perror("mremap grow"); return NULL; }
        if (!check(q, nw, seed, "churn-moved")) return NULL;
        for (size_t i = nw; i < 2 * nw; i++)
            if (q[i]) { fprintf(stderr, "MISMATCH churn: grown tail not zero at %zu\n", i); return NULL; }
        for (size_t i = nw; i < 2 * nw; i++) q[i] = pat(seed + 1, i);
        /* discard the middle half: zeros there, the rest intact */
        size_t a0 = np / 2 * (PAGE / 8), a1 = (np + np / 2) * (PAGE / 8);
        if (madvise(q + a0, (a1 - a0) * 8, MADV_DONTNEED)) { perror("madvise"); return NULL; }
        if (!check(q, a0, seed, "churn-before-discard")) return NULL;
        for (size_t i = a0; i < a1; i++)
            if (q[i]) { fprintf(stderr, "MISMATCH churn: stale data after DONTNEED at %zu\n", i); return NULL; }
        if (!check_abs(q, a1, 2 * nw, seed + 1, "churn-after-discard")) return NULL;
        /* fix the pattern up again, then shrink back: the cut part is gone */
        for (size_t i = a0; i < nw; i++) q[i] = pat(seed, i);
        uint64_t *r2 = mremap(q, 2 * np * PAGE, np * PAGE, 0);
        if (r2 == MAP_FAILED) { perror("mremap shrink"); return NULL; }
        if (!check(r2, nw, seed, "churn-shrunk")) return NULL;
        /* unmap, map again at the same address: fresh zeros */
        munmap(r2, np * PAGE);
        p = mmap(r2, np * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) p = mmap(0, np * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap again"); return NULL; }
        for (size_t i = 0; i < nw; i++)
            if (p[i]) { fprintf(stderr, "MISMATCH churn: stale data after munmap+mmap at %zu\n", i); return NULL; }
    }
    munmap(p, np * PAGE);
    t->ok = 1;
    return NULL;
}

static void *discarder(void *a) {
    (void)a;
    size_t nw = DISC_PAGES * PAGE / 8;
    for (int r = 0; r < 3000; r++) {
        fill(disc, nw, 77);
        madvise(disc, DISC_PAGES * PAGE, MADV_DONTNEED);
    }
    discard_done = 1;
    return NULL;
}

static void *discard_reader(void *a) {
    int *ok = a;
    size_t nw = DISC_PAGES * PAGE / 8;
    uint64_t s = 99;
    while (!discard_done) {
        size_t i = rng(&s) % nw;
        uint64_t v = disc[i];
        if (v != 0 && v != pat(77, i)) {
            fprintf(stderr, "MISMATCH churn: discarded area word %zu = %lx\n", i, (unsigned long)v);
            *ok = 0;
            return NULL;
        }
    }
    *ok = 1;
    return NULL;
}

static int churn_mode(size_t mb) {
    enum { R = 3 };
    hot = mmap(0, HOT_WORDS * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    disc = mmap(0, DISC_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hot == MAP_FAILED || disc == MAP_FAILED) { perror("mmap"); return 4; }
    pthread_t th[R + CHURN_HOT + 2];
    struct rarg ra[R];
    int disc_ok = 0;
    size_t pages = mb * 256 / R; /* mb MiB over the region threads */
    if (pages < 4) pages = 4;
    for (int i = 0; i < R; i++) {
        ra[i] = (struct rarg){ pages, 1000 + i, 4, 0 };
        pthread_create(&th[i], 0, region_worker, &ra[i]);
    }
    for (uintptr_t i = 0; i < CHURN_HOT; i++) pthread_create(&th[R + i], 0, hot_worker, (void *)i);
    pthread_create(&th[R + CHURN_HOT], 0, discarder, 0);
    pthread_create(&th[R + CHURN_HOT + 1], 0, discard_reader, &disc_ok);
    for (int i = 0; i < R + CHURN_HOT + 2; i++) pthread_join(th[i], 0);
    for (int i = 0; i < R; i++) if (!ra[i].ok) return 3;
    if (!disc_ok) return 3;
    /* every increment landed: each thread did 200000 on its own words */
    uint64_t sum = 0;
    for (size_t w = 0; w < HOT_WORDS; w++) sum += hot[w];
    if (sum != 200000ull * CHURN_HOT) { fprintf(stderr, "MISMATCH churn: hot counters sum %lu\n", (unsigned long)sum); return 3; }
    printf("OK churn\n");
    return 0;
}

/* "jvmstack": threads laid out like the JVM's Java threads. The JVM creates
 * them with glibc stacks but no glibc guard (guard size 0), so a stack is a
 * plain read-write anonymous mapping that the emulator's rescan registers;
 * the thread then commits its own guard zones at the low end (mmap MAP_FIXED,
 * then mprotect PROT_NONE) and recurses deep, calling malloc/mmap on stack
 * pages it never touched before. The interposed calls used to do their work
 * with the emulator's lock held on that stack: the first fault on a new stack
 * page then waited for the handler, which waited for the lock (deadlock). */
#define JS_THREADS 4
#define JS_STACK (1024 * 1024)
static pthread_barrier_t js_bar;
static volatile uint64_t js_sink;

static uint64_t js_deep(int depth, uint64_t seed) {
    volatile uint8_t pad[512];
    for (int i = 0; i < 512; i += 64) pad[i] = (uint8_t)(seed + depth);
    if (depth > 0) return js_deep(depth - 1, seed) + pad[0];
    /* At the bottom: the calls the JVM makes all the time. */
    char *m = malloc(256 * 1024);              /* large malloc: rescan */
    memset(m, (int)seed, 256 * 1024);
    uint64_t r = (uint8_t)m[4096];
    free(m);
    char *q = mmap(0, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);  /* register */
    q[0] = 1;
    munmap(q, 64 * 1024);
    return r + pad[0];
}

static void *js_thread(void *a) {
    uint64_t seed = (uintptr_t)a;
    pthread_barrier_wait(&js_bar);             /* main has rescanned: this stack is registered */
    pthread_attr_t at; void *lo; size_t sz;
    pthread_getattr_np(pthread_self(), &at);
    pthread_attr_getstack(&at, &lo, &sz);
    pthread_attr_destroy(&at);
    /* The JVM's guard zones: committed with mmap(MAP_FIXED), then protected. */
    size_t guard = 4 * PAGE;
    if (mmap(lo, guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) return (void *)1;
    if (mprotect(lo, guard, PROT_NONE)) return (void *)1;
    uint64_t s = 0;
    for (int d = 10; d <= 1200; d += 70) s += js_deep(d, seed + d);  /* ~600 KiB deep at most */
    js_sink += s;
    return 0;
}

/* "closefds": close every descriptor above 2, as the JDK's jspawnhelper (and
 * daemons, and Python's subprocess in a forked child) do, then keep running:
 * reuse low descriptor numbers, allocate and check new memory, check the
 * memory written before, fork. With "remote" the memory written before has
 * gone remote (small budget) when the descriptors are closed: the shim must
 * stop the program (exit 125) rather than let it read zeros (exit 3). */
static int closefds_mode(size_t n, int remote) {
    uint64_t *p = mmap(0, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(p, n, 11);
    churn(p, n, 2);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) { perror("close_range"); return 4; }
    usleep(300 * 1000);  /* the emulator notices now, not at exit */
    int fds[8];
    for (int i = 0; i < 8; i++) fds[i] = open("/dev/null", O_RDONLY);
    if (!check(p, n, 11, remote ? "remote-before-close" : "before-close")) return 3;
    uint64_t *q = malloc(n * 8);
    fill(q, n, 12);
    churn(q, n, 2);
    if (!check(q, n, 12, "after-close")) return 3;
    pid_t c = fork();
    if (c == 0) _exit(check(p, n, 11, "child") && check(q, n, 12, "child") ? 0 : 3);
    int st = 0;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "child status %d\n", st); return 3; }
    for (int i = 0; i < 8; i++) close(fds[i]);
    printf("OK closefds\n");
    return 0;
}

static int jvmstack_mode(void) {
    pthread_t th[JS_THREADS];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, JS_STACK);
    pthread_attr_setguardsize(&at, 0);
    pthread_barrier_init(&js_bar, 0, JS_THREADS + 1);
    for (int i = 0; i < JS_THREADS; i++)
        if (pthread_create(&th[i], &at, js_thread, (void *)(uintptr_t)(i + 1))) { perror("pthread_create"); return 4; }
    /* A large malloc makes the emulator rescan /proc/self/maps now, while the
     * new stacks are plain anonymous mappings. */
    char *m = malloc(1 << 20);
    memset(m, 1, 1 << 20);
    pthread_barrier_wait(&js_bar);
    for (int i = 0; i < JS_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        if (r) { fprintf(stderr, "jvmstack: guard set-up failed\n"); return 4; }
    }
    free(m);
    printf("OK jvmstack\n");
    return 0;
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
    if (!strcmp(mode, "churn")) return churn_mode(mb);
    if (!strcmp(mode, "jvmstack")) return jvmstack_mode();
    if (!strcmp(mode, "closefds")) return closefds_mode(n, 0);
    if (!strcmp(mode, "closefds-remote")) return closefds_mode(n, 1);
    if (!strcmp(mode, "rewrite")) {  /* every remote fault is a write: every page comes back dirty */
        size_t pages = n * 8 / PAGE;
        uint64_t *p = mmap(0, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        fill(p, n, 21);
        for (int r = 0; r < 3; r++)
            for (size_t k = 0; k < pages; k++) {
                /* A read-modify-write of the page's first word: a write fault. */
                volatile uint64_t *w = &p[((k * 7919) % pages) * (PAGE / 8)];
                __atomic_fetch_add(w, 0, __ATOMIC_RELAXED);
            }
        if (!check(p, n, 21, "rewrite")) return 3;
        printf("OK rewrite\n");
        return 0;
    }
    if (!strcmp(mode, "mprotect")) {  /* evicted while writable, read back read-only */
        uint64_t *p = mmap(0, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        fill(p, n, 11);
        churn(p, n, 1);
        if (mprotect(p, n * 8, PROT_READ)) { perror("mprotect"); return 4; }
        if (!check(p, n, 11, "read-only")) return 3;
        if (mprotect(p, n * 8, PROT_READ | PROT_WRITE)) { perror("mprotect"); return 4; }
        fill(p, n, 12);
        if (!check(p, n, 12, "writable-again")) return 3;
        printf("OK mprotect\n");
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
