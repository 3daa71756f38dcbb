"""The built-in pose set: procedural SMPL poses, so ``unet1d train`` works with nothing on disk.

What it draws
-------------
Poses are 72 numbers: the 24 SMPL joints (:data:`JOINT_NAMES`) as axis-angle vectors in radians,
in SMPL's rest frame (y up, x to the body's left, z forward). They come in **clips** of
:data:`CLIP_FRAMES` consecutive frames at 30 fps; a clip is one "sequence", so the train/val split
keeps clips whole, as it keeps AMASS files whole. Each clip belongs to one of seven **families**,
allocated in the fixed shares :data:`FAMILY_WEIGHTS` (exact up to one clip) and shuffled:

============  =====  ===============================================================================
family        share  what moves
============  =====  ===============================================================================
standing      15 %   relaxed stance, weight on one leg (that knee straight, the other bent), slow
                     sway, head looking around
walking       20 %   a gait cycle in phase (0.85-1.1 strides/s): hips flex/extend in anti-phase
                     left vs right, knees flex in swing, arms swing against the same-side leg,
                     pelvis and spine counter-rotate
running       15 %   the same cycle, faster (1.3-1.6/s), larger hip and knee range, elbows bent
                     70-90 deg, trunk leaning forward
sitting       15 %   hips and knees ~90 deg, feet flat (ankle follows knee and hip), hands on lap
crouching     10 %   deep squat: knees 1.7-2.1 rad, trunk forward, heels down, arms out for balance
reaching      15 %   one arm (left or right) reaches from the side to a random target over the clip
                     while the elbow straightens; the trunk turns that shoulder forward and leans
                     toward it, and the head turns toward the hand
arms_raised   10 %   both arms above the shoulders (collars elevated), waving slowly
============  =====  ===============================================================================

Structure a model has to learn: the families are distinct modes; within a family, joints are
coupled (gait anti-phase, arm/leg counter-swing, feet kept flat: ankle = knee + lean - hip, the
reaching elbow straightens as the shoulder rises). Every clip also gets its own style offsets
(+-0.08 rad per angle), every frame a small jitter (+-0.03 rad), and the body a uniformly random
global **yaw** about the vertical axis (so the root's axis-angle wraps at +-pi, as real data does).
All angles are bounded by construction inside the per-joint limits :data:`JOINT_LIMITS`; a final
clip is only a safety net (a test checks it almost never acts), so :func:`joint_limit_violations`
is zero on this set and can measure how often a model's samples leave the anatomical range.

Everything is vectorised numpy and deterministic in ``seed``: 20k poses take about 0.2 s on one core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unet1d.body.rotations import euler_to_axis_angle
from unet1d.body.skeleton import JOINT_LIMITS, JOINT_NAMES, NUM_JOINTS, joint_index, joint_limit_violations

__all__ = [
    "CLIP_FRAMES",
    "FAMILY_NAMES",
    "FAMILY_WEIGHTS",
    "FPS",
    "JOINT_LIMITS",
    "JOINT_NAMES",
    "BuiltinPoses",
    "generate_builtin_poses",
    "joint_limit_violations",
]

FAMILY_NAMES: tuple[str, ...] = ("standing", "walking", "running", "sitting", "crouching", "reaching", "arms_raised")
FAMILY_WEIGHTS = np.array([0.15, 0.20, 0.15, 0.15, 0.10, 0.15, 0.10])
CLIP_FRAMES = 30
FPS = 30.0

STYLE_STD, STYLE_MAX = 0.03, 0.08  # per-clip offset of every joint angle
JITTER_STD, JITTER_MAX = 0.012, 0.03  # per-frame noise

LEFT, RIGHT = 0, 1
_SIDE_NAMES = ("left", "right")


@dataclass(frozen=True)
class BuiltinPoses:
    """A generated set. ``poses`` (N, 72) float32 axis-angle; per pose its family and clip."""

    poses: np.ndarray
    labels: np.ndarray
    sequence_ids: np.ndarray
    family_names: list[str]


class _Body:
    """Anatomical angles for the frames of one family, written as SMPL Euler (x, y, z) angles.

    The helpers own the sign conventions, so the families read as anatomy ("hip flexion 1.5")
    instead of axis signs. Mirroring left to right flips the y and z angles.
    """

    def __init__(self, num_frames: int) -> None:
        self.euler = np.zeros((num_frames, NUM_JOINTS, 3))
        self.tilt = np.zeros(num_frames)  # pelvis pitch forward (+), applied after yaw
        self.roll = np.zeros(num_frames)  # pelvis side tilt
        self.yaw = np.zeros(num_frames)  # in-clip heading change (gait pelvis rotation)

    def _set(self, name: str, side: int | None, x: object = 0.0, y: object = 0.0, z: object = 0.0) -> None:
        mirror = -1.0 if side == RIGHT else 1.0
        joint = joint_index(name if side is None else f"{_SIDE_NAMES[side]}_{name}")
        self.euler[:, joint, 0] += x
        self.euler[:, joint, 1] += mirror * np.asarray(y)
        self.euler[:, joint, 2] += mirror * np.asarray(z)

    def hip(self, side: int, flex: object, abduct: object = 0.0, twist: object = 0.0) -> None:
        """Flexion swings the thigh forward (SMPL: -x); abduction moves it outward."""
        self._set("hip", side, x=-np.asarray(flex), y=twist, z=abduct)

    def knee(self, side: int, flex: object) -> None:
        self._set("knee", side, x=flex)

    def ankle(self, side: int, dorsi: object) -> None:
        """Dorsiflexion lifts the toes (SMPL: -x)."""
        self._set("ankle", side, x=-np.asarray(dorsi))

    def toes(self, side: int, extend: object) -> None:
        self._set("foot", side, x=-np.asarray(extend))

    def spine(self, flex: object = 0.0, turn: object = 0.0, bend: object = 0.0) -> None:
        """Spread over spine1..3 (40/35/25 %): flexion bends forward, turn twists, bend leans sideways."""
        for name, share in (("spine1", 0.4), ("spine2", 0.35), ("spine3", 0.25)):
            self._set(name, None, x=share * np.asarray(flex), y=share * np.asarray(turn), z=share * np.asarray(bend))

    def head(self, nod: object = 0.0, turn: object = 0.0, tilt: object = 0.0) -> None:
        """Nod (forward, +) and turn split between neck (40 %) and head (60 %)."""
        for name, share in (("neck", 0.4), ("head", 0.6)):
            self._set(name, None, x=share * np.asarray(nod), y=share * np.asarray(turn), z=share * np.asarray(tilt))

    def collar(self, side: int, elevate: object, protract: object = 0.0) -> None:
        """Elevation shrugs the shoulder up; protraction brings it forward."""
        self._set("collar", side, y=-np.asarray(protract), z=elevate)

    def shoulder(self, side: int, lower: object, swing: object = 0.0, twist: object = 0.0) -> None:
        """From the T-pose: ``lower`` brings the arm down to the side (pi/2 ~ hanging; negative raises it),
        then ``swing`` carries it forward (pi/2 with the arm down = pointing forward)."""
        self._set("shoulder", side, x=-np.asarray(swing), y=twist, z=-np.asarray(lower))

    def elbow(self, side: int, flex: object) -> None:
        """Flexion bends the forearm toward the front of the upper arm (SMPL: -y on the left)."""
        self._set("elbow", side, y=-np.asarray(flex))

    def wrist(self, side: int, flex: object) -> None:
        self._set("wrist", side, z=-np.asarray(flex))

    def fingers(self, side: int, curl: object) -> None:
        self._set("hand", side, z=-np.asarray(curl))


@dataclass
class _Clips:
    """Per-frame views of per-clip random parameters for one family's frames."""

    rng: np.random.Generator
    clip: np.ndarray  # local clip index of each frame
    t: np.ndarray  # seconds since the clip started
    progress: np.ndarray  # 0 at a clip's first frame, 1 at its last
    num_clips: int  # the family's clips, whether or not each has a frame here: one draw per clip

    def uniform(self, low: float, high: float) -> np.ndarray:
        """One value per clip, broadcast to its frames."""
        return self.rng.uniform(low, high, self.num_clips)[self.clip]

    def choice(self, options: tuple[int, ...]) -> np.ndarray:
        return self.rng.choice(np.asarray(options), self.num_clips)[self.clip]

    def phase(self, low_hz: float, high_hz: float) -> np.ndarray:
        """A cycle phase (radians) advancing at a per-clip rate from a random start."""
        return self.uniform(0, 2 * math.pi) + 2 * math.pi * self.uniform(low_hz, high_hz) * self.t


