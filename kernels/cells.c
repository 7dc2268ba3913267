/* C source of the CPU fast path for the recurrent cells (compiled on first use by
   kernels/cpu_build.py, read as package data).

   All recurrent arrays are time-major (T, B, ...) so that each step's block is contiguous.
   One body, instantiated for float (suffix _f32, a vectorisable polynomial exp) and
   double (_f64, libm). Every array is C-contiguous, row-major; B batch, T time,
   H hidden units, D = H / num_heads the head size, G gates (4 LSTM, 3 GRU, 1 Elman);
   the recurrent matrix W is the compact head-wise (G*H, D) layout of
   kernels/reference.py. bl points to torch's exported BLAS (?gemm_, and for float
   MKL's sgemm_pack/sgemm_compute, so W is packed once per call as oneDNN's RNNs do)
   or is NULL: then hand-written loops compute the recurrent matmul, reusing each loaded
   row of h for all G gates; they alone handle head-wise (block-diagonal) matrices.

   Forward functions take WT, each head's block transposed (see rec_fwd), so the
   recurrent product is a run of contiguous axpys; backward functions take W. Tmp buffers
   hold B + 1 rows of G*H. Forward functions save what their backward needs; backward
   functions return the gradient of the pre-activations (dgx w.r.t. the input projection,
   dgh w.r.t. h @ W^T + b_hh; they differ only for the GRU's n gate), and
   dh0/dc0. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define R __restrict__

/* BLAS entry points exported by torch (Fortran interface); NULL members are absent. */
typedef size_t (*packsize_t)(const char*, const int*, const int*, const int*);
typedef void (*pack_t)(const char*, const char*, const int*, const int*, const int*,
                       const float*, const float*, const int*, float*);
typedef void (*compute_t)(const char*, const char*, const int*, const int*, const int*,
                          const float*, const int*, const float*, const int*, const float*,
                          float*, const int*);
#include "fastmath.h"

#define FN(name) FN_(name, SFX)
#define FN_(a, b) FN__(a, b)
#define FN__(a, b) a##_##b

#define REAL float
#define SFX f32
#define EXP exp_poly
#include "cells_body.h"
#undef REAL
#undef SFX
#undef EXP

#define REAL double
#define SFX f64
#define EXP exp
#include "cells_body.h"
