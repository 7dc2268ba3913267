/* Fused recurrent quantum cells: a whole sequence of a QLSTM in one call, and its BPTT.

   Read by qrnn/sim/recurrent.py, compiled on first use by kernels.cpu_build.Library. The
   file is one precision at a time: compiled alone it is the double version (names end in
   _f64); recurrent.py prepends "#define REAL float / SFX(name) name##_f32 / MATH(f) f##f"
   to a first copy for float32. All arrays are C-contiguous.

   The cell (Chen, Yoo & Fang's QLSTM, six circuits of n qubits, all n measured as <Z>):
   the circuits are given by one readout matrix R (4**n, 6 n) whose column c * n + k is
   <Z_k> of circuit c as a linear function of the Pauli features of the encoded product
   state (qrnn.sim.pauli): out = feats(v) @ R[:, c n : (c + 1) n]. Per time step t and
   batch row b, with v = [x_t, h_{t-1}, 0...] (in + hid <= n values, zero-padded to n):

       z = feats(v) @ R[:, 0 : 4n]                      (circuits 0..3: f, i, g, o)
       f = sigmoid(z_0), i = sigmoid(z_1), g = tanh(z_2), o = sigmoid(z_3)   (n each)
       c_t = f * c_{t-1} + i * g,   u = o * tanh(c_t)
       w = feats(u) @ R[:, 4n : 6n]                     (circuits 4, 5)
       h_t = w[0 : hid],   y_t = w[n : 2n]

   The features of qubit q are its Bloch 4-vector (1, <X>, <Y>, <Z>) after the encoding
   (kind 0 ry, 1 rx, 2 h_ry, 3 qlstm: H, RY(atan v), RZ(atan v^2)); the features of the
   state are their Kronecker product, qubit 0 the most significant base-4 digit.

   readout2 (two-layer circuits, <Z> of qubits 0..m-1): R (4**n, C m) from the weights
   (C, 2, n, kk) of the rotations
   (kind 0 Rot = RZ RY RZ, kk = 3; 1 RX, 2 RY, 3 RZ, kk = 1) through their Pauli transfer
   matrices T (C, 2, n, 4, 4) (T[a, b] = Tr(P_a G P_b G^dag) / 2) and the CNOT layer (image, sign:
   U P_s U^dag = sign[s] P_image[s]), exploiting its structure: evolved back through the
   last rotation layer, <Z_k> is X, Y or Z on qubit k (coefficients T1_k[3, 1..3]); the
   CNOT layer maps each to one signed string s_d; the first rotation layer turns each into
   the Kronecker product of rows T0_q[s_d[q], :]; the first CNOT layer permutes the sum:
   R[s, c n + k] = sign[s] sum_d beta_d kron_q T0_q[s_d[q], image[s]]. About 1000
   multiply-adds per column instead of the dense 4**n x 16 per rotation.
   readout2_backward: the gradient of the angles, g_w (C, 2, n, kk), from that of R.
   qlstm_forward: runs the sequence; with `saved` not NULL it also stores per (t, b) the
   record backward needs (record_size(n) values): both feature vectors, both input
   Jacobians d out / d v, the activated gates, c_{t-1} and tanh(c_t).
   qlstm_backward: BPTT over the saved records; accumulates d loss / d R into g_r and
   writes the gradients of x, h0 and c0.
   Each returns 0, 1 for sizes out of range or a record size that does not match, 2 if its
   scratch memory cannot be allocated. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef REAL
#define REAL double
#define SFX(name) name##_f64
#define MATH(f) f
#endif

#ifndef QRNN_RECURRENT_COMMON
#define QRNN_RECURRENT_COMMON
#define MAX_QUBITS 6
#define GATE_CIRCUITS 4
#define OUT_CIRCUITS 2

/* Values stored per (t, b): feats and Jacobian of both readouts, 4n gates, c_prev, tanh c. */
static size_t record_size(int n) {
    size_t dim = (size_t)1 << (2 * n);
    return 2 * dim + (size_t)n * GATE_CIRCUITS * n + (size_t)n * OUT_CIRCUITS * n
           + (size_t)(GATE_CIRCUITS + 2) * n;
}
#endif

#include "pauli_step.h"

static REAL SFX(sigmoid)(REAL a) { return 1 / (1 + MATH(exp)(-a)); }

