"""Human joint limits: clinical ranges of motion mapped onto SMPL's joint axes.

Why not the generator's ranges (:data:`unet1d.body.skeleton.GENERATOR_RANGES`)? Those bound
what the built-in generator draws, a little past its own motions; real people go further (a
deep bend puts spine1 near 1.4 rad, MoSh fits drop a collar to -0.66 rad), so most real frames
would count as off-limits. These limits are meant to hold for real motion capture.

Source: the average adult ranges of motion of the American Academy of Orthopaedic Surgeons,
*Joint Motion: Method of Measuring and Recording* (AAOS, 1965; reprinted in Greene & Heckman,
*The Clinical Measurement of Joint Motion*, AAOS 1994), the goniometry reference of Norkin &
White (*Measurement of Joint Motion*, 5th ed., 2016) for the cervical and thoracolumbar spine,
and the scapulohumeral rhythm (Inman, Saunders & Abbott 1944: the scapula provides about 60 deg
of the arm's 180 deg elevation) for SMPL's collar. Each row of :data:`CLINICAL_RANGES` names
the motions it holds; docs/amass.md tabulates the resulting limits.

The mapping onto SMPL (rest frame: x to the body's left, y up, z forward; every joint's axes
are its parent's in the rest pose, the T-pose):

1. Each clinical motion becomes a signed range about the SMPL axis it turns about (for a left
   joint; right joints mirror: x kept, y and z negated and swapped). Signs: hip and shoulder
   flexion and ankle dorsiflexion are -x, knee and spine flexion +x, left elbow flexion -y,
   left arm elevation +z. The shoulder's zero is SMPL's T-pose (arm at 90 deg abduction), so
   its clinical 0-180 deg abduction becomes -90..+90 deg about z.
2. A joint complex that SMPL spreads over several joints gives each of them the whole
   complex's range, because fits distribute it unevenly: spine1/2/3 each get the thoracolumbar
   range, neck and head each the cervical range, elbow and wrist each the forearm's pronation
   and supination, and the collar the scapula's share of arm elevation both ways.
3. Axis-angle components are not Euler angles: a 90 deg flexion with a 40 deg twist moves all
   three components. The limits are the component-wise envelope of the axis-angle vectors of
   every combination of the three ranges (a 5-point grid per axis, all six Euler orders),
   widened by :data:`FIT_MARGIN` for marker-fitting noise.

Poses are (N, 72) / (N, 63) axis-angle radians, as everywhere in :mod:`unet1d.data`.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from unet1d.body.rotations import euler_to_axis_angle
from unet1d.body.skeleton import JOINT_NAMES, NUM_JOINTS

FIT_MARGIN = 0.1  # radians each side: marker-fitting noise on top of the clinical envelope
LIMIT_TOLERANCE = 0.05  # radians: a frame counts as outside only when a component passes a limit by more

Range = tuple[float, float]
# Degrees about SMPL's (x, y, z) for the left and centre joints, with the clinical motions they hold.
CLINICAL_RANGES: dict[str, tuple[Range, Range, Range, str]] = {
    "left_hip": ((-120, 30), (-45, 45), (-30, 45),
                 "flexion 120 / extension 30; internal / external rotation 45; adduction 30 / abduction 45 (AAOS)"),
    "left_knee": ((-10, 150), (-40, 40), (-10, 10),
                  "flexion 150 (AMA Guides; AAOS 135 is active, a loaded squat goes further), hyperextension 10; "
                  "tibial rotation 40 each way, varus/valgus 10 (Norkin)"),
    "left_ankle": ((-45, 50), (-30, 30), (-35, 15),
                   "dorsiflexion 45 weight-bearing (lunge test, Bennell et al. 1998; AAOS 20 unloaded) / plantar "
                   "flexion 50; forefoot abduction / adduction 30; inversion 35 / eversion 15 (AAOS)"),
    "left_foot": ((-70, 45), (-10, 10), (-10, 10), "first MTP extension 70 / flexion 45 (AAOS)"),
    "spine1": ((-25, 80), (-45, 45), (-35, 35),
               "thoracolumbar extension 25 / flexion 80, rotation 45, lateral flexion 35 (AAOS, Norkin), each"),
    "spine2": ((-25, 80), (-45, 45), (-35, 35), "as spine1: the whole thoracolumbar range"),
    "spine3": ((-25, 80), (-45, 45), (-35, 35), "as spine1: the whole thoracolumbar range"),
    "neck": ((-45, 45), (-60, 60), (-45, 45), "cervical extension / flexion 45, rotation 60, lateral flexion 45"),
    "head": ((-45, 45), (-60, 60), (-45, 45), "as neck: the whole cervical range"),
    "left_collar": ((-40, 40), (-30, 30), (-60, 60),
                    "clavicle axial rotation 40, protraction / retraction 30 (Norkin); scapular share of arm "
                    "elevation 60 (Inman 1944), both ways"),
    "left_shoulder": ((-90, 70), (-135, 45), (-135, 90),
                      "from the T-pose: external 90 / internal 70 rotation; horizontal flexion 135 / extension 45; "
                      "elevation to 180 (+90) and lowering to the side plus adduction 45 (-135) (AAOS)"),
    "left_elbow": ((-80, 80), (-150, 10), (-15, 15),
                   "pronation / supination 80; flexion 150, hyperextension 10; carrying angle 15 (AAOS)"),
    "left_wrist": ((-80, 80), (-20, 30), (-80, 70),
                   "forearm rotation 80 (shared with the elbow); radial 20 / ulnar 30 deviation; flexion 80 / "
                   "extension 70 (AAOS)"),
    "left_hand": ((-10, 10), (-20, 20), (-90, 45), "fingers as one block: MCP flexion 90 / extension 45, spread 20"),
}  # fmt: skip
_GRID = 5
_ORDERS = ("xyz", "xzy", "yxz", "yzx", "zxy", "zyx")


def _envelope(ranges: tuple[Range, Range, Range]) -> np.ndarray:
    """(3, 2) component-wise min/max of the axis-angle vectors of every Euler combination within ``ranges``."""
    axes = [np.radians(np.linspace(lo, hi, _GRID)) for lo, hi in ranges]
    grid = np.array(list(itertools.product(*axes)))
    vectors = np.concatenate([euler_to_axis_angle(grid, order) for order in _ORDERS])
    return np.stack([vectors.min(axis=0) - FIT_MARGIN, vectors.max(axis=0) + FIT_MARGIN], axis=-1)


@lru_cache(maxsize=1)
def human_limits() -> np.ndarray:
    """(24, 3, 2) ``[joint, axis, (min, max)]`` radians; the pelvis (global orientation) is free."""
    limits = np.zeros((NUM_JOINTS, 3, 2))
    limits[0] = (-np.pi, np.pi)
    for name, (*ranges, _) in CLINICAL_RANGES.items():
        box = _envelope(tuple(ranges))
        limits[JOINT_NAMES.index(name)] = box
        if name.startswith("left_"):
            mirrored = np.stack([box[0], -box[1, ::-1], -box[2, ::-1]])
            limits[JOINT_NAMES.index("right_" + name.removeprefix("left_"))] = mirrored
    limits = np.clip(limits, -np.pi, np.pi)  # an axis-angle component never exceeds pi
    limits.setflags(write=False)
    return limits


def human_limits_for_width(width: int) -> np.ndarray:
    """(width, 2) per-component bounds for 72-number (SMPL) or 63-number (body-only) poses."""
    limits = human_limits()
    if width == NUM_JOINTS * 3:
        return limits.reshape(-1, 2)
    if width == 63:
        return limits[1:22].reshape(-1, 2)
    raise ValueError(f"poses of width {width} have no joint layout; expected 72 (SMPL) or 63 (body-only)")


def frames_beyond(poses: np.ndarray, limits: np.ndarray, tolerance: float = LIMIT_TOLERANCE) -> np.ndarray:
    """(N,) bool: poses with a component past ``limits`` (D, 2) by more than ``tolerance`` radians."""
    poses = np.asarray(poses)
    return ((poses < limits[:, 0] - tolerance) | (poses > limits[:, 1] + tolerance)).any(axis=1)


def constant_components(poses: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """(D,) bool: components that never move in ``poses`` (e.g. SMPL's hands after SMPL-H -> SMPL)."""
    poses = np.asarray(poses)
    if len(poses) == 0:
        return np.zeros(poses.shape[1], dtype=bool)
    return (poses.max(axis=0) - poses.min(axis=0)) <= atol
