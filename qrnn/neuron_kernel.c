/* Quantum neurons (repeat-until-success, order k, no amplification) on a batched real
 * register state: forward (project on success, renormalise) and its exact backward, for one
 * neuron (static) and for a sequence of neurons on different targets (one time step of the
 * cell, exported: neuron_step_forward/backward_f32/f64).
 * Read by qrnn/neuron_fused.py and compiled on first use by kernels.cpu_build.Library.
 *
 * Layout: psi is (B, 2^n) row-major, qubit 0 the most significant bit. The target qubit
 * splits a basis index into (hi, bit, lo) with lo < L = 2^(n-1-target); the reduced index of
 * the other qubits is m = hi * L + lo, and theta[b, m] = u[b] + c[m], given through
 * cos/sin of u (B) and of c (M = 2^(n-1)). With K = 2^k:
 *   a = cos(theta)^K, b = sin(theta)^K,
 *   new0 = a x0 - b x1, new1 = b x0 + a x1, p = sum(new^2), out = new / sqrt(max(p, floor)).
 * Backward: with s = 1/sqrt(p) and (when p >= floor) coef = s^3 <g_out, new> - 2 g_p,
 *   g_new = s g_out - coef new   (when p < floor: g_new = s g_out, p is a constant),
 * then through the scaled rotation to g_psi, and to g_theta, summed into g_u (B) and g_c (M).
 */
#include <math.h>
#include <stddef.h>

#define NEURON_KERNELS(T, SUF)                                                                \
static inline __attribute__((always_inline)) void powers_##SUF(T x, int k, T *xk, T *xk1) {                                 \
    /* xk = x^(2^k), xk1 = x^(2^k - 1) */                                                   \
    T p = 1;                                                                                  \
    for (int i = 0; i < k; ++i) { p *= x; x *= x; }                                           \
    *xk = x; *xk1 = p;                                                                        \
}                                                                                             \
                                                                                              \
static inline __attribute__((always_inline)) void angle_powers_##SUF(                     \
        T cub, T sub, T ccm, T scm, int k, T *ct, T *st, T *a, T *b, T *da, T *db) {        \
    /* theta = u + c from the cos/sin of u and of c: cos/sin of theta (ct, st),              \
       a = ct^K, b = st^K and the (K-1)th powers da = ct^(K-1), db = st^(K-1) */             \
    *ct = cub * ccm - sub * scm; *st = sub * ccm + cub * scm;                                \
    powers_##SUF(*ct, k, a, da);                                                             \
    powers_##SUF(*st, k, b, db);                                                             \
}                                                                                            \
                                                                                             \
static inline __attribute__((always_inline)) int neuron_forward_##SUF(int B, int n, int target, int k, const T *psi, const T *cu,         \
                         const T *su, const T *cc, const T *sc, T floor_p, T *out, T *p) {   \
    const size_t N = (size_t)1 << n, L = (size_t)1 << (n - 1 - target);                     \
    const size_t H = (size_t)1 << target;                                                    \
    for (int b = 0; b < B; ++b) {                                                            \
        const T *x = psi + (size_t)b * N;                                                    \
        T *o = out + (size_t)b * N;                                                          \
        T sum = 0, cub = cu[b], sub = su[b];                                                 \
        for (size_t hi = 0; hi < H; ++hi) {                                                  \
            const size_t base = hi * 2 * L, mb = hi * L;                                      \
            for (size_t lo = 0; lo < L; ++lo) {                                              \
                const size_t m = mb + lo;                                                    \
                T ct, st, a, bb, d1, d2;                                                     \
                angle_powers_##SUF(cub, sub, cc[m], sc[m], k, &ct, &st, &a, &bb, &d1, &d2);  \
                T x0 = x[base + lo], x1 = x[base + L + lo];                                  \
                T n0 = a * x0 - bb * x1, n1 = bb * x0 + a * x1;                              \
                o[base + lo] = n0; o[base + L + lo] = n1;                                    \
                sum += n0 * n0 + n1 * n1;                                                    \
            }                                                                                \
        }                                                                                    \
        p[b] = sum;                                                                          \
        T scale = 1 / sqrt(sum > floor_p ? sum : floor_p);                                   \
        for (size_t i = 0; i < N; ++i) o[i] *= scale;                                        \
    }                                                                                        \
    return 0;                                                                                \
}                                                                                            \
                                                                                             \
