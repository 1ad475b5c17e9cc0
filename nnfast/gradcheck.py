"""Gradient checking that scales to whole networks.

:func:`gradient_check` compares a backend's analytic gradient with central
differences ``(J(θ + ε e_p) - J(θ - ε e_p)) / 2ε`` for every parameter ``p``
(or a random sample of them), and reports the relative difference
``||num - ana|| / ||num + ana||`` overall and per weight layer, with the worst
parameters.

How the numerical side stays cheap
----------------------------------
No ``P x P`` matrix is ever built and no perturbation recomputes the whole
network.  The forward pass is computed once, in float64.  Perturbing weight
``(j, k)`` of weight layer ``l`` (``k = 0`` is the bias) changes only the
pre-activation of unit ``j`` of the next layer, by ``±ε a_k`` (``±ε`` for the
bias), for the examples where ``a_k != 0``; examples with ``a_k = 0`` (blank
pixels) have exactly the same cost at ``θ ± ε e_p`` and are skipped.  So for
each perturbation only

* the last layer's weights: one output logit per example and its loss;
* earlier layers: unit ``j``'s new activation, a rank-one update of the next
  pre-activations (``Z + d w_jᵀ``), and the layers after it

are recomputed, vectorised over the examples and over all perturbations of
one unit at a time (in chunks that keep memory ``O(m x widest layer)``), and
spread over threads.  The per-example loss *change* is accumulated directly,
so the round-off is that of the change, not of the whole cost.  The L2 term
``λ/(2m) Σ θ²`` changes only in the perturbed term, and that change is
computed as a difference too: ``λ/(2m) ((θ_p + ε)² - (θ_p - ε)²)``.

The steps actually taken are the representable ones, ``(θ_p + ε) - θ_p`` and
``θ_p - (θ_p - ε)``, so the result equals brute-force central differences
(full recomputation of the cost) up to round-off: see
:func:`brute_force_gradient`.

Accuracy
--------
Central differences have truncation error ``ε² J'''/6``: with ``ε = 1e-4``
about ``1e-9`` relative at worst for one parameter, and typically well below
that for the norm over all parameters of these smooth sums over examples.
Round-off is about ``1e-16 |loss change| / ε`` per example.  Both are far
below the error of a wrong gradient, which shows up as a relative
difference of order 1e-3 to 1.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ._losses import check_loss, cross_entropy_from_logits, sigmoid
from ._network import check_layer_sizes, layer_offsets, layer_sizes_of, n_params, pack
from ._validation import check_lam, check_n_threads, check_targets, check_theta, check_X

__all__ = [
    "gradient_check", "GradientCheckResult", "LayerCheck", "numerical_gradient",
    "brute_force_gradient", "debug_problem", "debug_weights", "relative_difference",
    "DEFAULT_THRESHOLD",
]

#: relative difference above which a float64 check fails (Ng's ex4 expects < 1e-9
#: for a correct gradient with ε = 1e-4; a wrong one is typically > 1e-3)
DEFAULT_THRESHOLD = 1e-7
#: the same for a float32 analytic gradient (its own round-off is ~1e-7 relative)
DEFAULT_THRESHOLD_FLOAT32 = 1e-3

# entries (example, input) handled at once per unit: temporaries are
# about _CHUNK x (width of the layers after the unit) doubles
_CHUNK = 1 << 14


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def relative_difference(a, b) -> float:
    """``||a - b|| / ||a + b||`` (0.0 when both are zero)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = np.linalg.norm(a + b)
    num = np.linalg.norm(a - b)
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return float(num / den)


def debug_weights(fan_out: int, fan_in: int) -> np.ndarray:
    """ex4's ``debugInitializeWeights``: ``sin(1..n) / 10``, filled column-major.

    Returns an array of shape ``(fan_out, fan_in + 1)``; deterministic and
    free of symmetry, so every unit gets a different gradient.
    """
    n = fan_out * (fan_in + 1)
    return (np.sin(np.arange(1, n + 1, dtype=np.float64)) / 10.0).reshape(
        (fan_out, fan_in + 1), order="F")


def debug_problem(layer_sizes=(3, 5, 3), m: int = 5):
    """The small network of ex4's ``checkNNGradients``: ``(theta, X, y, layer_sizes)``.

    Weights from :func:`debug_weights`, inputs ``X = debug_weights(m, n_in - 1)``
    (sin-based, shape ``(m, n_in)``) and labels ``y = (1..m) mod n_out`` (class
    indices; the exercise's ``1 + mod(1:m, num_labels)`` minus one).
    """
    sizes = check_layer_sizes(layer_sizes)
    weights = [debug_weights(n_next, n_prev) for n_prev, n_next in zip(sizes[:-1], sizes[1:])]
    theta = pack(weights, dtype=np.float64)
    X = debug_weights(m, sizes[0] - 1)
    y = np.arange(1, m + 1) % sizes[-1]
    if sizes[-1] == 1:
        y = (y + np.arange(1, m + 1)) % 2  # 0/1 targets for a single output
    return theta, X, y, sizes


