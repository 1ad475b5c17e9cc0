"""How the fused backends cut the rows into chunks and how many threads share them.

Both fused kernels (numba and cython) accumulate each chunk's gradient into
its own slab and sum the slabs in chunk order.  The chunks depend on the
machine (its core count, read once per process), on the data and on the
network, never on ``n_threads``: every thread count then sums the same
numbers in the same order, and results are bitwise identical for any
``n_threads``.  What differs by the nature of a backend (rows per block, the
work below which waking a second thread does not pay) is passed in.
"""

from __future__ import annotations

import functools

from .._validation import cpu_count

__all__ = ["CHUNKS_PER_CORE", "SLAB_BUDGET", "machine_cores", "chunk_count", "threads_for"]

#: chunks of rows (each with its own gradient slab) per core, which threads take
#: one at a time, so that every core can be used and a thread the OS delays is
#: made up for by the others
CHUNKS_PER_CORE = 4
#: at most this many bytes of gradient slabs per call
SLAB_BUDGET = 64 * 2**20


@functools.lru_cache(maxsize=1)
def machine_cores() -> int:
    """Cores of the machine as the chunking sees them (:func:`nnfast._validation.cpu_count`).

    Read once per process, so that the chunks (and with them the bits of every
    result) cannot change between calls, and no call pays for reading the count.
    """
    return cpu_count()


def chunk_count(n_blocks: int, n_params: int, itemsize: int) -> int:
    """Chunks of consecutive row blocks, one gradient slab each.

    ``CHUNKS_PER_CORE`` per core of the machine, at most one per block, and at
    most ``SLAB_BUDGET`` bytes of slabs; never from ``n_threads``.

    Parameters
    ----------
    n_blocks : int
        Blocks of rows the data are cut into.
    n_params : int
        Length of a gradient slab.
    itemsize : int
        Bytes per value of the working dtype.
    """
    by_memory = max(1, SLAB_BUDGET // max(1, n_params * itemsize))
    return max(1, min(CHUNKS_PER_CORE * machine_cores(), n_blocks, by_memory))


def threads_for(n_threads: int, n_chunks: int, work: int, serial_work: int) -> int:
    """Threads a call actually uses: never more than its chunks, one for small work.

    Parameters
    ----------
    n_threads : int
        Threads asked for.
    n_chunks : int
        From :func:`chunk_count`.
    work : int
        Multiply-adds of the call (rows x parameters).
    serial_work : int
        Below this much work one thread is faster than waking others (the
        backend's thread start-up cost decides it).
    """
    if work < serial_work:
        return 1
    return max(1, min(int(n_threads), n_chunks))
