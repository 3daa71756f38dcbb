"""Whether network arguments can build a UNet1D: shared by the config's validators and the model itself.

No torch and no unet1d imports: it sits in the bottom layer, so the config (and so ``--help``) can
import it without an arrow pointing up into the model package.
"""

from __future__ import annotations

from collections.abc import Iterable


def valid_head_counts(channels: int) -> list[int]:
    """Head counts that split ``channels`` evenly."""
    return [h for h in range(1, channels + 1) if channels % h == 0]


def model_argument_problem(
    pose_dim: int,
    base_channels: int,
    channel_mults: Iterable[int],
    mid_structure: str,
    mid_num_heads: int,
    downsample: bool,
) -> str | None:
    """Why these network arguments cannot build a UNet1D, or None. Shared by the config and the model."""
    whole = {"pose_dim": pose_dim, "base_channels": base_channels}
    if mid_structure == "attention":  # a conv middle never reads its head count
        whole["mid_num_heads"] = mid_num_heads
    for name, value in whole.items():
        if not _whole_number(value):
            return f"{name}={value!r} must be a whole number (int), not {type(value).__name__}"
    if not isinstance(downsample, bool):
        return f"downsample={downsample!r} must be True or False, not {type(downsample).__name__}"
    if isinstance(channel_mults, (str, bytes)) or not isinstance(channel_mults, Iterable):
        return f"channel_mults={channel_mults!r} must be a non-empty list of positive integers"
    mults = list(channel_mults)
    if not all(_whole_number(m) for m in mults):
        return f"channel_mults={mults} must be a non-empty list of positive integers"
    if mid_structure not in ("conv", "attention"):
        return f"mid_structure={mid_structure!r} is not allowed; choose 'conv' or 'attention'"
    if pose_dim <= 0:
        return f"pose_dim={pose_dim} must be a positive integer"
    if base_channels <= 0 or base_channels % 2:
        return f"base_channels={base_channels} must be a positive even number (the timestep's sin/cos features)"
    if not mults or any(m <= 0 for m in mults):
        return f"channel_mults={mults} must be a non-empty list of positive integers"
    mid_channels = base_channels * mults[-1]
    if mid_structure == "attention" and (mid_num_heads <= 0 or mid_channels % mid_num_heads):
        heads = ", ".join(map(str, valid_head_counts(mid_channels)))
        why = "must be positive" if mid_num_heads <= 0 else f"does not divide the {mid_channels} middle channels"
        return (
            f"mid_num_heads={mid_num_heads} {why} (base_channels {base_channels} x {mults[-1]}); "
            f"valid head counts: {heads}"
        )
    factor = 2 ** (len(mults) - 1) if downsample else 1
    if pose_dim % factor:
        lower, upper = (pose_dim // factor) * factor, (pose_dim // factor + 1) * factor
        nearby = f"{lower} or {upper}" if lower else f"{upper}"
        return (
            f"pose_dim={pose_dim} cannot be halved {len(mults) - 1} times (channel_mults={mults}): "
            f"it must be a multiple of {factor}, e.g. {nearby}; or set downsample=false"
        )
    return None


def _whole_number(value: object) -> bool:
    """An int (numpy's too), not a bool: True would build a one-head network, 128.0 fail deep in torch."""
    return not isinstance(value, bool) and hasattr(value, "__index__") and not isinstance(value, (str, bytes))