def _loss_values(loss, z, Y):
    """Elementwise loss of output logits ``z`` (any shape) against targets ``Y``."""
    if loss == "cross_entropy":
        return cross_entropy_from_logits(z, Y)
    d = sigmoid(z) - Y
    return 0.5 * d * d


def _loss_rows(loss, z, Y):
    """Loss summed over outputs, one value per row."""
    return _loss_values(loss, z, Y).sum(axis=1)


# --------------------------------------------------------------------------
# the incremental central differences
# --------------------------------------------------------------------------

class _Forward:
    """Forward pass in float64, kept for the perturbations."""

    def __init__(self, theta, X, Y, sizes, loss):
        self.sizes = sizes
        self.loss = loss
        self.offsets = layer_offsets(sizes)
        self.W = [theta[s:e].reshape(shape) for s, e, shape in self.offsets]
        self.Y = Y
        self.A = [X]          # A[l]: input of weight layer l (no bias column)
        self.Z = []           # Z[l]: pre-activation computed by weight layer l
        a = X
        for w in self.W:
            z = a @ w[:, 1:].T
            z += w[:, 0]
            self.Z.append(z)
            a = sigmoid(z)
            self.A.append(a)
        self.n_layers = len(self.W)
        self.loss_sum = float(np.sum(_loss_values(loss, self.Z[-1], Y), dtype=np.float64))
        self._csc = {}

    def columns(self, l):
        """Input columns of weight layer ``l`` (bias first) as CSC: nonzero entries only."""
        if l not in self._csc:
            a = self.A[l]
            m = a.shape[0]
            if l == 0:
                nz = a != 0
                counts = nz.sum(axis=0)
                rows_t, cols_t = np.nonzero(nz.T)        # sorted by column
                vals = a.T[rows_t, cols_t]
                rows = np.concatenate([np.arange(m), cols_t]).astype(np.intp)
                vals = np.concatenate([np.ones(m), vals])
                counts = np.concatenate([[m], counts])
            else:  # hidden activations are never exactly 0 or 1 in practice: dense
                n = a.shape[1]
                rows = np.tile(np.arange(m, dtype=np.intp), n + 1)
                vals = np.concatenate([np.ones(m), a.T.ravel()])
                counts = np.full(n + 1, m)
            indptr = np.zeros(len(counts) + 1, dtype=np.intp)
            np.cumsum(counts, out=indptr[1:])
            self._csc[l] = (indptr, rows, vals)
        return self._csc[l]

    def rows_layout(self, l, wanted):
        """Entries of ``[1, A[l]]`` restricted to the columns ``wanted``, CSR by example:
        ``(indptr, cols, vals)``; zero inputs are left out."""
        a = np.concatenate([np.ones((self.A[l].shape[0], 1)), self.A[l]], axis=1)
        a[:, ~wanted] = 0.0
        nz = a != 0
        r, c = np.nonzero(nz)
        indptr = np.zeros(a.shape[0] + 1, dtype=np.intp)
        np.cumsum(nz.sum(axis=1), out=indptr[1:])
        return indptr, c.astype(np.intp), a[r, c]

    def downstream_loss(self, l, j, d, rows):
        """Per-entry summed loss after unit ``j`` of layer ``l + 1`` changed activation by ``d``.

        ``rows`` are the examples of the entries; the layers after ``l + 1`` are recomputed.
        """
        w = self.W[l + 1][:, 1 + j]
        z = self.Z[l + 1][rows]
        z += d[:, None] * w
        for t in range(l + 2, self.n_layers):
            a = sigmoid(z)
            wt = self.W[t]
            z = a @ wt[:, 1:].T
            z += wt[:, 0]
        return _loss_rows(self.loss, z, self.Y[rows])


