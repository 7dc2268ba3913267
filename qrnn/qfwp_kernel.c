/* Fused quantum fast weight programmer (QFWP): the whole sequence in one call, and its backward.

   Read by qrnn/qfwp_fused.py, compiled on first use by kernels.cpu_build.Library. The file is
   one precision at a time: compiled alone it is the double version (names end in _f64);
   qfwp_fused.py prepends "#define REAL float / SFX(name) name##_f32 / MATH(f) f##f" to a first
   copy for float32. All arrays are C-contiguous; Linear weights are torch's (out, in).

   Per batch row b and time step t (x_t has `in` values, Theta_{-1} = theta0[b] or 0):

       e = We x_t + be (latent),  L = Wl e + bl (layers),  Q = Wq e + bq (n)
       Theta_t = decay * Theta_{t-1} + outer(L, Q)                     (layers, n)
       y[b, t, k] = <psi_t| Z_k |psi_t>,  k < nout
       psi_t = prod_l [RY(Theta_t[l, q]) on every q] [brick CNOTs]  prod_q RY(v_q) H |0>

   with v = [x_t, 0...] (qubits >= in read 0). Qubit 0 is the most significant bit of a basis
   index (PennyLane's wires). Every gate is real (H, RY, CNOT), so the state is a real vector
   of 2**n amplitudes; a CNOT layer is a permutation of them (`perm`, computed once per call).

   qfwp_forward writes y (B, T, nout) and theta_out = Theta_{T-1} (B, layers, n).
   qfwp_backward takes the gradients g_y (B, T, nout) and g_theta (B, layers, n) or NULL and
   writes those of x (B, T, in), of the six Linear tensors and, when g_theta0 is not NULL, of
   theta0. It recomputes the programmer and, only for the (b, t) whose g_y is not all zero
   (a head reading the last step leaves the others zero), the circuit, then runs the adjoint
   method back through the gates: with lambda = O psi (O = sum_k g_k Z_k) carried back with
   psi, the derivative of <psi|O|psi> by the angle of an RY on qubit q is
   sum over amplitude pairs (lambda_1 psi_0 - lambda_0 psi_1) of that qubit, taken after the
   gate (the encoding's RY(v_q) likewise gives d/dv_q).
   Each returns 0, 1 for sizes out of range, 2 if its scratch memory cannot be allocated. */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#ifndef REAL
#define REAL double
#define SFX(name) name##_f64
#define MATH(f) f
#endif

#ifndef QRNN_QFWP_COMMON
#define QRNN_QFWP_COMMON
#define FWP_MAX_QUBITS 20

/* new_psi[perm[i]] = psi[i] for one brick layer: CNOT (0,1), (2,3), ..., then (1,2), (3,4)... */
static void brick_permutation(int n, int *perm) {
    size_t dim = (size_t)1 << n;
    for (size_t i = 0; i < dim; i++) {
        size_t j = i;
        for (int start = 0; start < 2; start++)
            for (int c = start; c + 1 < n; c += 2)
                if ((j >> (n - 1 - c)) & 1) j ^= (size_t)1 << (n - 2 - c);
        perm[i] = (int)j;
    }
}

static int bad_sizes(int batch, int steps, int in, int latent, int layers, int n, int nout) {
    return batch < 1 || steps < 1 || in < 1 || latent < 1 || layers < 1 || n < 1
           || n > FWP_MAX_QUBITS || in > n || nout < 1 || nout > n;
}
#endif

/* The RY kernels below take the stride of their qubit as a compile-time constant where it is
   small (switch in SFX(ry) and SFX(ry_back)), so the short inner loops of the low qubits
   unroll and vectorise. c, s: cos and sin of half the angle. */
static inline __attribute__((always_inline)) void SFX(ry_at)(REAL *psi, size_t dim,
                                                             size_t stride, REAL c, REAL s) {
    for (size_t blk = 0; blk < dim; blk += 2 * stride)
        for (size_t i = blk; i < blk + stride; i++) {
            REAL a0 = psi[i], a1 = psi[i + stride];
            psi[i] = c * a0 - s * a1;
            psi[i + stride] = s * a0 + c * a1;
        }
}

/* RY on the qubit of `stride` (2**(n-1-q)) of psi: (c, s) = cos, sin of half the angle. */
static void SFX(ry)(REAL *psi, size_t dim, size_t stride, REAL c, REAL s) {
    switch (stride) {
    case 1: SFX(ry_at)(psi, dim, 1, c, s); break;
    case 2: SFX(ry_at)(psi, dim, 2, c, s); break;
    case 4: SFX(ry_at)(psi, dim, 4, c, s); break;
    default: SFX(ry_at)(psi, dim, stride, c, s);
    }
}

