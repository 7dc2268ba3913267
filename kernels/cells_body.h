/* One body of the recurrent-cell kernels, included twice by cells.c: with REAL = float,
   SFX = f32, EXP = exp_poly and with REAL = double, SFX = f64, EXP = exp. FN(name) is
   name_f32 or name_f64. */
typedef void (*FN(gemm_t))(const char*, const char*, const int*, const int*, const int*,
                           const REAL*, const REAL*, const int*, const REAL*, const int*,
                           const REAL*, REAL*, const int*);

static inline REAL FN(sig)(REAL x) { return (REAL)1 / ((REAL)1 + EXP(-x)); }
static inline REAL FN(tnh)(REAL x) { return (REAL)2 * FN(sig)((REAL)2 * x) - (REAL)1; }

/* A packed copy for MKL's sgemm_compute (float only), or NULL: the column-major (m x k) left
   operand of a product with n = B columns (WT in the forward, W in the backward). */
static void* FN(pack)(const blas_t* bl, int m, int n, int k, const REAL* W, int ld) {
    if (sizeof(REAL) != 4 || bl == NULL || bl->compute == NULL) return NULL;
    size_t size = ((packsize_t)bl->pack_size)("A", &m, &n, &k);
    float* buf = (float*)malloc(size);
    float one = 1;
    if (buf != NULL) ((pack_t)bl->pack)("A", "N", &m, &n, &k, &one, (const float*)W, &ld, buf);
    return buf;
}

/* out (B, G*H) = h (B, H) @ W^T, given WT (NH, D, G, D): each head's block transposed,
   WT[k, v, g, u] = W[g*H + k*D + u, v] (for one head simply W^T, (H, G*H)). Packed MKL,
   plain BLAS, or (bl == NULL) a loop of axpys over G*D contiguous outputs; acc: G*D scratch. */
static void FN(rec_fwd)(int B, int G, int H, int D, const REAL* R WT, const REAL* R h,
                        REAL* R out, REAL* R acc, const blas_t* bl, const void* packed) {
    int GH = G * H, GD = G * D;
    REAL one = 1, zero = 0;
    if (packed != NULL) {
        ((compute_t)bl->compute)("P", "N", &GH, &B, &H, (const float*)packed, &GH,
                                 (const float*)h, &H, (const float*)&zero, (float*)out, &GH);
        return;
    }
    if (bl != NULL) {
        ((FN(gemm_t))bl->gemm)("N", "N", &GH, &B, &H, &one, WT, &GH, h, &H, &zero, out, &GH);
        return;
    }
    for (int k = 0; k < H / D; k++) {
        for (int b = 0; b < B; b++) {
            const REAL* R hb = h + (long)b * H + (long)k * D;
            const REAL* R wk = WT + (long)k * D * GD;
            for (int m = 0; m < GD; m++) acc[m] = 0;
            for (int v = 0; v < D; v++) {
                REAL hv = hb[v];
                const REAL* R row = wk + (long)v * GD;
                for (int m = 0; m < GD; m++) acc[m] += hv * row[m];
            }
            for (int g = 0; g < G; g++) {
                REAL* R o = out + (long)b * GH + (long)g * H + (long)k * D;
                for (int u = 0; u < D; u++) o[u] = acc[g * D + u];
            }
        }
    }
}

/* dh (B, H) += dg (B, G*H) @ W. */
static void FN(rec_bwd)(int B, int G, int H, int D, const REAL* R W, const REAL* R dg,
                        REAL* R dh, const blas_t* bl, const void* packed) {
    int GH = G * H;
    REAL one = 1;
    if (packed != NULL) {
        ((compute_t)bl->compute)("P", "N", &H, &B, &GH, (const float*)packed, &H,
                                 (const float*)dg, &GH, (const float*)&one, (float*)dh, &H);
        return;
    }
    if (bl != NULL) {
        ((FN(gemm_t))bl->gemm)("N", "N", &H, &B, &GH, &one, W, &H, dg, &GH, &one, dh, &H);
        return;
    }
    for (int j = 0; j < H; j++) {
        int k = j / D;
        for (int b = 0; b < B; b++) {
            REAL* R dhb = dh + (long)b * H + (long)k * D;
            for (int g = 0; g < G; g++) {
                const REAL* R w = W + ((long)g * H + j) * D;
                REAL a = dg[(long)b * G * H + (long)g * H + j];
                for (int v = 0; v < D; v++) dhb[v] += a * w[v];
            }
        }
    }
}

/* LSTM, time-major. xp (T,B,4H) with both biases; writes c (T,B,H) and acts = i,f,g,o,
   (T,B,4H) if save, else only (B,4H) scratch (inference: no backward follows). */