def _unit_work(fw: _Forward, l, j, cols, step_plus, step_minus):
    """Summed loss changes ``L(θ + h⁺) - L(θ - h⁻)`` for the weights ``(j, cols)`` of layer ``l``."""
    indptr, rows_all, vals_all = fw.columns(l)
    out = np.zeros(len(cols))
    z_unit = fw.Z[l][:, j]
    last = l == fw.n_layers - 1
    if not last:
        a_unit = fw.A[l + 1][:, j]
    width = max([1] + list(fw.sizes[l + 2:]))
    chunk = max(256, _CHUNK // width) if not last else 4 * _CHUNK
    starts, ends = indptr[cols], indptr[cols + 1]
    counts = ends - starts
    pos = 0
    while pos < len(cols):
        # a group of columns whose entries fit in one chunk (at least one column)
        stop = pos + 1
        total = counts[pos]
        while stop < len(cols) and total + counts[stop] <= chunk:
            total += counts[stop]
            stop += 1
        if total == 0:
            pos = stop
            continue
        if stop - pos == 1 or np.all(starts[pos + 1:stop] == ends[pos:stop - 1]):
            sl = slice(starts[pos], ends[stop - 1])      # contiguous columns
            rows, vals = rows_all[sl], vals_all[sl]
        else:
            idx = np.concatenate([np.arange(s, e) for s, e in zip(starts[pos:stop], ends[pos:stop])])
            rows, vals = rows_all[idx], vals_all[idx]
        owner = np.repeat(np.arange(stop - pos), counts[pos:stop])
        hp = step_plus[pos:stop][owner] * vals
        hm = step_minus[pos:stop][owner] * vals
        z0 = z_unit[rows]
        if last:
            y = fw.Y[rows, j]
            diff = _loss_values(fw.loss, z0 + hp, y) - _loss_values(fw.loss, z0 - hm, y)
        else:
            a0 = a_unit[rows]
            d_plus = sigmoid(z0 + hp) - a0
            d_minus = sigmoid(z0 - hm) - a0
            diff = (fw.downstream_loss(l, j, d_plus, rows)
                    - fw.downstream_loss(l, j, d_minus, rows))
        out[pos:stop] = np.bincount(owner, weights=diff, minlength=stop - pos)
        pos = stop
    return out


# --------------------------------------------------------------------------
# compiled kernel for the common case: a weight layer followed by the output
# layer (the first layer of ex4).  Same arithmetic as the NumPy path, one
# entry (example, input) at a time, without temporaries; parallel over
# perturbations.  Compiled lazily, cached on disk.
# --------------------------------------------------------------------------

_KERNEL = None


def _penultimate_kernel():
    """The numba kernel, or None where numba cannot be used."""
    global _KERNEL
    if _KERNEL is None:
        try:
            _KERNEL = _build_kernel()
        except Exception:  # numba missing or broken: the NumPy path does the work
            _KERNEL = False
    return _KERNEL or None


try:  # numba is a dependency of nnfast; without it the NumPy path does all the work
    import math

    from numba import njit as _njit
    from numba import prange as _prange
except Exception:  # pragma: no cover
    _njit = None

if _njit is not None:

    # Small arguments: expm1 and log1p by their Taylor series, exact to round-off
    # (the truncation term is below 1e-17 relative for |t| <= 2^-5, |x| <= 1e-3).
    # Larger arguments, and outputs whose logit would change sign, are flagged
    # and recomputed by the plain formulas with libm.  These are exact
    # evaluations of the perturbed cost, not an approximation of it.
    @_njit(inline="always", error_model="numpy", fastmath={"contract"})
    def expm1_poly(t):
        return t * (1.0 + t * (0.5 + t * (1.0 / 6 + t * (1.0 / 24 + t * (
            1.0 / 120 + t * (1.0 / 720 + t * (1.0 / 5040 + t * (1.0 / 40320))))))))

    @_njit(inline="always", error_model="numpy", fastmath={"contract"})
    def log1p_(x):
        if abs(x) <= 1e-3:
            return x * (1.0 - x * (0.5 - x * (1.0 / 3 - x * (0.25 - x * (
                0.2 - x * (1.0 / 6 - x * (1.0 / 7)))))))
        return math.log1p(x)

    @_njit(inline="always", error_model="numpy", fastmath={"contract"})
    def sig(z):
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        q = math.exp(z)
        return q / (1.0 + q)

    @_njit(inline="always", error_model="numpy", fastmath={"contract"})
    def softplus(z):  # log(1 + e^z)
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))

    @_njit(parallel=True, cache=True, error_model="numpy", fastmath={"contract"})
    def kernel(units, HP, HM, indptr, cols, vals, Zh, Fh, Zo, Fo, Y, Wo, squared, out):
        """out[u, k] = sum over examples of loss(θ + h⁺) - loss(θ - h⁻) for weight (units[u], k).

        Entries (i, k, v) of the layer input with its bias column, CSR by example.
        ``σ(z + t) - σ(z + t0)`` is computed from ``F = exp(-|z|)``, ``s = sign(z)``
        and ``g(t) = exp(-s t)`` as ``-s F g(t0) expm1(-s (t - t0)) / ((1 + F g(t)) (1 + F g(t0)))``
        (no cancellation) while ``z + t`` keeps the sign of ``z``.
        """
        m = Zh.shape[0]
        n_out = Zo.shape[1]
        width = 0
        for i in range(m):
            width = max(width, indptr[i + 1] - indptr[i])
        for u in _prange(units.shape[0]):
            j = units[u]
            hp_u = HP[u]
            hm_u = HM[u]
            acc = out[u]
            dp = np.empty(width)
            dm = np.empty(width)
            R = np.empty(width)
            lin = np.empty(width)
            tot = np.empty(width)
            bad = np.empty(width)  # >= 0: recompute this entry with libm
            wcol = np.empty(n_out)
            for o in range(n_out):
                wcol[o] = Wo[o, 1 + j]
            for i in range(m):
                start = indptr[i]
                n = indptr[i + 1] - start
                c = cols[start:start + n]
                v = vals[start:start + n]
                z0 = Zh[i, j]
                F = Fh[i, j]
                s = 1.0 if z0 >= 0 else -1.0
                limit = min(abs(z0), 0.03125)
                for e in range(n):
                    sp = hp_u[c[e]] * v[e]
                    sm = -hm_u[c[e]] * v[e]
                    gp = 1.0 + expm1_poly(-s * sp)
                    gm = 1.0 + expm1_poly(-s * sm)
                    dp[e] = -s * F * expm1_poly(-s * sp) / ((1.0 + F * gp) * (1.0 + F))
                    dm[e] = -s * F * expm1_poly(-s * sm) / ((1.0 + F * gm) * (1.0 + F))
                    bad[e] = max(abs(sp), abs(sm)) - limit
                    R[e] = 0.0
                    lin[e] = 0.0
                    tot[e] = 0.0
                for o in range(n_out):
                    zo = Zo[i, o]
                    Fo_ = Fo[i, o]
                    yo = Y[i, o]
                    so = 1.0 if zo >= 0 else -1.0
                    pos = 1.0 if zo >= 0 else 0.0
                    lim_o = min(abs(zo), 0.03125)
                    w = wcol[o]
                    if squared:
                        for e in range(n):
                            tp = dp[e] * w
                            tm = dm[e] * w
                            gm = 1.0 + expm1_poly(-so * tm)
                            gp = gm * (1.0 + expm1_poly(-so * (tp - tm)))
                            dh = -so * Fo_ * gm * expm1_poly(-so * (tp - tm)) / (
                                (1.0 + Fo_ * gp) * (1.0 + Fo_ * gm))
                            rp = 1.0 / (1.0 + Fo_ * gp)
                            rm = 1.0 / (1.0 + Fo_ * gm)
                            hsum = rp + rm if so > 0 else 2.0 - rp - rm
                            tot[e] += 0.5 * dh * (hsum - 2.0 * yo)
                            bad[e] = max(bad[e], max(abs(tp), abs(tm)) - lim_o)
                    else:
                        for e in range(n):
                            tp = dp[e] * w
                            tm = dm[e] * w
                            dt = tp - tm
                            gm = 1.0 + expm1_poly(-so * tm)
                            r = Fo_ * gm * expm1_poly(-so * dt) / (1.0 + Fo_ * gm)
                            R[e] += r + R[e] * r
                            lin[e] += (pos - yo) * dt
                            bad[e] = max(bad[e], max(abs(tp), abs(tm)) - lim_o)
                for e in range(n):
                    if bad[e] >= 0:
                        # plain formulas, libm, for this entry
                        sp = hp_u[c[e]] * v[e]
                        sm = -hm_u[c[e]] * v[e]
                        a0 = sig(z0)
                        d_p = sig(z0 + sp) - a0
                        d_m = sig(z0 + sm) - a0
                        val = 0.0
                        for o in range(n_out):
                            up = Zo[i, o] + d_p * wcol[o]
                            um = Zo[i, o] + d_m * wcol[o]
                            if squared:
                                val += 0.5 * ((sig(up) - Y[i, o]) ** 2 - (sig(um) - Y[i, o]) ** 2)
                            else:
                                val += softplus(up) - softplus(um) - Y[i, o] * (up - um)
                    elif squared:
                        val = tot[e]
                    else:
                        val = lin[e] + log1p_(R[e])
                    acc[c[e]] += val