def _relaxed_arms(body: _Body, c: _Clips, sides: tuple[int, ...] = (LEFT, RIGHT)) -> None:
    for side in sides:
        body.shoulder(side, lower=c.uniform(1.2, 1.45), swing=c.uniform(-0.1, 0.15), twist=c.uniform(-0.2, 0.2))
        body.elbow(side, c.uniform(0.1, 0.4))
        body.wrist(side, c.uniform(-0.1, 0.2))
        body.fingers(side, c.uniform(0.0, 0.3))


def _standing_legs(body: _Body, c: _Clips) -> None:
    """Weight on one leg: that knee straight, the other bent; feet flat, slight sway."""
    weight = c.choice((LEFT, RIGHT))
    sway = 0.03 * np.sin(2 * math.pi * c.uniform(0.1, 0.3) * c.t + c.uniform(0, 2 * math.pi))
    body.roll += sway
    for side in (LEFT, RIGHT):
        knee = np.where(weight == side, c.uniform(0.0, 0.08), c.uniform(0.1, 0.35))
        hip = 0.5 * knee + c.uniform(-0.05, 0.05)
        body.hip(side, flex=hip, abduct=c.uniform(0.0, 0.15) + (sway if side == LEFT else -sway), twist=0.0)
        body.knee(side, knee)
        body.ankle(side, knee - hip)  # keep the foot flat on the floor
        body.toes(side, 0.0)


