"""The eval command's processes: a network in pieces gives its whole batch's numbers, threads come back."""

from __future__ import annotations

import pickle
import time

import torch

from unet1d.evaluation import side_by_side


def tiny_network(mid: str) -> torch.nn.Module:
    from unet1d.config import ModelConfig
    from unet1d.model import UNet1D

    torch.manual_seed(0)
    return UNet1D.from_config(ModelConfig(base_channels=8, channel_mults=[1, 2], mid=mid)).eval()


def test_a_network_in_pieces_gives_the_whole_batchs_numbers_to_the_last_bit() -> None:
    """Rows never meet in the network (group norm, attention over the pose's own joints), so pieces of at least
    MIN_PIECE_ROWS give the batch's outputs bit for bit: per-row timesteps, one timestep for all, a short last
    piece joined to the one before (70 rows in 32s: 32 + 38)."""
    x = torch.randn(70, 72, generator=torch.Generator().manual_seed(1))
    steps = torch.randint(0, 1000, (70,), generator=torch.Generator().manual_seed(2))
    for mid in ("conv", "attention-8"):
        network = tiny_network(mid)
        with torch.inference_mode():
            whole, shared = network(x, steps), network(x, torch.tensor(500))
            for rows in (1, 32, 35, 69, 70, 512):
                pieces = side_by_side.InPieces(network, rows)
                assert torch.equal(pieces(x, steps), whole) and torch.equal(pieces(x, torch.tensor(500)), shared)
    assert not torch.equal(whole[:35], network(x[35:], steps[35:]))  # rows differ: equal outputs are no accident


class Doubling(torch.nn.Module):
    """A stand-in network that records the rows of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        return x * 2


def test_pieces_are_cut_at_the_rows_asked_and_never_below_the_minimum() -> None:
    network = Doubling()
    pieces = side_by_side.InPieces(network, 256)
    x = torch.arange(600.0)[:, None]
    assert torch.equal(pieces(x, torch.zeros(600)), x * 2) and network.calls == [256, 256, 88]
    network.calls.clear()
    pieces(torch.zeros(520, 1), torch.zeros(520))
    assert network.calls == [256, 264]  # 8 left over: joined to the last piece
    assert side_by_side.InPieces(network, 4).rows == side_by_side.MIN_PIECE_ROWS


def test_pieces_only_on_the_cpu_and_never_twice_and_a_packed_network_comes_back_in_pieces() -> None:
    network = tiny_network("conv")
    wrapped = side_by_side.in_pieces(network)
    assert isinstance(wrapped, side_by_side.InPieces) and side_by_side.in_pieces(wrapped) is wrapped
    unpacked = side_by_side.unpack(side_by_side.pack(network))
    assert isinstance(unpacked, side_by_side.InPieces) and not unpacked.training
    assert pickle.loads(side_by_side.pack(network)).state_dict().keys() == network.state_dict().keys()


def test_torch_threads_are_held_inside_and_given_back() -> None:
    before = torch.get_num_threads()
    with side_by_side.torch_threads(1):
        assert torch.get_num_threads() == 1
    with side_by_side.torch_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_a_busy_machine_is_seen_and_the_layout_can_be_fixed(monkeypatch) -> None:
    """Another process spinning a core is 'busy' (the side-by-side layout); this process's own CPU is not."""
    import subprocess
    import sys

    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.5)
        assert side_by_side.machine_busy()
    finally:
        spinner.kill()
        spinner.wait()
    monkeypatch.setattr(side_by_side, "LAYOUT", "never")
    assert not side_by_side.machine_busy()
    monkeypatch.setattr(side_by_side, "LAYOUT", "always")
    assert side_by_side.machine_busy()