def _build_kernel():
    if _njit is None:
        raise ImportError("numba is not available")
    return kernel


def numerical_gradient(theta, X, y, layer_sizes, lam=0.0, loss="cross_entropy",
                       epsilon=1e-4, indices=None, n_threads=None, engine="auto"):
    """Central-difference gradient of the regularised cost, computed incrementally.

    Parameters
    ----------
    theta : array-like of shape (n_params,)
    X : array-like of shape (m, n_in)
    y : class indices (m,) or targets (m, n_out)
    layer_sizes : sequence of int
    lam : float
    loss : {"cross_entropy", "squared_error"}
    epsilon : float
    indices : array of int, optional
        Parameters to differentiate (default all).
    n_threads : int or None
    engine : {"auto", "numba", "numpy"}
        Who computes the perturbations of the layer before the output:
        the compiled kernel (``"auto"`` when enough of that layer is checked)
        or NumPy (always used for the other layers).  Same results to round-off.

    Returns
    -------
    grad : ndarray of shape (len(indices),) or (n_params,), float64
        ``(J(θ + h⁺ e_p) - J(θ - h⁻ e_p)) / (h⁺ + h⁻)`` with the representable
        steps ``h⁺ = (θ_p + ε) - θ_p`` and ``h⁻ = θ_p - (θ_p - ε)``.
    """
    sizes = check_layer_sizes(layer_sizes)
    loss = check_loss(loss)
    lam = check_lam(lam)
    P = n_params(sizes)
    theta = check_theta(theta, P, np.float64, sizes)
    X = check_X(X, sizes[0], np.float64)
    Y = check_targets(y, X.shape[0], sizes[-1], np.float64)
    eps = float(epsilon)
    if not (eps > 0 and np.isfinite(eps)):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    indices = np.arange(P) if indices is None else np.asarray(indices, dtype=np.intp)
    n_threads = check_n_threads(n_threads)
    return _numerical(theta, X, Y, sizes, lam, loss, eps, indices, n_threads, engine)


