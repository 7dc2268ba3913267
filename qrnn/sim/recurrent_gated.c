/* Fused gated quantum cells (QGRU, QRNN): continues recurrent.c, with which
   qrnn/sim/recurrent.py compiles it as one unit (it uses that file's readout, outer_add,
   jac_vec and sigmoid), once per precision. */

/* Gated cells whose circuits read <Z> of qubits 0..hid-1 (QGRU, QRNN of qrnn.qgru), with
   v = [x_t, h_{t-1}, 0...] zero-padded to n:
     elman (R (4**n, hid)):   h_t = tanh(feats(v) @ R)
     gru (R (4**n, 3 hid)):   r, z = sigmoid(feats(v) @ R[:, 0 : 2 hid]),
                              a = tanh(feats([x_t, r * h_{t-1}, 0...]) @ R[:, 2 hid : 3 hid]),
                              h_t = (1 - z) * a + z * h_{t-1}
   gated_forward writes hs (B, T, hid) and, with saved not NULL, per (t, b) the record of
   gated_record_size values: features and input Jacobians of each readout, the gates and
   h_{t-1}. gated_backward: BPTT from g_hs (B, T, hid), accumulating into g_r and writing
   g_x (B, T, in) and g_h0 (B, hid). cell: 0 elman, 1 gru. */
#ifndef QRNN_GATED_COMMON
#define QRNN_GATED_COMMON
static size_t gated_record_size(int cell, int n, int hid) {
    size_t dim = (size_t)1 << (2 * n);
    return cell == 0 ? dim + (size_t)n * hid + hid
                     : 2 * dim + (size_t)n * 3 * hid + 4 * (size_t)hid;
}
#endif

int SFX(gated_forward)(int cell, int batch, int steps, int n, int in, int hid, int kind,
                       const REAL *x, const REAL *r, const REAL *h0, REAL *hs, REAL *saved,
                       size_t record) {
    if (cell < 0 || cell > 1 || n < 1 || n > MAX_QUBITS || in < 1 || hid < 1
        || in + hid > n || kind < 0 || kind > 3
        || (saved && record != gated_record_size(cell, n, hid)))
        return 1;
    size_t dim = (size_t)1 << (2 * n), ldr = (size_t)(cell == 0 ? 1 : 3) * hid;
    int train = saved != NULL;
    REAL *buf = malloc(sizeof(REAL) * 2 * (n + 1) * (dim / 4) * 2 * hid);
    if (!buf) return 2;
    REAL v[MAX_QUBITS] = {0}, w[MAX_QUBITS] = {0}, a[2 * MAX_QUBITS], h[MAX_QUBITS];
    for (int b = 0; b < batch; b++) {
        memcpy(h, h0 + (size_t)b * hid, sizeof(REAL) * hid);
        for (int t = 0; t < steps; t++) {
            REAL *rec = train ? saved + ((size_t)t * batch + b) * record : NULL;
            memcpy(v, x + ((size_t)b * steps + t) * in, sizeof(REAL) * in);
            memcpy(v + in, h, sizeof(REAL) * hid);
            REAL *out = hs + ((size_t)b * steps + t) * hid;
            if (cell == 0) {
                SFX(readout)(n, hid, kind, 0, v, r, ldr, a, train ? rec + dim : NULL, rec,
                             buf);
                for (int k = 0; k < hid; k++) h[k] = MATH(tanh)(a[k]);
                if (train) memcpy(rec + dim + (size_t)n * hid, h, sizeof(REAL) * hid);
            } else {
                REAL *jac1 = train ? rec + 2 * dim : NULL;
                REAL *jac2 = train ? jac1 + (size_t)n * 2 * hid : NULL;
                REAL *gates = train ? jac2 + (size_t)n * hid : NULL;
                SFX(readout)(n, 2 * hid, kind, 0, v, r, ldr, a, jac1, rec, buf);
                memcpy(w, v, sizeof(REAL) * in);
                REAL rg[MAX_QUBITS], zg[MAX_QUBITS];
                for (int k = 0; k < hid; k++) {
                    rg[k] = SFX(sigmoid)(a[k]);
                    zg[k] = SFX(sigmoid)(a[hid + k]);
                    w[in + k] = rg[k] * h[k];
                }
                SFX(readout)(n, hid, kind, 0, w, r + 2 * hid, ldr, a, jac2,
                             train ? rec + dim : NULL, buf);
                for (int k = 0; k < hid; k++) {
                    REAL cand = MATH(tanh)(a[k]);
                    if (train) {
                        gates[k] = rg[k]; gates[hid + k] = zg[k];
                        gates[2 * hid + k] = cand; gates[3 * hid + k] = h[k];
                    }
                    h[k] = (1 - zg[k]) * cand + zg[k] * h[k];
                }
            }
            memcpy(out, h, sizeof(REAL) * hid);
        }
    }
    free(buf);
    return 0;
}

