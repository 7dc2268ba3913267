/* The structured readout build of two-layer circuits, shared by pauli.c (expanded into it
   once per REAL type by kernels/cpu_build.py's source_file). Needs REAL, SFX(name),
   MATH(fn), MAX_QUBITS and pauli_step.h's kron.

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
   readout2_backward: the gradient of the angles, g_w (C, 2, n, kk), from that of R. */

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

/* out[q, :] = d <g, kron_p vecs[p]> / d vecs[q] for all q, and the value <g, kron_p vecs[p]>
   returned (4**n values g; buf holds 4**n / 3 + 4**n). The contractions of g with the
   trailing factors are shared: s_q = g contracted with vecs[q..n-1] (4**q values, s_n = g);
   out[q] is s_(q+1) contracted with the leading vecs[0..q-1]. */
static REAL SFX(kron_vjp)(int n, const REAL *vecs, const REAL *g, REAL *out, REAL *buf) {
    const REAL *s[MAX_QUBITS + 1];
    REAL *free_at = buf, *scratch;
    s[n] = g;
    for (int q = n - 1; q >= 0; q--) {  /* s_q from s_(q+1): contract its last digit */
        size_t len = (size_t)1 << (2 * q);
        const REAL *v = vecs + 4 * q, *src = s[q + 1];
        REAL *dst = free_at;
        for (size_t j = 0; j < len; j++)
            dst[j] = v[0] * src[4 * j] + v[1] * src[4 * j + 1] + v[2] * src[4 * j + 2]
                     + v[3] * src[4 * j + 3];
        s[q] = dst;
        free_at += len;
    }
    scratch = free_at;
    for (int q = 0; q < n; q++) {  /* s_(q+1) (digits 0..q) with vecs[0..q-1] on the leading */
        size_t len = (size_t)1 << (2 * (q + 1));
        const REAL *src = s[q + 1];
        for (int p = 0; p < q; p++) {
            const REAL *v = vecs + 4 * p;
            size_t part = len / 4;
            for (size_t j = 0; j < part; j++)
                scratch[j] = v[0] * src[j] + v[1] * src[part + j] + v[2] * src[2 * part + j]
                             + v[3] * src[3 * part + j];
            src = scratch;
            len = part;
        }
        memcpy(out + 4 * q, src, sizeof(REAL) * 4);
    }
    return s[0][0];
}

int SFX(readout2_backward)(int circuits, int n, int m, int kind, const REAL *weights,
                            const int64_t *image, const REAL *sign, const REAL *g_r,
                            REAL *g_w) {
    if (n < 1 || n > MAX_QUBITS || circuits < 1 || m < 1 || m > n || kind < 0 || kind > 3)
        return 1;
    int kk = kind == 0 ? 3 : 1;
    size_t dim = (size_t)1 << (2 * n), width = (size_t)circuits * m;
    size_t gates = (size_t)circuits * 2 * n;
    REAL *g_o = malloc(sizeof(REAL) * (2 * dim + 2 * n * 16 + gates * 16 * (1 + kk)));
    int64_t *inverse = image ? malloc(sizeof(int64_t) * dim) : NULL;
    if (!g_o || (image && !inverse)) { free(g_o); free(inverse); return 2; }
    REAL *buf = g_o + dim, *g_t = buf + dim, *transfer = g_t + 2 * n * 16;
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
                REAL g_beta = SFX(kron_vjp)(n, vecs, g_o, g_vecs, buf);
                g_t1[16 * k + 12 + d] += g_beta * s_sign;
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

