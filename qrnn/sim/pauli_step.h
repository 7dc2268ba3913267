/* The Pauli-feature readout step shared by pauli.c and recurrent.c (expanded into each by
   kernels/cpu_build.py's source_file, once per REAL type): the Bloch vector of one encoded
   qubit, the Kronecker product of the features, and the readout of a real (4**n, m) matrix
   one qubit at a time with the input Jacobian. Needs REAL, SFX(name), MATH(fn) (fn, or
   fn##f for float) and MAX_QUBITS defined by the including file. */

/* Bloch 4-vector b of one encoded qubit and its derivative d in the input v. */
static void SFX(bloch)(int kind, REAL v, REAL *b, REAL *d) {
    b[0] = 1; d[0] = 0;
    if (kind == 3) {
        REAL sq = v * v;
        REAL ca = 1 / MATH(sqrt)(1 + sq), cc = 1 / MATH(sqrt)(1 + sq * sq);
        REAL sa = v * ca, sc = sq * cc;
        REAL da = 1 / (1 + sq), dc = 2 * v / (1 + sq * sq);
        REAL dca = -sa * da, dsa = ca * da, dcc = -sc * dc, dsc = cc * dc;
        b[1] = ca * cc; b[2] = ca * sc; b[3] = -sa;
        d[1] = dca * cc + ca * dcc; d[2] = dca * sc + ca * dsc; d[3] = -dsa;
        return;
    }
    REAL s = MATH(sin)(v), c = MATH(cos)(v);
    if (kind == 0) { b[1] = s; b[2] = 0; b[3] = c; d[1] = c; d[2] = 0; d[3] = -s; }
    else if (kind == 1) { b[1] = 0; b[2] = -s; b[3] = c; d[1] = 0; d[2] = -c; d[3] = -s; }
    else { b[1] = c; b[2] = 0; b[3] = -s; d[1] = -s; d[2] = 0; d[3] = -c; }
}

/* f = kron of the n 4-vectors vecs[q], qubit 0 the most significant digit, one qubit at a
   time in place. */
static void SFX(kron_digits)(int n, const REAL *vecs, REAL *f) {
    size_t len = 1;
    f[0] = 1;
    for (int q = 0; q < n; q++) {
        const REAL *v = vecs + 4 * q;
        for (size_t i = len; i-- > 0;) {
            REAL a = f[i];
            f[4 * i + 3] = a * v[3]; f[4 * i + 2] = a * v[2];
            f[4 * i + 1] = a * v[1]; f[4 * i] = a * v[0];
        }
        len *= 4;
    }
}

/* f = kron of the n 4-vectors vecs[q] (as kron_digits): from 3 qubits, the outer product of
   the first n - 2 qubits' product with the last two's 16 values, rows of 16 the compiler
   vectorises. */
static void SFX(kron)(int n, const REAL *vecs, REAL *f) {
    if (n < 3) {
        SFX(kron_digits)(n, vecs, f);
        return;
    }
    REAL hi[1 << (2 * (MAX_QUBITS - 2))], lo[16];
    SFX(kron_digits)(n - 2, vecs, hi);
    SFX(kron_digits)(2, vecs + 4 * (n - 2), lo);
    size_t len = (size_t)1 << (2 * (n - 2));
    for (size_t i = 0; i < len; i++) {
        REAL a = hi[i], *row = f + 16 * i;
        for (int k = 0; k < 16; k++) row[k] = a * lo[k];
    }
}

/* dst[e, j] = sum_d v[d] src[d * rows + e, j] (e < rows, j < m; src rows ld apart, dst
   contiguous): contracts the leading base-4 digit (the next qubit) with v. */
static void SFX(contract)(size_t rows, int m, const REAL *restrict src, size_t ld,
                          const REAL *restrict v, REAL *restrict dst) {
    for (size_t e = 0; e < rows; e++) {
        const REAL *s0 = src + e * ld, *s1 = s0 + rows * ld, *s2 = s1 + rows * ld;
        const REAL *s3 = s2 + rows * ld;
        REAL *d = dst + e * m;
        for (int j = 0; j < m; j++)
            d[j] = v[0] * s0[j] + v[1] * s1[j] + v[2] * s2[j] + v[3] * s3[j];
    }
}

/* contract with two vectors at once (the value and a new derivative slot read the same
   rows): dst[e, j] = sum_d v[d] src[d * rows + e, j], dst2 likewise with w. */
static void SFX(contract2)(size_t rows, int m, const REAL *restrict src, size_t ld,
                           const REAL *restrict v, const REAL *restrict w,
                           REAL *restrict dst, REAL *restrict dst2) {
    for (size_t e = 0; e < rows; e++) {
        const REAL *s0 = src + e * ld, *s1 = s0 + rows * ld, *s2 = s1 + rows * ld;
        const REAL *s3 = s2 + rows * ld;
        REAL *d = dst + e * m, *d2 = dst2 + e * m;
        for (int j = 0; j < m; j++) {
            REAL a0 = s0[j], a1 = s1[j], a2 = s2[j], a3 = s3[j];
            d[j] = v[0] * a0 + v[1] * a1 + v[2] * a2 + v[3] * a3;
            d2[j] = w[0] * a0 + w[1] * a1 + w[2] * a2 + w[3] * a3;
        }
    }
}

/* One readout of m columns of r (row stride ldr) at inputs v (n values): out (m); with jac
   not NULL also jac (n, m) = d out / d v (rows of qubits before `first` are zero: those
   derivatives are not needed, e.g. of data inputs) and feats (4**n). buf holds
   2 (n + 1) 4**(n-1) m. R is contracted one qubit at a time; the value and the derivative
   slots share the passes over the qubits before their slot. */
static void SFX(readout)(int n, int m, int kind, int first, const REAL *v, const REAL *r,
                         size_t ldr, REAL *out, REAL *jac, REAL *feats, REAL *buf) {
    REAL vecs[4 * MAX_QUBITS] = {0}, dvecs[4 * MAX_QUBITS] = {0};
    size_t dim = (size_t)1 << (2 * n), part = dim / 4 * m;
    int kk = jac ? n + 1 : 1;
    for (int q = 0; q < n; q++) SFX(bloch)(kind, v[q], vecs + 4 * q, dvecs + 4 * q);
    if (feats) SFX(kron)(n, vecs, feats);
    REAL *cur = buf, *next = buf + kk * part;
    size_t rows = dim;
    int live = 1;
    for (int q = 0; q < n; q++) {
        rows /= 4;
        int last = q == n - 1;
        size_t ld = q == 0 ? ldr : (size_t)m;
        REAL *to[MAX_QUBITS + 1];
        int slot = jac && q >= first;  /* slot k >= 1 is the derivative in qubit first+k-1 */
        for (int k = 0; k <= live; k++)
            to[k] = !last ? next + k * rows * m
                    : k == 0 ? out : jac + (size_t)(first + k - 1) * m;
        for (int k = 1; k < live; k++)  /* derivative slots of earlier qubits */
            SFX(contract)(rows, m, cur + k * 4 * rows * m, ld, vecs + 4 * q, to[k]);
        const REAL *src = q == 0 ? r : cur;  /* partial 0: the value, and slot q's source */
        if (slot)
            SFX(contract2)(rows, m, src, ld, vecs + 4 * q, dvecs + 4 * q, to[0], to[live]);
        else
            SFX(contract)(rows, m, src, ld, vecs + 4 * q, to[0]);
        live += slot;
        REAL *t = cur; cur = next; next = t;
    }
    if (jac && first > 0) memset(jac, 0, sizeof(REAL) * (size_t)first * m);
}