def _numerical(theta, X, Y, sizes, lam, loss, eps, indices, n_threads, engine="auto", fw=None):
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    m = X.shape[0]
    fw = fw or _Forward(theta, X, Y, sizes, loss)
    t_plus = theta[indices] + eps
    t_minus = theta[indices] - eps
    step_plus = t_plus - theta[indices]
    step_minus = theta[indices] - t_minus

    # group the requested parameters by (layer, unit): one task each
    tasks = []
    for l, (start, end, shape) in enumerate(fw.offsets):
        sel = np.nonzero((indices >= start) & (indices < end))[0]
        if sel.size == 0:
            continue
        local = indices[sel] - start
        unit, col = np.divmod(local, shape[1])
        order = np.lexsort((col, unit))
        sel, unit, col = sel[order], unit[order], col[order]
        bounds = np.flatnonzero(np.diff(unit)) + 1
        for part_sel, part_unit, part_col in zip(np.split(sel, bounds), np.split(unit, bounds),
                                                 np.split(col, bounds)):
            tasks.append((l, int(part_unit[0]), part_col, part_sel))
    # longest tasks first for a balanced pool
    tasks.sort(key=lambda t: -(len(t[2]) * (1 + sum(sizes[t[0] + 2:]))))
    dloss = np.zeros(len(indices))
    kernel = _penultimate_kernel() if fw.n_layers >= 2 and engine != "numpy" else None
    if engine == "numba" and kernel is None and fw.n_layers >= 2:
        raise ImportError("engine='numba' needs numba")
    lk = fw.n_layers - 2
    n_lk = sum(len(t[2]) for t in tasks if t[0] == lk)
    few = n_lk < max(64, 0.05 * np.prod(fw.offsets[lk][2]))
    if kernel is not None and n_lk and (engine == "numba" or not few):
        # every perturbation of the layer before the output in one parallel call:
        # the units that have requested weights, over the union of requested inputs
        mine = [t for t in tasks if t[0] == lk]
        tasks = [t for t in tasks if t[0] != lk]
        n_cols = fw.offsets[lk][2][1]
        units = np.array([t[1] for t in mine], dtype=np.intp)
        wanted = np.zeros(n_cols, dtype=bool)
        for t in mine:
            wanted[t[2]] = True
        HP = np.zeros((len(mine), n_cols))
        HM = np.zeros((len(mine), n_cols))
        for u, t in enumerate(mine):
            HP[u, t[2]] = step_plus[t[3]]
            HM[u, t[2]] = step_minus[t[3]]
        indptr, kcols, kvals = fw.rows_layout(lk, wanted)
        res = np.zeros((len(mine), n_cols))
        import numba

        before = numba.get_num_threads()
        numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
        from .backends._numba_notice import compile_notice

        try:
            with compile_notice("gradient check"):  # a line on stderr if it compiles
                kernel(units, HP, HM, indptr, kcols, kvals, fw.Z[lk], np.exp(-np.abs(fw.Z[lk])),
                       fw.Z[lk + 1], np.exp(-np.abs(fw.Z[lk + 1])), fw.Y, fw.W[lk + 1],
                       fw.loss == "squared_error", res)
        finally:
            numba.set_num_threads(before)
        for u, t in enumerate(mine):
            dloss[t[3]] = res[u, t[2]]

    for l in sorted({t[0] for t in tasks}):
        fw.columns(l)  # build the shared layouts before the threads start

    def run(task):
        l, j, cols, sel = task
        dloss[sel] = _unit_work(fw, l, j, cols, step_plus[sel], step_minus[sel])

    if n_threads > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            list(pool.map(run, tasks))
    else:
        for task in tasks:
            run(task)

    dJ = dloss / m
    if lam:
        from .objective import l2_mask

        penalised = l2_mask(sizes)[indices]
        dJ += penalised * (lam / (2.0 * m)) * (t_plus * t_plus - t_minus * t_minus)
    return dJ / (step_plus + step_minus)


