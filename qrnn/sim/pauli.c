/*
 * The Pauli-basis kernels of qrnn.sim (loaded by qrnn/sim/pauli_kernel.py, compiled on first
 * use by kernels.cpu_build.Library).
 *
 * One body, instantiated for double (``_f64``) and float (``_f32``); all arrays C-contiguous
 * unless a leading dimension is given. Pauli strings of n qubits are indexed base 4 (digits I,
 * X, Y, Z), qubit 0 the most significant digit.
 *
 * ``pauli_readout``: one step of a block. For each batch row ``b`` of ``x (B, n)``:
 *
 * * the Bloch 4-vector ``v_q = (1, <X>, <Y>, <Z>)`` of qubit q after encoding ``x[b, q]`` from
 *   |0>, and its derivative ``dv_q`` in ``x[b, q]`` (closed forms, by ``kind``):
 *
 *   ===  =======  ===========================================================================
 *   0    ry       ``(1, sin x, 0, cos x)``
 *   1    rx       ``(1, 0, -sin x, cos x)``
 *   2    h_ry     ``(1, cos x, 0, -sin x)``
 *   3    qlstm    ``(1, cos a cos c, cos a sin c, -sin a)``, ``a = atan x``, ``c = atan x^2``
 *   ===  =======  ===========================================================================
 *
 * * the features ``f = v_0 (x) ... (x) v_{n-1}`` (``4**n``), written to ``feats[b]`` when
 *   ``feats`` is not NULL;
 * * ``out[b, j] = sum_i f[i] R[i, j]`` for ``j < M`` (``out (B, M)``), ``R`` with row stride
 *   ``ldr``;
 * * when ``jac`` is not NULL, ``jac[b, q, j]`` (``(B, n, M)``): the same with ``v_q`` replaced
 *   by ``dv_q``, the derivative of ``out[b, j]`` in ``x[b, q]``.
 *
 * Without ``jac`` each row's features are one Kronecker product and ``out`` M dot products
 * with ``R`` transposed once (contiguous, vectorised). With ``jac``, ``R`` is contracted one
 * qubit at a time (each pass sums four row blocks weighted by one qubit's vector); the
 * ``1 + n`` products share the passes over the qubits before their derivative slot:
 * ``M (2 * 4**n + 3 * 4**(n-1) + ...)`` multiply-adds per row instead of ``(1 + n) M 4**n``.
 *
 * ``pauli_heisenberg``: the readout matrix of C circuits of L layers (each layer a CNOT layer,
 * then one rotation per qubit). Each of the M observables ``obs (M, 4**n)`` (Pauli coefficients)
 * is evolved back through the circuit: for layer ``L-1`` down to ``0``, every qubit's rotation
 * (``o[.., a, ..] -> sum_a o[.., a, ..] T[c, l, q, a, b]``, ``T`` the ``(C, L, n, 4, 4)`` Pauli
 * transfer matrices), then the CNOT layer (``o[s] -> o[image[s]] * sign[s]``; ``image`` NULL
 * for none). Writes ``rows[s, c * M + m]`` (``(4**n, C * M)``).
 *
 * ``pauli_heisenberg_backward``: given ``rows`` and its gradient ``grad`` (same layout), adds
 * ``d loss / d T`` to ``g_transfer (C, L, n, 4, 4)``. It retraces the circuit from the input
 * side, undoing each step on the observable (a transfer matrix of a unitary is orthogonal, so
 * ``o_before = o_after T^T``; the CNOT layer is a signed permutation) while carrying the
 * gradient the same way, and accumulates ``g_T[a, b] += sum o_before[.., a, ..]
 * g_after[.., b, ..]``: no saved intermediates.
 *
 * ``readout2`` / ``readout2_backward`` (``pauli_readout2.h``): the readout matrix of
 * two-layer circuits that read <Z> of qubits 0..m-1, built from the angles by the circuit's
 * structure, and its gradient in the angles.
 *
 * ``pauli_block``: ``readout2`` of C circuits (rotation code ``rot``) into a scratch
 * ``R (4**n, C m)``, then ``pauli_readout`` of the batch on it. ``pauli_block_backward``:
 * ``g_R = feats^T g_out``, then ``readout2_backward`` into ``g_w``.
 *
 * Each function returns 0, 1 for sizes out of range or an unknown ``kind``, 2 if its scratch
 * memory cannot be allocated; ``pauli_block`` reads its inputs first and returns 3 if ``x``
 * and 4 if the weights hold a NaN or an infinity (nothing written).
 *
 * The kernels are written once below (#else branch) and instantiated for double and float
 * by including this file into itself with REAL, SFX() and MATH() defined.
 */
#ifndef PAULI_INSTANCE
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUBITS 6

