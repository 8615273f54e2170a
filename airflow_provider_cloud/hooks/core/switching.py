"""
A shorter interpreter switch interval while a background I/O thread works beside a busy caller.

Pipelined reads and writes run the HTTP exchange on one thread while the caller's thread parses,
converts and encodes rows. When a response arrives, the I/O thread must take the GIL back from the
busy caller, and CPython hands it over only every ``sys.getswitchinterval()`` (5 ms by default):
with a batch sent every 10 to 20 ms, that wait alone costs a quarter of the throughput. While at
least one pipeline runs, the interval is lowered to :data:`SWITCH_INTERVAL`; the last one to finish
puts the previous value back, unless somebody else changed it meanwhile.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The switch interval while a pipeline runs, in seconds.
SWITCH_INTERVAL = 0.0005

_lock = threading.Lock()
_active = 0
_saved: float | None = None
_ours: float | None = None


@contextmanager
def quick_thread_switching() -> Iterator[None]:
    """Lower the interpreter's switch interval for the duration (nested and concurrent uses share it)."""
    global _active, _saved, _ours
    with _lock:
        if _active == 0:
            current = sys.getswitchinterval()
            if current > SWITCH_INTERVAL:
                _saved = current
                sys.setswitchinterval(SWITCH_INTERVAL)
                _ours = sys.getswitchinterval()
            else:
                _saved = _ours = None
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                if sys.getswitchinterval() == _ours:  # nobody else changed it meanwhile
                    sys.setswitchinterval(_saved)
                _saved = _ours = None