def _standing(body: _Body, c: _Clips) -> None:
    _standing_legs(body, c)
    _relaxed_arms(body, c)
    body.spine(flex=c.uniform(-0.05, 0.1), turn=c.uniform(-0.1, 0.1))
    body.head(nod=c.uniform(-0.1, 0.25), turn=c.uniform(-0.5, 0.5) + 0.2 * np.sin(c.phase(0.1, 0.4)))
    for side in (LEFT, RIGHT):
        body.collar(side, c.uniform(-0.05, 0.05))


def _gait(body: _Body, c: _Clips, *, running: bool) -> None:
    """One gait cycle model for walking and running; phase 0 = left thigh passing vertical, moving forward."""
    if running:
        phase, hip_amp, hip_bias = c.phase(1.3, 1.6), c.uniform(0.5, 0.7), c.uniform(0.25, 0.35)
        knee_base, knee_amp, ankle_amp = c.uniform(0.25, 0.4), c.uniform(1.1, 1.5), c.uniform(0.15, 0.3)
        arm_amp, elbow_base, lean = c.uniform(0.4, 0.7), c.uniform(1.2, 1.6), c.uniform(0.1, 0.25)
    else:
        phase, hip_amp, hip_bias = c.phase(0.85, 1.1), c.uniform(0.3, 0.45), c.uniform(0.05, 0.15)
        knee_base, knee_amp, ankle_amp = c.uniform(0.05, 0.15), c.uniform(0.6, 0.9), c.uniform(0.1, 0.2)
        arm_amp, elbow_base, lean = c.uniform(0.2, 0.4), c.uniform(0.2, 0.4), c.uniform(0.0, 0.08)
    for side in (LEFT, RIGHT):
        p = phase + (math.pi if side == RIGHT else 0.0)  # right leg half a cycle behind: anti-phase
        body.hip(side, flex=hip_bias + hip_amp * np.sin(p), abduct=0.04 + 0.03 * np.cos(p), twist=0.05 * np.sin(p))
        body.knee(side, knee_base + knee_amp * ((1 + np.cos(p)) / 2) ** 2)  # peaks in early swing
        body.ankle(side, ankle_amp * np.sin(p + 1.0))
        body.toes(side, 0.15 * np.clip(np.sin(p - 2.0), 0, None))  # push-off
        swing = -arm_amp * np.sin(p)  # the arm swings against the same-side leg
        body.shoulder(side, lower=c.uniform(1.1, 1.3) - (0.15 if running else 0.0), swing=swing)
        body.elbow(side, elbow_base + 0.4 * np.clip(swing, 0, None))
        body.wrist(side, c.uniform(-0.1, 0.2))
        body.fingers(side, c.uniform(0.1, 0.5) if running else c.uniform(0.0, 0.3))
        body.collar(side, c.uniform(-0.05, 0.05))
    body.yaw += 0.08 * np.sin(phase)  # pelvis turns with the forward leg...
    body.spine(flex=lean * 0.5, turn=-0.12 * np.sin(phase))  # ...and the thorax counter-rotates
    body.tilt += lean
    body.roll += 0.04 * np.cos(phase)
    body.head(nod=-0.5 * lean + c.uniform(-0.05, 0.15), turn=c.uniform(-0.2, 0.2))


