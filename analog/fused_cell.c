/* Fused analog LSTM layer: the time loop of analog/fused_cell_reference.py in C.
 *
 * One layer, time-major, all arrays C-contiguous. B batch rows, T steps, I inputs, H hidden
 * units, W = 4H gate columns in torch.nn order (i, f, g, o), L = 2^bits - 1 thresholds per
 * column (L = 0: exact activations, no converter); thr (W, L + 2), lev (W, L + 1). Per step t and batch row b:
 *
 *   s     = range > 0 ? range : max(|x_t|, |h_{t-1}|, 1)       (input scaling)
 *   u     = [x_t, 1] / s and h_{t-1} / s, clipped to [-1, 1] if range > 0,
 *           DAC: k = rint(u * inv_lsb), u = k * lsb (if lsb > 0), ksum = sum k^2
 *   m     = u_xb @ Wxb, then m += u_h @ Wh                        (two ?gemm_ calls)
 *   m     = m + sg * z, sg = sqrt(ksum * nA + nC) * sqrt(2)      (if table != NULL)
 *   v     = m * s
 *   gate  = lev[j][#{k : thr[j][k] <= v}]             (guess, then search both ways;
 *                                                       thr padded by -inf, +inf)
 *           or the exact activation of a = v * ks[j] when L = 0
 *   c_t   = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
 *
 * z is one of the 65536 values of table, picked by 16 bits of a counter-based SplitMix64
 * stream: word n is mix64((seed + n) * GAMMA) and feeds four columns; row (t, b) of the
 * layer starts at word word0 + (t * B + b) * H (W / 4 = H words per row). The operations and
 * their order are those of the torch reference (no contraction into fused multiply-adds), so
 * both give the same codes; the matrix products call the same BLAS routine torch calls.
 *
 * If save, the forward also writes gates (T, B, W) and deriv (T, B, W) = f'(v * ks) (the
 * activation's derivative at the pre-activation, for the straight-through backward).
 */
#pragma GCC optimize("fp-contract=off", "no-associative-math")
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GAMMA 0x9E3779B97F4A7C15ULL
#define R __restrict__

typedef struct { void* gemm; void* pack_size; void* pack; void* compute; } blas_t;

/* float exp in a form gcc vectorises (Cephes polynomial, |rel. error| < 2e-7, as the
   classical cells' kernel) and tanh from it (|abs. error| < 3e-7). */
static inline float exp_poly(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale = { ((int32_t)n + 127) << 23 };
    return p * scale.f;
}

static inline float tanh_poly(float x) { return 2.0f / (1.0f + exp_poly(-2.0f * x)) - 1.0f; }

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#define BODY(SFX, REAL, UINT, SQRT, TANH, EXP, RINT)                                          \
typedef void (*gemm_##SFX)(const char*, const char*, const int*, const int*, const int*,     \
                           const REAL*, const REAL*, const int*, const REAL*, const int*,    \
                           const REAL*, REAL*, const int*);                                  \
                                                                                             \
static inline REAL sig_##SFX(REAL a) { return (REAL)1 / ((REAL)1 + EXP(-a)); }               \
static inline REAL tnh_##SFX(REAL a) { return TANH(a); }                                     \
                                                                                             \
/* max(m, max_i |a[i]|) for finite a, as the largest bit pattern with the sign cleared (an    \
   integer maximum, which vectorises; exact). */                                             \
static REAL absmax_##SFX(int n, const REAL* R a, REAL m) {                                   \
    UINT mx, bits;                                                                           \
    memcpy(&mx, &m, sizeof mx);                                                              \
    for (int i = 0; i < n; i++) {                                                            \
        memcpy(&bits, a + i, sizeof bits);                                                   \
        bits &= ~((UINT)1 << (8 * sizeof(UINT) - 1));                                        \
        mx = bits > mx ? bits : mx;                                                          \
    }                                                                                        \
    memcpy(&m, &mx, sizeof m);                                                               \
    return m;                                                                                \
}                                                                                            \
                                                                                             \