int SFX(qlstm_forward)(int batch, int steps, int n, int in, int hid, int kind,
                       const REAL *x, const REAL *r, const REAL *h0, const REAL *c0,
                       REAL *ys, REAL *hs, REAL *c_out, REAL *saved, size_t record) {
    if (n < 1 || n > MAX_QUBITS || in < 1 || hid < 1 || in + hid > n || kind < 0
        || kind > 3 || (saved && record != record_size(n)))
        return 1;
    size_t dim = (size_t)1 << (2 * n), ldr = (size_t)(GATE_CIRCUITS + OUT_CIRCUITS) * n;
    int train = saved != NULL;
    REAL *buf = malloc(sizeof(REAL) * 2 * (n + 1) * (dim / 4) * GATE_CIRCUITS * n);
    if (!buf) return 2;
    REAL v[MAX_QUBITS] = {0}, u[MAX_QUBITS], z[GATE_CIRCUITS * MAX_QUBITS];
    REAL w[OUT_CIRCUITS * MAX_QUBITS];
    for (int b = 0; b < batch; b++) {
        REAL *c = c_out + (size_t)b * n;
        memcpy(c, c0 + (size_t)b * n, sizeof(REAL) * n);
        memcpy(v + in, h0 + (size_t)b * hid, sizeof(REAL) * hid);
        for (int t = 0; t < steps; t++) {
            REAL *rec = train ? saved + ((size_t)t * batch + b) * record : NULL;
            REAL *feats1 = rec, *feats2 = train ? rec + dim : NULL;
            REAL *jac1 = train ? rec + 2 * dim : NULL;
            REAL *jac2 = train ? jac1 + (size_t)n * GATE_CIRCUITS * n : NULL;
            REAL *gates = train ? jac2 + (size_t)n * OUT_CIRCUITS * n : z;
            memcpy(v, x + ((size_t)b * steps + t) * in, sizeof(REAL) * in);
            SFX(readout)(n, GATE_CIRCUITS * n, kind, v, r, ldr, z, jac1, feats1, buf);
            for (int k = 0; k < n; k++) {
                REAL fg = SFX(sigmoid)(z[k]), ig = SFX(sigmoid)(z[n + k]);
                REAL gg = MATH(tanh)(z[2 * n + k]), og = SFX(sigmoid)(z[3 * n + k]);
                REAL cp = c[k];
                c[k] = fg * cp + ig * gg;
                REAL tc = MATH(tanh)(c[k]);
                u[k] = og * tc;
                if (train) {
                    gates[k] = fg; gates[n + k] = ig; gates[2 * n + k] = gg;
                    gates[3 * n + k] = og; gates[4 * n + k] = cp; gates[5 * n + k] = tc;
                }
            }
            SFX(readout)(n, OUT_CIRCUITS * n, kind, u, r + GATE_CIRCUITS * n, ldr, w, jac2,
                         feats2, buf);
            memcpy(v + in, w, sizeof(REAL) * hid);
            memcpy(hs + ((size_t)b * steps + t) * hid, w, sizeof(REAL) * hid);
            memcpy(ys + ((size_t)b * steps + t) * n, w + n, sizeof(REAL) * n);
        }
    }
    free(buf);
    return 0;
}

/* g_r[s, col + j] += feats[s] * g[j] for j < m (g_r rows ld apart). */
static void SFX(outer_add)(size_t dim, int m, const REAL *restrict feats,
                           const REAL *restrict g, REAL *restrict g_r, size_t ld) {
    for (size_t s = 0; s < dim; s++) {
        REAL f = feats[s];
        REAL *row = g_r + s * ld;
        for (int j = 0; j < m; j++) row[j] += f * g[j];
    }
}

/* out[q] = sum_j jac[q, j] g[j] (jac (n, m)). */
static void SFX(jac_vec)(int n, int m, const REAL *jac, const REAL *g, REAL *out) {
    for (int q = 0; q < n; q++) {
        REAL acc = 0;
        for (int j = 0; j < m; j++) acc += jac[(size_t)q * m + j] * g[j];
        out[q] = acc;
    }
}

