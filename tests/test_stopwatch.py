"""The run clock leaves a pause out: a child process is stopped (SIGSTOP) for 3 s and continued."""
import os
import signal
import subprocess
import sys
import time

import pytest

from snnlab.runs import Stopwatch

CHILD = """
import sys, time
from snnlab.runs import Stopwatch
clock = Stopwatch(tick=0.1, tolerance=0.5).start()
began = time.perf_counter()
print("ready", flush=True)
sys.stdin.readline()  # the parent stops us, waits, continues us, then writes a line
print(round(clock.stop(), 2), round(time.perf_counter() - began, 2), round(clock.paused, 2), flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGSTOP is POSIX")
def test_a_stopped_process_does_not_count_the_pause():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        child.send_signal(signal.SIGSTOP)
        time.sleep(3.0)
        child.send_signal(signal.SIGCONT)
        time.sleep(0.5)
        child.stdin.write("go\n")
        child.stdin.flush()
        worked, wall, paused = map(float, child.stdout.readline().split())
    finally:
        child.kill()
        child.wait()
    assert wall >= 3.9  # 0.5 + 3 stopped + 0.5, and the start
    assert 2.7 <= paused <= 3.3, (worked, wall, paused)
    assert abs(worked - (wall - paused)) < 0.05
    assert worked < 1.5


def test_an_unpaused_clock_counts_wall_time():
    with Stopwatch(tick=0.05, tolerance=0.5) as clock:
        began = time.perf_counter()
        time.sleep(0.3)
        seconds = clock.elapsed()
    assert clock.paused == 0.0
    assert abs(seconds - (time.perf_counter() - began)) < 0.05
    time.sleep(0.1)
    assert clock.elapsed() == clock.elapsed() <= seconds + 0.05  # a stopped clock stands still


def test_bad_settings_and_an_unstarted_clock_are_refused():
    with pytest.raises(ValueError, match="tick < tolerance"):
        Stopwatch(tick=1.0, tolerance=0.5)
    with pytest.raises(RuntimeError, match="before start"):
        Stopwatch().elapsed()


def test_a_clock_started_again_counts_afresh_and_refuses_a_second_start():
    clock = Stopwatch(tick=0.05, tolerance=0.5).start()
    with pytest.raises(RuntimeError, match="while it runs"):
        clock.start()
    time.sleep(0.2)
    first = clock.stop()
    clock.start()
    assert clock.elapsed() < first  # the old run's time is not carried over
    time.sleep(0.1)
    assert clock.stop() >= 0.1