void FN(lstm_fwd)(int B, int T, int H, int D, const REAL* R xp, const REAL* R WT,
                  const REAL* R h0, const REAL* R c0, REAL* R y, REAL* R c, REAL* R acts,
                  int save, REAL* R tmp, const blas_t* bl) {
    long H4 = 4L * H, BH = (long)B * H;
    void* packed = FN(pack)(bl, 4 * H, B, H, WT, 4 * H);
    for (int t = 0; t < T; t++) {
        const REAL* R hp = t == 0 ? h0 : y + (t - 1) * BH;
        FN(rec_fwd)(B, 4, H, D, WT, hp, tmp, tmp + B * H4, bl, packed);
        for (int b = 0; b < B; b++) {
            long n = (long)t * B + b;
            const REAL* R x = xp + n * H4;
            const REAL* R r = tmp + b * H4;
            const REAL* R cp = t == 0 ? c0 + (long)b * H : c + (n - B) * H;
            REAL* R a = acts + (save ? n : b) * H4;
            REAL* R cn = c + n * H;
            REAL* R hn = y + n * H;
            for (int u = 0; u < H; u++) {
                REAL i = FN(sig)(x[u] + r[u]);
                REAL f = FN(sig)(x[H + u] + r[H + u]);
                REAL gg = FN(tnh)(x[2 * H + u] + r[2 * H + u]);
                REAL o = FN(sig)(x[3 * H + u] + r[3 * H + u]);
                REAL cc = f * cp[u] + i * gg;
                a[u] = i; a[H + u] = f; a[2 * H + u] = gg; a[3 * H + u] = o;
                cn[u] = cc;
                hn[u] = o * FN(tnh)(cc);
            }
        }
    }
    free(packed);
}

/* dh, dc (B,H): zeros and dc_T on entry, dh_0 and dc_0 on return; dg (T,B,4H) out. */
void FN(lstm_bwd)(int B, int T, int H, int D, const REAL* R W, const REAL* R c0,
                  const REAL* R c, const REAL* R acts, const REAL* R dy, REAL* R dh,
                  REAL* R dc, REAL* R dg, const blas_t* bl) {
    long H4 = 4L * H;
    void* packed = FN(pack)(bl, H, B, 4 * H, W, H);
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            long n = (long)t * B + b;
            const REAL* R a = acts + n * H4;
            const REAL* R cp = t == 0 ? c0 + (long)b * H : c + (n - B) * H;
            const REAL* R cn = c + n * H;
            const REAL* R dyb = dy + n * H;
            REAL* R dhb = dh + (long)b * H;
            REAL* R dcb = dc + (long)b * H;
            REAL* R d = dg + n * H4;
            for (int u = 0; u < H; u++) {
                REAL i = a[u], f = a[H + u], gg = a[2 * H + u], o = a[3 * H + u];
                REAL tc = FN(tnh)(cn[u]);
                REAL dhu = dyb[u] + dhb[u];
                REAL dcu = dcb[u] + dhu * o * ((REAL)1 - tc * tc);
                d[u] = dcu * gg * i * ((REAL)1 - i);
                d[H + u] = dcu * cp[u] * f * ((REAL)1 - f);
                d[2 * H + u] = dcu * i * ((REAL)1 - gg * gg);
                d[3 * H + u] = dhu * tc * o * ((REAL)1 - o);
                dcb[u] = dcu * f;
                dhb[u] = 0;
            }
        }
        FN(rec_bwd)(B, 4, H, D, W, dg + (long)t * B * H4, dh, bl, packed);
    }
    free(packed);
}

/* GRU, time-major. xp (T,B,3H) with b_ih; bhh (3H); acts = r, z, n, W_hn h + b_hn as
   (T,B,4H) if save, else (B,4H) scratch. */
void FN(gru_fwd)(int B, int T, int H, int D, const REAL* R xp, const REAL* R WT,
                 const REAL* R bhh, const REAL* R h0, REAL* R y, REAL* R acts, int save,
                 REAL* R tmp, const blas_t* bl) {
    long H3 = 3L * H, H4 = 4L * H, BH = (long)B * H;
    void* packed = FN(pack)(bl, 3 * H, B, H, WT, 3 * H);
    for (int t = 0; t < T; t++) {
        const REAL* R hp = t == 0 ? h0 : y + (t - 1) * BH;
        FN(rec_fwd)(B, 3, H, D, WT, hp, tmp, tmp + B * H3, bl, packed);
        for (int b = 0; b < B; b++) {
            long n = (long)t * B + b;
            const REAL* R x = xp + n * H3;
            const REAL* R r = tmp + b * H3;
            const REAL* R hpb = hp + (long)b * H;
            REAL* R a = acts + (save ? n : b) * H4;
            REAL* R hn = y + n * H;
            for (int u = 0; u < H; u++) {
                REAL rr = FN(sig)(x[u] + r[u] + bhh[u]);
                REAL z = FN(sig)(x[H + u] + r[H + u] + bhh[H + u]);
                REAL hh = r[2 * H + u] + bhh[2 * H + u];
                REAL nn = FN(tnh)(x[2 * H + u] + rr * hh);
                a[u] = rr; a[H + u] = z; a[2 * H + u] = nn; a[3 * H + u] = hh;
                hn[u] = ((REAL)1 - z) * nn + z * hpb[u];
            }
        }
    }
    free(packed);
}