int SFX(gated_backward)(int cell, int batch, int steps, int n, int in, int hid,
                        const REAL *saved, size_t record, const REAL *g_hs, REAL *g_x,
                        REAL *g_r, REAL *g_h0) {
    if (cell < 0 || cell > 1 || n < 1 || n > MAX_QUBITS || in < 1 || hid < 1
        || in + hid > n || record != gated_record_size(cell, n, hid))
        return 1;
    size_t dim = (size_t)1 << (2 * n), ldr = (size_t)(cell == 0 ? 1 : 3) * hid;
    REAL gh[MAX_QUBITS], ga[2 * MAX_QUBITS], gv[MAX_QUBITS], gw[MAX_QUBITS];
    for (int b = 0; b < batch; b++) {
        memset(gh, 0, sizeof gh);
        for (int t = steps - 1; t >= 0; t--) {
            const REAL *rec = saved + ((size_t)t * batch + b) * record;
            size_t at = (size_t)b * steps + t;
            for (int k = 0; k < hid; k++) gh[k] += g_hs[at * hid + k];
            if (cell == 0) {
                const REAL *jac = rec + dim, *h = jac + (size_t)n * hid;
                for (int k = 0; k < hid; k++) ga[k] = gh[k] * (1 - h[k] * h[k]);
                SFX(outer_add)(dim, hid, rec, ga, g_r, ldr);
                SFX(jac_vec)(n, hid, jac, ga, gv);
                memcpy(g_x + at * in, gv, sizeof(REAL) * in);
                memcpy(gh, gv + in, sizeof(REAL) * hid);
                continue;
            }
            const REAL *feats1 = rec, *feats2 = rec + dim, *jac1 = rec + 2 * dim;
            const REAL *jac2 = jac1 + (size_t)n * 2 * hid, *gates = jac2 + (size_t)n * hid;
            const REAL *rg = gates, *zg = gates + hid, *cand = gates + 2 * hid;
            const REAL *hp = gates + 3 * hid;
            REAL g_prev[MAX_QUBITS];
            for (int k = 0; k < hid; k++) {
                ga[k] = gh[k] * (1 - zg[k]) * (1 - cand[k] * cand[k]);  /* candidate */
                g_prev[k] = gh[k] * zg[k];
            }
            SFX(outer_add)(dim, hid, feats2, ga, g_r + 2 * hid, ldr);
            SFX(jac_vec)(n, hid, jac2, ga, gw);
            REAL gzr[2 * MAX_QUBITS];
            for (int k = 0; k < hid; k++) {
                REAL g_rh = gw[in + k];
                gzr[k] = g_rh * hp[k] * rg[k] * (1 - rg[k]);
                gzr[hid + k] = gh[k] * (hp[k] - cand[k]) * zg[k] * (1 - zg[k]);
                g_prev[k] += g_rh * rg[k];
            }
            SFX(outer_add)(dim, 2 * hid, feats1, gzr, g_r, ldr);
            SFX(jac_vec)(n, 2 * hid, jac1, gzr, gv);
            for (int q = 0; q < in; q++) g_x[at * in + q] = gv[q] + gw[q];
            for (int k = 0; k < hid; k++) gh[k] = g_prev[k] + gv[in + k];
        }
        memcpy(g_h0 + (size_t)b * hid, gh, sizeof(REAL) * hid);
    }
    return 0;
}
