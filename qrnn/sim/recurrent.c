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

   qlstm_forward: runs the sequence; with `saved` not NULL it also stores per (t, b) the
   record backward needs (record_size(n) values): both feature vectors, both input
   Jacobians d out / d v, the activated gates, c_{t-1} and tanh(c_t); without x_grad the
   gate readout skips the derivatives in x (their Jacobian rows are zero).
   qlstm_backward: BPTT over the saved records; accumulates d loss / d R into g_r and
   writes the gradients of x, h0 and c0 (each skipped when its pointer is NULL; h0 and c0
   NULL in the forward pass: zeros).
   qlstm_forward2 / qlstm_backward2: the same for two-layer circuits (pauli_readout2.h) from
   the angles (6, 2, n, k): R is built inside and its gradient taken back to the angles
   inside, so a training step is one call each way.
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
#include "pauli_readout2.h"

static REAL SFX(sigmoid)(REAL a) { return 1 / (1 + MATH(exp)(-a)); }

int SFX(qlstm_forward)(int batch, int steps, int n, int in, int hid, int kind, int x_grad,
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
        if (c0) memcpy(c, c0 + (size_t)b * n, sizeof(REAL) * n);
        else memset(c, 0, sizeof(REAL) * n);
        if (h0) memcpy(v + in, h0 + (size_t)b * hid, sizeof(REAL) * hid);
        else memset(v + in, 0, sizeof(REAL) * hid);
        for (int t = 0; t < steps; t++) {
            REAL *rec = train ? saved + ((size_t)t * batch + b) * record : NULL;
            REAL *feats1 = rec, *feats2 = train ? rec + dim : NULL;
            REAL *jac1 = train ? rec + 2 * dim : NULL;
            REAL *jac2 = train ? jac1 + (size_t)n * GATE_CIRCUITS * n : NULL;
            REAL *gates = train ? jac2 + (size_t)n * OUT_CIRCUITS * n : z;
            memcpy(v, x + ((size_t)b * steps + t) * in, sizeof(REAL) * in);
            SFX(readout)(n, GATE_CIRCUITS * n, kind, x_grad ? 0 : in, v, r, ldr, z, jac1,
                         feats1, buf);
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
            SFX(readout)(n, OUT_CIRCUITS * n, kind, 0, u, r + GATE_CIRCUITS * n, ldr, w, jac2,
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
            if (g_x) memcpy(g_x + at * in, gv, sizeof(REAL) * in);
            memcpy(gh, gv + in, sizeof(REAL) * hid);
        }
        if (g_h0) memcpy(g_h0 + (size_t)b * hid, gh, sizeof(REAL) * hid);
        if (g_c0) memcpy(g_c0 + (size_t)b * n, gc, sizeof(REAL) * n);
    }
    return 0;
}

int SFX(qlstm_forward2)(int batch, int steps, int n, int in, int hid, int kind, int x_grad,
                        int rot, const REAL *weights, const int64_t *image, const REAL *sign,
                        const REAL *x, const REAL *h0, const REAL *c0, REAL *ys, REAL *hs,
                        REAL *c_out, REAL *saved, size_t record) {
    if (n < 1 || n > MAX_QUBITS) return 1;
    size_t dim = (size_t)1 << (2 * n), width = (size_t)(GATE_CIRCUITS + OUT_CIRCUITS) * n;
    REAL *r = malloc(sizeof(REAL) * dim * width);
    if (!r) return 2;
    int failed = SFX(readout2)(GATE_CIRCUITS + OUT_CIRCUITS, n, n, rot, weights, image, sign, r);
    if (!failed)
        failed = SFX(qlstm_forward)(batch, steps, n, in, hid, kind, x_grad, x, r, h0, c0, ys,
                                    hs, c_out, saved, record);
    free(r);
    return failed;
}

int SFX(qlstm_backward2)(int batch, int steps, int n, int in, int hid, int rot,
                         const REAL *weights, const int64_t *image, const REAL *sign,
                         const REAL *saved, size_t record, const REAL *g_ys, const REAL *g_hs,
                         const REAL *g_c, REAL *g_x, REAL *g_w, REAL *g_h0, REAL *g_c0) {
    if (n < 1 || n > MAX_QUBITS) return 1;
    size_t dim = (size_t)1 << (2 * n), width = (size_t)(GATE_CIRCUITS + OUT_CIRCUITS) * n;
    REAL *g_r = calloc(dim * width, sizeof(REAL));
    if (!g_r) return 2;
    int failed = SFX(qlstm_backward)(batch, steps, n, in, hid, saved, record, g_ys, g_hs, g_c,
                                     g_x, g_r, g_h0, g_c0);
    if (!failed)
        failed = SFX(readout2_backward)(GATE_CIRCUITS + OUT_CIRCUITS, n, n, rot, weights, image,
                                        sign, g_r, g_w);
    free(g_r);
    return failed;
}
