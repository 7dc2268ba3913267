/* Shared by the compiled CPU kernels (kernels/cells.c, analog/fused_cell.c; expanded into
   each by kernels/cpu_build.py's source_file): the table of BLAS entry points torch exports,
   and a float exp that gcc vectorises. */

typedef struct { void* gemm; void* pack_size; void* pack; void* compute; } blas_t;

/* exp for float in a form gcc vectorises: Cephes polynomial, |rel. error| < 2e-7. */
static inline float exp_poly(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale = { ((int32_t)n + 127) << 23 };
    return p * scale.f;
}