/* u[0:n] = DAC(src[0:n] / s) (plus a trailing bias input 1 / s if bias); returns sum k^2. */ \
static REAL dac_##SFX(int n, const REAL* src, int bias, REAL s, REAL range, REAL lsb,       \
                      REAL inv_lsb, REAL* u) {                                               \
    REAL ksum = 0;                                                                           \
    for (int i = 0; i < n + bias; i++) {                                                     \
        REAL v = (i < n ? src[i] : (REAL)1) / s;                                             \
        if (range > 0) v = v < (REAL)-1 ? (REAL)-1 : (v > (REAL)1 ? (REAL)1 : v);            \
        if (lsb > 0) {                                                                       \
            REAL k = RINT(v * inv_lsb);                                                      \
            ksum = ksum + k * k;                                                             \
            v = k * lsb;                                                                     \
        } else {                                                                             \
            ksum = ksum + v * v;                                                             \
        }                                                                                    \
        u[i] = v;                                                                            \
    }                                                                                        \
    return ksum;                                                                             \
}                                                                                            \
                                                                                             \
/* Nonlinear ramp conversion of one row, v (W,) -> gate values g (W,): the code is the       \
   number of the column's thresholds at or below v[j], found from a guess (the code of an    \
   ideal converter, from the activation of v * ks: vectorised) corrected by a search in both \
   directions (exact for any increasing thresholds; two compares when the guess is right).   \
   thr (W, L + 2): each column's L thresholds between the sentinels -inf and +inf.           \
   L = 0: exact activations of v * ks. kg: W ints of scratch. */                             \
