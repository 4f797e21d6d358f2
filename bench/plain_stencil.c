/* The "slice-based loop compiled for the native CPU" of issue #3, as a yardstick for
 * powerpost's interior wave kernel: the same 8th-order 2-D Laplacian, leapfrog update and
 * flush-to-zero, the same operation order (centre first, then by increasing distance; no
 * fused multiply-add), on an interior-only grid (no absorbing layer), 1000 steps, best of 7.
 *
 *   gcc -O3 -march=native -ffp-contract=off bench/plain_stencil.c -o /tmp/plain_stencil -lm
 *   /tmp/plain_stencil 128 256
 *
 * Compare with `powerpost bench-wave ... --pml 0` on the same 128 x 256 grid
 * (bench/README.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define R 4
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NZ NX\n", argv[0]);
        return 2;
    }
    int nz = atoi(argv[1]), nx = atoi(argv[2]), nt = 1000;
    int st = nx + 2 * R, tot = (nz + 2 * R) * st;
    float *u = calloc(tot, 4), *o = calloc(tot, 4), *w = calloc(tot, 4);
    for (int i = 0; i < tot; i++) {
        w[i] = 0.1f;
        u[i] = sinf(i * 0.01f);
    }
    /* 8th-order second-difference weights (scaled; the values do not change the cost). */
    const float c0 = -2.847222f, c[4] = {1.6f, -0.2f, 0.025396825f, -0.001785714f};
    double best = 1e9;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int t = 0; t < nt; t++) {
            for (int z = R; z < nz + R; z++) {
                const float *restrict q = u + z * st;
                float *restrict op = o + z * st;
                const float *restrict wp = w + z * st;
                for (int x = R; x < nx + R; x++) {
                    float dx = c0 * q[x];
                    for (int j = 0; j < R; j++) dx = dx + c[j] * (q[x - 1 - j] + q[x + 1 + j]);
                    float dz = c0 * q[x];
                    for (int j = 0; j < R; j++) dz = dz + c[j] * (q[x - (j + 1) * st] + q[x + (j + 1) * st]);
                    float v = (2.0f * q[x] - op[x]) + wp[x] * (dx + dz);
                    op[x] = fabsf(v) < 1e-30f ? 0.0f : v;
                }
            }
            float *tmp = u;
            u = o;
            o = tmp;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%d x %d, %d steps: best %.4f s, %.3f GPts/s\n", nz, nx, nt, best,
           (double)nz * nx * nt / best / 1e9);
    return 0;
}
