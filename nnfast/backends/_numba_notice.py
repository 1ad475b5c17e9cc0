"""A one-line note on stderr while numba compiles one of nnfast's kernels.

A cold compile of a fused kernel takes seconds, once per machine and numba
version; afterwards the machine code comes from numba's disk cache.  numba
fires its ``numba:compile`` event only for a real compile (a cache load does
not fire it), so listening to it tells the two apart.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from numba.core import event as _event

MESSAGE = "nnfast: compiling the numba kernel{what} (once; cached afterwards)..."

_lock = threading.Lock()


class _FirstCompile(_event.Listener):
    """Prints :data:`MESSAGE` at the first compile it hears of, then stays quiet."""

    def __init__(self, what: str):
        self.what = what
        self.printed = False

    def on_start(self, event):
        if not self.printed:
            self.printed = True
            print(MESSAGE.format(what=f" ({self.what})" if self.what else ""),
                  file=sys.stderr, flush=True)

    def on_end(self, event):
        pass


@contextlib.contextmanager
def compile_notice(what: str = ""):
    """Within the block, announce on stderr (one line) if numba compiles anything.

    Parameters
    ----------
    what : str
        Which kernel, shown in the line (e.g. ``"loss+gradient, float64"``).
    """
    listener = _FirstCompile(what)
    # numba's listener registry is global: serialise registering and removing
    with _lock:
        _event.register("numba:compile", listener)
    try:
        yield listener
    finally:
        with _lock:
            _event.unregister("numba:compile", listener)
