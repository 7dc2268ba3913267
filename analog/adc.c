/*
 * The fused ADC kernels of analog/readout.py (compiled on first use by kernels/cpu_build.py).
 *
 * Two float32 functions around the array product of a tiled analog matrix-vector product; all
 * arrays C-contiguous, R row tiles of rows rows, B batch rows, F features,
 * W (padded) columns of which the first n are returned.
 *
 * adc_inputs_f32: x (B, F) -> xt (R, B, rows), s (B,), sigma (R, B): input
 * scaling (fixed range with clipping, or per-row abs-max), DAC rounding, tiling with zero
 * padding, and the noise sigma of each row tile from the sum of squared DAC outputs.
 *
 * adc_readout_f32: for each (b, j):
 *
 *     y[b, j] = (sum_r clamp(floor(m[r, b, j] + sigma[r, b] * z - off[r, j]), lo, hi) * k[r, j]
 *                + kc[j]) * s[b] * gain + bias[j]
 *
 * with k = scale * lsb, kc = sum_r k[r] / 2, off = offset / lsb, lo = -half,
 * hi = half - 1 and z one draw from table (65536 equiprobable values) per column
 * value, indexed by 16 bits of a counter-based generator: 64-bit word i is the SplitMix64
 * output function of (seed + i) * 0x9E3779B97F4A7C15, i.e. word i of the SplitMix64
 * stream from the state seed * 0x9E3779B97F4A7C15, and feeds four column values (row
 * (r, b) starts at word (r * B + b) * ceil(W / 4)). sigma, offset and bias
 * may be NULL (no noise; the scalar off0; no bias).
 *
 * Both run the steps of the torch reference (analog.tile.analog_mvm with
 * path="reference") in the same order with the same float32 operations (no contraction into
 * fused multiply-adds except where torch's addcmul_ uses one), so without noise the ADC
 * codes and outputs are the same.
 */
#pragma GCC optimize("fp-contract=off", "no-associative-math")
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
#define LANES 16
#define GAMMA 0x9E3779B97F4A7C15ULL

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* z[0 : len] = sg * table[16 random bits], words word0 .. of the counter-based stream. */
static void noise(float sg, const float* restrict table, uint64_t word0, int len,
                  float* restrict z) {
    union { uint64_t w[CHUNK / 4]; uint16_t h[CHUNK]; } u;
    for (int i = 0; i < (len + 3) / 4; i++) u.w[i] = mix64((word0 + (uint64_t)i) * GAMMA);
    for (int j = 0; j < len; j++) z[j] = sg * table[u.h[j]];
}

/* The ADC code of one column value: floor(m + z - o) clipped to [lo, hi] (NaN stays NaN,
   as in torch.clamp). */
static inline float code(float m, float z, float o, float lo, float hi) {
    float c = floorf((m + z) - o);
    c = c < lo ? lo : c;
    return c > hi ? hi : c;
}
#define CODE(m, z, o) code(m, z, o, lo, hi)

