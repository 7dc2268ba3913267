/*
 * State-vector kernels of qrnn.sim for blocks with shared weights and <Z> readout (loaded by
 * qrnn/sim/state_kernel.py, compiled on first use by kernels.cpu_build.Library).
 *
 * One body, instantiated for double (``_f64``) and float (``_f32``). A block of C circuits on
 * n qubits: per sample b, the encoded product state psi_0 = kron_q a_q(x[b, q]) (qubit 0 the
 * most significant bit; encodings by ``enc``: 0 ry, 1 rx, 2 h_ry, 3 qlstm as in
 * qrnn/sim/encode.py), then L layers, each the basis permutation ``src`` (psi <- psi[src],
 * a CNOT layer; NULL for none) and one rotation per qubit (``rot``: 0 Rot(phi, theta, omega)
 * = RZ(omega) RY(theta) RZ(phi), 1 RX, 2 RY, 3 RZ; angles w (C, L, n, k)), then <Z> of the
 * m qubits ``wires``.
 *
 * The states of all samples are kept side by side, amplitude-major (``re[i * B + b]``,
 * ``im`` likewise), so every gate is a loop over the batch that the compiler vectorizes.
 * The last rotation layer is never applied: <Z_w> after it is <O_w> before it, O_w = U^dag Z U
 * on qubit w.
 *
 * ``state_block``: out (B, C, m).
 * ``state_block_backward``: given g_out (B, C, m), writes g_w (C, L, n, k) (if not NULL) and
 * g_x (B, n) (if not NULL) by the adjoint method: psi' (the state before the last rotations)
 * is recomputed; lambda = sum_w g_w O_w psi'; the last layer's angles from the one-qubit
 * reduced matrices of psi'; then layer by layer back, the angles of a layer from the 2x2
 * cross matrices C_q = sum_b tr_(not q) |psi><lambda| (the gates of a layer act on distinct
 * qubits, so each can be moved last: d psi = (dU U^dag)_q psi), then psi and lambda are
 * carried back through the rotations (U^dag) and the permutation; finally the inputs'
 * gradient from lambda at the encoded state.
 *
 * Each returns 0, 1 for sizes or codes out of range, 2 if its scratch cannot be allocated.
 */
#ifndef STATE_INSTANCE
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAX_QUBITS 16

#define STATE_CAT_(a, b) a##_##b
#define STATE_CAT(a, b) STATE_CAT_(a, b)
#define SFX(name) STATE_CAT(name, STATE_SUFFIX)

#define STATE_INSTANCE
#define REAL double
#define STATE_SUFFIX f64
#define MATH(fn) fn
#include __FILE__
#undef REAL
#undef STATE_SUFFIX
#undef MATH

#define REAL float
#define STATE_SUFFIX f32
#define MATH(fn) fn##f
#include __FILE__

#else /* STATE_INSTANCE: the kernels, for one REAL type */

/* 2x2 complex matrices as 8 values: (re, im) of [0][0], [0][1], [1][0], [1][1]. */
static void SFX(mul2)(const REAL *a, const REAL *b, REAL *out) {
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
            const REAL *a0 = a + 4 * r, *a1 = a0 + 2, *b0 = b + 2 * c, *b1 = b0 + 4;
            out[4 * r + 2 * c] = a0[0] * b0[0] - a0[1] * b0[1] + a1[0] * b1[0] - a1[1] * b1[1];
            out[4 * r + 2 * c + 1] = a0[0] * b0[1] + a0[1] * b0[0] + a1[0] * b1[1]
                                     + a1[1] * b1[0];
        }
}

static void SFX(dagger2)(const REAL *a, REAL *out) {
    out[0] = a[0]; out[1] = -a[1]; out[6] = a[6]; out[7] = -a[7];
    out[2] = a[4]; out[3] = -a[5]; out[4] = a[2]; out[5] = -a[3];
}

/* Re tr(a b). */
static REAL SFX(trace2)(const REAL *a, const REAL *b) {
    return a[0] * b[0] - a[1] * b[1] + a[2] * b[4] - a[3] * b[5] + a[4] * b[2] - a[5] * b[3]
           + a[6] * b[6] - a[7] * b[7];
}