int SFX(qlstm_backward)(int batch, int steps, int n, int in, int hid, const REAL *saved,
                        size_t record, const REAL *g_ys, const REAL *g_hs, const REAL *g_c,
                        REAL *g_x, REAL *g_r, REAL *g_h0, REAL *g_c0) {
    if (n < 1 || n > MAX_QUBITS || in < 1 || hid < 1 || in + hid > n
        || record != record_size(n))
        return 1;
    size_t dim = (size_t)1 << (2 * n), ldr = (size_t)(GATE_CIRCUITS + OUT_CIRCUITS) * n;
    REAL gh[MAX_QUBITS], gc[MAX_QUBITS], gu[MAX_QUBITS], gv[MAX_QUBITS];
    REAL gz[GATE_CIRCUITS * MAX_QUBITS], gw[OUT_CIRCUITS * MAX_QUBITS];
    for (int b = 0; b < batch; b++) {
        memset(gh, 0, sizeof gh);
        for (int k = 0; k < n; k++) gc[k] = g_c ? g_c[(size_t)b * n + k] : 0;
        for (int t = steps - 1; t >= 0; t--) {
            const REAL *rec = saved + ((size_t)t * batch + b) * record;
            const REAL *feats1 = rec, *feats2 = rec + dim, *jac1 = rec + 2 * dim;
            const REAL *jac2 = jac1 + (size_t)n * GATE_CIRCUITS * n;
            const REAL *gates = jac2 + (size_t)n * OUT_CIRCUITS * n;
            size_t at = (size_t)b * steps + t;
            memset(gw, 0, sizeof gw);
            for (int k = 0; k < hid; k++) gw[k] = gh[k] + (g_hs ? g_hs[at * hid + k] : 0);
            for (int k = 0; k < n; k++) gw[n + k] = g_ys ? g_ys[at * n + k] : 0;
            SFX(outer_add)(dim, OUT_CIRCUITS * n, feats2, gw, g_r + GATE_CIRCUITS * n, ldr);
            SFX(jac_vec)(n, OUT_CIRCUITS * n, jac2, gw, gu);
            for (int k = 0; k < n; k++) {
                REAL fg = gates[k], ig = gates[n + k], gg = gates[2 * n + k];
                REAL og = gates[3 * n + k], cp = gates[4 * n + k], tc = gates[5 * n + k];
                REAL go = gu[k] * tc;
                REAL gcc = gc[k] + gu[k] * og * (1 - tc * tc);
                gz[k] = gcc * cp * fg * (1 - fg);
                gz[n + k] = gcc * gg * ig * (1 - ig);
                gz[2 * n + k] = gcc * ig * (1 - gg * gg);
                gz[3 * n + k] = go * og * (1 - og);
                gc[k] = gcc * fg;
            }
            SFX(outer_add)(dim, GATE_CIRCUITS * n, feats1, gz, g_r, ldr);
            SFX(jac_vec)(n, GATE_CIRCUITS * n, jac1, gz, gv);
            memcpy(g_x + at * in, gv, sizeof(REAL) * in);
            memcpy(gh, gv + in, sizeof(REAL) * hid);
        }
        memcpy(g_h0 + (size_t)b * hid, gh, sizeof(REAL) * hid);
        memcpy(g_c0 + (size_t)b * n, gc, sizeof(REAL) * n);
    }
    return 0;
}

/* Pauli transfer matrix of a rotation by angle a about axis (0 x, 1 y, 2 z), row-major,
   T[a, b] = Tr(P_a G P_b G^dag) / 2, and its derivative in a. */
static void SFX(axis_transfer)(int axis, REAL a, REAL *t, REAL *dt) {
    REAL c = MATH(cos)(a), s = MATH(sin)(a);
    int i = axis == 0 ? 2 : axis == 1 ? 3 : 1, j = axis == 0 ? 3 : axis == 1 ? 1 : 2;
    memset(t, 0, sizeof(REAL) * 16);
    memset(dt, 0, sizeof(REAL) * 16);
    t[0] = 1;
    t[5 * (axis + 1)] = 1;  /* the axis itself is kept */
    t[5 * i] = c; t[5 * j] = c;      /* i -> j: (i, j) planes rotate by a */
    t[4 * j + i] = s; t[4 * i + j] = -s;
    dt[5 * i] = -s; dt[5 * j] = -s;
    dt[4 * j + i] = c; dt[4 * i + j] = -c;
}

static void SFX(matmul4)(const REAL *a, const REAL *b, REAL *out) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            out[4 * r + c] = a[4 * r] * b[c] + a[4 * r + 1] * b[4 + c] + a[4 * r + 2] * b[8 + c]
                             + a[4 * r + 3] * b[12 + c];
}

/* Transfer matrix t (16) of one rotation gate (kind 0 Rot(phi, theta, omega) = RZ(omega)
   RY(theta) RZ(phi), 1 RX, 2 RY, 3 RZ) at angles w, and with dt not NULL its derivatives
   dt (angles, 16). */