def _walking(body: _Body, c: _Clips) -> None:
    _gait(body, c, running=False)


def _running(body: _Body, c: _Clips) -> None:
    _gait(body, c, running=True)


def _sitting(body: _Body, c: _Clips) -> None:
    """Thighs horizontal, shins near vertical, feet flat, hands resting on the thighs."""
    slow = np.sin(c.phase(0.05, 0.2))
    for side in (LEFT, RIGHT):
        hip, knee = c.uniform(1.3, 1.65), c.uniform(1.2, 1.8)
        body.hip(side, flex=hip, abduct=c.uniform(0.05, 0.3), twist=c.uniform(-0.15, 0.15))
        body.knee(side, knee)
        body.ankle(side, np.clip(knee - hip, -0.4, 0.4))
        body.shoulder(side, lower=c.uniform(1.15, 1.4), swing=c.uniform(0.35, 0.65), twist=c.uniform(-0.3, 0.1))
        body.elbow(side, c.uniform(0.2, 0.9))
        body.wrist(side, c.uniform(-0.2, 0.3))
        body.fingers(side, c.uniform(0.0, 0.4))
        body.collar(side, c.uniform(-0.05, 0.05), protract=c.uniform(0.0, 0.15))
    body.spine(flex=c.uniform(-0.1, 0.25) + 0.03 * slow, turn=c.uniform(-0.15, 0.15))
    body.head(nod=c.uniform(-0.1, 0.35), turn=c.uniform(-0.5, 0.5) + 0.25 * slow)


def _crouching(body: _Body, c: _Clips) -> None:
    """Deep squat with heels down: the ankle's dorsiflexion closes the knee-hip-lean triangle."""
    lean = c.uniform(0.2, 0.4)
    bob = 0.05 * np.sin(c.phase(0.2, 0.6))
    body.tilt += lean
    for side in (LEFT, RIGHT):
        knee, dorsi = c.uniform(1.7, 2.1) + bob, c.uniform(0.4, 0.6)
        body.hip(side, flex=knee + lean - dorsi, abduct=c.uniform(0.15, 0.4), twist=c.uniform(-0.2, 0.2))
        body.knee(side, knee)
        body.ankle(side, dorsi)
        body.toes(side, c.uniform(0.0, 0.2))
        body.shoulder(side, lower=c.uniform(1.0, 1.3), swing=c.uniform(0.6, 1.2), twist=c.uniform(-0.2, 0.2))
        body.elbow(side, c.uniform(0.2, 0.9))
        body.wrist(side, c.uniform(-0.2, 0.2))
        body.fingers(side, c.uniform(0.0, 0.4))
        body.collar(side, c.uniform(0.0, 0.1), protract=c.uniform(0.0, 0.2))
    body.spine(flex=c.uniform(0.15, 0.4))
    body.head(nod=-0.6 * lean, turn=c.uniform(-0.3, 0.3))