/* RX, RY, RZ (axis 0, 1, 2) at angle a and d/da. */
static void SFX(axis_gate)(int axis, REAL a, REAL *u, REAL *du) {
    REAL c = MATH(cos)(a / 2), s = MATH(sin)(a / 2);
    memset(u, 0, sizeof(REAL) * 8);
    memset(du, 0, sizeof(REAL) * 8);
    if (axis == 0) {
        u[0] = c; u[3] = -s; u[5] = -s; u[6] = c;
        du[0] = -s / 2; du[3] = -c / 2; du[5] = -c / 2; du[6] = -s / 2;
    } else if (axis == 1) {
        u[0] = c; u[2] = -s; u[4] = s; u[6] = c;
        du[0] = -s / 2; du[2] = -c / 2; du[4] = c / 2; du[6] = -s / 2;
    } else {
        u[0] = c; u[1] = -s; u[6] = c; u[7] = s;
        du[0] = -s / 2; du[1] = -c / 2; du[6] = -s / 2; du[7] = c / 2;
    }
}

/* Gate u of rotation kind rot at angles w and, with du not NULL, its angle derivatives. */
static void SFX(gate)(int rot, const REAL *w, REAL *u, REAL *du) {
    REAL g[3][8], dg[3][8], t[8];
    if (rot != 0) {
        SFX(axis_gate)(rot - 1, w[0], u, dg[0]);
        if (du) memcpy(du, dg[0], sizeof(REAL) * 8);
        return;
    }
    SFX(axis_gate)(2, w[0], g[0], dg[0]);  /* Rot = RZ(omega) RY(theta) RZ(phi) */
    SFX(axis_gate)(1, w[1], g[1], dg[1]);
    SFX(axis_gate)(2, w[2], g[2], dg[2]);
    SFX(mul2)(g[2], g[1], t);
    SFX(mul2)(t, g[0], u);
    if (!du) return;
    SFX(mul2)(t, dg[0], du);
    SFX(mul2)(g[2], dg[1], t);
    SFX(mul2)(t, g[0], du + 8);
    SFX(mul2)(dg[2], g[1], t);
    SFX(mul2)(t, g[0], du + 16);
}

/* Amplitudes a (re0, im0, re1, im1) of one encoded qubit and d a / d v. */
static void SFX(encode)(int enc, REAL v, REAL *a, REAL *da) {
    const REAL q = (REAL)0.78539816339744830962;  /* pi / 4 */
    memset(a, 0, sizeof(REAL) * 4);
    memset(da, 0, sizeof(REAL) * 4);
    if (enc == 3) {  /* RZ(c) RY(t) H|0>, t = atan v, c = atan v^2 */
        REAL t = MATH(atan)(v), c = MATH(atan)(v * v);
        REAL dt = 1 / (1 + v * v), dc = 2 * v / (1 + v * v * v * v);
        REAL m0 = MATH(cos)(t / 2 + q), m1 = MATH(cos)(t / 2 - q);
        REAL dm0 = -MATH(sin)(t / 2 + q) * dt / 2, dm1 = -MATH(sin)(t / 2 - q) * dt / 2;
        REAL pc = MATH(cos)(c / 2), ps = MATH(sin)(c / 2);
        REAL dpc = -ps * dc / 2, dps = pc * dc / 2;
        a[0] = m0 * pc; a[1] = -m0 * ps; a[2] = m1 * pc; a[3] = m1 * ps;
        da[0] = dm0 * pc + m0 * dpc; da[1] = -dm0 * ps - m0 * dps;
        da[2] = dm1 * pc + m1 * dpc; da[3] = dm1 * ps + m1 * dps;
        return;
    }
    REAL shift = enc == 2 ? q : 0;
    REAL c0 = MATH(cos)(v / 2 + shift), s0 = MATH(sin)(v / 2 + shift);
    if (enc == 0) { a[0] = c0; a[2] = s0; da[0] = -s0 / 2; da[2] = c0 / 2; }
    else if (enc == 1) { a[0] = c0; a[3] = -s0; da[0] = -s0 / 2; da[3] = -c0 / 2; }
    else {  /* (cos(v/2 + pi/4), cos(v/2 - pi/4)) = (c0, s0) */
        a[0] = c0; a[2] = s0; da[0] = -s0 / 2; da[2] = c0 / 2;
    }
}