def brute_force_gradient(theta, X, y, layer_sizes, lam=0.0, loss="cross_entropy",
                         epsilon=1e-4, indices=None, dtype=np.float64):
    """Central differences by full recomputation of the cost (two forward passes per
    parameter, one perturbed copy of ``theta`` at a time: memory ``O(P)``).

    The slow textbook method, kept as a reference for :func:`numerical_gradient`.
    ``dtype=np.longdouble`` evaluates the cost in extended precision (x86: 64-bit
    mantissa) at the same float64 points ``θ ± ε``: a reference free of float64
    round-off, so what remains is the truncation error of central differences.
    """
    sizes = check_layer_sizes(layer_sizes)
    loss = check_loss(loss)
    lam = check_lam(lam)
    P = n_params(sizes)
    theta = check_theta(theta, P, np.float64, sizes).copy()
    X = check_X(X, sizes[0], np.float64)
    m = X.shape[0]
    Y = check_targets(y, m, sizes[-1], np.float64)
    from .objective import l2_mask

    mask = l2_mask(sizes)
    offsets = layer_offsets(sizes)

    dt = np.dtype(dtype)
    Xd, Yd, maskd = X.astype(dt), Y.astype(dt), mask.astype(dt)
    one = dt.type(1)

    def J(th):
        th = th.astype(dt)
        a = Xd
        for s, e, shape in offsets:
            w = th[s:e].reshape(shape)
            z = a @ w[:, 1:].T + w[:, 0]
            a = one / (one + np.exp(-z))
        if loss == "cross_entropy":
            values = np.maximum(z, 0) - Yd * z + np.log1p(np.exp(-np.abs(z)))
        else:
            values = (a - Yd) ** 2 / 2
        return np.sum(values) / m + dt.type(lam) / (2 * m) * np.sum(maskd * th * th)

    indices = np.arange(P) if indices is None else np.asarray(indices, dtype=np.intp)
    grad = np.empty(len(indices))
    for n, p in enumerate(indices):
        old = theta[p]
        theta[p] = old + epsilon
        hp = theta[p] - old
        jp = J(theta)
        theta[p] = old - epsilon
        hm = old - theta[p]
        jm = J(theta)
        theta[p] = old
        grad[n] = float((jp - jm) / (dt.type(hp) + dt.type(hm)))
    return grad


# --------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------

@dataclass
class LayerCheck:
    """The check of one weight matrix."""

    layer: int              # 1-based, as Theta1, Theta2, ...
    shape: tuple
    n_checked: int
    rel_diff: float
    max_abs_diff: float
    passed: bool

    @property
    def name(self) -> str:
        return f"Theta{self.layer}"


@dataclass
class GradientCheckResult:
    """What :func:`gradient_check` found.

    Attributes
    ----------
    rel_diff : float
        ``||num - ana|| / ||num + ana||`` over the checked parameters.
    passed : bool
        ``rel_diff <= threshold`` overall, in every layer, and the backend's
        cost agrees with the float64 reference cost.
    layers : list of LayerCheck
    worst : list of dict
        The parameters with the largest ``|num - ana|``: index, layer, unit,
        input (0 = bias), numerical, analytic, abs_diff.
    indices, numerical, analytic : ndarray
        The checked parameters and both gradients there.
    """

    rel_diff: float
    threshold: float
    passed: bool
    layers: List[LayerCheck]
    worst: List[dict]
    indices: np.ndarray
    numerical: np.ndarray
    analytic: np.ndarray
    layer_sizes: tuple
    m: int
    n_params: int
    lam: float
    loss: str
    backend: str
    dtype: str
    epsilon: float
    cost: float
    reference_cost: float
    cost_rel_diff: float
    seconds_numerical: float
    seconds_analytic: float
    noise_floor: float = 0.0
    data: str = ""
    failed_layers: List[str] = field(default_factory=list)

    @property
    def n_checked(self) -> int:
        return len(self.indices)

    def summary(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        lines = [
            f"gradient check {status}: backend {self.backend!r} ({self.dtype}), "
            f"layers {list(self.layer_sizes)}, m = {self.m}, loss {self.loss}, lambda = {self.lam:g}"
            + (f", data: {self.data}" if self.data else ""),
            f"  parameters checked: {self.n_checked} of {self.n_params}; central differences, "
            f"epsilon = {self.epsilon:g}",
            f"  relative difference ||num - ana|| / ||num + ana|| = {self.rel_diff:.3e} "
            f"(threshold {self.threshold:.0e}; a layer also passes when every |num - ana| <= "
            f"{self.noise_floor:.1e}, the round-off floor)",
            f"  cost: backend {self.cost:.12g}, float64 reference {self.reference_cost:.12g} "
            f"(relative difference {self.cost_rel_diff:.1e})",
            "  per layer:",
        ]
        for lc in self.layers:
            mark = "ok  " if lc.passed else "FAIL"
            lines.append(
                f"    {mark} {lc.name:<7} {lc.shape[0]:>4} x {lc.shape[1]:<5} checked {lc.n_checked:>6}  "
                f"rel diff {lc.rel_diff:.3e}  max |num - ana| {lc.max_abs_diff:.3e}")
        if self.worst:
            lines.append("  largest differences:")
            lines.append(f"    {'index':>7} {'layer':>7} {'unit':>5} {'input':>5} "
                         f"{'numerical':>14} {'analytic':>14} {'|diff|':>10}")
            for w in self.worst:
                lines.append(
                    f"    {w['index']:>7} {'Theta' + str(w['layer']):>7} {w['unit']:>5} {w['input']:>5} "
                    f"{w['numerical']:>14.6e} {w['analytic']:>14.6e} {w['abs_diff']:>10.2e}")
        lines.append(f"  time: numerical {self.seconds_numerical:.3f} s, analytic "
                     f"{self.seconds_analytic:.3f} s")
        if not self.passed:
            what = ", ".join(self.failed_layers) if self.failed_layers else "overall"
            lines.append(f"  the analytic gradient disagrees with central differences in: {what}")
        return "\n".join(lines)

    __str__ = summary

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "rel_diff", "threshold", "passed", "m", "n_params", "lam", "loss", "backend", "dtype",
            "epsilon", "cost", "reference_cost", "cost_rel_diff", "seconds_numerical",
            "seconds_analytic", "noise_floor", "data", "failed_layers", "worst")}
        d["layer_sizes"] = list(self.layer_sizes)
        d["n_checked"] = self.n_checked
        d["layers"] = [dict(layer=lc.layer, shape=list(lc.shape), n_checked=lc.n_checked,
                            rel_diff=lc.rel_diff, max_abs_diff=lc.max_abs_diff, passed=lc.passed)
                       for lc in self.layers]
        return d