def _reaching(body: _Body, c: _Clips) -> None:
    """One arm travels from the side to a target as the clip progresses; the trunk follows it."""
    _standing_legs(body, c)
    side = c.choice((LEFT, RIGHT))
    reach = c.progress * c.progress * (3 - 2 * c.progress)  # smoothstep: starts and ends gently
    start_lower, start_swing, start_elbow = c.uniform(1.2, 1.45), c.uniform(-0.1, 0.15), c.uniform(0.6, 1.0)
    goal_lower, goal_swing, goal_elbow = c.uniform(0.4, 1.5), c.uniform(0.5, 1.5), c.uniform(0.0, 0.2)
    toward = np.where(side == LEFT, 1.0, -1.0)  # +1: the reaching side is the body's left (+x)
    for s in (LEFT, RIGHT):
        active = side == s
        rest_lower, rest_swing = c.uniform(1.2, 1.45), c.uniform(-0.1, 0.15)
        lower = np.where(active, start_lower + reach * (goal_lower - start_lower), rest_lower)
        swing = np.where(active, start_swing + reach * (goal_swing - start_swing), rest_swing)
        body.shoulder(s, lower=lower, swing=swing, twist=c.uniform(-0.2, 0.2))
        body.elbow(s, np.where(active, start_elbow + reach * (goal_elbow - start_elbow), c.uniform(0.1, 0.4)))
        body.wrist(s, c.uniform(-0.2, 0.2))
        body.fingers(s, np.where(active, 0.4 * (1 - reach), c.uniform(0.0, 0.3)))
        body.collar(s, np.where(active, 0.15 * reach, 0.0), protract=np.where(active, 0.2 * reach, 0.0))
    # Turning right (-y) brings the left shoulder forward; bending -z leans to the left.
    body.spine(flex=0.25 * reach * goal_swing / 1.5, turn=-0.3 * reach * toward, bend=-0.1 * reach * toward)
    body.head(nod=c.uniform(-0.1, 0.3), turn=0.5 * reach * toward)  # net of the trunk's turn: toward the hand


def _arms_raised(body: _Body, c: _Clips) -> None:
    """Both arms above the shoulders, waving slowly (left and right in or out of step)."""
    _standing_legs(body, c)
    wave = c.phase(0.5, 1.5)
    offset = c.choice((0, 1)) * math.pi
    for side in (LEFT, RIGHT):
        p = wave + (offset if side == RIGHT else 0.0)
        body.shoulder(side, lower=-c.uniform(0.9, 1.3) + 0.12 * np.sin(p), swing=c.uniform(-0.2, 0.4))
        body.elbow(side, c.uniform(0.0, 0.5) + 0.1 * (1 + np.sin(p)))
        body.wrist(side, c.uniform(-0.3, 0.3))
        body.fingers(side, c.uniform(0.0, 0.2))
        body.collar(side, c.uniform(0.15, 0.35))
    body.spine(flex=c.uniform(-0.15, 0.05))
    body.head(nod=-c.uniform(0.0, 0.3), turn=c.uniform(-0.2, 0.2))


_FAMILIES: dict[str, Callable[[_Body, _Clips], None]] = {
    "standing": _standing,
    "walking": _walking,
    "running": _running,
    "sitting": _sitting,
    "crouching": _crouching,
    "reaching": _reaching,
    "arms_raised": _arms_raised,
}
assert tuple(_FAMILIES) == FAMILY_NAMES