/* One adjoint step through an RY(angle) (cos c, sin s of half of it) on the qubit of `stride`:
   returns sum over its amplitude pairs of (lam_1 psi_0 - lam_0 psi_1), taken after the gate,
   and undoes the gate on psi and lam (c, s = 1, 0: only the sum). */
static inline __attribute__((always_inline)) REAL SFX(ry_back_at)(REAL *psi, REAL *lam,
                                                                 size_t dim, size_t stride,
                                                                 REAL c, REAL s) {
    REAL g = 0;
    for (size_t blk = 0; blk < dim; blk += 2 * stride)
        for (size_t i = blk; i < blk + stride; i++) {
            REAL a0 = psi[i], a1 = psi[i + stride], l0 = lam[i], l1 = lam[i + stride];
            g += l1 * a0 - l0 * a1;
            psi[i] = c * a0 + s * a1;
            psi[i + stride] = c * a1 - s * a0;
            lam[i] = c * l0 + s * l1;
            lam[i + stride] = c * l1 - s * l0;
        }
    return g;
}

static REAL SFX(ry_back)(REAL *psi, REAL *lam, size_t dim, size_t stride, REAL c, REAL s) {
    switch (stride) {
    case 1: return SFX(ry_back_at)(psi, lam, dim, 1, c, s);
    case 2: return SFX(ry_back_at)(psi, lam, dim, 2, c, s);
    case 4: return SFX(ry_back_at)(psi, lam, dim, 4, c, s);
    default: return SFX(ry_back_at)(psi, lam, dim, stride, c, s);
    }
}

/* The circuit's final state for inputs v (in values) and angles theta (layers, n). */
static void SFX(circuit)(int n, int layers, int in, const REAL *v, const REAL *theta,
                         const int *perm, REAL *psi, REAL *tmp) {
    size_t size = 1;
    psi[0] = 1;
    for (int q = 0; q < n; q++) {  /* product state, qubit 0 ends most significant */
        REAL a = q < in ? v[q] / 2 : 0, h = (REAL)0.70710678118654752440;
        REAL f0 = h * (MATH(cos)(a) - MATH(sin)(a)), f1 = h * (MATH(cos)(a) + MATH(sin)(a));
        for (size_t j = size; j-- > 0;) {
            psi[2 * j + 1] = psi[j] * f1;
            psi[2 * j] = psi[j] * f0;
        }
        size *= 2;
    }
    for (int l = 0; l < layers; l++) {
        for (size_t i = 0; i < size; i++) tmp[perm[i]] = psi[i];
        memcpy(psi, tmp, sizeof(REAL) * size);
        for (int q = 0; q < n; q++) {
            REAL half = theta[l * n + q] / 2;
            SFX(ry)(psi, size, (size_t)1 << (n - 1 - q), MATH(cos)(half), MATH(sin)(half));
        }
    }
}

/* <Z_k> of psi for k < nout: the total probability minus twice that of bit k set. */
static void SFX(readout)(int n, int nout, const REAL *psi, REAL *y, REAL *prob) {
    size_t dim = (size_t)1 << n;
    REAL total = 0;
    for (size_t i = 0; i < dim; i++) {
        prob[i] = psi[i] * psi[i];
        total += prob[i];
    }
    for (int k = 0; k < nout; k++) {
        size_t stride = (size_t)1 << (n - 1 - k);
        REAL set = 0;
        for (size_t blk = stride; blk < dim; blk += 2 * stride)
            for (size_t i = blk; i < blk + stride; i++) set += prob[i];
        y[k] = total - 2 * set;
    }
}

/* Adjoint pass from the final state psi (overwritten) for the readout gradient g (nout):
   writes g_theta (layers, n) and g_v (in). */
static void SFX(circuit_backward)(int n, int layers, int in, int nout, const REAL *theta,
                                  const int *perm, const REAL *g, REAL *psi, REAL *lam,
                                  REAL *tmp, REAL *g_theta, REAL *g_v) {
    size_t dim = (size_t)1 << n;
    for (size_t i = 0; i < dim; i++) {
        REAL o = 0;
        for (int k = 0; k < nout; k++) o += ((i >> (n - 1 - k)) & 1) ? -g[k] : g[k];
        lam[i] = o * psi[i];
    }
    for (int l = layers - 1; l >= 0; l--) {
        for (int q = n - 1; q >= 0; q--) {
            REAL half = theta[l * n + q] / 2;
            g_theta[l * n + q] = SFX(ry_back)(psi, lam, dim, (size_t)1 << (n - 1 - q),
                                              MATH(cos)(half), MATH(sin)(half));
        }
        for (size_t i = 0; i < dim; i++) tmp[i] = psi[perm[i]];
        memcpy(psi, tmp, sizeof(REAL) * dim);
        for (size_t i = 0; i < dim; i++) tmp[i] = lam[perm[i]];
        memcpy(lam, tmp, sizeof(REAL) * dim);
    }
    for (int q = 0; q < in; q++) g_v[q] = SFX(ry_back)(psi, lam, dim, (size_t)1 << (n - 1 - q),
                                                       1, 0);
}