/* psi (dim x B, amplitude-major) = the product states of the batch; amps (B, n, 4). */
static void SFX(product)(int n, int batch, const REAL *amps, REAL *re, REAL *im) {
    for (int b = 0; b < batch; b++) { re[b] = 1; im[b] = 0; }
    size_t len = 1;
    for (int q = 0; q < n; q++) {
        for (size_t i = len; i-- > 0;)
            for (int b = 0; b < batch; b++) {
                const REAL *a = amps + ((size_t)b * n + q) * 4;
                REAL vr = re[i * batch + b], vi = im[i * batch + b];
                size_t i0 = 2 * i * batch + b, i1 = i0 + batch;
                re[i1] = vr * a[2] - vi * a[3]; im[i1] = vr * a[3] + vi * a[2];
                re[i0] = vr * a[0] - vi * a[1]; im[i0] = vr * a[1] + vi * a[0];
            }
        len *= 2;
    }
}

/* psi <- u psi on qubit q (u 8 values). */
static void SFX(apply)(int n, int q, int batch, const REAL *u, REAL *restrict re,
                       REAL *restrict im) {
    size_t bit = (size_t)1 << (n - 1 - q), dim = (size_t)1 << n;
    for (size_t base = 0; base < dim; base += 2 * bit)
        for (size_t lo = base; lo < base + bit; lo++) {
            REAL *r0 = re + lo * batch, *i0 = im + lo * batch;
            REAL *r1 = r0 + bit * batch, *i1 = i0 + bit * batch;
            for (int b = 0; b < batch; b++) {
                REAL ar = r0[b], ai = i0[b], br = r1[b], bi = i1[b];
                r0[b] = u[0] * ar - u[1] * ai + u[2] * br - u[3] * bi;
                i0[b] = u[0] * ai + u[1] * ar + u[2] * bi + u[3] * br;
                r1[b] = u[4] * ar - u[5] * ai + u[6] * br - u[7] * bi;
                i1[b] = u[4] * ai + u[5] * ar + u[6] * bi + u[7] * br;
            }
        }
}

/* lam += g[b] * (o psi) on qubit q, per sample b (g with stride gs). */
static void SFX(apply_add)(int n, int q, int batch, const REAL *o, const REAL *g, size_t gs,
                           const REAL *restrict re, const REAL *restrict im,
                           REAL *restrict lre, REAL *restrict lim) {
    size_t bit = (size_t)1 << (n - 1 - q), dim = (size_t)1 << n;
    for (size_t base = 0; base < dim; base += 2 * bit)
        for (size_t lo = base; lo < base + bit; lo++) {
            size_t at0 = lo * batch, at1 = (lo + bit) * batch;
            for (int b = 0; b < batch; b++) {
                REAL ar = re[at0 + b], ai = im[at0 + b], br = re[at1 + b], bi = im[at1 + b];
                REAL w = g[b * gs];
                lre[at0 + b] += w * (o[0] * ar - o[1] * ai + o[2] * br - o[3] * bi);
                lim[at0 + b] += w * (o[0] * ai + o[1] * ar + o[2] * bi + o[3] * br);
                lre[at1 + b] += w * (o[4] * ar - o[5] * ai + o[6] * br - o[7] * bi);
                lim[at1 + b] += w * (o[4] * ai + o[5] * ar + o[6] * bi + o[7] * br);
            }
        }
}

/* cross[c][r] += sum_b wt[b] sum_pairs p_c conj(l_r) on qubit q (wt NULL: weight 1); with
   l == p (re == lre) this is the weighted one-qubit reduced density matrix. */
static void SFX(cross)(int n, int q, int batch, const REAL *re, const REAL *im,
                       const REAL *lre, const REAL *lim, const REAL *wt, size_t ws,
                       REAL *out) {
    size_t bit = (size_t)1 << (n - 1 - q), dim = (size_t)1 << n;
    REAL acc[8] = {0};
    for (size_t base = 0; base < dim; base += 2 * bit)
        for (size_t lo = base; lo < base + bit; lo++) {
            size_t at[2] = {lo * batch, (lo + bit) * batch};
            for (int b = 0; b < batch; b++) {
                REAL w = wt ? wt[b * ws] : 1;
                for (int c = 0; c < 2; c++) {
                    REAL pr = w * re[at[c] + b], pi = w * im[at[c] + b];
                    for (int r = 0; r < 2; r++) {
                        REAL qr = lre[at[r] + b], qi = lim[at[r] + b];
                        acc[4 * c + 2 * r] += pr * qr + pi * qi;
                        acc[4 * c + 2 * r + 1] += pi * qr - pr * qi;
                    }
                }
            }
        }
    for (int i = 0; i < 8; i++) out[i] += acc[i];
}

