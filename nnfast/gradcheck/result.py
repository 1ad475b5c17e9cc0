"""What a gradient check found: :class:`GradientCheckResult` and its :class:`LayerCheck` rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import numpy as np


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
        """``"Theta1"``, ``"Theta2"``, ... as in ex4."""
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
    activations: tuple = ()
    output: str = "logistic"

    @property
    def n_checked(self) -> int:
        """How many parameters were checked."""
        return len(self.indices)

    def summary(self) -> str:
        """The verdict, per-layer figures and worst parameters as a readable report."""
        from .._activations import describe

        status = "PASSED" if self.passed else "FAILED"
        lines = [
            f"gradient check {status}: backend {self.backend!r} ({self.dtype}), "
            f"layers {list(self.layer_sizes)}, m = {self.m}, "
            f"network {describe(self.activations, self.output, self.loss)}, lambda = {self.lam:g}"
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
        """The figures as plain Python values (for JSON), without the index and gradient arrays."""
        d = {k: getattr(self, k) for k in (
            "rel_diff", "threshold", "passed", "m", "n_params", "lam", "loss", "backend", "dtype",
            "epsilon", "cost", "reference_cost", "cost_rel_diff", "seconds_numerical",
            "seconds_analytic", "noise_floor", "data", "failed_layers", "worst", "output")}
        d["activations"] = list(self.activations)
        d["layer_sizes"] = list(self.layer_sizes)
        d["n_checked"] = self.n_checked
        d["layers"] = [dict(layer=lc.layer, shape=list(lc.shape), n_checked=lc.n_checked,
                            rel_diff=lc.rel_diff, max_abs_diff=lc.max_abs_diff, passed=lc.passed)
                       for lc in self.layers]
        return d