static void SFX(gate_transfer)(int kind, const REAL *w, REAL *t, REAL *dt) {
    REAL m[3][16], dm[3][16], tmp[16], tmp2[16];
    if (kind != 0) {
        SFX(axis_transfer)(kind - 1, w[0], t, dm[0]);
        if (dt) memcpy(dt, dm[0], sizeof(REAL) * 16);
        return;
    }
    SFX(axis_transfer)(2, w[0], m[0], dm[0]);
    SFX(axis_transfer)(1, w[1], m[1], dm[1]);
    SFX(axis_transfer)(2, w[2], m[2], dm[2]);
    SFX(matmul4)(m[2], m[1], tmp);
    SFX(matmul4)(tmp, m[0], t);
    if (!dt) return;
    SFX(matmul4)(tmp, dm[0], dt);
    SFX(matmul4)(m[2], dm[1], tmp2);
    SFX(matmul4)(tmp2, m[0], dt + 16);
    SFX(matmul4)(dm[2], m[1], tmp2);
    SFX(matmul4)(tmp2, m[0], dt + 32);
}

/* Transfer matrices (C, 2, n, 16) of all gates from weights (C, 2, n, kk), and with dt not
   NULL their derivatives (C, 2, n, kk, 16). */
static void SFX(all_transfers)(int circuits, int n, int kind, const REAL *w, REAL *t,
                               REAL *dt) {
    int kk = kind == 0 ? 3 : 1;
    for (size_t g = 0; g < (size_t)circuits * 2 * n; g++)
        SFX(gate_transfer)(kind, w + g * kk, t + 16 * g, dt ? dt + 16 * kk * g : NULL);
}

/* The string s_d (digits, qubit 0 first) that the CNOT layer maps onto digit d on qubit k,
   and its sign: U P_s U^dag = sign[s] P_t with t = d on qubit k, so s = inverse[t]. */
static void SFX(landing)(int n, int k, int d, const int64_t *inverse, const REAL *sign,
                         int *digits, REAL *s_sign) {
    size_t t = (size_t)d << (2 * (n - 1 - k)), s = inverse ? (size_t)inverse[t] : t;
    for (int q = 0; q < n; q++) digits[q] = (int)((s >> (2 * (n - 1 - q))) & 3);
    *s_sign = inverse ? sign[s] : 1;
}

static void SFX(inverse_of)(size_t dim, const int64_t *image, int64_t *inverse) {
    for (size_t s = 0; s < dim; s++) inverse[image[s]] = (int64_t)s;
}

int SFX(readout2)(int circuits, int n, int m, int kind, const REAL *weights,
                   const int64_t *image, const REAL *sign, REAL *r) {
    if (n < 1 || n > MAX_QUBITS || circuits < 1 || m < 1 || m > n || kind < 0 || kind > 3)
        return 1;
    size_t dim = (size_t)1 << (2 * n), width = (size_t)circuits * m;
    REAL *o = malloc(sizeof(REAL) * (2 * dim + (size_t)circuits * 2 * n * 16));
    int64_t *inverse = image ? malloc(sizeof(int64_t) * dim) : NULL;
    if (!o || (image && !inverse)) { free(o); free(inverse); return 2; }
    REAL *p = o + dim, *transfer = p + dim;
    SFX(all_transfers)(circuits, n, kind, weights, transfer, NULL);
    if (image) SFX(inverse_of)(dim, image, inverse);
    for (int c = 0; c < circuits; c++) {
        const REAL *t0 = transfer + (size_t)c * 2 * n * 16, *t1 = t0 + (size_t)n * 16;
        for (int k = 0; k < m; k++) {
            memset(o, 0, sizeof(REAL) * dim);
            for (int d = 1; d < 4; d++) {
                int digits[MAX_QUBITS];
                REAL s_sign, vecs[4 * MAX_QUBITS];
                SFX(landing)(n, k, d, inverse, sign, digits, &s_sign);
                REAL beta = t1[16 * k + 12 + d] * s_sign;
                for (int q = 0; q < n; q++)
                    memcpy(vecs + 4 * q, t0 + 16 * q + 4 * digits[q], sizeof(REAL) * 4);
                SFX(kron)(n, vecs, p);
                for (size_t i = 0; i < dim; i++) o[i] += beta * p[i];
            }
            REAL *col = r + (size_t)c * m + k;
            for (size_t s = 0; s < dim; s++)
                col[s * width] = image ? o[image[s]] * sign[s] : o[s];
        }
    }
    free(o); free(inverse);
    return 0;
}

