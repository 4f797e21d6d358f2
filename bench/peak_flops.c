/* The machine's f32 arithmetic peak with and without fused multiply-add (AVX-512), the
 * yardstick for the training step's speed: powerpost never fuses (bit-exactness), so its
 * peak is that of separate multiplies and adds.
 *
 *   gcc -O2 -mavx512f -mfma -ffp-contract=off bench/peak_flops.c -o /tmp/peak_flops -lpthread
 *   /tmp/peak_flops
 *
 * Each thread runs sixteen independent dependency chains of 512-bit operations (enough to
 * fill both FP ports at a latency of four cycles): eight `x = x * a` and eight `y = y + b`
 * chains for "mul+add", sixteen `x = x * a + b` chains for "fma". The operands come from
 * volatile memory so that the compiler cannot fold or merge the chains (a = 1 keeps the
 * products normal; a = b = 0.5 makes the FMA chains converge to 1). Best of five runs per
 * line; 1 and 2 threads. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define ITERATIONS 12500000L
#define RUNS 5

static volatile float one = 1.0f, tiny = 1e-3f, half = 0.5f;
static volatile float sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define INIT(k) _mm512_set1_ps(one * (float)((k) + 1))
#define DECLARE16                                                                        \
    __m512 x0 = INIT(0), x1 = INIT(1), x2 = INIT(2), x3 = INIT(3), x4 = INIT(4),          \
           x5 = INIT(5), x6 = INIT(6), x7 = INIT(7), y0 = INIT(8), y1 = INIT(9),          \
           y2 = INIT(10), y3 = INIT(11), y4 = INIT(12), y5 = INIT(13), y6 = INIT(14),     \
           y7 = INIT(15)
#define SUM16                                                                              \
    _mm512_add_ps(                                                                         \
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), _mm512_add_ps(x2, x3)),          \
                      _mm512_add_ps(_mm512_add_ps(x4, x5), _mm512_add_ps(x6, x7))),         \
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(y0, y1), _mm512_add_ps(y2, y3)),          \
                      _mm512_add_ps(_mm512_add_ps(y4, y5), _mm512_add_ps(y6, y7))))

/* 8 multiplies + 8 adds of 16 lanes per iteration: 256 flop. */
static void *separate(void *unused) {
    (void)unused;
    __m512 a = _mm512_set1_ps(one), b = _mm512_set1_ps(tiny);
    DECLARE16;
    for (long i = 0; i < ITERATIONS; i++) {
#define M(v) v = _mm512_mul_ps(v, a);
#define A(v) v = _mm512_add_ps(v, b);
        M(x0) M(x1) M(x2) M(x3) M(x4) M(x5) M(x6) M(x7)
        A(y0) A(y1) A(y2) A(y3) A(y4) A(y5) A(y6) A(y7)
    }
    sink += _mm512_reduce_add_ps(SUM16);
    return 0;
}

/* 16 fused multiply-adds of 16 lanes per iteration: 512 flop. */
static void *fused(void *unused) {
    (void)unused;
    __m512 a = _mm512_set1_ps(half), b = _mm512_set1_ps(half);
    DECLARE16;
    for (long i = 0; i < ITERATIONS; i++) {
#define F(v) v = _mm512_fmadd_ps(v, a, b);
        F(x0) F(x1) F(x2) F(x3) F(x4) F(x5) F(x6) F(x7)
        F(y0) F(y1) F(y2) F(y3) F(y4) F(y5) F(y6) F(y7)
    }
    sink += _mm512_reduce_add_ps(SUM16);
    return 0;
}

int main(void) {
    for (int threads = 1; threads <= 2; threads++) {
        for (int fma = 0; fma < 2; fma++) {
            double best = 0.0;
            for (int run = 0; run < RUNS; run++) {
                pthread_t t[2];
                double t0 = now();
                for (int k = 0; k < threads; k++)
                    pthread_create(&t[k], 0, fma ? fused : separate, 0);
                for (int k = 0; k < threads; k++) pthread_join(t[k], 0);
                double flop = (double)ITERATIONS * threads * (fma ? 512.0 : 256.0);
                double rate = flop / (now() - t0) * 1e-9;
                if (rate > best) best = rate;
            }
            printf("%-8s %d thread%s: %6.1f GFLOP/s\n", fma ? "fma" : "mul+add", threads,
                   threads > 1 ? "s" : " ", best);
        }
    }
    return 0;
}