static void convert_##SFX(int W, int L, const REAL* R v, const REAL* R thr,                 \
                          const REAL* R lev, const REAL* R ks, int* R kg, REAL* R g) {       \
    const int H = W / 4;                                                                     \
    if (L == 0) {                                                                            \
        for (int j = 0; j < 2 * H; j++) g[j] = sig_##SFX(v[j] * ks[j]);                      \
        for (int j = 2 * H; j < 3 * H; j++) g[j] = tnh_##SFX(v[j] * ks[j]);                  \
        for (int j = 3 * H; j < W; j++) g[j] = sig_##SFX(v[j] * ks[j]);                      \
        return;                                                                              \
    }                                                                                        \
    const REAL n = (REAL)(L + 1), top = (REAL)L;                                             \
    for (int j = 0; j < W; j++) {                                                            \
        REAL f = sig_##SFX(v[j] * ks[j]) * n;                                                \
        f = f > (REAL)0 ? f : (REAL)0;                                                       \
        kg[j] = (int)(f < top ? f : top);                                                    \
    }                                                                                        \
    for (int j = 2 * H; j < 3 * H; j++) {                                                    \
        REAL f = (tnh_##SFX(v[j] * ks[j]) + (REAL)1) * (REAL)0.5 * n;                        \
        f = f > (REAL)0 ? f : (REAL)0;                                                       \
        kg[j] = (int)(f < top ? f : top);                                                    \
    }                                                                                        \
    for (int j = 0; j < W; j++) {                                                            \
        const REAL* R tj = thr + (size_t)j * (L + 2);                                        \
        const REAL vj = v[j];                                                                \
        int k = kg[j];                                                                       \
        while (tj[k + 1] <= vj) k++;                                                         \
        while (tj[k] > vj) k--;                                                              \
        g[j] = lev[(size_t)j * (L + 1) + k];                                                 \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Digital cell update of one row: c = f * c_prev + i * g, h = o * tanh(c). */               \
static void cell_##SFX(int H, const REAL* R gb, const REAL* R cp, REAL* R cn, REAL* R hn) {  \
    for (int u = 0; u < H; u++) {                                                            \
        REAL cc = gb[H + u] * cp[u] + gb[u] * gb[2 * H + u];                                 \
        cn[u] = cc;                                                                          \
        hn[u] = gb[3 * H + u] * tnh_##SFX(cc);                                               \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Read and comparator noise of one row: m += sg * table[16 bits of word q for 4 columns]. */\
static void noise_##SFX(int H, uint64_t base, REAL sg, const REAL* R table,                 \
                        uint64_t* R words, REAL* R m) {                                      \
    const uint16_t* R lanes = (const uint16_t*)words;                                        \
    for (int q = 0; q < H; q++) words[q] = mix64((base + (uint64_t)q) * GAMMA);              \
    for (int j = 0; j < 4 * H; j++) m[j] = m[j] + sg * table[lanes[j]];                      \
}                                                                                            \
                                                                                             \
void fcell_fwd_##SFX(int B, int T, int I, int H, int L, const REAL* x, const REAL* Wxb,     \
                     const REAL* Wh, const REAL* thr, const REAL* lev, const REAL* ks,        \
                     const REAL* h0, const REAL* c0, REAL range, REAL lsb, REAL inv_lsb,     \
                     REAL nA, REAL nC, const REAL* table, uint64_t seed, uint64_t word0,     \
                     REAL* y, REAL* c, REAL* gates, REAL* deriv, REAL* work,                 \
                     const blas_t* bl) {                                                     \
    const int W = 4 * H, I1 = I + 1;                                                         \
    const REAL one = 1, zero = 0, sqrt2 = (REAL)1.4142135623730951;                          \
    const gemm_##SFX gemm = (gemm_##SFX)bl->gemm;                                            \
    REAL* ux = work;                        /* (B, I + 1) */                                 \
    REAL* uh = ux + (size_t)B * I1;         /* (B, H) */                                     \
    REAL* m = uh + (size_t)B * H;           /* (B, W) */                                     \
    REAL* g = m + (size_t)B * W;            /* (B, W) gate values without save */            \
    REAL* sb = g + (size_t)B * W;           /* (B,) */                                       \
    REAL* sg = sb + B;                      /* (B,) */                                       \
    REAL* v = sg + B;                       /* (W,) */                                       \
    int* kg = (int*)(v + W);                /* (W,) */                                       \
    uint64_t* words = (uint64_t*)(kg + W + 2); /* (H,), 8-byte aligned below */              \
    words = (uint64_t*)(((uintptr_t)words + 7) & ~(uintptr_t)7);                             \
    for (int t = 0; t < T; t++) {                                                            \
        const REAL* hp = t == 0 ? h0 : y + (size_t)(t - 1) * B * H;                          \
        const REAL* cp = t == 0 ? c0 : c + (size_t)(t - 1) * B * H;                          \
        for (int b = 0; b < B; b++) {                                                        \
            const REAL* xb = x + ((size_t)t * B + b) * I;                                    \
            const REAL* hb = hp + (size_t)b * H;                                             \
            REAL s = range;                                                                  \
            if (range <= 0) s = absmax_##SFX(I, xb, absmax_##SFX(H, hb, (REAL)1));          \
            sb[b] = s;                                                                       \
            REAL ksum = dac_##SFX(I, xb, 1, s, range, lsb, inv_lsb, ux + (size_t)b * I1);    \
            ksum = ksum + dac_##SFX(H, hb, 0, s, range, lsb, inv_lsb, uh + (size_t)b * H);   \
            if (table != NULL) sg[b] = SQRT(ksum * nA + nC) * sqrt2;                         \
        }                                                                                    \
        gemm("N", "N", &W, &B, &I1, &one, Wxb, &W, ux, &I1, &zero, m, &W);                   \
        gemm("N", "N", &W, &B, &H, &one, Wh, &W, uh, &H, &one, m, &W);                       \
        REAL* gt = gates != NULL ? gates + (size_t)t * B * W : g;                            \
        REAL* dt = deriv != NULL ? deriv + (size_t)t * B * W : NULL;                         \
        for (int b = 0; b < B; b++) {                                                        \
            REAL* mb = m + (size_t)b * W;                                                    \
            REAL* gb = gt + (size_t)b * W;                                                   \
            const REAL s = sb[b];                                                            \
            if (table != NULL) {                                                             \
                const uint64_t base = seed + word0 + ((uint64_t)t * B + b) * (uint64_t)H;    \
                noise_##SFX(H, base, sg[b], table, words, mb);                               \
            }                                                                                \
            for (int j = 0; j < W; j++) v[j] = mb[j] * s;                                    \
            convert_##SFX(W, L, v, thr, lev, ks, kg, gb);                                    \
            if (dt != NULL) {                                                                \
                REAL* db = dt + (size_t)b * W;                                               \
                for (int j = 0; j < W; j++) {                                                \
                    REAL f = sig_##SFX(v[j] * ks[j]);                                        \
                    db[j] = f * ((REAL)1 - f);                                               \
                }                                                                            \
                for (int j = 2 * H; j < 3 * H; j++) {                                        \
                    REAL f = tnh_##SFX(v[j] * ks[j]);                                        \
                    db[j] = (REAL)1 - f * f;                                                 \
                }                                                                            \
            }                                                                                \
            cell_##SFX(H, gb, cp + (size_t)b * H, c + ((size_t)t * B + b) * H,                  \
                       y + ((size_t)t * B + b) * H);                                         \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Backward through time with the straight-through gates: da (T, B, W) = dL/d(pre-activation) \
   with d gate / d a = deriv; dh, dc (B, H) hold dL/dh_T, dL/dc_T on entry and dL/dh_0,       \
   dL/dc_0 on return; Whh (W, H) are the float recurrent weights; dy (T, B, H). */            \
void fcell_bwd_##SFX(int B, int T, int H, const REAL* Whh, const REAL* c0, const REAL* c,    \
                     const REAL* gates, const REAL* deriv, const REAL* dy, REAL* dh,         \
                     REAL* dc, REAL* da, const blas_t* bl) {                                 \
    const int W = 4 * H;                                                                     \
    const REAL one = 1, zero = 0;                                                            \
    const gemm_##SFX gemm = (gemm_##SFX)bl->gemm;                                            \
    for (int t = T - 1; t >= 0; t--) {                                                       \
        for (int b = 0; b < B; b++) {                                                        \
            const size_t n = (size_t)t * B + b;                                              \
            const REAL* gb = gates + n * W;                                                  \
            const REAL* db = deriv + n * W;                                                  \
            const REAL* cb = c + n * H;                                                      \
            const REAL* cp = t == 0 ? c0 + (size_t)b * H : c + (n - B) * H;                  \
            const REAL* dyb = dy + n * H;                                                    \
            REAL* dhb = dh + (size_t)b * H;                                                  \
            REAL* dcb = dc + (size_t)b * H;                                                  \
            REAL* dab = da + n * W;                                                          \
            for (int u = 0; u < H; u++) {                                                    \
                REAL gi = gb[u], gf = gb[H + u], gg = gb[2 * H + u], go = gb[3 * H + u];     \
                REAL th = tnh_##SFX(cb[u]);                                                       \
                REAL dhu = dyb[u] + dhb[u];                                                  \
                REAL dcu = dcb[u] + dhu * go * ((REAL)1 - th * th);                          \
                dab[u] = dcu * gg * db[u];                                                   \
                dab[H + u] = dcu * cp[u] * db[H + u];                                        \
                dab[2 * H + u] = dcu * gi * db[2 * H + u];                                   \
                dab[3 * H + u] = dhu * th * db[3 * H + u];                                   \
                dcb[u] = dcu * gf;                                                           \
            }                                                                                \
        }                                                                                    \
        gemm("N", "N", &H, &B, &W, &one, Whh, &H, da + (size_t)t * B * W, &W, &zero, dh, &H);\
    }                                                                                        \
}

BODY(f32, float, uint32_t, sqrtf, tanh_poly, exp_poly, rintf)
BODY(f64, double, uint64_t, sqrt, tanh, exp, rint)
