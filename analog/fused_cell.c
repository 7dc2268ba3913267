/* Fused analog LSTM layer: the time loop of analog.cells.AnalogLSTM in C (analog/fused_cell.py
 * prepares the arguments and holds the autograd wrapper).
 *
 * One layer, time-major, all arrays C-contiguous. B batch rows, T steps, I inputs, H hidden
 * units, nb = 1 with a bias row (0 without); the array has Kp rows (I + H + nb real rows, then
 * zero padding of the row tiles) and Wd columns (4H gate columns i, f, g, o, then padding).
 * L = 2^bits - 1 thresholds per column (L = 0: exact activations). Per step t, batch row b,
 * the operations of analog.preact.preactivation and the converters, in their order:
 *
 *   s     = 1 (mode 0), max(|x_t|, |h_{t-1}|, 1 if nb) (mode 1) or range (mode 2)
 *   u     = [x_t, h_{t-1}, 1] / s, clipped to [-1, 1] (mode 2), DAC rounded
 *           (rint(u * inv_lsb) * lsb, if lsb > 0), zero padded to Kp
 *   m     = u @ W                                              (one ?gemm_, as torch.mm)
 *   m     = m + z * sqrt(sum(u^2) * nA)                        (if rng != NULL)
 *   z_j   = m_j * scale_j * s * gain                           (the pre-activation)
 *   gate  = lev[grp][#{k : thr[trow[j]][k] <= z_j}]            (L > 0)
 *           or sigmoid / tanh (z_j) exactly                    (L = 0)
 *   c_t   = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
 *
 * Read noise z: numpy's SFC64 generator (rng: its four 64-bit state words, advanced in
 * place), ceil(B * Wd / 4) words per step, each word four signed 16-bit lanes k picking
 * table[k + 32768] (table: erfinv((k + 1/2) / 32768) * sqrt(2), as analog.tile's
 * standard_normal). Conversion: row trow[j] of thr (rows, L + 2) holds column j's thresholds
 * between the sentinels -inf and +inf (rows: 4H, or one per group when all its columns share
 * them; group 0 the sigmoid gates, 1 the tanh gate, lev (2, L + 1) the groups' levels).
 * Shared thresholds (float32, bits <= 5, H a multiple of 16, AVX-512): a binary search of 16
 * columns at once with the thresholds and levels held in registers. Otherwise the code is
 * guessed as an ideal converter's (vectorised; gkind 0 sigmoid, 1 tanh, 2 linear
 * floor((z - glo) * ginv)) and corrected by a search in both directions. Both equal
 * searchsorted for any increasing thresholds. No contraction into fused multiply-adds, so
 * without noise the codes are those of the torch reference.
 *
 * If save, the forward also writes gates (T, B, 4H) and deriv (T, B, 4H), the activation's
 * derivative at the pre-activation (straight-through estimator), for fcell_bwd.
 */
#pragma GCC optimize("fp-contract=off", "no-associative-math")
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define R __restrict__

#include "../kernels/fastmath.h"

/* float tanh from the shared exp_poly (|abs. error| < 3e-7). */
static inline float tanh_poly(float x) { return 2.0f / (1.0f + exp_poly(-2.0f * x)) - 1.0f; }

/* numpy's SFC64: s = (a, b, c, counter). */
static inline uint64_t sfc64(uint64_t* s) {
    const uint64_t tmp = s[0] + s[1] + s[3]++;
    s[0] = s[1] ^ (s[1] >> 11);
    s[1] = s[2] + (s[2] << 3);
    s[2] = ((s[2] << 24) | (s[2] >> 40)) + tmp;
    return tmp;
}

#if defined(__AVX512F__)
#include <immintrin.h>
#define HAVE_VEC 1
/* Binary search of 16 columns at once against thresholds shared by all of them, held in two
   registers (P: 32 values, the L = 2^bits - 1 thresholds then +inf), and the levels (lev: 32)
   looked up the same way: out[j] = lev[#{k : P[k] <= z[j]}] for j < n (n a multiple of 16;
   bits <= 5). In-register permutes instead of gathers. */