/* out (rows) = w (rows, cols) @ v (cols) + bias. */
static void SFX(affine)(int rows, int cols, const REAL *w, const REAL *bias, const REAL *v,
                        REAL *out) {
    for (int r = 0; r < rows; r++) {
        REAL acc = bias[r];
        for (int c = 0; c < cols; c++) acc += w[r * cols + c] * v[c];
        out[r] = acc;
    }
}

/* The slow programmer of row b for every step: e (T, latent), L (T, layers), Q (T, n) and
   Theta_t (T, layers, n). */
static void SFX(programmer)(int steps, int in, int latent, int layers, int n, REAL decay,
                            const REAL *xb, const REAL *we, const REAL *be, const REAL *wl,
                            const REAL *bl, const REAL *wq, const REAL *bq, const REAL *th0,
                            REAL *e, REAL *lv, REAL *qv, REAL *th) {
    int m = layers * n;
    for (int t = 0; t < steps; t++) {
        REAL *et = e + (size_t)t * latent, *lt = lv + (size_t)t * layers, *qt = qv + (size_t)t * n;
        REAL *tt = th + (size_t)t * m;
        const REAL *prev = t ? tt - m : th0;
        SFX(affine)(latent, in, we, be, xb + (size_t)t * in, et);
        SFX(affine)(layers, latent, wl, bl, et, lt);
        SFX(affine)(n, latent, wq, bq, et, qt);
        for (int l = 0; l < layers; l++)
            for (int q = 0; q < n; q++)
                tt[l * n + q] = (prev ? decay * prev[l * n + q] : 0) + lt[l] * qt[q];
    }
}

int SFX(qfwp_forward)(int batch, int steps, int in, int latent, int layers, int n, int nout,
                      REAL decay, const REAL *x, const REAL *we, const REAL *be,
                      const REAL *wl, const REAL *bl, const REAL *wq, const REAL *bq,
                      const REAL *theta0, REAL *y, REAL *theta_out) {
    if (bad_sizes(batch, steps, in, latent, layers, n, nout)) return 1;
    size_t dim = (size_t)1 << n, m = (size_t)layers * n;
    size_t per = (size_t)steps * (latent + layers + n + m);
    int *perm = malloc(sizeof(int) * dim);
    REAL *buf = malloc(sizeof(REAL) * (2 * dim + per));
    if (!perm || !buf) { free(perm); free(buf); return 2; }
    brick_permutation(n, perm);
    REAL *psi = buf, *tmp = buf + dim, *e = tmp + dim, *lv = e + (size_t)steps * latent;
    REAL *qv = lv + (size_t)steps * layers, *th = qv + (size_t)steps * n;
    for (int b = 0; b < batch; b++) {
        const REAL *xb = x + (size_t)b * steps * in;
        SFX(programmer)(steps, in, latent, layers, n, decay, xb, we, be, wl, bl, wq, bq,
                        theta0 ? theta0 + b * m : NULL, e, lv, qv, th);
        for (int t = 0; t < steps; t++) {
            SFX(circuit)(n, layers, in, xb + (size_t)t * in, th + t * m, perm, psi, tmp);
            SFX(readout)(n, nout, psi, y + ((size_t)b * steps + t) * nout, tmp);
        }
        memcpy(theta_out + b * m, th + (size_t)(steps - 1) * m, sizeof(REAL) * m);
    }
    free(perm);
    free(buf);
    return 0;
}