/* dst = src permuted: dst[j] = src[perm[j]] (inverse: dst[perm[j]] = src[j]), rows of B. */
static void SFX(permute)(size_t dim, int batch, const int64_t *perm, int inverse,
                         const REAL *restrict src, REAL *restrict dst) {
    size_t row = sizeof(REAL) * batch;
    for (size_t j = 0; j < dim; j++) {
        size_t from = inverse ? j : (size_t)perm[j], to = inverse ? (size_t)perm[j] : j;
        memcpy(dst + to * batch, src + from * batch, row);
    }
}

/* One circuit up to psi' (before its last rotation layer): the product state, then every
   layer's permutation and all rotations but the last layer's. tre/tim: scratch. */
static void SFX(prepare)(int n, int layers, int batch, int rot, const REAL *amps,
                         const REAL *w, const int64_t *src, REAL **re, REAL **im,
                         REAL **tre, REAL **tim) {
    int kk = rot == 0 ? 3 : 1;
    size_t dim = (size_t)1 << n;
    SFX(product)(n, batch, amps, *re, *im);
    for (int l = 0; l < layers; l++) {
        if (src) {
            REAL *s;
            SFX(permute)(dim, batch, src, 0, *re, *tre);
            SFX(permute)(dim, batch, src, 0, *im, *tim);
            s = *re; *re = *tre; *tre = s;
            s = *im; *im = *tim; *tim = s;
        }
        if (l == layers - 1) break;
        for (int q = 0; q < n; q++) {
            REAL u[8];
            SFX(gate)(rot, w + ((size_t)l * n + q) * kk, u, NULL);
            SFX(apply)(n, q, batch, u, *re, *im);
        }
    }
}

/* The observable measured on wire q: U^dag Z U with U the last layer's gate (Z if none). */
static void SFX(observable)(int n, int layers, int rot, const REAL *w, int q, REAL *o,
                            REAL *u, REAL *du) {
    static const REAL z[8] = {1, 0, 0, 0, 0, 0, -1, 0};
    if (layers == 0) { memcpy(o, z, sizeof z); return; }
    int kk = rot == 0 ? 3 : 1;
    REAL ud[8], t[8];
    SFX(gate)(rot, w + ((size_t)(layers - 1) * n + q) * kk, u, du);
    SFX(dagger2)(u, ud);
    SFX(mul2)(z, u, t);
    SFX(mul2)(ud, t, o);
}

static int SFX(check)(int batch, int circuits, int n, int layers, int m, int enc, int rot,
                      const int64_t *wires) {
    if (batch < 1 || circuits < 1 || n < 1 || n > STATE_MAX_QUBITS || layers < 0 || m < 1
        || enc < 0 || enc > 3 || rot < 0 || rot > 3)
        return 1;
    for (int k = 0; k < m; k++)
        if (wires[k] < 0 || wires[k] >= n) return 1;
    return 0;
}

static REAL *SFX(scratch)(int n, int batch, int states, const REAL *x, int enc, REAL **amps,
                          REAL **damps) {
    size_t dim = (size_t)1 << n, size = dim * batch;  /* states, 2 dim spare, amplitudes */
    REAL *base = malloc(sizeof(REAL) * (states * size + 2 * dim + 8 * (size_t)batch * n));
    if (!base) return NULL;
    *amps = base + states * size + 2 * dim;
    *damps = *amps + 4 * (size_t)batch * n;
    for (size_t i = 0; i < (size_t)batch * n; i++)
        SFX(encode)(enc, x[i], *amps + 4 * i, *damps + 4 * i);
    return base;
}

