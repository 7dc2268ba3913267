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
   The circuits run LANES items at a time, amplitude-major (psi[i][g], one vector of the
   GCC/Clang vector extension per amplitude, item g of the group in lane g), so every gate is
   whole-vector work whatever its qubit; a last, partial group repeats its last item in the
   spare lanes and drops their results.

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
#define FWP_MAX_QUBITS 16
#define LANES 8

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

/* LANES values of one precision as one vector (GCC/Clang vector extension), and one group of
   LANES circuits: inputs v[g] (in values each), cos and sin of half of every angle,
   cs/sn[l * n + q][g]. */
typedef REAL SFX(vec) __attribute__((vector_size(sizeof(REAL) * LANES)));
#define VEC SFX(vec)

typedef struct {
    const REAL *v[LANES];
    VEC *cs, *sn;
} SFX(group_t);

static void SFX(set_angles)(SFX(group_t) *grp, int g, int m, const REAL *theta) {
    for (int j = 0; j < m; j++) {
        REAL half = theta[j] / 2;
        grp->cs[j][g] = MATH(cos)(half);
        grp->sn[j][g] = MATH(sin)(half);
    }
}

/* RY on the qubit of `stride` (2**(n-1-q)) for every lane: c, s the cosines and sines. */
static void SFX(ry)(VEC *psi, size_t dim, size_t stride, const VEC *cp, const VEC *sp) {
    VEC c = *cp, s = *sp;
    for (size_t blk = 0; blk < dim; blk += 2 * stride)
        for (size_t i = blk; i < blk + stride; i++) {
            VEC a0 = psi[i], a1 = psi[i + stride];
            psi[i] = c * a0 - s * a1;
            psi[i + stride] = s * a0 + c * a1;
        }
}

/* One adjoint step through the RY (c, s) on the qubit of `stride`: writes to grad, per lane,
   the sum over its amplitude pairs of (lam_1 psi_0 - lam_0 psi_1), taken after the gate, and
   undoes the gate on psi and lam (cp NULL: only the sum). */
static void SFX(ry_back)(VEC *psi, VEC *lam, size_t dim, size_t stride, const VEC *cp,
                         const VEC *sp, VEC *grad) {
    VEC acc = {0}, c = {0}, s = {0};
    if (cp) {
        c = *cp;
        s = *sp;
    }
    for (size_t blk = 0; blk < dim; blk += 2 * stride)
        for (size_t i = blk; i < blk + stride; i++) {
            VEC a0 = psi[i], a1 = psi[i + stride], l0 = lam[i], l1 = lam[i + stride];
            acc += l1 * a0 - l0 * a1;
            if (cp) {
                psi[i] = c * a0 + s * a1;
                psi[i + stride] = c * a1 - s * a0;
                lam[i] = c * l0 + s * l1;
                lam[i + stride] = c * l1 - s * l0;
            }
        }
    *grad = acc;
}

/* The group's final states in psi (dim vectors; tmp the same size), up to the last layer's
   RYs on the qubits >= nout: they commute with every measured Z_k (k < nout) and leave the
   readout as it is, so they are skipped (and their angles get zero gradients). */
static void SFX(circuit)(int n, int layers, int in, int nout, const SFX(group_t) *grp,
                         const int *perm, VEC *psi, VEC *tmp) {
    size_t size = 1, dim = (size_t)1 << n;
    psi[0] = (VEC){0} + 1;
    for (int q = 0; q < n; q++) {  /* product state, qubit 0 ends most significant */
        VEC f0, f1;
        REAL h = (REAL)0.70710678118654752440;
        for (int g = 0; g < LANES; g++) {
            REAL a = q < in ? grp->v[g][q] / 2 : 0, ca = MATH(cos)(a), sa = MATH(sin)(a);
            f0[g] = h * (ca - sa);
            f1[g] = h * (ca + sa);
        }
        for (size_t j = size; j-- > 0;) {
            VEC a = psi[j];
            psi[2 * j + 1] = a * f1;
            psi[2 * j] = a * f0;
        }
        size *= 2;
    }
    for (int l = 0; l < layers; l++) {
        for (size_t i = 0; i < dim; i++) tmp[perm[i]] = psi[i];
        memcpy(psi, tmp, sizeof(VEC) * dim);
        for (int q = 0; q < (l == layers - 1 ? nout : n); q++)
            SFX(ry)(psi, dim, (size_t)1 << (n - 1 - q), grp->cs + l * n + q, grp->sn + l * n + q);
    }
}

/* <Z_k> of every lane, y[k] for k < nout: the total probability minus twice that of bit k
   set (prob: dim vectors of scratch). */
static void SFX(readout)(int n, int nout, const VEC *psi, VEC *y, VEC *prob) {
    size_t dim = (size_t)1 << n;
    VEC total = {0};
    for (size_t i = 0; i < dim; i++) {
        prob[i] = psi[i] * psi[i];
        total += prob[i];
    }
    for (int k = 0; k < nout; k++) {
        size_t stride = (size_t)1 << (n - 1 - k);
        VEC set = {0};
        for (size_t blk = stride; blk < dim; blk += 2 * stride)
            for (size_t i = blk; i < blk + stride; i++) set += prob[i];
        y[k] = total - 2 * set;
    }
}

