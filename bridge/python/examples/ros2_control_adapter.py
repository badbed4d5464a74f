"""A ros2_control arm behind cap's bridge: a sketch on the SDK. NOT RUN: neither here
(no ROS 2 on the machine that wrote it) nor against a robot. It is written against the
documented rclpy, control_msgs and tf2 APIs; read it as the field copy the protocol
was designed for, check it on your system first, and keep your robot's own limits and
e-stop in charge.

What it maps:
- `read_state`: the latest `sensor_msgs/JointState` on /joint_states, in cap's joint
  order; the gripper width from the gripper's joint(s) in the same message.
- `execute`: the goal's points become a `trajectory_msgs/JointTrajectory`, sent to
  the `FollowJointTrajectory` action of the arm's joint_trajectory_controller. The
  controller keeps the real-time loop and its own tolerances; the SDK also watches
  the path tolerance from /joint_states.
- `stop`: cancels the action goal (the controller holds position).
- `gripper`: the `GripperCommand` action of a gripper_action_controller (position is
  the finger gap, as in cap); `grasped` is `stalled or not reached_goal`.
- `object_poses`: tf2 lookups of frames named like the scene's objects (publish them
  from mocap or tag detection), in the frame you call the world.

    ros2 launch my_robot bringup.launch.py     # your ros2_control stack
    python ros2_control_adapter.py --world-frame table --objects red_block blue_plate
"""

import argparse
import os
import sys
import threading

import rclpy
from rclpy.action import ActionClient
from rclpy.node import Node
from builtin_interfaces.msg import Duration
from control_msgs.action import FollowJointTrajectory, GripperCommand
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
import tf2_ros

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cap_bridge import RobotAdapter  # noqa: E402
from panda import LIMITS  # noqa: E402

# The Panda as ros2_control names it (franka_ros2); edit for your arm.
JOINTS = [f"fr3_joint{i}" for i in range(1, 8)]
FINGERS = ["fr3_finger_joint1", "fr3_finger_joint2"]


class Ros2ControlArm(RobotAdapter):
    robot = "ros2_control arm (sketch, not run)"
    joint_names = JOINTS
    limits = LIMITS  # the Panda's; use your robot's

    def __init__(self, node, controller, gripper_action, world_frame, objects):
        super().__init__()
        self.node, self.world_frame, self.objects = node, world_frame, objects
        self.lock = threading.Lock()
        self.q, self.v, self.width = [0.0] * 7, [0.0] * 7, 0.0
        node.create_subscription(JointState, "/joint_states", self.on_joint_state, 10)
        self.follow = ActionClient(node, FollowJointTrajectory,
                                   f"/{controller}/follow_joint_trajectory")
        self.grip = ActionClient(node, GripperCommand, gripper_action)
        self.tf = tf2_ros.Buffer()
        self.tf_listener = tf2_ros.TransformListener(self.tf, node)
        self.goal_handle, self.grip_result = None, None
        self.grip_future, self.grip_result_future = None, None

    def on_joint_state(self, msg):
        pos = dict(zip(msg.name, msg.position))
        vel = dict(zip(msg.name, msg.velocity)) if msg.velocity else {}
        with self.lock:
            if all(n in pos for n in JOINTS):
                self.q = [pos[n] for n in JOINTS]
                self.v = [vel.get(n, 0.0) for n in JOINTS]
            if all(n in pos for n in FINGERS):
                self.width = sum(pos[n] for n in FINGERS)

    def read_state(self):
        with self.lock:
            return list(self.q), list(self.v), self.width, bool(self.grip_result and self.grip_result[1])

    def execute(self, trajectory, sample_at):
        jt = JointTrajectory(joint_names=list(trajectory["joint_names"]))
        for p in trajectory["points"]:
            t = p["time_from_start"]
            jt.points.append(JointTrajectoryPoint(
                positions=list(p["positions"]), velocities=list(p["velocities"]),
                time_from_start=Duration(sec=t["sec"], nanosec=t["nanosec"])))
        goal = FollowJointTrajectory.Goal(trajectory=jt)
        future = self.follow.send_goal_async(goal)
        future.add_done_callback(lambda f: setattr(self, "goal_handle", f.result()))

    def stop(self):
        if self.goal_handle is not None:
            self.goal_handle.cancel_goal_async()
            self.goal_handle = None

    def gripper(self, position, max_effort):
        goal = GripperCommand.Goal()
        goal.command.position, goal.command.max_effort = position, max_effort
        self.grip_result = None
        self.grip_future = self.grip.send_goal_async(goal)
        return None  # the SDK polls gripper_poll()

    def gripper_poll(self):
        f = self.grip_future
        if f is None or not f.done():
            return None
        if self.grip_result_future is None:
            self.grip_result_future = f.result().get_result_async()
            return None
        if not self.grip_result_future.done():
            return None
        r = self.grip_result_future.result().result
        self.grip_future, self.grip_result_future = None, None
        self.grip_result = (r.position, r.stalled or not r.reached_goal)
        return self.grip_result

    def object_poses(self):
        out = {}
        for name in self.objects:
            try:
                t = self.tf.lookup_transform(self.world_frame, name, rclpy.time.Time())
            except (tf2_ros.LookupException, tf2_ros.ExtrapolationException,
                    tf2_ros.ConnectivityException):
                continue
            tr, r = t.transform.translation, t.transform.rotation
            out[name] = ([tr.x, tr.y, tr.z], [r.x, r.y, r.z, r.w])
        return out


def main():
    ap = argparse.ArgumentParser(description="cap bridge for a ros2_control arm (sketch, not run)")
    ap.add_argument("--controller", default="joint_trajectory_controller")
    ap.add_argument("--gripper-action", default="/gripper_controller/gripper_cmd")
    ap.add_argument("--world-frame", default="world")
    ap.add_argument("--objects", nargs="*", default=[])
    ap.add_argument("--port", type=int, default=9000)
    args = ap.parse_args()
    rclpy.init()
    node = Node("cap_bridge")
    arm = Ros2ControlArm(node, args.controller, args.gripper_action, args.world_frame, args.objects)
    threading.Thread(target=rclpy.spin, args=(node,), daemon=True).start()
    arm.serve("0.0.0.0", args.port)


if __name__ == "__main__":
    main()
