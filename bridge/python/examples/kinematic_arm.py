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
from panda import HOME, JOINTS, LIMITS  # noqa: E402



class KinematicArm(RobotAdapter):
    robot = "kinematic panda (python)"
    joint_names = JOINTS
    limits = LIMITS

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
