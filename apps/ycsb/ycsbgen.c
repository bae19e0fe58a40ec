/* A YCSB-style load generator for memcached (text protocol).
 *
 * YCSB's core workloads, rewritten in C so the client costs little CPU next to
 * the server under test (the machine may have 2 cores):
 *   load phase: insert RECORDS records (key "user<n>", VALUE bytes each);
 *   run phase:  OPS operations, reads and updates in the workload's mix,
 *               keys from YCSB's scrambled zipfian distribution (theta 0.99,
 *               ranks hashed with FNV-1a so hot keys are spread out);
 *   workload a: 50% read / 50% update;  workload b: 95% read / 5% update.
 * Each thread has one connection and waits for each reply (YCSB's closed
 * loop). Prints "OK phase=... ops=... seconds=... ops_per_s=... misses=...".
 *
 * usage: ycsbgen HOST PORT load|run a|b RECORDS OPS VALUE THREADS SEED */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host, *port;
static int run_phase, read_pct;
static uint64_t records, ops, value_len;
static int threads;
static uint64_t seed;
static double zetan, eta, alpha_, theta = 0.99;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static inline uint64_t next_rand(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double urand(uint64_t *s) { return (next_rand(s) >> 11) * (1.0 / 9007199254740992.0); }
static uint64_t fnv64(uint64_t v) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < 8; i++) { h ^= v & 0xff; h *= 1099511628211ull; v >>= 8; }
    return h;
}
static uint64_t zipf(uint64_t *s) { /* Gray et al., as YCSB's ZipfianGenerator */
    double u = urand(s), uz = u * zetan;
    uint64_t r;
    if (uz < 1.0) r = 0;
    else if (uz < 1.0 + pow(0.5, theta)) r = 1;
    else r = (uint64_t)(records * pow(eta * u - eta + 1, alpha_));
    return fnv64(r) % records; /* scrambled, as YCSB's ScrambledZipfianGenerator */
}

static int dial(void) {
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) { fprintf(stderr, "ycsbgen: cannot resolve %s\n", host); exit(1); }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) { perror("ycsbgen: connect"); exit(1); }
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
static void send_all(int fd, const char *b, size_t n) {
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) { perror("ycsbgen: write"); exit(1); }
        b += w; n -= w;
    }
}
/* Read until the buffer ends with `end` (replies here are small and end with
 * a known terminator: "STORED\r\n", "END\r\n"). */
static size_t read_until(int fd, char *buf, size_t cap, const char *end) {
    size_t n = 0, el = strlen(end);
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0) { fprintf(stderr, "ycsbgen: server closed the connection\n"); exit(1); }
        n += r;
        buf[n] = 0;
        if (n >= el && memcmp(buf + n - el, end, el) == 0) return n;
        if (strstr(buf, "ERROR")) { fprintf(stderr, "ycsbgen: server error: %s", buf); exit(1); }
        if (n + 1 >= cap) { fprintf(stderr, "ycsbgen: reply too long\n"); exit(1); }
    }
}

struct worker { int id; uint64_t done, misses; };

static void *work(void *arg) {
    struct worker *w = arg;
    int fd = dial();
    size_t cap = value_len + 256;
    char *req = malloc(cap), *rep = malloc(cap), *val = malloc(value_len + 1);
    uint64_t s = seed * 1000003 + w->id;
    for (uint64_t i = 0; i < value_len; i++) val[i] = 'a' + (next_rand(&s) % 26);
    uint64_t lo, hi;
    if (!run_phase) { lo = records * w->id / threads; hi = records * (w->id + 1) / threads; }
    else { lo = ops * w->id / threads; hi = ops * (w->id + 1) / threads; }
    for (uint64_t i = lo; i < hi; i++) {
        uint64_t key = run_phase ? zipf(&s) : i;
        int is_read = run_phase && (int)(next_rand(&s) % 100) < read_pct;
        if (is_read) {
            int n = snprintf(req, cap, "get user%llu\r\n", (unsigned long long)key);
            send_all(fd, req, n);
            size_t got = read_until(fd, rep, cap, "END\r\n");
            if (got == 5) w->misses++;
        } else {
            int n = snprintf(req, cap, "set user%llu 0 0 %llu\r\n", (unsigned long long)key, (unsigned long long)value_len);
            memcpy(req + n, val, value_len);
            memcpy(req + n + value_len, "\r\n", 2);
            send_all(fd, req, n + value_len + 2);
            read_until(fd, rep, cap, "STORED\r\n");
            val[i % value_len] ^= 1; /* updates change the value */
        }
        w->done++;
    }
    close(fd);
    free(req); free(rep); free(val);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: ycsbgen HOST PORT load|run a|b RECORDS OPS VALUE THREADS SEED\n");
        return 2;
    }
    host = argv[1]; port = argv[2];
    if (strcmp(argv[3], "load") == 0) run_phase = 0;
    else if (strcmp(argv[3], "run") == 0) run_phase = 1;
    else { fprintf(stderr, "ycsbgen: phase must be load or run\n"); return 2; }
    if (strcmp(argv[4], "a") == 0) read_pct = 50;
    else if (strcmp(argv[4], "b") == 0) read_pct = 95;
    else { fprintf(stderr, "ycsbgen: workload must be a or b\n"); return 2; }
    records = strtoull(argv[5], NULL, 10); ops = strtoull(argv[6], NULL, 10);
    value_len = strtoull(argv[7], NULL, 10); threads = atoi(argv[8]); seed = strtoull(argv[9], NULL, 10);
    if (!records || !value_len || threads < 1 || (run_phase && !ops)) { fprintf(stderr, "ycsbgen: bad numbers\n"); return 2; }
    for (uint64_t i = 1; i <= records; i++) zetan += 1.0 / pow((double)i, theta);
    double zeta2 = 1.0 + pow(0.5, theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta = (1 - pow(2.0 / records, 1 - theta)) / (1 - zeta2 / zetan);
    pthread_t *t = calloc(threads, sizeof *t);
    struct worker *w = calloc(threads, sizeof *w);
    double t0 = now();
    for (int i = 0; i < threads; i++) { w[i].id = i; pthread_create(&t[i], NULL, work, &w[i]); }
    uint64_t done = 0, misses = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); done += w[i].done; misses += w[i].misses; }
    double dt = now() - t0;
    printf("OK phase=%s ops=%llu seconds=%.4f ops_per_s=%.1f misses=%llu\n", argv[3], (unsigned long long)done, dt,
           done / dt, (unsigned long long)misses);
    return misses ? 3 : 0; /* a miss means a lost value: fail loudly */
}
