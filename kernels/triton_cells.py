"""Triton kernels for the LSTM, GRU and Elman recurrences and the linear scan (GPU path).

Imported lazily by :mod:`kernels.fused` (Triton is the optional ``[gpu]`` extra). The same
functions as :mod:`kernels.cpu`, with the same time-major shapes: ``xp (T, B, G*H)``,
``w (G*H, D)`` compact head-wise (``D = H / num_heads``), states ``(B, H)``, outputs
``(T, B, H)``; :func:`scan` is batch first ``(B, T, H)``.

One program per (batch tile of ``BLOCK_B`` rows, head): it loads its head's ``G`` recurrent
blocks ``(D, D)`` once, keeps them on chip for the whole sequence, and runs the time loop
inside the kernel (one ``tl.dot`` per gate and step, fp32 accumulation, IEEE fp32 products so
fp32 results match the reference). Gates are fused with the state update; the input projection
is done before, outside. The backward kernels run the time loop in reverse and write the
gate pre-activation gradients; the weight gradients are one matmul outside. Pointer
arithmetic only (Triton 3.9 has no block pointers). The ``G`` blocks live in shared memory:
``G * BLOCK_D**2 * itemsize`` must fit :data:`SMEM_BUDGET` (96 KiB, what sm_80 and later
offer one program with room to spare), so the largest head is 64 for an fp32 LSTM/GRU, 128
for an fp32 Elman or a bf16 GRU/Elman: FlashRNN-style many small heads are the case these
kernels serve. fp32 and bf16 on a GPU (bf16 storage, fp32 state and accumulation), fp32 under
``TRITON_INTERPRET=1``. All kernels compile for sm_80 without a GPU (tested).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

SMEM_BUDGET = 96 * 1024  # bytes of shared memory the G recurrent blocks may take


@triton.jit
def _sig(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def _tanh(x):
    return 2.0 / (1.0 + tl.exp(-2.0 * x)) - 1.0


@triton.jit
def _cols(rb, ru, k, D, width):
    """Offsets of rows ``rb``, head ``k``'s units ``ru`` in a row-major array ``width`` wide."""
    return rb[:, None] * width + k * D + ru[None, :]