def allocate_families(num_clips: int, rng: np.random.Generator) -> np.ndarray:
    """Family of each clip: counts in the shares of FAMILY_WEIGHTS (largest remainder), order shuffled."""
    exact = FAMILY_WEIGHTS * num_clips
    counts = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - counts), kind="stable")[: num_clips - counts.sum()]:
        counts[index] += 1
    return rng.permutation(np.repeat(np.arange(len(FAMILY_NAMES)), counts))


def generate_builtin_poses(num_samples: int, seed: int, frames: np.ndarray | None = None) -> BuiltinPoses:
    """``num_samples`` poses (N, 72) in clips of CLIP_FRAMES (the last one may be shorter); see the module doc.

    ``frames`` (indices into the N) computes only those rows, equal to the full set's: an evaluation's
    reference keeps one frame of each of 10,000 clips, and need not build the other 290,000.
    """
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    num_clips = math.ceil(num_samples / CLIP_FRAMES)
    clip_family = allocate_families(num_clips, np.random.default_rng([seed, 0]))
    index = np.arange(num_samples) if frames is None else np.asarray(frames, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= num_samples):
        raise ValueError(f"frames must lie in [0, {num_samples}), got {index.min()}..{index.max()}")
    clip_of_frame = index // CLIP_FRAMES
    frame_in_clip = index % CLIP_FRAMES
    clip_lengths = np.minimum(CLIP_FRAMES, num_samples - np.arange(num_clips) * CLIP_FRAMES)
    progress = frame_in_clip / np.maximum(clip_lengths[clip_of_frame] - 1, 1)
    family_of_frame = clip_family[clip_of_frame]

    euler = np.zeros((index.size, NUM_JOINTS, 3))
    root = np.zeros((index.size, 3))  # (tilt, yaw, roll) as the pelvis's x, y, z angles
    for family, name in enumerate(FAMILY_NAMES):
        rows = np.flatnonzero(family_of_frame == family)
        if not rows.size:
            continue
        family_clips = np.flatnonzero(clip_family == family)  # every clip of the family draws its parameters
        local_clip = np.searchsorted(family_clips, clip_of_frame[rows])
        clips = _Clips(np.random.default_rng([seed, family + 1]), local_clip, frame_in_clip[rows] / FPS,
                       progress[rows], family_clips.size)  # fmt: skip
        body = _Body(rows.size)
        _FAMILIES[name](body, clips)
        euler[rows] = body.euler
        root[rows] = np.stack([body.tilt, body.yaw, body.roll], axis=-1)

    noise_rng = np.random.default_rng([seed, len(FAMILY_NAMES) + 1])
    style = np.clip(noise_rng.normal(0, STYLE_STD, (num_clips, NUM_JOINTS, 3)), -STYLE_MAX, STYLE_MAX)
    jitter = noise_rng.normal(0, JITTER_STD, (num_samples, NUM_JOINTS, 3))  # all of it: the stream goes on
    euler += style[clip_of_frame] + np.clip(jitter[index], -JITTER_MAX, JITTER_MAX)
    heading = noise_rng.uniform(-math.pi, math.pi, num_clips)[clip_of_frame]
    root[:, 1] += heading
    euler[:, 0] = root  # the root carries no style noise: its orientation is set above
    poses = np.empty_like(euler)
    poses[:, 1:] = euler_to_axis_angle(euler[:, 1:], "xyz")
    poses[:, 0] = euler_to_axis_angle(euler[:, 0], "yxz")  # heading first in the world, then lean
    poses = np.clip(poses, JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1])  # safety net; see the tests
    return BuiltinPoses(
        poses=poses.reshape(index.size, NUM_JOINTS * 3).astype(np.float32),
        labels=family_of_frame.astype(np.int64),
        sequence_ids=clip_of_frame.astype(np.int64),
        family_names=list(FAMILY_NAMES),
    )