/* Adjoint pass of the group from its final states psi (as SFX(circuit) leaves them;
   overwritten) and readout gradients gy[k]: writes g_theta[l * n + q] and g_v[q], q < in. */
static void SFX(circuit_backward)(int n, int layers, int in, int nout, const SFX(group_t) *grp,
                                  const int *perm, const VEC *gy, VEC *psi, VEC *lam, VEC *tmp,
                                  VEC *g_theta, VEC *g_v) {
    size_t dim = (size_t)1 << n;
    for (size_t i = 0; i < dim; i++) {
        VEC o = {0};
        for (int k = 0; k < nout; k++) o += ((i >> (n - 1 - k)) & 1) ? -gy[k] : gy[k];
        lam[i] = o * psi[i];
    }
    for (int l = layers - 1; l >= 0; l--) {
        for (int q = n - 1; q >= 0; q--) {
            if (l == layers - 1 && q >= nout) {  /* skipped by SFX(circuit): no effect */
                g_theta[l * n + q] = (VEC){0};
                continue;
            }
            SFX(ry_back)(psi, lam, dim, (size_t)1 << (n - 1 - q), grp->cs + l * n + q,
                         grp->sn + l * n + q, g_theta + l * n + q);
        }
        for (size_t i = 0; i < dim; i++) tmp[i] = psi[perm[i]];
        memcpy(psi, tmp, sizeof(VEC) * dim);
        for (size_t i = 0; i < dim; i++) tmp[i] = lam[perm[i]];
        memcpy(lam, tmp, sizeof(VEC) * dim);
    }
    for (int q = 0; q < in; q++)
        SFX(ry_back)(psi, lam, dim, (size_t)1 << (n - 1 - q), NULL, NULL, g_v + q);
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

/* The slow programmer of one batch row for every step: e (T, latent), L (T, layers),
   Q (T, n) and Theta_t (T, layers, n). */
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

/* Scratch of one call (one 64-byte aligned block): the permutation, three group states, the
   group's angles and `vecs` more vectors, then the programmer's values of every item (e, L,
   Q, Theta) and `extra` more values. */
typedef struct {
    int *perm;
    VEC *psi, *lam, *tmp, *cs, *sn, *vecs;
    REAL *e, *lv, *qv, *th, *extra;
} SFX(scratch_t);

static int SFX(scratch)(SFX(scratch_t) *sc, size_t items, int latent, int layers, int n,
                        size_t vecs, size_t extra) {
    size_t dim = (size_t)1 << n, m = (size_t)layers * n;
    size_t nvec = 3 * dim + 2 * m + vecs;
    size_t bytes = sizeof(VEC) * nvec + sizeof(REAL) * (items * (latent + layers + n + m) + extra);
    sc->perm = malloc(sizeof(int) * dim);
    sc->psi = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!sc->perm || !sc->psi) {
        free(sc->perm);
        free(sc->psi);
        return 2;
    }
    brick_permutation(n, sc->perm);
    sc->lam = sc->psi + dim;
    sc->tmp = sc->lam + dim;
    sc->cs = sc->tmp + dim;
    sc->sn = sc->cs + m;
    sc->vecs = sc->sn + m;
    sc->e = (REAL *)(sc->vecs + vecs);
    sc->lv = sc->e + items * latent;
    sc->qv = sc->lv + items * layers;
    sc->th = sc->qv + items * n;
    sc->extra = sc->th + items * m;
    return 0;
}

int SFX(qfwp_forward)(int batch, int steps, int in, int latent, int layers, int n, int nout,
                      REAL decay, const REAL *x, const REAL *we, const REAL *be,
                      const REAL *wl, const REAL *bl, const REAL *wq, const REAL *bq,
                      const REAL *theta0, REAL *y, REAL *theta_out) {
    if (bad_sizes(batch, steps, in, latent, layers, n, nout)) return 1;
    size_t m = (size_t)layers * n, items = (size_t)batch * steps;
    SFX(scratch_t) sc;
    if (SFX(scratch)(&sc, items, latent, layers, n, nout, 0)) return 2;
    for (int b = 0; b < batch; b++) {
        size_t row = (size_t)b * steps;
        SFX(programmer)(steps, in, latent, layers, n, decay, x + row * in, we, be, wl, bl, wq,
                        bq, theta0 ? theta0 + b * m : NULL, sc.e + row * latent,
                        sc.lv + row * layers, sc.qv + row * n, sc.th + row * m);
        memcpy(theta_out + b * m, sc.th + (row + steps - 1) * m, sizeof(REAL) * m);
    }
    SFX(group_t) grp = {.cs = sc.cs, .sn = sc.sn};
    VEC *yg = sc.vecs;
    for (size_t first = 0; first < items; first += LANES) {
        for (int g = 0; g < LANES; g++) {
            size_t item = first + g < items ? first + g : items - 1;
            grp.v[g] = x + item * in;
            SFX(set_angles)(&grp, g, (int)m, sc.th + item * m);
        }
        SFX(circuit)(n, layers, in, nout, &grp, sc.perm, sc.psi, sc.tmp);
        SFX(readout)(n, nout, sc.psi, yg, sc.tmp);
        for (int g = 0; g < LANES && first + g < items; g++)
            for (int k = 0; k < nout; k++) y[(first + g) * nout + k] = yg[k][g];
    }
    free(sc.perm);
    free(sc.psi);
    return 0;
}