@triton.jit
def _tile(B, H, D, BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    """This program's tile: head ``k`` (grid axis 1), batch rows ``rb`` (axis 0), head units
    ``ru`` with mask ``mu``, the tile mask ``m2`` and its offsets ``col`` in a ``(B, H)``
    array."""
    k = tl.program_id(1)
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    ru = tl.arange(0, BLOCK_D)
    mu = ru < D
    m2 = (rb < B)[:, None] & mu[None, :]
    return k, rb, ru, mu, m2, _cols(rb, ru, k, D, H)


@triton.jit
def _w_block(w, g, H, D, k, ru, mu, TRANSPOSE: tl.constexpr):
    """Gate ``g``'s block of head ``k``: ``W^T`` (in, out) if TRANSPOSE else ``W`` (out, in)."""
    base = w + (g * H + k * D) * D
    if TRANSPOSE:
        offs = ru[None, :] * D + ru[:, None]
    else:
        offs = ru[:, None] * D + ru[None, :]
    return tl.load(base + offs, mask=mu[:, None] & mu[None, :], other=0.0)


@triton.jit
def _prev(seq, first, t, B, H, col, m2):
    """State before step ``t``: ``seq[t-1]`` (time-major ``(T, B, H)``) or ``first`` at 0."""
    before = tl.load(seq + tl.maximum(t - 1, 0) * B * H + col, mask=m2, other=0.0)
    start = tl.load(first + col, mask=m2, other=0.0)
    return tl.where(t > 0, before.to(tl.float32), start.to(tl.float32))


@triton.jit
def _mm(a, wblock):
    """``a @ wblock`` accumulated in fp32; fp32 operands multiply in IEEE fp32 (no TF32)."""
    if wblock.dtype == tl.float32:
        out = tl.dot(a, wblock, input_precision="ieee")
    else:
        out = tl.dot(a.to(wblock.dtype), wblock)
    return out


@triton.jit
def _lstm_fwd(xp, w, h0, c0, y, c, acts, T, B, H, D,
              BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    k, rb, ru, mu, m2, col = _tile(B, H, D, BLOCK_B, BLOCK_D)
    wi = _w_block(w, 0, H, D, k, ru, mu, True)
    wf = _w_block(w, 1, H, D, k, ru, mu, True)
    wg = _w_block(w, 2, H, D, k, ru, mu, True)
    wo = _w_block(w, 3, H, D, k, ru, mu, True)
    h = tl.load(h0 + col, mask=m2, other=0.0).to(tl.float32)
    cc = tl.load(c0 + col, mask=m2, other=0.0).to(tl.float32)
    gcol = _cols(rb, ru, k, D, 4 * H)
    for t in range(T):
        xb = xp + t * B * 4 * H + gcol
        i = _sig(tl.load(xb, mask=m2, other=0.0).to(tl.float32) + _mm(h, wi))
        f = _sig(tl.load(xb + H, mask=m2, other=0.0).to(tl.float32) + _mm(h, wf))
        g = _tanh(tl.load(xb + 2 * H, mask=m2, other=0.0).to(tl.float32) + _mm(h, wg))
        o = _sig(tl.load(xb + 3 * H, mask=m2, other=0.0).to(tl.float32) + _mm(h, wo))
        cc = f * cc + i * g
        h = o * _tanh(cc)
        ab = acts + t * B * 4 * H + gcol
        tl.store(ab, i, mask=m2)
        tl.store(ab + H, f, mask=m2)
        tl.store(ab + 2 * H, g, mask=m2)
        tl.store(ab + 3 * H, o, mask=m2)
        tl.store(c + t * B * H + col, cc, mask=m2)
        tl.store(y + t * B * H + col, h, mask=m2)


@triton.jit
def _lstm_bwd(w, c0, c, acts, dy, dc_t, dg, dh0, dc0, T, B, H, D,
              BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    k, rb, ru, mu, m2, col = _tile(B, H, D, BLOCK_B, BLOCK_D)
    gcol = _cols(rb, ru, k, D, 4 * H)
    wi = _w_block(w, 0, H, D, k, ru, mu, False)
    wf = _w_block(w, 1, H, D, k, ru, mu, False)
    wg = _w_block(w, 2, H, D, k, ru, mu, False)
    wo = _w_block(w, 3, H, D, k, ru, mu, False)
    dh = tl.zeros((BLOCK_B, BLOCK_D), dtype=tl.float32)
    dc = tl.load(dc_t + col, mask=m2, other=0.0).to(tl.float32)
    for s in range(T):
        t = T - 1 - s
        ab = acts + t * B * 4 * H + gcol
        i = tl.load(ab, mask=m2, other=0.0).to(tl.float32)
        f = tl.load(ab + H, mask=m2, other=0.0).to(tl.float32)
        g = tl.load(ab + 2 * H, mask=m2, other=0.0).to(tl.float32)
        o = tl.load(ab + 3 * H, mask=m2, other=0.0).to(tl.float32)
        ct = tl.load(c + t * B * H + col, mask=m2, other=0.0).to(tl.float32)
        cp = _prev(c, c0, t, B, H, col, m2)
        dh += tl.load(dy + t * B * H + col, mask=m2, other=0.0).to(tl.float32)
        tc = _tanh(ct)
        dc += dh * o * (1.0 - tc * tc)
        di = dc * g * i * (1.0 - i)
        df = dc * cp * f * (1.0 - f)
        dgg = dc * i * (1.0 - g * g)
        do = dh * tc * o * (1.0 - o)
        db = dg + t * B * 4 * H + gcol
        tl.store(db, di, mask=m2)
        tl.store(db + H, df, mask=m2)
        tl.store(db + 2 * H, dgg, mask=m2)
        tl.store(db + 3 * H, do, mask=m2)
        dc = dc * f
        dh = _mm(di, wi) + _mm(df, wf) + _mm(dgg, wg) + _mm(do, wo)
    tl.store(dh0 + col, dh, mask=m2)
    tl.store(dc0 + col, dc, mask=m2)


@triton.jit
def _gru_fwd(xp, w, bhh, h0, y, acts, T, B, H, D,
             BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    k, rb, ru, mu, m2, col = _tile(B, H, D, BLOCK_B, BLOCK_D)
    xcol = _cols(rb, ru, k, D, 3 * H)
    acol = _cols(rb, ru, k, D, 4 * H)
    wr = _w_block(w, 0, H, D, k, ru, mu, True)
    wz = _w_block(w, 1, H, D, k, ru, mu, True)
    wn = _w_block(w, 2, H, D, k, ru, mu, True)
    br = tl.load(bhh + k * D + ru, mask=mu, other=0.0).to(tl.float32)[None, :]
    bz = tl.load(bhh + H + k * D + ru, mask=mu, other=0.0).to(tl.float32)[None, :]
    bn = tl.load(bhh + 2 * H + k * D + ru, mask=mu, other=0.0).to(tl.float32)[None, :]
    h = tl.load(h0 + col, mask=m2, other=0.0).to(tl.float32)
    for t in range(T):
        xb = xp + t * B * 3 * H + xcol
        r = _sig(tl.load(xb, mask=m2, other=0.0).to(tl.float32) + _mm(h, wr) + br)
        z = _sig(tl.load(xb + H, mask=m2, other=0.0).to(tl.float32) + _mm(h, wz) + bz)
        hh = _mm(h, wn) + bn
        n = _tanh(tl.load(xb + 2 * H, mask=m2, other=0.0).to(tl.float32) + r * hh)
        h = (1.0 - z) * n + z * h
        ab = acts + t * B * 4 * H + acol
        tl.store(ab, r, mask=m2)
        tl.store(ab + H, z, mask=m2)
        tl.store(ab + 2 * H, n, mask=m2)
        tl.store(ab + 3 * H, hh, mask=m2)
        tl.store(y + t * B * H + col, h, mask=m2)


@triton.jit
def _gru_bwd(w, h0, y, acts, dy, dgx, dgh, dh0, T, B, H, D,
             BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    k, rb, ru, mu, m2, col = _tile(B, H, D, BLOCK_B, BLOCK_D)
    xcol = _cols(rb, ru, k, D, 3 * H)
    acol = _cols(rb, ru, k, D, 4 * H)
    wr = _w_block(w, 0, H, D, k, ru, mu, False)
    wz = _w_block(w, 1, H, D, k, ru, mu, False)
    wn = _w_block(w, 2, H, D, k, ru, mu, False)
    dh = tl.zeros((BLOCK_B, BLOCK_D), dtype=tl.float32)
    for s in range(T):
        t = T - 1 - s
        ab = acts + t * B * 4 * H + acol
        r = tl.load(ab, mask=m2, other=0.0).to(tl.float32)
        z = tl.load(ab + H, mask=m2, other=0.0).to(tl.float32)
        n = tl.load(ab + 2 * H, mask=m2, other=0.0).to(tl.float32)
        hh = tl.load(ab + 3 * H, mask=m2, other=0.0).to(tl.float32)
        hp = _prev(y, h0, t, B, H, col, m2)
        dh += tl.load(dy + t * B * H + col, mask=m2, other=0.0).to(tl.float32)
        dn = dh * (1.0 - z) * (1.0 - n * n)
        dz = dh * (hp - n) * z * (1.0 - z)
        dr = dn * hh * r * (1.0 - r)
        xb = dgx + t * B * 3 * H + xcol
        tl.store(xb, dr, mask=m2)
        tl.store(xb + H, dz, mask=m2)
        tl.store(xb + 2 * H, dn, mask=m2)
        hb = dgh + t * B * 3 * H + xcol
        tl.store(hb, dr, mask=m2)
        tl.store(hb + H, dz, mask=m2)
        tl.store(hb + 2 * H, dn * r, mask=m2)
        dh = dh * z + _mm(dr, wr) + _mm(dz, wz) + _mm(dn * r, wn)
    tl.store(dh0 + col, dh, mask=m2)


@triton.jit
def _elman_fwd(xp, w, h0, y, T, B, H, D,
               RELU: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    k, rb, ru, mu, m2, col = _tile(B, H, D, BLOCK_B, BLOCK_D)
    wt = _w_block(w, 0, H, D, k, ru, mu, True)
    h = tl.load(h0 + col, mask=m2, other=0.0).to(tl.float32)
    for t in range(T):
        v = tl.load(xp + t * B * H + col, mask=m2, other=0.0).to(tl.float32) + _mm(h, wt)
        if RELU:
            h = tl.maximum(v, 0.0)
        else:
            h = _tanh(v)
        tl.store(y + t * B * H + col, h, mask=m2)


@triton.jit
def _elman_bwd(w, y, dy, dg, dh0, T, B, H, D,
               RELU: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    k, rb, ru, mu, m2, col = _tile(B, H, D, BLOCK_B, BLOCK_D)
    wb = _w_block(w, 0, H, D, k, ru, mu, False)
    dh = tl.zeros((BLOCK_B, BLOCK_D), dtype=tl.float32)
    for s in range(T):
        t = T - 1 - s
        h = tl.load(y + t * B * H + col, mask=m2, other=0.0).to(tl.float32)
        dh += tl.load(dy + t * B * H + col, mask=m2, other=0.0).to(tl.float32)
        if RELU:
            d = tl.where(h > 0.0, dh, 0.0)
        else:
            d = dh * (1.0 - h * h)
        tl.store(dg + t * B * H + col, d, mask=m2)
        dh = _mm(d, wb)
    tl.store(dh0 + col, dh, mask=m2)


@triton.jit
def _combine(a1, b1, a2, b2):
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _scan(a, b, h0, y, T, H, BLOCK_T: tl.constexpr, BLOCK_H: tl.constexpr):
    """Chunks of ``BLOCK_T`` steps: a parallel associative scan inside, a carry between."""
    pb = tl.program_id(0)
    rh = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    mh = rh < H
    rt = tl.arange(0, BLOCK_T)
    carry = tl.load(h0 + pb * H + rh, mask=mh, other=0.0).to(tl.float32)
    for t0 in range(0, T, BLOCK_T):
        m2 = ((t0 + rt) < T)[:, None] & mh[None, :]
        offs = (pb * T + t0 + rt[:, None]) * H + rh[None, :]
        av = tl.load(a + offs, mask=m2, other=1.0).to(tl.float32)
        bv = tl.load(b + offs, mask=m2, other=0.0).to(tl.float32)
        acc_a, acc_b = tl.associative_scan((av, bv), 0, _combine)
        h = acc_a * carry[None, :] + acc_b
        tl.store(y + offs, h, mask=m2)
        carry = tl.sum(tl.where(rt[:, None] == BLOCK_T - 1, h, 0.0), axis=0)


def fits(head: int, gates: int, dtype: torch.dtype) -> bool:
    """Whether ``gates`` recurrent blocks of a ``head``-unit head fit :data:`SMEM_BUDGET`."""
    block = max(16, triton.next_power_of_2(head))
    return gates * block * block * dtype.itemsize <= SMEM_BUDGET


def _blocks(batch: int, head: int, gates: int, dtype: torch.dtype) -> tuple[int, int]:
    if not fits(head, gates, dtype):
        raise ValueError(f"head size {head} is too large for the Triton kernel: its {gates} "
                         f"recurrent block(s) in {dtype} exceed {SMEM_BUDGET // 1024} KiB of "
                         "shared memory; use more heads (num_heads) or backend='torch'")
    return max(16, min(32, triton.next_power_of_2(batch))), max(16, triton.next_power_of_2(head))


def _grid(batch: int, hidden: int, head: int, block_b: int) -> tuple[int, int]:
    return triton.cdiv(batch, block_b), hidden // head


def lstm_forward(xp: Tensor, w: Tensor, h0: Tensor, c0: Tensor, save: bool = True
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """``y, c (T, B, H)`` and the gate activations ``(T, B, 4H)`` (i, f, g, o), written
    whether or not ``save`` asks for them."""
    t, b, h4 = xp.shape
    h, d = h4 // 4, w.shape[1]
    bb, bd = _blocks(b, d, 4, xp.dtype)
    y, c, acts = xp.new_empty(t, b, h), xp.new_empty(t, b, h), torch.empty_like(xp)
    _lstm_fwd[_grid(b, h, d, bb)](xp, w, h0, c0, y, c, acts, t, b, h, d,
                                 BLOCK_B=bb, BLOCK_D=bd)
    return y, c, acts


def lstm_backward(w: Tensor, c0: Tensor, c: Tensor, acts: Tensor, dy: Tensor, dc_t: Tensor
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """Gate pre-activation gradients ``(T, B, 4H)``, ``dh0``, ``dc0`` ``(B, H)``."""
    t, b, h = c.shape
    d = w.shape[1]
    bb, bd = _blocks(b, d, 4, c.dtype)
    dg, dh0, dc0 = torch.empty_like(acts), torch.empty_like(c0), torch.empty_like(c0)
    _lstm_bwd[_grid(b, h, d, bb)](w, c0, c, acts, dy, dc_t, dg, dh0, dc0, t, b, h, d,
                                 BLOCK_B=bb, BLOCK_D=bd)
    return dg, dh0, dc0


def gru_forward(xp: Tensor, w: Tensor, b_hh: Tensor, h0: Tensor, save: bool = True
                ) -> tuple[Tensor, Tensor]:
    """``y (T, B, H)`` and activations ``(T, B, 4H)`` (r, z, n, W_hn h + b_hn), written
    whether or not ``save`` asks for them."""
    t, b, h3 = xp.shape
    h, d = h3 // 3, w.shape[1]
    bb, bd = _blocks(b, d, 3, xp.dtype)
    y, acts = xp.new_empty(t, b, h), xp.new_empty(t, b, 4 * h)
    _gru_fwd[_grid(b, h, d, bb)](xp, w, b_hh, h0, y, acts, t, b, h, d, BLOCK_B=bb, BLOCK_D=bd)
    return y, acts


def gru_backward(w: Tensor, h0: Tensor, y: Tensor, acts: Tensor, dy: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients w.r.t. the input projection and ``h @ W^T + b_hh`` ``(T, B, 3H)``, ``dh0``."""
    t, b, h = y.shape
    d = w.shape[1]
    bb, bd = _blocks(b, d, 3, y.dtype)
    dgx, dgh, dh0 = y.new_empty(t, b, 3 * h), y.new_empty(t, b, 3 * h), torch.empty_like(h0)
    _gru_bwd[_grid(b, h, d, bb)](w, h0, y, acts, dy, dgx, dgh, dh0, t, b, h, d,
                                BLOCK_B=bb, BLOCK_D=bd)
    return dgx, dgh, dh0


def elman_forward(xp: Tensor, w: Tensor, h0: Tensor, relu: bool) -> Tensor:
    """``y (T, B, H)``."""
    t, b, h = xp.shape
    d = w.shape[1]
    bb, bd = _blocks(b, d, 1, xp.dtype)
    y = torch.empty_like(xp)
    _elman_fwd[_grid(b, h, d, bb)](xp, w, h0, y, t, b, h, d, RELU=relu, BLOCK_B=bb, BLOCK_D=bd)
    return y


def elman_backward(w: Tensor, y: Tensor, relu: bool, dy: Tensor) -> tuple[Tensor, Tensor]:
    """Gradient of the pre-activations ``(T, B, H)`` and ``dh0 (B, H)``."""
    t, b, h = y.shape
    d = w.shape[1]
    bb, bd = _blocks(b, d, 1, y.dtype)
    dg, dh0 = torch.empty_like(y), y.new_empty(b, h)
    _elman_bwd[_grid(b, h, d, bb)](w, y, dy, dg, dh0, t, b, h, d, RELU=relu, BLOCK_B=bb,
                                  BLOCK_D=bd)
    return dg, dh0


def scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """All ``h_t = a_t * h_{t-1} + b_t`` ``(B, T, H)`` for ``a, b (B, T, H)``, ``h0 (B, H)``."""
    bsz, t, h = b.shape
    y = torch.empty_like(b)
    block_h = min(128, triton.next_power_of_2(h))
    block_t = min(64, triton.next_power_of_2(t))
    _scan[(bsz, triton.cdiv(h, block_h))](a, b, h0, y, t, h, BLOCK_T=block_t, BLOCK_H=block_h)
    return y