static inline __attribute__((always_inline)) int neuron_backward_##SUF(int B, int n, int target, int k, const T *psi, const T *cu,       \
                          const T *su, const T *cc, const T *sc, T floor_p, const T *p,     \
                          const T *g_out, const T *g_p, T *g_psi, T *g_u, T *g_c) {         \
    const size_t N = (size_t)1 << n, L = (size_t)1 << (n - 1 - target);                     \
    const size_t H = (size_t)1 << target, M = N / 2;                                         \
    const T K = (T)(1 << k);                                                                 \
    for (size_t m = 0; m < M; ++m) g_c[m] = 0;                                               \
    for (int b = 0; b < B; ++b) {                                                            \
        const T *x = psi + (size_t)b * N, *go = g_out + (size_t)b * N;                       \
        T *gx = g_psi + (size_t)b * N;                                                       \
        const T cub = cu[b], sub = su[b];                                                    \
        const int low = !(p[b] >= floor_p);                                                  \
        const T s = 1 / sqrt(low ? floor_p : p[b]);                                          \
        T dot = 0;                                                                           \
        if (!low) {                                                                          \
            for (size_t hi = 0; hi < H; ++hi) {                                              \
                const size_t base = hi * 2 * L, mb = hi * L;                                  \
                for (size_t lo = 0; lo < L; ++lo) {                                          \
                    const size_t m = mb + lo;                                                \
                    T ct, st, a, bb, d1, d2;                                                 \
                    angle_powers_##SUF(cub, sub, cc[m], sc[m], k, &ct, &st, &a, &bb, &d1, &d2); \
                    T x0 = x[base + lo], x1 = x[base + L + lo];                              \
                    dot += go[base + lo] * (a * x0 - bb * x1)                                \
                         + go[base + L + lo] * (bb * x0 + a * x1);                           \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        const T coef = low ? 0 : s * s * s * dot - 2 * g_p[b];                               \
        T gu = 0;                                                                            \
        for (size_t hi = 0; hi < H; ++hi) {                                                  \
            const size_t base = hi * 2 * L, mb = hi * L;                                      \
            for (size_t lo = 0; lo < L; ++lo) {                                              \
                const size_t m = mb + lo;                                                    \
                T ct, st, a, bb, ca, sb;                                                     \
                angle_powers_##SUF(cub, sub, cc[m], sc[m], k, &ct, &st, &a, &bb, &ca, &sb);  \
                T x0 = x[base + lo], x1 = x[base + L + lo];                                  \
                T n0 = a * x0 - bb * x1, n1 = bb * x0 + a * x1;                              \
                T g0 = s * go[base + lo] - coef * n0, g1 = s * go[base + L + lo] - coef * n1; \
                gx[base + lo] = a * g0 + bb * g1;                                            \
                gx[base + L + lo] = a * g1 - bb * g0;                                        \
                T ga = g0 * x0 + g1 * x1, gb = g1 * x0 - g0 * x1;                            \
                /* da/dtheta = -K cos^(K-1) sin, db/dtheta = K sin^(K-1) cos */              \
                T gt = K * (gb * sb * ct - ga * ca * st);                                    \
                gu += gt;                                                                    \
                g_c[m] += gt;                                                                \
            }                                                                                \
        }                                                                                    \
        g_u[b] = gu;                                                                         \
    }                                                                                        \
    return 0;                                                                                \
}                                                                                            \
                                                                                             \
static inline __attribute__((always_inline)) void step_forward_##SUF(                      \
        int B, int n, int count, const int *targets, int k, const T *psi, const T *cu,       \
        const T *su, const T *cc, const T *sc, T floor_p, T *states, T *p) {                 \
    const size_t N = (size_t)1 << n, M = N / 2;                                              \
    for (int i = 0; i < count; ++i) {                                                        \
        const T *in = i ? states + (size_t)(i - 1) * B * N : psi;                            \
        neuron_forward_##SUF(B, n, targets[i], k, in, cu + (size_t)i * B, su + (size_t)i * B, \
                             cc + i * M, sc + i * M, floor_p, states + (size_t)i * B * N,   \
                             p + (size_t)i * B);                                             \
    }                                                                                        \
}                                                                                            \
                                                                                             \
int neuron_step_forward_##SUF(int B, int n, int count, const int *targets, int k,           \
                              const T *psi, const T *cu, const T *su, const T *cc,          \
                              const T *sc, T floor_p, T *states, T *p) {                    \
    /* count neurons in order; neuron i reads states[i-1] (psi for i = 0), writes states[i]; \
       cu, su: (count, B); cc, sc: (count, M); p: (count, B). k is dispatched to constants \
       so that the power loops unroll and the inner loops vectorise. */                     \
    switch (k) {                                                                             \
    case 1: step_forward_##SUF(B, n, count, targets, 1, psi, cu, su, cc, sc, floor_p, states, p); break; \
    case 2: step_forward_##SUF(B, n, count, targets, 2, psi, cu, su, cc, sc, floor_p, states, p); break; \
    case 3: step_forward_##SUF(B, n, count, targets, 3, psi, cu, su, cc, sc, floor_p, states, p); break; \
    default: step_forward_##SUF(B, n, count, targets, k, psi, cu, su, cc, sc, floor_p, states, p); \
    }                                                                                        \
    return 0;                                                                                \
}                                                                                            \
                                                                                             \