int SFX(qfwp_backward)(int batch, int steps, int in, int latent, int layers, int n, int nout,
                       REAL decay, const REAL *x, const REAL *we, const REAL *be,
                       const REAL *wl, const REAL *bl, const REAL *wq, const REAL *bq,
                       const REAL *theta0, const REAL *g_y, const REAL *g_theta, REAL *g_x,
                       REAL *g_we, REAL *g_be, REAL *g_wl, REAL *g_bl, REAL *g_wq, REAL *g_bq,
                       REAL *g_theta0) {
    if (bad_sizes(batch, steps, in, latent, layers, n, nout)) return 1;
    size_t m = (size_t)layers * n, items = (size_t)batch * steps;
    /* vecs: the group's readout gradients and results (nout + m + in); extra: d out / d Theta
       and d out / d v of every item, acc (m), g_e, g_L, g_Q */
    size_t extra = items * (m + in) + m + latent + layers + n;
    SFX(scratch_t) sc;
    size_t *active = malloc(sizeof(size_t) * items);
    if (!active || SFX(scratch)(&sc, items, latent, layers, n, nout + m + in, extra)) {
        free(active);
        return 2;
    }
    VEC *gyg = sc.vecs, *gcg = gyg + nout, *gvg = gcg + m;
    REAL *gc = sc.extra, *gv = gc + items * m, *acc = gv + items * in;
    REAL *g_e = acc + m, *g_l = g_e + latent, *g_q = g_l + layers;
    size_t count = 0;
    for (int b = 0; b < batch; b++) {
        size_t row = (size_t)b * steps;
        SFX(programmer)(steps, in, latent, layers, n, decay, x + row * in, we, be, wl, bl, wq,
                        bq, theta0 ? theta0 + b * m : NULL, sc.e + row * latent,
                        sc.lv + row * layers, sc.qv + row * n, sc.th + row * m);
    }
    for (size_t item = 0; item < items; item++) {  /* zero output gradient: nothing to do */
        int any = 0;
        for (int k = 0; k < nout; k++) any |= g_y[item * nout + k] != 0;
        if (any) active[count++] = item;
    }
    memset(gc, 0, sizeof(REAL) * items * (m + in));
    SFX(group_t) grp = {.cs = sc.cs, .sn = sc.sn};
    for (size_t first = 0; first < count; first += LANES) {
        for (int g = 0; g < LANES; g++) {
            int real = first + g < count;
            size_t item = active[real ? first + g : count - 1];
            grp.v[g] = x + item * in;
            SFX(set_angles)(&grp, g, (int)m, sc.th + item * m);
            for (int k = 0; k < nout; k++) gyg[k][g] = real ? g_y[item * nout + k] : 0;
        }
        SFX(circuit)(n, layers, in, nout, &grp, sc.perm, sc.psi, sc.tmp);
        SFX(circuit_backward)(n, layers, in, nout, &grp, sc.perm, gyg, sc.psi, sc.lam, sc.tmp,
                              gcg, gvg);
        for (int g = 0; g < LANES && first + g < count; g++) {
            size_t item = active[first + g];
            for (size_t j = 0; j < m; j++) gc[item * m + j] = gcg[j][g];
            for (int i = 0; i < in; i++) gv[item * in + i] = gvg[i][g];
        }
    }
    memset(g_we, 0, sizeof(REAL) * latent * in);
    memset(g_be, 0, sizeof(REAL) * latent);
    memset(g_wl, 0, sizeof(REAL) * layers * latent);
    memset(g_bl, 0, sizeof(REAL) * layers);
    memset(g_wq, 0, sizeof(REAL) * n * latent);
    memset(g_bq, 0, sizeof(REAL) * n);
    for (int b = 0; b < batch; b++) {
        /* acc: d loss / d Theta_t, carried back in time (decay times per step) */
        for (size_t j = 0; j < m; j++) acc[j] = g_theta ? g_theta[b * m + j] : 0;
        for (int t = steps - 1; t >= 0; t--) {
            size_t item = (size_t)b * steps + t;
            const REAL *et = sc.e + item * latent, *lt = sc.lv + item * layers;
            const REAL *qt = sc.qv + item * n, *xt = x + item * in;
            for (size_t j = 0; j < m; j++) acc[j] += gc[item * m + j];
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
            REAL *gxt = g_x + item * in;
            for (int i = 0; i < in; i++) gxt[i] = gv[item * in + i];
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
    free(active);
    free(sc.perm);
    free(sc.psi);
    return 0;
}
