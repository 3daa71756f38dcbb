"""The TensorBoard reader on a damaged events file: the values before the damage, and one warning naming it."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from tests.run_folders import make_run
from unet1d.store.curves import read_curves

POINTS = [(step, 1000.0 + step, 1.0 / step) for step in range(1, 41)]


def records(path: Path) -> list[tuple[int, int]]:
    """(start, end) byte offsets of every whole record, from TFRecord framing: an 8-byte length, its
    4-byte CRC, the data, the data's 4-byte CRC (read here apart from TensorBoard's reader)."""
    data, found, offset = path.read_bytes(), [], 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        end = offset + 12 + length + 4
        if end > len(data):
            break
        found.append((offset, end))
        offset = end
    return found


def scalar_steps(path: Path, upto: int) -> list[int]:
    """Steps of the val/loss events held in the records that end at or before byte ``upto``."""
    from tensorboard.compat.proto.event_pb2 import Event

    data, steps = path.read_bytes(), []
    for start, end in records(path):
        if end > upto:
            break
        event = Event.FromString(data[start + 12 : end - 4])
        steps += [event.step for value in event.summary.value if value.tag == "val/loss"]
    return steps


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", scalars={"val/loss": POINTS})


def events_file(run: Path) -> Path:
    (path,) = (run / "tensorboard").glob("events.out.tfevents*")
    return path


def test_a_file_damaged_in_the_middle_keeps_the_values_before_and_warns_once(run, capsys) -> None:
    path = events_file(run)
    assert scalar_steps(path, path.stat().st_size) == list(range(1, 41))  # the framing walk sees every point
    start, end = records(path)[len(records(path)) // 2]
    data = bytearray(path.read_bytes())
    data[end - 6] ^= 0xFF  # one byte of that record's event data: its CRC no longer matches
    path.write_bytes(bytes(data))
    before = scalar_steps(path, start)
    assert 5 < len(before) < 35

    curves = read_curves(run)
    assert curves.steps("val/loss") == before
    assert curves.values("val/loss") == pytest.approx([1.0 / step for step in before])
    (line,) = warnings(capsys.readouterr().err)
    assert str(path) in line and "damaged" in line

    assert read_curves(run).steps("val/loss") == before  # read again (sweep local polls): no second line
    assert warnings(capsys.readouterr().err) == []


def test_a_file_cut_short_inside_a_record_reads_what_is_whole_without_a_warning(run, capsys) -> None:
    """What a run still writing looks like: nothing after the cut exists, so nothing is lost."""
    path = events_file(run)
    start, end = records(path)[-5]
    path.write_bytes(path.read_bytes()[: (start + end) // 2])
    kept = scalar_steps(path, start)
    assert 30 < len(kept) < 40
    assert read_curves(run).steps("val/loss") == kept
    assert warnings(capsys.readouterr().err) == []


def test_reading_leaves_tensorboards_logger_as_it_was(run, caplog) -> None:
    logger = logging.getLogger("tensorboard")
    level, filters = logger.level, list(logger.filters)
    with caplog.at_level(logging.DEBUG):
        read_curves(run)
    assert (logger.level, logger.filters) == (level, filters)


def test_a_resumed_runs_second_session_reads_without_tensorboards_purge_warnings(tmp_path: Path, caplog) -> None:
    # killed at step 40 with its last checkpoint at 20: the resumed session logs 21.. again (compare warned per tag)
    import time

    from torch.utils.tensorboard import SummaryWriter

    board = tmp_path / "run" / "tensorboard"
    for steps, value, purge in ((range(1, 41), 1.0, None), (range(21, 31), 2.0, 21)):
        with SummaryWriter(str(board), purge_step=purge) as writer:  # as the loop resumes (tracking.py)
            for step in steps:
                writer.add_scalar("val/loss", value, step)
        # a later file name, so the sessions are read in order: names start with the second they were made in, and
        # within one second order by a per-process counter that sorts as text (writer 10 before writer 9)
        time.sleep(1.01 - time.time() % 1)
    with caplog.at_level(logging.WARNING, logger="tensorboard"):
        curves = read_curves(tmp_path / "run")
    assert not [r for r in caplog.records if "out of order" in r.getMessage()]
    values = {step: value for step, _, value in curves.points["val/loss"]}
    assert sorted(values) == list(range(1, 31)) and values[25] == 2.0 and values[20] == 1.0  # the killed 31..40 gone