# --------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------

def _sample_indices(sample, sizes, rng) -> np.ndarray:
    P = n_params(sizes)
    if sample is None:
        return np.arange(P)
    if isinstance(sample, (bool, np.bool_)):
        raise TypeError(f"sample must be None, an int, a fraction or an array of indices, got {sample!r}")
    if np.ndim(sample) == 1:
        idx = np.unique(np.asarray(sample, dtype=np.intp))
        if idx.size == 0 or idx[0] < 0 or idx[-1] >= P:
            raise ValueError(f"sample indices must lie in 0..{P - 1}")
        return idx
    if isinstance(sample, (int, np.integer)):
        n = int(sample)
        if n < 1:
            raise ValueError(f"sample must be at least 1, got {n}")
    elif isinstance(sample, (float, np.floating)):
        if not 0 < sample <= 1:
            raise ValueError(f"sample as a fraction must be in (0, 1], got {sample}")
        n = max(1, int(round(float(sample) * P)))
    else:
        raise TypeError(f"sample must be None, an int, a fraction or an array of indices, got {sample!r}")
    if n >= P:
        return np.arange(P)
    # stratified: every weight layer gets its share (at least one when n allows)
    offsets = layer_offsets(sizes)
    layer_n = np.array([e - s for s, e, _ in offsets])
    share = n * layer_n / P
    take = np.floor(share).astype(int)
    for i in np.argsort(-(share - take))[: n - take.sum()]:
        take[i] += 1
    if n >= len(offsets):
        while (take == 0).any():
            take[np.argmax(take)] -= 1
            take[np.argmax(take == 0)] = 1
    chosen = [s + rng.choice(e - s, size=k, replace=False)
              for (s, e, _), k in zip(offsets, take) if k]
    return np.sort(np.concatenate(chosen))


