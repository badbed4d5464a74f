"""An ideal arm on the SDK: it is at each commanded position the moment it is asked.
For trying the SDK against `cap exec --robot` with the built-in Panda's scene:

    python bridge/python/examples/kinematic_arm.py &
    cap exec scenes/tabletop.toml examples/policies/red_on_blue.rhai --task red_on_blue \
        --robot ws://127.0.0.1:PORT --no-sim-check

It reports no objects and never grips, so a pick ends `no_grasp`: it exercises motion,
limits, the watchdog and the protocol, not manipulation."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cap_bridge import RobotAdapter  # noqa: E402

# The built-in Panda's ready pose, limits (datasheet) and joint names.
HOME = [0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398]


class KinematicArm(RobotAdapter):
    robot = "kinematic panda (python)"
    joint_names = [f"panda_joint{i}" for i in range(1, 8)]
    limits = {
        "position_lower": [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973],
        "position_upper": [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973],
        "velocity": [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61],
        "acceleration": [15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0],
        "jerk": [7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0],
    }

    def __init__(self):
        super().__init__()
        self.q, self.width, self.sample_at = list(HOME), 0.08, None

    def read_state(self):
        return self.q, [0.0] * 7, self.width, False

    def execute(self, trajectory, sample_at):
        self.sample_at = sample_at

    def step(self, t):
        if self.sample_at:
            self.q = self.sample_at(t)

    def stop(self):
        self.sample_at = None

    def gripper(self, position, max_effort):
        self.width = position
        return position, False


if __name__ == "__main__":
    KinematicArm().serve(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
