/* sgemm_reference: square single-precision C = A·B through the system OpenBLAS's
 * cblas_sgemm (row-major, no transposes, beta 0), timed the way `swift-train bench` times
 * its sgemm: one untimed warm-up product, then 5–31 repetitions until 1.5 s are spent
 * (--quick: 2–3 repetitions), the median reported as GFLOP/s with 2·n³ FLOPs per product.
 *
 * Usage: sgemm-reference [--json] [--quick] [--threads N]   (N = 0: OpenBLAS's default)
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the first `count` values (sorts them in place). */
static double median(double *values, int count) {
    qsort(values, (size_t)count, sizeof(double), compare_doubles);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

/* Fills `count` floats with uniform values in [-1, 1) from a 64-bit LCG (deterministic). */
static void fill_random(float *p, size_t count, unsigned long long seed) {
    unsigned long long s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < count; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0);
    }
}

/* Median seconds of one n×n×n product. */
static double time_sgemm(int n, int min_reps, int max_reps, double budget) {
    size_t count = (size_t)n * (size_t)n;
    float *a = aligned_alloc(64, count * sizeof(float));
    float *b = aligned_alloc(64, count * sizeof(float));
    float *c = aligned_alloc(64, count * sizeof(float));
    double *samples = malloc((size_t)max_reps * sizeof(double));
    if (!a || !b || !c || !samples) {
        fprintf(stderr, "sgemm-reference: out of memory for n = %d\n", n);
        exit(1);
    }
    fill_random(a, count, 1);
    fill_random(b, count, 2);
    memset(c, 0, count * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    int reps = 0;
    double spent = 0;
    while (reps < max_reps) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now_seconds() - t0;
        samples[reps++] = t;
        spent += t;
        if (reps >= min_reps && spent >= budget) break;
    }
    double m = median(samples, reps);
    free(a); free(b); free(c); free(samples);
    return m;
}

int main(int argc, char **argv) {
    int json = 0, quick = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end = NULL;
            long t = strtol(argv[++i], &end, 10);
            if (!end || *end != '\0' || t < 0 || t > 1024) {
                fprintf(stderr, "sgemm-reference: --threads must be 0 (default) or a count from 1 to 1024, got %s\n", argv[i]);
                return 2;
            }
            threads = (int)t;
        } else {
            fprintf(stderr, "usage: %s [--json] [--quick] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    if (threads > 0) openblas_set_num_threads(threads);
    const int sizes[3] = {512, 1024, 2048};
    double gflops[3];
    for (int k = 0; k < 3; k++) {
        double seconds = quick ? time_sgemm(sizes[k], 2, 3, 0.1) : time_sgemm(sizes[k], 5, 31, 1.5);
        double n = (double)sizes[k];
        gflops[k] = 2.0 * n * n * n / seconds / 1e9;
    }
    if (json) {
        printf("{\"threads\": %d, \"sgemm_gflops\": {\"512\": %.6g, \"1024\": %.6g, \"2048\": %.6g}}\n",
               openblas_get_num_threads(), gflops[0], gflops[1], gflops[2]);
    } else {
        printf("C cblas_sgemm, %d threads (%s)\n", openblas_get_num_threads(), openblas_get_config());
        for (int k = 0; k < 3; k++) printf("  %5d  %8.1f GFLOP/s\n", sizes[k], gflops[k]);
    }
    return 0;
}
