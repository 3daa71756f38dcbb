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