static void search_shared_f32(int n, int bits, const float* R z, const float* R P,
                              const float* R lev, float* R out) {
    const __m512 t0 = _mm512_loadu_ps(P), t1 = _mm512_loadu_ps(P + 16);
    const __m512 l0 = _mm512_loadu_ps(lev), l1 = _mm512_loadu_ps(lev + 16);
    for (int j = 0; j < n; j += 16) {
        const __m512 zz = _mm512_loadu_ps(z + j);
        __m512i lo = _mm512_setzero_si512();
        for (int step = 1 << (bits - 1); step > 0; step >>= 1) {
            const __m512i idx = _mm512_add_epi32(lo, _mm512_set1_epi32(step - 1));
            const __mmask16 le = _mm512_cmp_ps_mask(_mm512_permutex2var_ps(t0, idx, t1), zz,
                                                    _CMP_LE_OQ);
            lo = _mm512_mask_add_epi32(lo, le, lo, _mm512_set1_epi32(step));
        }
        _mm512_storeu_ps(out + j, _mm512_permutex2var_ps(l0, lo, l1));
    }
}
#else
#define HAVE_VEC 0
static void search_shared_f32(int n, int bits, const float* R z, const float* R P,
                              const float* R lev, float* R out) {
    (void)n, (void)bits, (void)z, (void)P, (void)lev, (void)out;
}
#endif

#define BODY(SFX, REAL, UINT, TINY, SQRT, TANH, EXP, RINT, VEC)                               \
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
/* u[0:n] = DAC(src[0:n] / s) (src NULL: the bias input 1); returns sum u^2 (sequential). */  \
static REAL dac_##SFX(int n, const REAL* R src, REAL s, int mode, REAL lsb, REAL inv_lsb,   \
                      REAL* R u) {                                                           \
    REAL ss = 0;                                                                             \
    for (int i = 0; i < n; i++) {                                                            \
        REAL v = src != NULL ? src[i] : (REAL)1;                                             \
        if (mode != 0) v = v / s;                                                            \
        if (mode == 2) v = v < (REAL)-1 ? (REAL)-1 : (v > (REAL)1 ? (REAL)1 : v);            \
        if (lsb > 0) v = RINT(v * inv_lsb) * lsb;                                            \
        u[i] = v;                                                                            \
        ss = ss + v * v;                                                                     \
    }                                                                                        \
    return ss;                                                                               \
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
/* The count of thresholds tj[1..L] at or below z (tj[0] = -inf, tj[L + 1] = +inf), from a    \
   guess k that is usually right or off by one. */                                           \
static inline int correct_##SFX(REAL z, const REAL* R tj, int k) {                           \
    while (tj[k + 1] <= z) k++;                                                              \
    while (tj[k] > z) k--;                                                                   \
    return k;                                                                                \
}                                                                                            \
                                                                                             \
/* Code guesses kg[j0:j1] of an ideal converter of pre-activations z (vectorised): kind 0     \
   floor(n sigmoid(z)), 1 floor(n (tanh(z) + 1) / 2), 2 floor((z - lo) * inv); in [0, L]. */  \