/* Returns 1 if out of memory. */
int adc_readout_f32(int R, int B, int W, int n, const float* restrict m,
                    const float* restrict sigma, const float* restrict table, uint64_t seed,
                    const float* restrict offset, float off0, float half,
                    const float* restrict scale, float lsb, const float* restrict s,
                    float gain, const float* restrict bias, float* restrict y) {
    const float lo = -half, hi = half - 1.0f;
    const uint64_t words = (uint64_t)(W + 3) / 4;
    float z[CHUNK];
    float* buf = (float*)malloc(sizeof(float) * (size_t)(2 * R + 1) * (size_t)W);
    if (buf == NULL) return 1;
    float* k = buf;   /* weight of a code, scale * LSB, as torch's scale * lsb */
    float* kc = buf + (size_t)R * W;   /* half an LSB per row tile, as k.sum(0) * 0.5 */
    float* off = offset != NULL ? kc + W : NULL;   /* offset in LSB units */
    for (size_t i = 0; i < (size_t)R * W; i++) k[i] = scale[i] * lsb;
    for (int j = 0; j < W; j++) {
        float acc = k[j];
        for (int r = 1; r < R; r++) acc = acc + k[(size_t)r * W + j];
        kc[j] = acc * 0.5f;
    }
    if (off != NULL) {
        for (size_t i = 0; i < (size_t)R * W; i++) off[i] = offset[i] / lsb;
    }
    for (int b = 0; b < B; b++) {
        float* restrict yb = y + (size_t)b * n;
        for (int r = 0; r < R; r++) {
            const float* restrict mr = m + ((size_t)r * B + b) * W;
            const float* restrict kr = k + (size_t)r * W;
            for (int j0 = 0; j0 < n; j0 += CHUNK) {
                const int len = n - j0 < CHUNK ? n - j0 : CHUNK;
                if (sigma != NULL) {
                    noise(sigma[(size_t)r * B + b], table,
                          seed + ((uint64_t)r * B + b) * words + (uint64_t)j0 / 4, len, z);
                } else {
                    for (int j = 0; j < len; j++) z[j] = 0.0f;
                }
                const float* restrict mj = mr + j0;
                const float* restrict kj = kr + j0;
                float* restrict yj = yb + j0;
                if (off != NULL) {
                    const float* restrict oj = off + (size_t)r * W + j0;
                    if (r == 0) {
                        for (int j = 0; j < len; j++) yj[j] = CODE(mj[j], z[j], oj[j]) * kj[j];
                    } else { /* a fused multiply-add, as torch's addcmul_ */
                        for (int j = 0; j < len; j++)
                            yj[j] = fmaf(CODE(mj[j], z[j], oj[j]), kj[j], yj[j]);
                    }
                } else if (r == 0) {
                    for (int j = 0; j < len; j++) yj[j] = CODE(mj[j], z[j], off0) * kj[j];
                } else {
                    for (int j = 0; j < len; j++)
                        yj[j] = fmaf(CODE(mj[j], z[j], off0), kj[j], yj[j]);
                }
            }
        }
        if (bias != NULL) {
            for (int j = 0; j < n; j++) yb[j] = (yb[j] + kc[j]) * s[b] * gain + bias[j];
        } else {
            for (int j = 0; j < n; j++) yb[j] = (yb[j] + kc[j]) * s[b] * gain;
        }
    }
    free(buf);
    return 0;
}

/* Input side, x (B, F) -> xt (R, B, rows) = DAC(x / s) * unit, zero-padded to R * rows
   features, with s (B,) = range if range > 0, else max(max_i |x[b, i]|, FLT_MIN); inputs are
   clipped to [-1, 1] when range > 0 and, if dac_lsb > 0, rounded (half to even) to multiples
   of dac_lsb as torch's mul_(1 / lsb).round_().mul_(lsb). If sigma is not NULL, sigma[r, b] =
   sqrt(sum_i DAC(x / s)_i^2 * a + c) * mult over the row tile's features. */
void adc_inputs_f32(int B, int F, int R, int rows, const float* restrict x, float range,
                    float dac_lsb, float inv_dac_lsb, float unit, float a, float c, float mult,
                    float* restrict xt, float* restrict s, float* restrict sigma) {
    for (int b = 0; b < B; b++) {
        const float* restrict xb = x + (size_t)b * F;
        float sb = range;
        if (range <= 0.0f) {
            /* the largest |x| as the largest bit pattern with the sign cleared: an integer
               maximum (vectorized; a NaN wins, as in torch's amax) */
            uint32_t mx = 0;
            for (int i = 0; i < F; i++) {
                uint32_t bits;
                memcpy(&bits, xb + i, sizeof bits);
                bits &= 0x7fffffffu;
                mx = bits > mx ? bits : mx;
            }
            float fm;
            memcpy(&fm, &mx, sizeof fm);
            sb = fm < FLT_MIN ? FLT_MIN : fm;
        }
        s[b] = sb;
        for (int r = 0; r < R; r++) {
            float* restrict out = xt + ((size_t)r * B + b) * rows;
            const int valid = F - r * rows < rows ? F - r * rows : rows;
            for (int i = 0; i < valid; i++) {
                float v = xb[r * rows + i] / sb;
                if (range > 0.0f) v = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
                if (dac_lsb > 0.0f) v = rintf(v * inv_dac_lsb) * dac_lsb;
                out[i] = v;
            }
            for (int i = valid; i < rows; i++) out[i] = 0.0f;
            float ss[LANES] = {0.0f};   /* LANES partial sums */
            int i = 0;
            for (; i + LANES <= rows; i += LANES) {
                for (int l = 0; l < LANES; l++) ss[l] = ss[l] + out[i + l] * out[i + l];
            }
            for (; i < rows; i++) ss[0] = ss[0] + out[i] * out[i];
            for (int l = 1; l < LANES; l++) ss[0] = ss[0] + ss[l];
            for (i = 0; i < rows; i++) out[i] = out[i] * unit;
            if (sigma != NULL) sigma[(size_t)r * B + b] = sqrtf(ss[0] * a + c) * mult;
        }
    }
}