/* out[q, :] = d <g, kron_p vecs[p]> / d vecs[q] (4**n values g; buf holds 4**n). */
static void SFX(kron_vjp)(int n, const REAL *vecs, const REAL *g, REAL *out, REAL *buf) {
    size_t dim = (size_t)1 << (2 * n);
    for (int q = 0; q < n; q++) {
        memcpy(buf, g, sizeof(REAL) * dim);
        size_t len = dim;
        for (int p = n - 1; p > q; p--) {  /* contract the last digit with vecs[p] */
            const REAL *v = vecs + 4 * p;
            for (size_t j = 0; j < len / 4; j++)
                buf[j] = v[0] * buf[4 * j] + v[1] * buf[4 * j + 1] + v[2] * buf[4 * j + 2]
                         + v[3] * buf[4 * j + 3];
            len /= 4;
        }
        for (int p = 0; p < q; p++) {  /* contract the leading digit with vecs[p] */
            const REAL *v = vecs + 4 * p;
            size_t part = len / 4;
            for (size_t j = 0; j < part; j++)
                buf[j] = v[0] * buf[j] + v[1] * buf[part + j] + v[2] * buf[2 * part + j]
                         + v[3] * buf[3 * part + j];
            len = part;
        }
        memcpy(out + 4 * q, buf, sizeof(REAL) * 4);
    }
}

int SFX(readout2_backward)(int circuits, int n, int m, int kind, const REAL *weights,
                            const int64_t *image, const REAL *sign, const REAL *g_r,
                            REAL *g_w) {
    if (n < 1 || n > MAX_QUBITS || circuits < 1 || m < 1 || m > n || kind < 0 || kind > 3)
        return 1;
    int kk = kind == 0 ? 3 : 1;
    size_t dim = (size_t)1 << (2 * n), width = (size_t)circuits * m;
    size_t gates = (size_t)circuits * 2 * n;
    REAL *g_o = malloc(sizeof(REAL) * (3 * dim + 2 * n * 16 + gates * 16 * (1 + kk)));
    int64_t *inverse = image ? malloc(sizeof(int64_t) * dim) : NULL;
    if (!g_o || (image && !inverse)) { free(g_o); free(inverse); return 2; }
    REAL *p = g_o + dim, *buf = p + dim, *g_t = buf + dim, *transfer = g_t + 2 * n * 16;
    REAL *dtransfer = transfer + gates * 16;
    SFX(all_transfers)(circuits, n, kind, weights, transfer, dtransfer);
    if (image) SFX(inverse_of)(dim, image, inverse);
    for (int c = 0; c < circuits; c++) {
        const REAL *t0 = transfer + (size_t)c * 2 * n * 16, *t1 = t0 + (size_t)n * 16;
        memset(g_t, 0, sizeof(REAL) * 2 * n * 16);
        REAL *g_t0 = g_t, *g_t1 = g_t + (size_t)n * 16;
        for (int k = 0; k < m; k++) {
            const REAL *col = g_r + (size_t)c * m + k;
            for (size_t s = 0; s < dim; s++) {  /* undo the first CNOT layer */
                if (image) g_o[image[s]] = col[s * width] * sign[s];
                else g_o[s] = col[s * width];
            }
            for (int d = 1; d < 4; d++) {
                int digits[MAX_QUBITS];
                REAL s_sign, vecs[4 * MAX_QUBITS], g_vecs[4 * MAX_QUBITS];
                SFX(landing)(n, k, d, inverse, sign, digits, &s_sign);
                REAL beta = t1[16 * k + 12 + d] * s_sign;
                for (int q = 0; q < n; q++)
                    memcpy(vecs + 4 * q, t0 + 16 * q + 4 * digits[q], sizeof(REAL) * 4);
                SFX(kron)(n, vecs, p);
                REAL g_beta = 0;
                for (size_t i = 0; i < dim; i++) g_beta += p[i] * g_o[i];
                g_t1[16 * k + 12 + d] += g_beta * s_sign;
                SFX(kron_vjp)(n, vecs, g_o, g_vecs, buf);
                for (int q = 0; q < n; q++)
                    for (int b = 0; b < 4; b++)
                        g_t0[16 * q + 4 * digits[q] + b] += beta * g_vecs[4 * q + b];
            }
        }
        for (int l = 0; l < 2; l++)  /* g_w = <g_T, dT / dw> */
            for (int q = 0; q < n; q++)
                for (int j = 0; j < kk; j++) {
                    size_t at = ((size_t)c * 2 + l) * n + q;
                    const REAL *dt = dtransfer + (at * kk + j) * 16, *gt = g_t + (l * n + q) * 16;
                    REAL acc = 0;
                    for (int e = 0; e < 16; e++) acc += dt[e] * gt[e];
                    g_w[at * kk + j] = acc;
                }
    }
    free(g_o); free(inverse);
    return 0;
}

