/* Memory-intensive kernels for the ddc-requirements application suite.
 *
 * Small, dependency-free stand-ins for the study's in-memory analytics: they
 * run in seconds, so CI can exercise the whole reproduction pipeline with them.
 *
 *   memkernel rand     MIB OPS SEED   random 8-byte read-modify-writes over a
 *                                     MIB-MiB array (uniform: the worst case
 *                                     for a local cache, like graph traversal)
 *   memkernel hashjoin MIB OPS SEED   build an open-addressing hash table of
 *                                     MIB MiB of (key, payload) rows, then
 *                                     probe it OPS times with zipfian keys
 *                                     (skewed, like a join on a popular key)
 *
 * Prints one line "OK <mode> checksum=<hex> seconds=<compute time>"; the
 * checksum depends only on the arguments, so a run under the emulator can be
 * checked against a plain run (the emulator must never change results). */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state;
static inline uint64_t rng(void) { /* splitmix64: fast, deterministic */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double urand(void) { return (rng() >> 11) * (1.0 / 9007199254740992.0); }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Gray et al.'s zipfian generator (as in YCSB), theta 0.99. */
typedef struct { uint64_t n; double theta, alpha, zetan, eta; } zipf_t;
static void zipf_init(zipf_t *z, uint64_t n, double theta) {
    double zeta2 = 0, zetan = 0;
    for (uint64_t i = 1; i <= n; i++) zetan += 1.0 / pow((double)i, theta);
    for (uint64_t i = 1; i <= 2; i++) zeta2 += 1.0 / pow((double)i, theta);
    z->n = n; z->theta = theta; z->zetan = zetan; z->alpha = 1.0 / (1.0 - theta);
    z->eta = (1 - pow(2.0 / n, 1 - theta)) / (1 - zeta2 / zetan);
}
static uint64_t zipf_next(zipf_t *z) {
    double u = urand(), uz = u * z->zetan;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + pow(0.5, z->theta)) return 1;
    return (uint64_t)(z->n * pow(z->eta * u - z->eta + 1, z->alpha)) % z->n;
}
static inline uint64_t mix(uint64_t x) { /* scatter hot ranks over the key space */
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static uint64_t slot_mask;
static int by_slot(const void *a, const void *b) {
    uint64_t x = mix(*(const uint64_t *)a) & slot_mask, y = mix(*(const uint64_t *)b) & slot_mask;
    return (x > y) - (x < y);
}

static int usage(void) {
    fprintf(stderr, "usage: memkernel rand|hashjoin MIB OPS SEED\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 5) return usage();
    const char *mode = argv[1];
    uint64_t mib = strtoull(argv[2], NULL, 10), ops = strtoull(argv[3], NULL, 10);
    rng_state = strtoull(argv[4], NULL, 10);
    if (mib == 0 || ops == 0) return usage();
    uint64_t sum = 0;
    double t0;
    if (strcmp(mode, "rand") == 0) {
        uint64_t n = mib * 1024 * 1024 / 8;
        uint64_t *a = malloc(n * 8);
        if (!a) { perror("malloc"); return 1; }
        for (uint64_t i = 0; i < n; i++) a[i] = i * 2654435761u;
        t0 = now();
        for (uint64_t k = 0; k < ops; k++) {
            uint64_t i = rng() % n;
            a[i] = a[i] * 31 + k;  /* read-modify-write: the page becomes dirty */
            sum += a[i];
        }
        free(a);
    } else if (strcmp(mode, "hashjoin") == 0) {
        /* Build side: rows of (key, payload[3]) = 32 B; table at load factor 1/2. */
        uint64_t rows = mib * 1024 * 1024 / 32 / 2, slots = 1;
        while (slots < rows * 2) slots <<= 1;
        slot_mask = slots - 1;
        uint64_t (*t)[4] = calloc(slots, 32);
        if (!t) { perror("calloc"); return 1; }
        /* Insert in slot order (a radix-partitioned build, as real hash joins
         * do): the table fills front to back instead of at random, so the
         * build costs little and the measurement is dominated by the probes. */
        uint64_t *order = malloc(rows * 8);
        if (!order) { perror("malloc"); return 1; }
        for (uint64_t r = 0; r < rows; r++) order[r] = r + 1;
        qsort(order, rows, 8, by_slot);
        for (uint64_t i = 0; i < rows; i++) {
            uint64_t key = order[i], h = mix(key) & (slots - 1);
            while (t[h][0]) h = (h + 1) & (slots - 1);
            t[h][0] = key; t[h][1] = key * 3; t[h][2] = key ^ 0x55; t[h][3] = key - 1;
        }
        free(order);
        zipf_t z;
        zipf_init(&z, rows, 0.99);
        t0 = now();
        for (uint64_t k = 0; k < ops; k++) {
            /* Probe side: zipfian key ranks, scattered so hot keys are not adjacent. */
            uint64_t key = mix(zipf_next(&z)) % rows + 1, h = mix(key) & (slots - 1);
            while (t[h][0] != key) h = (h + 1) & (slots - 1);
            sum += t[h][1] + t[h][3];
        }
        free(t);
    } else {
        return usage();
    }
    printf("OK %s checksum=%016llx seconds=%.3f\n", mode, (unsigned long long)sum, now() - t0);
    return 0;
}
