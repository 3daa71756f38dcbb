"""A distributed run that loses a machine stops everywhere: the lost-peer message (the launcher watch
itself is exercised end to end in test_multinode.py)."""

from __future__ import annotations

from unet1d.training.launcher_watch import lost_peer_message


def test_a_lost_peer_is_explained_only_in_a_distributed_run():
    gloo = RuntimeError("[pair.cc:537] Read error [127.0.0.1]:6567: Connection reset by peer. GLHF")
    message = lost_peer_message(gloo, {"WORLD_SIZE": "2", "RANK": "0"})
    assert message and "rank 0 of 2" in message and "Connection reset by peer" in message
    assert lost_peer_message(gloo, {}) is None  # one process: not a peer problem
    assert lost_peer_message(RuntimeError("shape mismatch"), {"WORLD_SIZE": "2"}) is None
    unhandled = RuntimeError("NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error")
    assert lost_peer_message(unhandled, {"WORLD_SIZE": "2"}) is None  # its traceback, not "another process stopped"
    exited = RuntimeError("NCCL Error 6: remote process exited or there was a network error")
    assert "another process of this distributed run stopped answering" in lost_peer_message(exited, {"WORLD_SIZE": "2"})