int SFX(state_block)(int batch, int circuits, int n, int layers, int m, int enc, int rot,
                     const REAL *x, const REAL *w, const int64_t *src, const int64_t *wires,
                     REAL *out) {
    if (SFX(check)(batch, circuits, n, layers, m, enc, rot, wires)) return 1;
    size_t size = ((size_t)1 << n) * batch;
    int kk = rot == 0 ? 3 : 1;
    REAL *amps, *damps;
    REAL *base = SFX(scratch)(n, batch, 4, x, enc, &amps, &damps);
    if (!base) return 2;
    for (int c = 0; c < circuits; c++) {
        REAL *re = base, *im = re + size, *tre = im + size, *tim = tre + size;
        const REAL *wc = w + (size_t)c * layers * n * kk;
        SFX(prepare)(n, layers, batch, rot, amps, wc, src, &re, &im, &tre, &tim);
        for (int k = 0; k < m; k++) {
            REAL o[8], u[8];
            int q = (int)wires[k];
            SFX(observable)(n, layers, rot, wc, q, o, u, NULL);
            for (int b = 0; b < batch; b++) out[((size_t)b * circuits + c) * m + k] = 0;
            size_t bit = (size_t)1 << (n - 1 - q), dim = (size_t)1 << n;
            for (size_t at = 0; at < dim; at += 2 * bit)
                for (size_t lo = at; lo < at + bit; lo++) {
                    const REAL *r0 = re + lo * batch, *i0 = im + lo * batch;
                    const REAL *r1 = r0 + bit * batch, *i1 = i0 + bit * batch;
                    for (int b = 0; b < batch; b++) {
                        REAL v = o[0] * (r0[b] * r0[b] + i0[b] * i0[b])
                                 + o[6] * (r1[b] * r1[b] + i1[b] * i1[b])
                                 + 2 * (o[2] * (r0[b] * r1[b] + i0[b] * i1[b])
                                        - o[3] * (r0[b] * i1[b] - i0[b] * r1[b]));
                        out[((size_t)b * circuits + c) * m + k] += v;
                    }
                }
        }
    }
    free(base);
    return 0;
}

/* g_x[b, q] += 2 Re sum_i conj(lam_i) d psi_0,i / d x_q for the batch; buf holds 2 * dim. */
static void SFX(input_grad)(int n, int batch, const REAL *lre, const REAL *lim,
                            const REAL *amps, const REAL *damps, REAL *g_x, REAL *buf) {
    size_t dim = (size_t)1 << n;
    for (int b = 0; b < batch; b++) {
        const REAL *a = amps + (size_t)b * n * 4, *da = damps + (size_t)b * n * 4;
        for (int q = 0; q < n; q++) {
            REAL *br = buf, *bi = buf + dim;
            for (size_t i = 0; i < dim; i++) {
                br[i] = lre[i * batch + b];
                bi[i] = lim[i * batch + b];
            }
            size_t len = dim;
            for (int p = n - 1; p > q; p--) {  /* the least significant qubit: conj(a_p) */
                const REAL *v = a + 4 * p;
                for (size_t j = 0; j < len / 2; j++) {
                    REAL xr = br[2 * j], xi = bi[2 * j], yr = br[2 * j + 1], yi = bi[2 * j + 1];
                    br[j] = v[0] * xr + v[1] * xi + v[2] * yr + v[3] * yi;
                    bi[j] = v[0] * xi - v[1] * xr + v[2] * yi - v[3] * yr;
                }
                len /= 2;
            }
            for (int p = 0; p < q; p++) {  /* the most significant qubit */
                const REAL *v = a + 4 * p;
                size_t half = len / 2;
                for (size_t j = 0; j < half; j++) {
                    REAL xr = br[j], xi = bi[j], yr = br[half + j], yi = bi[half + j];
                    br[j] = v[0] * xr + v[1] * xi + v[2] * yr + v[3] * yi;
                    bi[j] = v[0] * xi - v[1] * xr + v[2] * yi - v[3] * yr;
                }
                len = half;
            }
            /* u_s = br[s] + i bi[s] = sum lam conj(rest); g = 2 Re sum_s conj(u_s) da_s */
            const REAL *d = da + 4 * q;
            g_x[(size_t)b * n + q] += 2 * (br[0] * d[0] + bi[0] * d[1] + br[1] * d[2]
                                           + bi[1] * d[3]);
        }
    }
}

