"""Data-parallel cost and gradient on a Dask cluster: :class:`DistributedObjective`.

Needs the optional extra ``pip install nnfast[distributed]`` (``dask[distributed]``);
``import nnfast`` itself never imports dask.  The guide (how it works, the inputs,
running on a real cluster, when it pays) is ``docs/distributed.md``.
"""

try:
    import dask  # noqa: F401
    import distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        "nnfast.distributed needs dask[distributed]; install it with "
        "`pip install nnfast[distributed]`"
    ) from exc

from ._errors import ShardLostError
from ._objective import DistributedObjective

__all__ = ["DistributedObjective", "ShardLostError"]