static void guess_##SFX(int kind, REAL lo, REAL inv, int L, int j0, int j1, const REAL* R z, \
                        int* R kg) {                                                         \
    const REAL n = (REAL)(L + 1), top = (REAL)L;                                             \
    REAL f[64];                                                                              \
    for (int c0 = j0; c0 < j1; c0 += 64) {                                                   \
        const int len = j1 - c0 < 64 ? j1 - c0 : 64;                                         \
        const REAL* R zc = z + c0;                                                           \
        if (kind == 0) {                                                                     \
            for (int j = 0; j < len; j++) f[j] = sig_##SFX(zc[j]) * n;                       \
        } else if (kind == 1) {                                                              \
            for (int j = 0; j < len; j++) f[j] = (tnh_##SFX(zc[j]) + (REAL)1) * (REAL)0.5 * n; \
        } else {                                                                             \
            for (int j = 0; j < len; j++) f[j] = (zc[j] - lo) * inv;                         \
        }                                                                                    \
        for (int j = 0; j < len; j++) {                                                      \
            REAL v = f[j] > (REAL)0 ? f[j] : (REAL)0;                                        \
            kg[c0 + j] = (int)(v < top ? v : top);                                           \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
void fcell_fwd_##SFX(int B, int T, int I, int H, int nb, int Kp, int Wd, int L,             \
                     const REAL* x, const REAL* W, const REAL* scale, REAL gain,             \
                     const REAL* thr, const int* trow, const REAL* lev, const int* gkind,      \
                     const REAL* glo, const REAL* ginv, const REAL* h0, const REAL* c0,      \
                     int mode, REAL range, REAL lsb, REAL inv_lsb, REAL nA, uint64_t* rng,   \
                     const REAL* table, REAL* y, REAL* c, REAL* gates, REAL* deriv,          \
                     REAL* work, const blas_t* bl) {                                         \
    const int W4 = 4 * H;                                                                    \
    const REAL one = 1, zero = 0;                                                            \
    const gemm_##SFX gemm = (gemm_##SFX)bl->gemm;                                            \
    const size_t nwords = ((size_t)B * Wd + 3) / 4;                                          \
    REAL* u = work;                         /* (B, Kp) */                                    \
    REAL* m = u + (size_t)B * Kp;           /* (B, Wd) */                                    \
    REAL* g = m + (size_t)B * Wd;           /* (B, 4H) gate values without save */           \
    REAL* sb = g + (size_t)B * W4;          /* (B,) */                                       \
    REAL* sg = sb + B;                      /* (B,) */                                       \
    REAL* zb = sg + B;                      /* (4H,) */                                      \
    int* kg = (int*)(zb + W4);              /* (4H,) */                                      \
    uint64_t* words = (uint64_t*)(((uintptr_t)(kg + W4) + 15) & ~(uintptr_t)7);              \
    memset(u, 0, sizeof(REAL) * (size_t)B * Kp);                                             \
    /* the in-register search: thresholds shared per group (trow = group), bits <= 5, H % 16 */ \
    const int vec = VEC && L > 0 && L <= 31 && H % 16 == 0 && trow[0] == 0 && trow[W4 - 1] == 0 \
                    && trow[2 * H] == 1 && trow[1] == 0;                                     \
    int bits = 0;                                                                            \
    while ((1 << bits) < L + 1) bits++;                                                      \
    float P[2][32], LV[2][32];                                                               \
    for (int q = 0; vec && q < 2; q++) {                                                     \
        for (int k = 0; k < 32; k++) {                                                       \
            P[q][k] = k < L ? (float)thr[(size_t)q * (L + 2) + 1 + k] : (float)INFINITY;     \
            LV[q][k] = k <= L ? (float)lev[(size_t)q * (L + 1) + k] : 0.0f;                  \
        }                                                                                    \
    }                                                                                        \
    for (int t = 0; t < T; t++) {                                                            \
        const REAL* hp = t == 0 ? h0 : y + (size_t)(t - 1) * B * H;                          \
        const REAL* cp = t == 0 ? c0 : c + (size_t)(t - 1) * B * H;                          \
        for (int b = 0; b < B; b++) {                                                        \
            const REAL* xb = x + ((size_t)t * B + b) * I;                                    \
            const REAL* hb = hp + (size_t)b * H;                                             \
            REAL* ub = u + (size_t)b * Kp;                                                   \
            REAL s = mode == 2 ? range : (REAL)1;                                            \
            if (mode == 1) {   /* abs-max of [x, h, 1], at least the smallest normal number */ \
                s = absmax_##SFX(I, xb, absmax_##SFX(H, hb, nb ? (REAL)1 : (REAL)0));        \
                s = s < TINY ? TINY : s;                                                     \
            }                                                                                \
            sb[b] = s;                                                                       \
            REAL ss = dac_##SFX(I, xb, s, mode, lsb, inv_lsb, ub);                           \
            ss = ss + dac_##SFX(H, hb, s, mode, lsb, inv_lsb, ub + I);                       \
            if (nb) ss = ss + dac_##SFX(1, NULL, s, mode, lsb, inv_lsb, ub + I + H);         \
            if (rng != NULL) sg[b] = SQRT(ss * nA);                                          \
        }                                                                                    \
        gemm("N", "N", &Wd, &B, &Kp, &one, W, &Wd, u, &Kp, &zero, m, &Wd);                   \
        if (rng != NULL) {                                                                   \
            for (size_t q = 0; q < nwords; q++) words[q] = sfc64(rng);                       \
            const int16_t* R lanes = (const int16_t*)words;                                  \
            for (int b = 0; b < B; b++) {                                                    \
                REAL* R mb = m + (size_t)b * Wd;                                             \
                const int16_t* R lb = lanes + (size_t)b * Wd;                                \
                const REAL sgb = sg[b];                                                      \
                for (int j = 0; j < Wd; j++)                                                 \
                    mb[j] = mb[j] + table[(int)lb[j] + 32768] * sgb;                         \
            }                                                                                \
        }                                                                                    \
        REAL* gt = gates != NULL ? gates + (size_t)t * B * W4 : g;                           \
        for (int b = 0; b < B; b++) {                                                        \
            const REAL* R mb = m + (size_t)b * Wd;                                           \
            REAL* R gb = gt + (size_t)b * W4;                                                \
            REAL* R z = zb;                                                                  \
            const REAL s = sb[b];                                                            \
            for (int j = 0; j < W4; j++) z[j] = mb[j] * scale[j];                            \
            if (mode != 0) for (int j = 0; j < W4; j++) z[j] = z[j] * s;                     \
            if (gain != (REAL)1) for (int j = 0; j < W4; j++) z[j] = z[j] * gain;            \
            if (L == 0) {                                                                    \
                for (int j = 0; j < 2 * H; j++) gb[j] = sig_##SFX(z[j]);                     \
                for (int j = 2 * H; j < 3 * H; j++) gb[j] = tnh_##SFX(z[j]);                 \
                for (int j = 3 * H; j < W4; j++) gb[j] = sig_##SFX(z[j]);                    \
            } else if (vec) {                                                                \
                search_shared_f32(2 * H, bits, (const float*)z, P[0], LV[0], (float*)gb);    \
                search_shared_f32(H, bits, (const float*)z + 2 * H, P[1], LV[1],             \
                                  (float*)gb + 2 * H);                                       \
                search_shared_f32(H, bits, (const float*)z + 3 * H, P[0], LV[0],             \
                                  (float*)gb + 3 * H);                                       \
            } else {                                                                         \
                guess_##SFX(gkind[0], glo[0], ginv[0], L, 0, 2 * H, z, kg);                  \
                guess_##SFX(gkind[1], glo[1], ginv[1], L, 2 * H, 3 * H, z, kg);              \
                guess_##SFX(gkind[0], glo[0], ginv[0], L, 3 * H, W4, z, kg);                 \
                for (int j = 0; j < W4; j++) {                                               \
                    const int k = correct_##SFX(z[j], thr + (size_t)trow[j] * (L + 2), kg[j]); \
                    gb[j] = lev[(j >= 2 * H && j < 3 * H) * (L + 1) + k];                    \
                }                                                                            \
            }                                                                                \
            if (deriv != NULL) {                                                             \
                REAL* R db = deriv + ((size_t)t * B + b) * W4;                               \
                for (int j = 0; j < W4; j++) {                                               \
                    REAL f = sig_##SFX(z[j]);                                                \
                    db[j] = f * ((REAL)1 - f);                                               \
                }                                                                            \
                for (int j = 2 * H; j < 3 * H; j++) {                                        \
                    REAL f = tnh_##SFX(z[j]);                                                \
                    db[j] = (REAL)1 - f * f;                                                 \
                }                                                                            \
            }                                                                                \
            cell_##SFX(H, gb, cp + (size_t)b * H, c + ((size_t)t * B + b) * H,               \
                       y + ((size_t)t * B + b) * H);                                         \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Backward through time with the straight-through gates: da (T, B, 4H) = dL/d(pre-activation) \
   with d gate / d z = deriv; dh, dc (B, H) hold dL/dh_T, dL/dc_T on entry and dL/dh_0,       \
   dL/dc_0 on return; Whh (4H, H) are the float recurrent weights; dy (T, B, H). */           \
void fcell_bwd_##SFX(int B, int T, int H, const REAL* Whh, const REAL* c0, const REAL* c,    \
                     const REAL* gates, const REAL* deriv, const REAL* dy, REAL* dh,         \
                     REAL* dc, REAL* da, const blas_t* bl) {                                 \
    const int W4 = 4 * H;                                                                    \
    const REAL one = 1, zero = 0;                                                            \
    const gemm_##SFX gemm = (gemm_##SFX)bl->gemm;                                            \
    for (int t = T - 1; t >= 0; t--) {                                                       \
        for (int b = 0; b < B; b++) {                                                        \
            const size_t n = (size_t)t * B + b;                                              \
            const REAL* R gb = gates + n * W4;                                               \
            const REAL* R db = deriv + n * W4;                                               \
            const REAL* R cb = c + n * H;                                                    \
            const REAL* R cp = t == 0 ? c0 + (size_t)b * H : c + (n - B) * H;                \
            const REAL* R dyb = dy + n * H;                                                  \
            REAL* R dhb = dh + (size_t)b * H;                                                \
            REAL* R dcb = dc + (size_t)b * H;                                                \
            REAL* R dab = da + n * W4;                                                       \
            for (int u = 0; u < H; u++) {                                                    \
                REAL gi = gb[u], gf = gb[H + u], gg = gb[2 * H + u], go = gb[3 * H + u];     \
                REAL th = tnh_##SFX(cb[u]);                                                  \
                REAL dhu = dyb[u] + dhb[u];                                                  \
                REAL dcu = dcb[u] + dhu * go * ((REAL)1 - th * th);                          \
                dab[u] = dcu * gg * db[u];                                                   \
                dab[H + u] = dcu * cp[u] * db[H + u];                                        \
                dab[2 * H + u] = dcu * gi * db[2 * H + u];                                   \
                dab[3 * H + u] = dhu * th * db[3 * H + u];                                   \
                dcb[u] = dcu * gf;                                                           \
            }                                                                                \
        }                                                                                    \
        gemm("N", "N", &H, &B, &W4, &one, Whh, &H, da + (size_t)t * B * W4, &W4, &zero, dh,  \
             &H);                                                                            \
    }                                                                                        \
}

BODY(f32, float, uint32_t, FLT_MIN, sqrtf, tanh_poly, exp_poly, rintf, HAVE_VEC)
BODY(f64, double, uint64_t, DBL_MIN, sqrt, tanh, exp, rint, 0)
