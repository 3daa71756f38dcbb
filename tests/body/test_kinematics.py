"""Forward kinematics of the SMPL rest pose."""

from __future__ import annotations

import numpy as np

from unet1d.body.kinematics import forward_kinematics
from unet1d.data.builtin import (
    JOINT_NAMES,
)

J = {name: i for i, name in enumerate(JOINT_NAMES)}


def test_rest_pose_kinematics():
    rest = forward_kinematics(np.zeros((1, 72)))[0]
    assert rest[J["head"], 1] > 0.5 and rest[J["left_ankle"], 1] < -0.8  # head up, feet down
    assert rest[J["left_wrist"], 0] > 0.5 and rest[J["right_wrist"], 0] < -0.5  # T-pose, left = +x