def gradient_check(theta=None, X=None, y=None, layer_sizes=None, lam=0.0, loss="cross_entropy",
                   backend="auto", epsilon=1e-4, sample=None, random_state=None, n_threads=None,
                   dtype=None, threshold=None, n_worst=5, data_name=""):
    """Compare a backend's analytic gradient with central differences.

    With no data this is ex4's ``checkNNGradients``: the small debug network
    of :func:`debug_problem` (``3 -> 5 -> 3``, m = 5, sin-based weights), or
    one with the given ``layer_sizes``.

    Parameters
    ----------
    theta : array-like of shape (n_params,), list of weight matrices, or None
        Where to check.  ``None``: the debug weights without data, random
        weights (``init_theta(..., "auto")``) with data.
    X, y : data, optional
        Inputs (m, n_in) and class indices or targets; default the debug data.
    layer_sizes : sequence of int, optional
        Needed with data unless ``theta`` is a list of matrices.
    lam : float, default 0.0
    loss : {"cross_entropy", "squared_error"}
    backend : str, default "auto"
        Whose analytic gradient to check.
    epsilon : float, default 1e-4
    sample : None, int, float in (0, 1] or array of int
        ``None`` checks every parameter; an int that many and a float that
        fraction, drawn at random (stratified by layer); an array, exactly
        those parameter indices.
    random_state : None, int or Generator
        For the sample and the default random weights.
    n_threads : int or None
        Threads for the numerical side and the backend.
    dtype : float64 or float32, optional
        Working dtype of the *backend* (the numerical side is float64).
    threshold : float, optional
        Largest relative difference that passes; default 1e-7 (1e-3 for a
        float32 backend).
    n_worst : int, default 5
        How many of the worst parameters to list.

    Returns
    -------
    GradientCheckResult
        ``print(result)`` gives the summary; ``result.passed`` the verdict.
    """
    from ._network import init_theta
    from .objective import Objective

    rng = np.random.default_rng(random_state)
    if isinstance(theta, (list, tuple)) and len(theta) and np.ndim(theta[0]) == 2:
        inferred = layer_sizes_of(theta)
        if layer_sizes is not None and tuple(check_layer_sizes(layer_sizes)) != inferred:
            raise ValueError(f"layer_sizes {list(layer_sizes)} do not match the weight matrices "
                             f"({list(inferred)})")
        layer_sizes = inferred
        theta = pack(theta, dtype=np.float64)
    if X is None:
        if y is not None:
            raise ValueError("y was given without X")
        sizes = check_layer_sizes(layer_sizes if layer_sizes is not None else (3, 5, 3))
        debug_theta, X, y, sizes = debug_problem(sizes)
        if theta is None:
            theta = debug_theta
        data_name = data_name or "ex4 checkNNGradients debug data"
    else:
        if layer_sizes is None:
            raise ValueError("layer_sizes is needed with X (or pass theta as a list of weight matrices)")
        sizes = check_layer_sizes(layer_sizes)
        if y is None:
            raise ValueError("X was given without y")
        if theta is None:
            theta = init_theta(sizes, "auto", random_state=rng)
    loss = check_loss(loss)
    lam = check_lam(lam)
    P = n_params(sizes)
    theta64 = check_theta(theta, P, np.float64, sizes)
    X64 = check_X(X, sizes[0], np.float64)
    m = X64.shape[0]
    Y64 = check_targets(y, m, sizes[-1], np.float64)
    n_threads = check_n_threads(n_threads)
    eps = float(epsilon)
    if not (eps > 0 and np.isfinite(eps)):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    indices = _sample_indices(sample, sizes, rng)

    t0 = time.perf_counter()
    objective = Objective(X64 if dtype is None else X64.astype(dtype), Y64, sizes, lam=lam,
                          loss=loss, backend=backend, n_threads=n_threads,
                          dtype=np.float64 if dtype is None else dtype)
    J, grad = objective(theta64.astype(objective.dtype))
    t1 = time.perf_counter()
    fw = _Forward(theta64, X64, Y64, sizes, loss)
    num = _numerical(theta64, X64, Y64, sizes, lam, loss, eps, indices, n_threads, fw=fw)
    t2 = time.perf_counter()
    ana = grad[indices]

    # reference cost in float64 from the same forward pass the differences use
    fw_cost = fw.loss_sum / m
    if lam:
        from .objective import l2_mask

        fw_cost += lam / (2.0 * m) * float(np.sum(l2_mask(sizes) * theta64 * theta64))
    cost_rel = abs(J - fw_cost) / max(abs(fw_cost), 1e-300)

    if threshold is None:
        threshold = DEFAULT_THRESHOLD if objective.dtype == np.float64 else DEFAULT_THRESHOLD_FLOAT32
    rel = relative_difference(num, ana)
    # round-off floor: differences this small are noise, not a wrong gradient
    # (deep layers of a sigmoid network can have gradients of 1e-6 and less)
    noise_floor = max(100 * np.finfo(np.float64).eps * max(abs(fw_cost), 1.0) / eps,
                      10 * np.finfo(objective.dtype).eps * float(np.max(np.abs(ana), initial=0.0)))
    diff = np.abs(num - ana)
    layers, failed = [], []
    offsets = layer_offsets(sizes)
    for l, (s, e, shape) in enumerate(offsets):
        sel = (indices >= s) & (indices < e)
        if not sel.any():
            continue
        r = relative_difference(num[sel], ana[sel])
        lc = LayerCheck(layer=l + 1, shape=shape, n_checked=int(sel.sum()), rel_diff=r,
                        max_abs_diff=float(np.max(np.abs(num[sel] - ana[sel]))),
                        passed=bool(r <= threshold or np.max(np.abs(num[sel] - ana[sel])) <= noise_floor))
        layers.append(lc)
        if not lc.passed:
            failed.append(f"{lc.name} (layer {lc.layer}, {shape[0]}x{shape[1]})")
    cost_ok = cost_rel <= max(threshold, 1e-12)
    if not cost_ok:
        failed.append("the cost itself")
    worst = []
    for n in np.argsort(-diff, kind="stable")[: max(0, int(n_worst))]:
        p = int(indices[n])
        l = next(i for i, (s, e, _) in enumerate(offsets) if s <= p < e)
        unit, inp = divmod(p - offsets[l][0], offsets[l][2][1])
        worst.append(dict(index=p, layer=l + 1, unit=int(unit), input=int(inp),
                          numerical=float(num[n]), analytic=float(ana[n]),
                          abs_diff=float(diff[n])))
    overall_ok = rel <= threshold or float(np.max(diff, initial=0.0)) <= noise_floor
    passed = bool(overall_ok and all(lc.passed for lc in layers) and cost_ok)
    return GradientCheckResult(
        rel_diff=rel, threshold=float(threshold), passed=passed, layers=layers, worst=worst,
        indices=indices, numerical=num, analytic=ana, layer_sizes=sizes, m=m, n_params=P,
        lam=lam, loss=loss, backend=objective.backend.name, dtype=str(objective.dtype),
        epsilon=eps, cost=float(J), reference_cost=float(fw_cost), cost_rel_diff=float(cost_rel),
        seconds_numerical=t2 - t1, seconds_analytic=t1 - t0, noise_floor=float(noise_floor),
        data=data_name, failed_layers=failed)
