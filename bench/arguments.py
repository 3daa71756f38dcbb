"""argparse types the benchmarks share: a count or a length that must be positive is refused by argparse itself,
in one line with exit code 2, before any work (instead of a StatisticsError or a hang minutes later)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number > 0")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number >= 0")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be a finite number > 0")
    return value
