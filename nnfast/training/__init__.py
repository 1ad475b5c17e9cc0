"""Training: scipy optimisers, gradient descent, mini-batch SGD and Adam.

:func:`train` minimises the regularised cost of an :class:`nnfast.Objective`
and returns a :class:`TrainResult`; :func:`validation_curve` trains for a list
of λ values, warm-starting each fit from the previous one.

The iteration budget
--------------------
``max_iter`` has one meaning for every method: the number of *iterations*,
where an iteration is one update of ``theta`` that uses the whole training
set once.  For ``"L-BFGS-B"``, ``"TNC"`` and ``"CG"`` that is one iteration of
the optimiser (scipy's ``nit``); for ``"gd"`` one gradient step; for
``"sgd"`` and ``"adam"`` one epoch (a pass over all mini-batches).  The cost
is recorded once per iteration.  ``max_fun`` additionally caps the number of
cost/gradient evaluations on the full training set (scipy's ``nfev``); the
line searches of the scipy methods use several evaluations per iteration.
The ``options={'maxiter': 400}`` of the ex4 notebooks, with TNC, is in fact a
budget of 400 *evaluations* (about 25-30 TNC iterations): that is
``method="TNC", max_fun=400`` here.

Where things live
-----------------
``_train``: :func:`train` itself; ``_arguments``: its checks and ``METHODS``;
``_training_run``: the per-iteration bookkeeping every method shares;
``_evaluations``: counted, budgeted, cached cost/gradient calls;
``_scipy_methods``, ``_gradient_descent``, ``_minibatch``: the methods;
``_results``: :class:`TrainResult`, :class:`IterationInfo`;
``_scoring``: validation cost and accuracy; ``_validation_curve``: the λ sweep.
"""

from ._arguments import METHODS
from ._results import IterationInfo, TrainResult
from ._train import train
from ._validation_curve import ValidationCurve, validation_curve

__all__ = ["train", "TrainResult", "IterationInfo", "validation_curve", "ValidationCurve",
           "METHODS"]