int SFX(state_block_backward)(int batch, int circuits, int n, int layers, int m, int enc,
                              int rot, const REAL *x, const REAL *w, const int64_t *src,
                              const int64_t *wires, const REAL *g_out, REAL *g_w, REAL *g_x) {
    if (SFX(check)(batch, circuits, n, layers, m, enc, rot, wires)) return 1;
    size_t dim = (size_t)1 << n, size = dim * batch;
    int kk = rot == 0 ? 3 : 1;
    REAL *amps, *damps;
    REAL *base = SFX(scratch)(n, batch, 6, x, enc, &amps, &damps);
    if (!base) return 2;
    if (g_x) memset(g_x, 0, sizeof(REAL) * batch * n);
    for (int c = 0; c < circuits; c++) {
        REAL *re = base, *im = re + size, *tre = im + size, *tim = tre + size;
        REAL *lre = tim + size, *lim = lre + size;
        const REAL *wc = w + (size_t)c * layers * n * kk;
        REAL *gw = g_w ? g_w + (size_t)c * layers * n * kk : NULL;
        const REAL *gc = g_out + (size_t)c * m;
        size_t gs = (size_t)circuits * m;
        if (gw) memset(gw, 0, sizeof(REAL) * layers * n * kk);
        SFX(prepare)(n, layers, batch, rot, amps, wc, src, &re, &im, &tre, &tim);
        memset(lre, 0, sizeof(REAL) * size);
        memset(lim, 0, sizeof(REAL) * size);
        for (int k = 0; k < m; k++) {  /* the last layer's angles, and lambda */
            REAL o[8], u[8], du[24];
            int q = (int)wires[k];
            SFX(observable)(n, layers, rot, wc, q, o, u, du);
            SFX(apply_add)(n, q, batch, o, gc + k, gs, re, im, lre, lim);
            if (!gw || layers == 0) continue;
            static const REAL z[8] = {1, 0, 0, 0, 0, 0, -1, 0};
            REAL rho[8] = {0}, zu[8];
            SFX(cross)(n, q, batch, re, im, re, im, gc + k, gs, rho);
            SFX(mul2)(z, u, zu);
            for (int j = 0; j < kk; j++) {  /* tr(dO rho), dO = dU^dag Z U + U^dag Z dU */
                REAL dud[8], d[8];
                SFX(dagger2)(du + 8 * j, dud);
                SFX(mul2)(dud, zu, d);
                gw[((size_t)(layers - 1) * n + q) * kk + j] += 2 * SFX(trace2)(d, rho);
            }
        }
        for (int l = layers - 1; l >= 1 && (gw || g_x); l--) {
            if (src) {
                REAL *s;
                SFX(permute)(dim, batch, src, 1, re, tre);
                SFX(permute)(dim, batch, src, 1, im, tim);
                s = re; re = tre; tre = s;
                s = im; im = tim; tim = s;
                SFX(permute)(dim, batch, src, 1, lre, tre);
                SFX(permute)(dim, batch, src, 1, lim, tim);
                s = lre; lre = tre; tre = s;
                s = lim; lim = tim; tim = s;
            }
            for (int q = 0; q < n; q++) {  /* layer l - 1, at the state after it */
                REAL u[8], du[24], ud[8];
                SFX(gate)(rot, wc + ((size_t)(l - 1) * n + q) * kk, u, du);
                SFX(dagger2)(u, ud);
                if (gw) {
                    REAL cr[8] = {0};
                    SFX(cross)(n, q, batch, re, im, lre, lim, NULL, 0, cr);
                    for (int j = 0; j < kk; j++) {  /* 2 Re tr(dU U^dag C) */
                        REAL d[8];
                        SFX(mul2)(du + 8 * j, ud, d);
                        gw[((size_t)(l - 1) * n + q) * kk + j] += 2 * SFX(trace2)(d, cr);
                    }
                }
                if (l > 1 || g_x) {
                    SFX(apply)(n, q, batch, ud, re, im);
                    SFX(apply)(n, q, batch, ud, lre, lim);
                }
            }
        }
        if (g_x) {
            if (layers > 0 && src) {
                SFX(permute)(dim, batch, src, 1, lre, tre);
                SFX(permute)(dim, batch, src, 1, lim, tim);
                lre = tre; lim = tim;
            }
            SFX(input_grad)(n, batch, lre, lim, amps, damps, g_x, base + 6 * size);
        }
    }
    free(base);
    return 0;
}
#endif
