"""StageClock: consecutive stages that add up to the evaluation's wall time."""

from __future__ import annotations

import time

import pytest

from unet1d.evaluation.timing import StageClock


def test_stages_follow_each_other_and_add_up_to_the_whole() -> None:
    started = time.perf_counter()
    clock = StageClock(started)
    time.sleep(0.02)
    first = clock.mark("first")
    time.sleep(0.01)
    clock.mark("second")
    time.sleep(0.01)
    again = clock.mark("first")  # a stage marked twice sums its parts
    whole = time.perf_counter() - started
    assert list(clock.seconds) == ["first", "second"]
    assert first >= 0.02 and again >= first + 0.01 and clock.seconds["second"] >= 0.01
    assert sum(clock.seconds.values()) == pytest.approx(whole, abs=1e-3)  # no gap and no overlap between stages