static inline __attribute__((always_inline)) void step_backward_##SUF(                     \
        int B, int n, int count, const int *targets, int k, const T *psi, const T *cu,       \
        const T *su, const T *cc, const T *sc, T floor_p, const T *states, const T *p,       \
        const T *g_out, const T *g_p, T *g_psi, T *work, T *g_u, T *g_c) {                   \
    const size_t N = (size_t)1 << n, M = N / 2;                                              \
    const T *g = g_out;                                                                      \
    for (int i = count - 1; i >= 0; --i) {                                                   \
        const T *in = i ? states + (size_t)(i - 1) * B * N : psi;                            \
        T *dst = (i % 2 == 0) ? g_psi : work;                                                \
        neuron_backward_##SUF(B, n, targets[i], k, in, cu + (size_t)i * B, su + (size_t)i * B, \
                              cc + i * M, sc + i * M, floor_p, p + (size_t)i * B, g,        \
                              g_p + (size_t)i * B, dst, g_u + (size_t)i * B, g_c + i * M);  \
        g = dst;                                                                             \
    }                                                                                        \
}                                                                                            \
                                                                                             \
int neuron_step_backward_##SUF(int B, int n, int count, const int *targets, int k,          \
                               const T *psi, const T *cu, const T *su, const T *cc,         \
                               const T *sc, T floor_p, const T *states, const T *p,         \
                               const T *g_out, const T *g_p, T *g_psi, T *work,            \
                               T *g_u, T *g_c) {                                            \
    /* reverse order; the state gradient ping-pongs between g_psi and work so that it ends \
       in g_psi; g_p, g_u: (count, B); g_c: (count, M) */                                   \
    switch (k) {                                                                             \
    case 1: step_backward_##SUF(B, n, count, targets, 1, psi, cu, su, cc, sc, floor_p, states, p, \
                                g_out, g_p, g_psi, work, g_u, g_c); break;                   \
    case 2: step_backward_##SUF(B, n, count, targets, 2, psi, cu, su, cc, sc, floor_p, states, p, \
                                g_out, g_p, g_psi, work, g_u, g_c); break;                   \
    case 3: step_backward_##SUF(B, n, count, targets, 3, psi, cu, su, cc, sc, floor_p, states, p, \
                                g_out, g_p, g_psi, work, g_u, g_c); break;                   \
    default: step_backward_##SUF(B, n, count, targets, k, psi, cu, su, cc, sc, floor_p, states, \
                                 p, g_out, g_p, g_psi, work, g_u, g_c);                      \
    }                                                                                        \
    return 0;                                                                                \
}

NEURON_KERNELS(float, f32)
NEURON_KERNELS(double, f64)