#define PAULI_CAT_(a, b) a##_##b
#define PAULI_CAT(a, b) PAULI_CAT_(a, b)
#define SFX(name) PAULI_CAT(name, PAULI_SUFFIX)

#define PAULI_INSTANCE
#define REAL double
#define PAULI_SUFFIX f64
#define MATH(fn) fn
#include __FILE__
#undef REAL
#undef PAULI_SUFFIX
#undef MATH

#define REAL float
#define PAULI_SUFFIX f32
#define MATH(fn) fn##f
#include __FILE__

#else  /* PAULI_INSTANCE: the kernels, for one REAL type */
#include "pauli_step.h"
#include "pauli_readout2.h"

/* Eight values of one precision as one vector (GCC/Clang vector extension), loaded from
   memory of any alignment. */
typedef REAL SFX(lane8) __attribute__((vector_size(sizeof(REAL) * 8)));

static SFX(lane8) SFX(load8)(const REAL *p) {
    SFX(lane8) v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* out[j] = sum_s f[s] rt[j dim + s] for j < m: four columns at a time, each summed in an
   eight-lane vector (four independent chains in registers: one running sum per column
   would wait on its own latency). */
static void SFX(dots)(size_t dim, int m, const REAL *restrict f, const REAL *restrict rt,
                      REAL *restrict out) {
    int j = 0;
    for (; dim % 8 == 0 && j + 4 <= m; j += 4) {
        const REAL *c0 = rt + j * dim, *c1 = c0 + dim, *c2 = c1 + dim, *c3 = c2 + dim;
        SFX(lane8) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (size_t s = 0; s < dim; s += 8) {
            SFX(lane8) v = SFX(load8)(f + s);
            a0 += v * SFX(load8)(c0 + s); a1 += v * SFX(load8)(c1 + s);
            a2 += v * SFX(load8)(c2 + s); a3 += v * SFX(load8)(c3 + s);
        }
        REAL t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (int l = 0; l < 8; l++) { t0 += a0[l]; t1 += a1[l]; t2 += a2[l]; t3 += a3[l]; }
        out[j] = t0; out[j + 1] = t1; out[j + 2] = t2; out[j + 3] = t3;
    }
    for (; j < m; j++) {
        const REAL *col = rt + j * dim;
        REAL acc = 0;
        for (size_t s = 0; s < dim; s++) acc += f[s] * col[s];
        out[j] = acc;
    }
}

/* out[b, j] = f_b . R[:, j] for the batch, without a Jacobian: each sample's features by
   one Kronecker product (into feats[b], or a scratch row), then M dot products with R
   transposed once (rt, M x 4**n): contiguous loops the compiler vectorises. buf holds
   (M + 1) 4**n. */
static void SFX(readout_dot)(int batch, int n, int m, int kind, const REAL *x, const REAL *r,
                             size_t ldr, REAL *out, REAL *feats, REAL *buf) {
    size_t dim = (size_t)1 << (2 * n);
    REAL *rt = buf, *scratch = buf + dim * m;
    REAL vecs[4 * MAX_QUBITS], dvecs[4 * MAX_QUBITS];
    for (size_t s = 0; s < dim; s++)
        for (int j = 0; j < m; j++) rt[j * dim + s] = r[s * ldr + j];
    for (int b = 0; b < batch; b++) {
        REAL *f = feats ? feats + (size_t)b * dim : scratch;
        for (int q = 0; q < n; q++)
            SFX(bloch)(kind, x[(size_t)b * n + q], vecs + 4 * q, dvecs + 4 * q);
        SFX(kron)(n, vecs, f);
        SFX(dots)(dim, m, f, rt, out + (size_t)b * m);
    }
}

int SFX(pauli_readout)(int batch, int n, int m, int kind, const REAL *x, const REAL *r,
                      size_t ldr, REAL *out, REAL *jac, REAL *feats) {
    if (n < 1 || n > MAX_QUBITS || kind < 0 || kind > 3) return 1;
    size_t dim = (size_t)1 << (2 * n), part = dim / 4 * m;
    int kk = jac ? n + 1 : 1;
    REAL *buf = malloc(sizeof(REAL) * (jac ? 2 * kk * part : (m + 1) * dim));
    if (!buf) return 2;
    if (!jac)
        SFX(readout_dot)(batch, n, m, kind, x, r, ldr, out, feats, buf);
    for (int b = 0; jac && b < batch; b++)
        SFX(readout)(n, m, kind, 0, x + (size_t)b * n, r, ldr, out + (size_t)b * m,
                     jac + (size_t)b * n * m, feats ? feats + b * dim : NULL, buf);
    free(buf);
    return 0;
}

/* Whether all of v[0..len) are finite (no NaN or infinity). */
static int SFX(all_finite)(size_t len, const REAL *v) {
    int ok = 1;
    for (size_t i = 0; i < len; i++) ok &= isfinite(v[i]) != 0;
    return ok;
}

int SFX(pauli_block)(int batch, int circuits, int n, int m, int rot, int kind,
                    const REAL *weights, const int64_t *image, const REAL *sign,
                    const REAL *x, REAL *out, REAL *jac, REAL *feats) {
    if (n < 1 || n > MAX_QUBITS || circuits < 1 || batch < 1) return 1;
    size_t nw = (size_t)circuits * 2 * n * (rot == 0 ? 3 : 1), nx = (size_t)batch * n;
    if (!SFX(all_finite)(nx, x)) return 3;
    if (!SFX(all_finite)(nw, weights)) return 4;
    size_t width = (size_t)circuits * m;
    REAL *r = malloc(sizeof(REAL) * ((size_t)1 << (2 * n)) * width);
    if (!r) return 2;
    int failed = SFX(readout2)(circuits, n, m, rot, weights, image, sign, r);
    if (!failed)
        failed = SFX(pauli_readout)(batch, n, (int)width, kind, x, r, width, out, jac, feats);
    free(r);
    return failed;
}

int SFX(pauli_block_backward)(int batch, int circuits, int n, int m, int rot,
                             const REAL *weights, const int64_t *image, const REAL *sign,
                             const REAL *feats, const REAL *g_out, REAL *g_w) {
    if (n < 1 || n > MAX_QUBITS || circuits < 1 || m < 1) return 1;
    size_t dim = (size_t)1 << (2 * n), width = (size_t)circuits * m;
    REAL *g_r = malloc(sizeof(REAL) * 2 * dim * width);
    if (!g_r) return 2;
    REAL *g_t = g_r + dim * width;  /* feats^T g_out transposed (width, dim): contiguous rows */
    memset(g_t, 0, sizeof(REAL) * dim * width);
    for (int b = 0; b < batch; b++) {
        const REAL *f = feats + (size_t)b * dim, *g = g_out + (size_t)b * width;
        for (size_t j = 0; j < width; j++) {
            REAL *row = g_t + j * dim, gj = g[j];
            for (size_t s = 0; s < dim; s++) row[s] += gj * f[s];
        }
    }
    for (size_t s = 0; s < dim; s++)
        for (size_t j = 0; j < width; j++) g_r[s * width + j] = g_t[j * dim + s];
    int failed = SFX(readout2_backward)(circuits, n, m, rot, weights, image, sign, g_r, g_w);
    free(g_r);
    return failed;
}

/* o[hi, b, lo] <- sum_a o[hi, a, lo] t[a, b]: qubit q of n, each element a row of w values
   (4**q blocks hi, 4**(n-1-q) w contiguous values lo). */
static void SFX(rotate)(int n, int q, size_t w, REAL *restrict o, const REAL *restrict t) {
    size_t lo = ((size_t)1 << (2 * (n - 1 - q))) * w, hi = (size_t)1 << (2 * q);
    for (size_t h = 0; h < hi; h++) {
        REAL *p0 = o + h * 4 * lo, *p1 = p0 + lo, *p2 = p1 + lo, *p3 = p2 + lo;
        for (size_t e = 0; e < lo; e++) {
            REAL a0 = p0[e], a1 = p1[e], a2 = p2[e], a3 = p3[e];
            p0[e] = a0 * t[0] + a1 * t[4] + a2 * t[8] + a3 * t[12];
            p1[e] = a0 * t[1] + a1 * t[5] + a2 * t[9] + a3 * t[13];
            p2[e] = a0 * t[2] + a1 * t[6] + a2 * t[10] + a3 * t[14];
            p3[e] = a0 * t[3] + a1 * t[7] + a2 * t[11] + a3 * t[15];
        }
    }
}

/* Undo SFX(rotate) on o (o <- o t^T, t orthogonal) and carry the gradient g back the same
   way (g <- g t^T), adding sum o_before[.., a, ..] g_after[.., b, ..] to gt[a, b]. */
static void SFX(unrotate)(int n, int q, size_t w, REAL *restrict o, REAL *restrict g,
                         const REAL *restrict t, REAL *restrict gt) {
    size_t lo = ((size_t)1 << (2 * (n - 1 - q))) * w, hi = (size_t)1 << (2 * q);
    REAL acc[16] = {0};
    for (size_t h = 0; h < hi; h++) {
        REAL *o0 = o + h * 4 * lo, *o1 = o0 + lo, *o2 = o1 + lo, *o3 = o2 + lo;
        REAL *g0 = g + h * 4 * lo, *g1 = g0 + lo, *g2 = g1 + lo, *g3 = g2 + lo;
        for (size_t e = 0; e < lo; e++) {
            REAL oa[4] = {o0[e], o1[e], o2[e], o3[e]}, ga[4] = {g0[e], g1[e], g2[e], g3[e]};
            REAL ob[4], gb[4];
            for (int a = 0; a < 4; a++) {
                ob[a] = t[4 * a] * oa[0] + t[4 * a + 1] * oa[1] + t[4 * a + 2] * oa[2]
                        + t[4 * a + 3] * oa[3];
                gb[a] = t[4 * a] * ga[0] + t[4 * a + 1] * ga[1] + t[4 * a + 2] * ga[2]
                        + t[4 * a + 3] * ga[3];
                for (int b = 0; b < 4; b++) acc[4 * a + b] += ob[a] * ga[b];
            }
            o0[e] = ob[0]; o1[e] = ob[1]; o2[e] = ob[2]; o3[e] = ob[3];
            g0[e] = gb[0]; g1[e] = gb[1]; g2[e] = gb[2]; g3[e] = gb[3];
        }
    }
    for (int i = 0; i < 16; i++) gt[i] += acc[i];
}

/* dst[s, :] = src[image[s], :] * sign[s] (inverse: dst[image[s], :] = src[s, :] * sign[s]),
   rows of w values. */
static void SFX(permute)(size_t dim, size_t w, const int64_t *image, const REAL *sign,
                        int inverse, const REAL *restrict src, REAL *restrict dst) {
    for (size_t s = 0; s < dim; s++) {
        const REAL *from = src + (inverse ? s : (size_t)image[s]) * w;
        REAL *to = dst + (inverse ? (size_t)image[s] : s) * w;
        for (size_t k = 0; k < w; k++) to[k] = from[k] * sign[s];
    }
}

int SFX(pauli_heisenberg)(int circuits, int layers, int n, int m, const REAL *transfer,
                         const REAL *obs, const int64_t *image, const REAL *sign,
                         REAL *rows) {
    if (n < 1 || n > MAX_QUBITS || layers < 1 || m < 1) return 1;
    size_t dim = (size_t)1 << (2 * n), w = (size_t)m, width = (size_t)circuits * m;
    REAL *base = malloc(sizeof(REAL) * 2 * dim * w);
    if (!base) return 2;
    REAL *o = base, *tmp = base + dim * w;
    for (int c = 0; c < circuits; c++) {
        for (size_t s = 0; s < dim; s++)  /* o[s, k]: the M observables side by side */
            for (size_t k = 0; k < w; k++) o[s * w + k] = obs[k * dim + s];
        for (int l = layers - 1; l >= 0; l--) {
            const REAL *t = transfer + ((size_t)c * layers + l) * n * 16;
            for (int q = 0; q < n; q++) SFX(rotate)(n, q, w, o, t + 16 * q);
            if (image) {
                SFX(permute)(dim, w, image, sign, 0, o, tmp);
                REAL *swap = o; o = tmp; tmp = swap;
            }
        }
        for (size_t s = 0; s < dim; s++)
            memcpy(rows + s * width + (size_t)c * m, o + s * w, sizeof(REAL) * w);
    }
    free(base);
    return 0;
}

int SFX(pauli_heisenberg_backward)(int circuits, int layers, int n, int m,
                                  const REAL *transfer, const int64_t *image,
                                  const REAL *sign, const REAL *rows, const REAL *grad,
                                  REAL *g_transfer) {
    if (n < 1 || n > MAX_QUBITS || layers < 1 || m < 1) return 1;
    size_t dim = (size_t)1 << (2 * n), w = (size_t)m, width = (size_t)circuits * m;
    REAL *base = malloc(sizeof(REAL) * 3 * dim * w);
    if (!base) return 2;
    REAL *o = base, *g = base + dim * w, *tmp = g + dim * w;
    for (int c = 0; c < circuits; c++) {
        for (size_t s = 0; s < dim; s++) {
            memcpy(o + s * w, rows + s * width + (size_t)c * m, sizeof(REAL) * w);
            memcpy(g + s * w, grad + s * width + (size_t)c * m, sizeof(REAL) * w);
        }
        for (int l = 0; l < layers; l++) {
            if (image) {
                REAL *swap;
                SFX(permute)(dim, w, image, sign, 1, o, tmp);
                swap = o; o = tmp; tmp = swap;
                SFX(permute)(dim, w, image, sign, 1, g, tmp);
                swap = g; g = tmp; tmp = swap;
            }
            size_t at = ((size_t)c * layers + l) * n * 16;
            for (int q = n - 1; q >= 0; q--)
                SFX(unrotate)(n, q, w, o, g, transfer + at + 16 * q, g_transfer + at + 16 * q);
        }
    }
    free(base);
    return 0;
}
#endif
