"""A run's working time: wall-clock seconds, less the time the process was stopped.

A long training may be paused (``kill -STOP`` then ``kill -CONT``, or Ctrl-Z then ``fg`` in a terminal)
or its machine suspended; a plain ``time.perf_counter()`` difference would count that pause as training
time. :class:`Stopwatch` runs a daemon thread that ticks every ``tick`` seconds: a stopped process ticks
no more, so when it runs again the gap between two ticks is far longer than a tick, and the excess over
``tolerance`` is counted as paused, not worked. SIGSTOP cannot be caught, so no signal handler could do
this; the heartbeat needs none. Written here because neither the standard library nor torch has such a
clock (``time.process_time`` counts CPU seconds over all threads, which is not wall time on 2 cores or on
a GPU).
"""
from __future__ import annotations

import threading
import time


class Stopwatch:
    """``elapsed()``: seconds since ``start()``, less pauses longer than ``tolerance``; ``paused``: the
    seconds left out. Use as a context manager, or call ``start()`` and ``stop()``."""

    def __init__(self, tick: float = 0.5, tolerance: float = 5.0):
        if tick <= 0 or tolerance <= tick:
            raise ValueError(f"need 0 < tick < tolerance, got tick={tick}, tolerance={tolerance}")
        self.tick, self.tolerance = tick, tolerance
        self.paused = 0.0
        self._began = self._last = self._stopped = None
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def start(self) -> "Stopwatch":
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("Stopwatch.start() while it runs; stop() it first, or make another")
        self.paused, self._stopped = 0.0, None
        self._halt.clear()
        self._began = self._last = time.perf_counter()
        self._thread = threading.Thread(target=self._beat, name="snnlab-stopwatch", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._halt.wait(self.tick):
            self._catch_up()

    def _catch_up(self) -> None:
        with self._lock:
            now = time.perf_counter()
            gap = now - self._last
            if gap > self.tolerance:  # the process (or machine) was stopped for about gap - tick
                self.paused += gap - self.tick
            self._last = now

    def elapsed(self) -> float:
        """The working seconds so far; once stopped, the working seconds until then."""
        if self._began is None:
            raise RuntimeError("Stopwatch.elapsed() before start()")
        if self._stopped is not None:
            return self._stopped
        self._catch_up()  # a pause that ended after the last tick counts too
        return time.perf_counter() - self._began - self.paused

    def stop(self) -> float:
        self._stopped = self.elapsed()
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        return self._stopped

    def __enter__(self) -> "Stopwatch":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
