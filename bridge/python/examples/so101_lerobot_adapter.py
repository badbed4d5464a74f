"""A LeRobot SO-101 follower arm behind cap's bridge: a sketch on the SDK. NOT RUN:
neither here (no arm, and LeRobot is not installed on the machine that wrote it) nor
on an SO-101. It is written against LeRobot's documented robot API (`SO101Follower`,
`get_observation`, `send_action`, motor names `shoulder_pan` ... `gripper`, positions
in degrees with `use_degrees=True`). Check it on your system first, with the arm
clear and your hand on its power switch.

The Feetech servos keep their own position loop. The adapter samples cap's trajectory
at 50 Hz next to the arm (`step`) and sends each set-point to the servos. That is the
robot-side loop the protocol asks for; cap itself never streams set-points over the
network.

Use it with a scene whose arm is the SO-101 (`scenes/arms/tabletop_so101.toml`): the
joint names are the URDF's, which are LeRobot's motor names. ZERO_DEG maps LeRobot's
calibrated degrees to the URDF's zero. It is a guess of zeros until you measure it:
put the arm in the URDF's zero pose and read the observation.

    python so101_lerobot_adapter.py --port /dev/ttyACM0 --id my_follower
    cap exec scenes/arms/tabletop_so101.toml examples/policies/red_on_blue.rhai \\
        --task red_on_blue --robot ws://HOST:9000
"""

import argparse
import math
import os
import sys
import time

from lerobot.robots.so101_follower import SO101Follower, SO101FollowerConfig

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cap_bridge import RobotAdapter  # noqa: E402

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]
ZERO_DEG = {n: 0.0 for n in JOINTS}  # measure these for your arm
# LeRobot's gripper is 0 (closed) to 100 (open); the jaw opens 7 cm (cap robots so101).
GRIPPER_OPEN_M = 0.07
SEND_PERIOD_S = 0.02


class So101Arm(RobotAdapter):
    robot = "LeRobot SO-101 follower (sketch, not run)"
    joint_names = JOINTS
    limits = {  # the URDF's position limits (cap robots so101); speeds kept low
        "position_lower": [math.radians(d) for d in (-110.0, -100.0, -96.8, -95.0, -157.2)],
        "position_upper": [math.radians(d) for d in (110.0, 100.0, 96.8, 95.0, 162.8)],
        "velocity": [1.5] * 5,
        "acceleration": [5.0] * 5,
        "jerk": [500.0] * 5,
    }
    gripper_max_width = GRIPPER_OPEN_M
    gripper_max_effort = 10.0

    def __init__(self, port, robot_id):
        super().__init__()
        self.arm = SO101Follower(SO101FollowerConfig(port=port, id=robot_id, use_degrees=True))
        self.arm.connect()
        self.sample_at, self.last_sent = None, 0.0
        self.grip_target, self.grip_until = None, None
        self.obs = self.arm.get_observation()

    def radians(self, obs):
        return [math.radians(obs[f"{n}.pos"] - ZERO_DEG[n]) for n in JOINTS]

    def update(self):
        self.obs = self.arm.get_observation()

    def read_state(self):
        q = self.radians(self.obs)
        width = GRIPPER_OPEN_M * self.obs["gripper.pos"] / 100.0
        # The servos report no velocity in the observation; the SDK's checks use positions.
        return q, [0.0] * len(q), width, self.grasped(width)

    def grasped(self, width):
        # Closed on something: commanded shut but stopped short of shut.
        return self.grip_target is not None and self.grip_target < 0.005 and width > 0.008

    def execute(self, trajectory, sample_at):
        self.sample_at = sample_at

    def step(self, t):
        now = time.monotonic()
        if self.sample_at is None or now - self.last_sent < SEND_PERIOD_S:
            return
        self.last_sent = now
        q = self.sample_at(t)
        self.arm.send_action({f"{n}.pos": math.degrees(v) + ZERO_DEG[n] for n, v in zip(JOINTS, q)})

    def stop(self):
        self.sample_at = None
        here = self.obs
        self.arm.send_action({f"{n}.pos": here[f"{n}.pos"] for n in JOINTS})

    def gripper(self, position, max_effort):
        self.grip_target = position
        self.arm.send_action({"gripper.pos": 100.0 * position / GRIPPER_OPEN_M})
        self.grip_until = time.monotonic() + 0.8
        return None

    def gripper_poll(self):
        if self.grip_until is None or time.monotonic() < self.grip_until:
            return None
        self.grip_until = None
        width = GRIPPER_OPEN_M * self.obs["gripper.pos"] / 100.0
        return width, self.grasped(width)


def main():
    ap = argparse.ArgumentParser(description="cap bridge for a LeRobot SO-101 (sketch, not run)")
    ap.add_argument("--port", required=True, help="the servo bus, e.g. /dev/ttyACM0")
    ap.add_argument("--id", default="follower", help="LeRobot's calibration id")
    ap.add_argument("--listen", type=int, default=9000)
    args = ap.parse_args()
    So101Arm(args.port, args.id).serve("0.0.0.0", args.listen)


if __name__ == "__main__":
    main()