int SFX(qfwp_backward)(int batch, int steps, int in, int latent, int layers, int n, int nout,
                       REAL decay, const REAL *x, const REAL *we, const REAL *be,
                       const REAL *wl, const REAL *bl, const REAL *wq, const REAL *bq,
                       const REAL *theta0, const REAL *g_y, const REAL *g_theta, REAL *g_x,
                       REAL *g_we, REAL *g_be, REAL *g_wl, REAL *g_bl, REAL *g_wq, REAL *g_bq,
                       REAL *g_theta0) {
    if (bad_sizes(batch, steps, in, latent, layers, n, nout)) return 1;
    size_t dim = (size_t)1 << n, m = (size_t)layers * n;
    size_t per = (size_t)steps * (latent + layers + n + 2 * m + in) + m + latent + layers + n;
    int *perm = malloc(sizeof(int) * dim);
    REAL *buf = malloc(sizeof(REAL) * (3 * dim + per));
    if (!perm || !buf) { free(perm); free(buf); return 2; }
    brick_permutation(n, perm);
    REAL *psi = buf, *lam = psi + dim, *tmp = lam + dim, *e = tmp + dim;
    REAL *lv = e + (size_t)steps * latent, *qv = lv + (size_t)steps * layers;
    REAL *th = qv + (size_t)steps * n, *gc = th + (size_t)steps * m, *gv = gc + (size_t)steps * m;
    REAL *acc = gv + (size_t)steps * in, *g_e = acc + m, *g_l = g_e + latent, *g_q = g_l + layers;
    memset(g_we, 0, sizeof(REAL) * latent * in);
    memset(g_be, 0, sizeof(REAL) * latent);
    memset(g_wl, 0, sizeof(REAL) * layers * latent);
    memset(g_bl, 0, sizeof(REAL) * layers);
    memset(g_wq, 0, sizeof(REAL) * n * latent);
    memset(g_bq, 0, sizeof(REAL) * n);
    for (int b = 0; b < batch; b++) {
        const REAL *xb = x + (size_t)b * steps * in;
        SFX(programmer)(steps, in, latent, layers, n, decay, xb, we, be, wl, bl, wq, bq,
                        theta0 ? theta0 + b * m : NULL, e, lv, qv, th);
        for (int t = 0; t < steps; t++) {
            const REAL *g = g_y + ((size_t)b * steps + t) * nout;
            int any = 0;
            for (int k = 0; k < nout; k++) any |= g[k] != 0;
            REAL *gct = gc + t * m, *gvt = gv + (size_t)t * in;
            if (!any) {
                memset(gct, 0, sizeof(REAL) * m);
                memset(gvt, 0, sizeof(REAL) * in);
                continue;
            }
            SFX(circuit)(n, layers, in, xb + (size_t)t * in, th + t * m, perm, psi, tmp);
            SFX(circuit_backward)(n, layers, in, nout, th + t * m, perm, g, psi, lam, tmp, gct,
                                  gvt);
        }
        /* acc: d loss / d Theta_t, carried back in time (decay times per step) */
        for (size_t j = 0; j < m; j++) acc[j] = g_theta ? g_theta[b * m + j] : 0;
        for (int t = steps - 1; t >= 0; t--) {
            const REAL *et = e + (size_t)t * latent, *lt = lv + (size_t)t * layers;
            const REAL *qt = qv + (size_t)t * n, *xt = xb + (size_t)t * in;
            for (size_t j = 0; j < m; j++) acc[j] += gc[t * m + j];
            for (int l = 0; l < layers; l++) {
                REAL s = 0;
                for (int q = 0; q < n; q++) s += acc[l * n + q] * qt[q];
                g_l[l] = s;
            }
            for (int q = 0; q < n; q++) {
                REAL s = 0;
                for (int l = 0; l < layers; l++) s += acc[l * n + q] * lt[l];
                g_q[q] = s;
            }
            for (int j = 0; j < latent; j++) g_e[j] = 0;
            for (int l = 0; l < layers; l++) {
                g_bl[l] += g_l[l];
                for (int j = 0; j < latent; j++) {
                    g_wl[l * latent + j] += g_l[l] * et[j];
                    g_e[j] += wl[l * latent + j] * g_l[l];
                }
            }
            for (int q = 0; q < n; q++) {
                g_bq[q] += g_q[q];
                for (int j = 0; j < latent; j++) {
                    g_wq[q * latent + j] += g_q[q] * et[j];
                    g_e[j] += wq[q * latent + j] * g_q[q];
                }
            }
            REAL *gxt = g_x + ((size_t)b * steps + t) * in;
            for (int i = 0; i < in; i++) gxt[i] = gv[(size_t)t * in + i];
            for (int j = 0; j < latent; j++) {
                g_be[j] += g_e[j];
                for (int i = 0; i < in; i++) {
                    g_we[j * in + i] += g_e[j] * xt[i];
                    gxt[i] += we[j * in + i] * g_e[j];
                }
            }
            for (size_t j = 0; j < m; j++) acc[j] *= decay;
        }
        if (g_theta0) memcpy(g_theta0 + b * m, acc, sizeof(REAL) * m);
    }
    free(perm);
    free(buf);
    return 0;
}