/* dh (B,H): zeros in, dh_0 out; dgx, dgh (T,B,3H) out. */
void FN(gru_bwd)(int B, int T, int H, int D, const REAL* R W, const REAL* R h0,
                 const REAL* R y, const REAL* R acts, const REAL* R dy, REAL* R dh,
                 REAL* R dgx, REAL* R dgh, const blas_t* bl) {
    long H3 = 3L * H, H4 = 4L * H;
    void* packed = FN(pack)(bl, H, B, 3 * H, W, H);
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            long n = (long)t * B + b;
            const REAL* R a = acts + n * H4;
            const REAL* R hpb = t == 0 ? h0 + (long)b * H : y + (n - B) * H;
            const REAL* R dyb = dy + n * H;
            REAL* R dhb = dh + (long)b * H;
            REAL* R gx = dgx + n * H3;
            REAL* R gh = dgh + n * H3;
            for (int u = 0; u < H; u++) {
                REAL rr = a[u], z = a[H + u], nn = a[2 * H + u], hh = a[3 * H + u];
                REAL dhu = dyb[u] + dhb[u];
                REAL dn = dhu * ((REAL)1 - z) * ((REAL)1 - nn * nn);
                REAL dz = dhu * (hpb[u] - nn) * z * ((REAL)1 - z);
                REAL dr = dn * hh * rr * ((REAL)1 - rr);
                gx[u] = dr; gx[H + u] = dz; gx[2 * H + u] = dn;
                gh[u] = dr; gh[H + u] = dz; gh[2 * H + u] = dn * rr;
                dhb[u] = dhu * z;
            }
        }
        FN(rec_bwd)(B, 3, H, D, W, dgh + (long)t * B * H3, dh, bl, packed);
    }
    free(packed);
}

/* Elman, time-major. xp (T,B,H) with both biases; relu != 0 selects relu, else tanh. */
void FN(elman_fwd)(int B, int T, int H, int D, const REAL* R xp, const REAL* R WT,
                   const REAL* R h0, int relu, REAL* R y, REAL* R tmp, const blas_t* bl) {
    long BH = (long)B * H;
    void* packed = FN(pack)(bl, H, B, H, WT, H);
    for (int t = 0; t < T; t++) {
        const REAL* R hp = t == 0 ? h0 : y + (t - 1) * BH;
        FN(rec_fwd)(B, 1, H, D, WT, hp, tmp, tmp + BH, bl, packed);
        const REAL* R x = xp + t * BH;
        REAL* R hn = y + t * BH;
        if (relu) {
            for (long u = 0; u < BH; u++) {
                REAL v = x[u] + tmp[u];
                hn[u] = v > 0 ? v : 0;
            }
        } else {
            for (long u = 0; u < BH; u++) hn[u] = FN(tnh)(x[u] + tmp[u]);
        }
    }
    free(packed);
}

/* dh (B,H): zeros in, dh_0 out; dg (T,B,H) out. */
void FN(elman_bwd)(int B, int T, int H, int D, const REAL* R W, const REAL* R y, int relu,
                   const REAL* R dy, REAL* R dh, REAL* R dg, const blas_t* bl) {
    long BH = (long)B * H;
    void* packed = FN(pack)(bl, H, B, H, W, H);
    for (int t = T - 1; t >= 0; t--) {
        const REAL* R hb = y + t * BH;
        const REAL* R dyb = dy + t * BH;
        REAL* R d = dg + t * BH;
        for (long u = 0; u < BH; u++) {
            REAL dhu = dyb[u] + dh[u];
            d[u] = relu ? (hb[u] > 0 ? dhu : 0) : dhu * ((REAL)1 - hb[u] * hb[u]);
            dh[u] = 0;
        }
        FN(rec_bwd)(B, 1, H, D, W, d, dh, bl, packed);
    }
    free(packed);
}

/* h_t = a_t * h_{t-1} + b_t elementwise; a, b, y (B,T,H) batch first, h0 (B,H). */
void FN(scan_fwd)(int B, int T, int H, const REAL* R a, const REAL* R b, const REAL* R h0,
                  REAL* R y) {
    for (int bb = 0; bb < B; bb++) {
        const REAL* hp = h0 + (long)bb * H;
        for (int t = 0; t < T; t++) {
            long off = ((long)bb * T + t) * H;
            for (int u = 0; u < H; u++) y[off + u] = a[off + u] * hp[u] + b[off + u];
            hp = y + off;
        }
    }
}
