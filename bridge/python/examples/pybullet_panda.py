"""The reference "real arm": the SDK driving a Franka Panda in PyBullet.

PyBullet (pybullet==3.2.7 from PyPI) is an engine independent of cap's: its own
dynamics, contacts, friction and tracking error. The arm is the `franka_panda/panda.urdf`
that pybullet_data ships, driven by PyBullet's motor-driven position control at 240 Hz
with feed-forward velocity and the datasheet torque limits; the two fingers are
position-controlled prismatic joints, geared together as the real hand's are, that
squeeze with the effort cap asks for (20 N per finger at most, the URDF's limit). The table and the objects are built from
`cap world SCENE --seed N` (their collision parts, masses and frictions), so the layout
is the one cap expects, and the objects then move by PyBullet's physics alone.

    cap world scenes/tabletop.toml --seed 0 > /tmp/world.json
    python bridge/python/examples/pybullet_panda.py /tmp/world.json --once \\
        --final-poses /tmp/final.json --record /tmp/motion.jsonl
    # prints: serving on ws://127.0.0.1:PORT
    cap exec scenes/tabletop.toml examples/policies/red_on_blue.rhai --task red_on_blue \\
        --seed 0 --robot ws://127.0.0.1:PORT
    cap judge scenes/tabletop.toml --task red_on_blue --seed 0 --poses /tmp/final.json

It steps in real time (one step per 1/240 s of the wall clock), so cap's watchdog and
timing see what a real arm would give them. `--final-poses` writes PyBullet's object
poses after the connection ends and one more second of settling; `--record` writes the
arm's joint positions and velocities and the gripper at 60 Hz, object positions at
10 Hz and the SDK's events, with wall-clock stamps, as JSON lines. Needs `pybullet`, `numpy` and `websockets`
(scripts/fetch-python-bridge.sh installs them, pinned, in cap's data directory).
"""

import argparse
import json
import math
import os
import sys
import time

import pybullet as p
import pybullet_data

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cap_bridge import RobotAdapter  # noqa: E402
from panda import HOME, JOINTS, LIMITS  # noqa: E402

HZ = 240.0
DT = 1.0 / HZ
ARM_EFFORT_NM = [87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0]
FINGER_EFFORT_N = 20.0
FINGER_FRICTION = 1.0
# Position control: PyBullet's constraint-based motors, error terms kp·Δq + kd·Δq̇.
KP, KD = 0.6, 1.0
# A gripper motion ends when the fingers have been still this long, or at the timeout.
GRIP_STILL_S, GRIP_TIMEOUT_S = 0.1, 1.5


def quat_mul(a, b):
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return [aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz]


def yaw_quat(deg):
    h = math.radians(deg) / 2.0
    return [0.0, 0.0, math.sin(h), math.cos(h)]


class PyBulletPanda(RobotAdapter):
    robot = "pybullet panda (franka_panda/panda.urdf, pybullet 3.2.7)"
    joint_names = JOINTS
    limits = LIMITS
    gripper_max_width = 0.08
    gripper_max_effort = 2 * FINGER_EFFORT_N

    def __init__(self, world, record=None):
        super().__init__()
        self.record = open(record, "w") if record else None
        self.client = p.connect(p.DIRECT)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        p.setTimeStep(DT, physicsClientId=self.client)
        self.build(world)
        self.steps, self.wall0 = 0, time.monotonic()
        self.target, self.sample_at, self.goal_step = list(HOME), None, 0
        self.finger_target, self.finger_force = 0.04, FINGER_EFFORT_N
        self.grip_started, self.grip_still_since = None, None
        self.next_record, self.recorded = 0.0, 0

    # --- the world ---------------------------------------------------------------
    def build(self, world):
        c = self.client
        if world["robot"]["arm"] != "builtin":
            raise SystemExit(f"pybullet_panda: the scene's arm is {world['robot']['arm']}; "
                             "this reference arm is the built-in Panda")
        t = world["table"]
        half = [s / 2.0 for s in t["size"]]
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        self.table = p.createMultiBody(0, col, basePosition=[t["center"][0], t["center"][1], -half[2]],
                                       physicsClientId=c)
        p.changeDynamics(self.table, -1, lateralFriction=t["friction"], physicsClientId=c)
        base = world["robot"]["base"]
        self.arm = p.loadURDF(os.path.join(pybullet_data.getDataPath(), "franka_panda/panda.urdf"),
                              basePosition=base, baseOrientation=yaw_quat(world["robot"].get("yaw_deg", 0.0)),
                              useFixedBase=True, physicsClientId=c)
        names = {p.getJointInfo(self.arm, j, physicsClientId=c)[1].decode(): j
                 for j in range(p.getNumJoints(self.arm, physicsClientId=c))}
        self.joints = [names[n] for n in self.joint_names]
        self.fingers = [names["panda_finger_joint1"], names["panda_finger_joint2"]]
        for j, q in zip(self.joints, HOME):
            p.resetJointState(self.arm, j, q, physicsClientId=c)
        for j in self.fingers:
            p.resetJointState(self.arm, j, 0.04, physicsClientId=c)
            p.changeDynamics(self.arm, j, lateralFriction=FINGER_FRICTION, physicsClientId=c)
        # The Panda's fingers share one motor through a rack: they move together. Two
        # independent force-limited fingers would let a held object slide sideways
        # with both of them (each saturated, neither restoring).
        gear = p.createConstraint(self.arm, self.fingers[0], self.arm, self.fingers[1],
                                  jointType=p.JOINT_GEAR, jointAxis=[1, 0, 0],
                                  parentFramePosition=[0, 0, 0], childFramePosition=[0, 0, 0],
                                  physicsClientId=c)
        p.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=c)
        self.objects = {}
        for o in world["objects"]:
            self.objects[o["name"]] = self.build_object(o)

    def build_object(self, o):
        c = self.client
        kinds, kw = [], {"halfExtents": [], "radii": [], "lengths": [], "fileNames": [],
                         "collisionFramePositions": [], "collisionFrameOrientations": []}
        hulls = []
        for part in o["parts"]:
            shape = part["shape"]
            if shape == "convex":
                hulls.append(part)
                continue
            kinds.append({"box": p.GEOM_BOX, "cylinder": p.GEOM_CYLINDER, "sphere": p.GEOM_SPHERE}[shape])
            kw["halfExtents"].append(part.get("half_extents", [0.0, 0.0, 0.0]))
            kw["radii"].append(part.get("radius", 0.0))
            kw["lengths"].append(2.0 * part.get("half_height", 0.0))
            kw["fileNames"].append("")
            kw["collisionFramePositions"].append(part["position"])
            kw["collisionFrameOrientations"].append(part["orientation"])
        if hulls and kinds:
            raise SystemExit(f"pybullet_panda: object `{o['name']}` mixes hulls and primitives")
        if hulls:
            # A mesh object: one body per hull would fall apart, so the first (and for
            # most objects only) hull stands for it; V-HACD parts beyond it are dropped.
            h = hulls[0]
            col = p.createCollisionShape(p.GEOM_MESH, vertices=h["vertices"],
                                         collisionFramePosition=h["position"],
                                         collisionFrameOrientation=h["orientation"],
                                         physicsClientId=c)
        else:
            col = p.createCollisionShapeArray(kinds, physicsClientId=c, **kw)
        body = p.createMultiBody(o["mass"], col, basePosition=o["position"],
                                 baseOrientation=o["orientation"], physicsClientId=c)
        p.changeDynamics(body, -1, lateralFriction=o["friction"], physicsClientId=c)
        return body

    # --- the physics, in real time -------------------------------------------------
    def update(self):
        due = int((time.monotonic() - self.wall0) * HZ)
        # Never more than 0.1 s of catching up in one call (a stall stays a stall).
        if due - self.steps > 24:
            self.wall0 += (due - self.steps - 24) * DT
            due = self.steps + 24
        while self.steps < due:
            self.control()
            p.stepSimulation(physicsClientId=self.client)
            self.steps += 1
        self.write_record()

    def control(self):
        c = self.client
        if self.sample_at is not None:
            t = (self.steps - self.goal_step) * DT
            q = self.sample_at(t)
            ahead, behind = self.sample_at(t + DT), self.sample_at(max(t - DT, 0.0))
            span = DT if t < DT else 2 * DT
            v = [(a - b) / span for a, b in zip(ahead, behind)]
            self.target = q
        else:
            v = [0.0] * 7
        p.setJointMotorControlArray(self.arm, self.joints, p.POSITION_CONTROL,
                                    targetPositions=self.target, targetVelocities=v,
                                    forces=ARM_EFFORT_NM, positionGains=[KP] * 7,
                                    velocityGains=[KD] * 7, physicsClientId=c)
        p.setJointMotorControlArray(self.arm, self.fingers, p.POSITION_CONTROL,
                                    targetPositions=[self.finger_target] * 2,
                                    forces=[self.finger_force] * 2, physicsClientId=c)

    def arm_state(self):
        s = p.getJointStates(self.arm, self.joints, physicsClientId=self.client)
        return [x[0] for x in s], [x[1] for x in s]

    def finger_state(self):
        s = p.getJointStates(self.arm, self.fingers, physicsClientId=self.client)
        return [x[0] for x in s], [x[1] for x in s]

    def grasped(self):
        """The fingers are squeezing (commanded narrower than they are) and both touch
        the same object: a hold, as a real gripper reports it. Open fingers that both
        touch something (a bowl's floor under them) are not a grasp."""
        width = sum(self.finger_state()[0])
        if width < 0.002 or 2.0 * self.finger_target > width - 0.001:
            return False
        touching = []
        for f in self.fingers:
            pts = p.getContactPoints(bodyA=self.arm, linkIndexA=f, physicsClientId=self.client)
            touching.append({pt[2] for pt in pts if pt[2] in self.objects.values()})
        return bool(touching[0] & touching[1])

    def write_record(self):
        if self.record is None or self.steps * DT < self.next_record:
            return
        self.next_record = self.steps * DT + 1.0 / 60.0
        q, v = self.arm_state()
        row = {"t": time.time(), "q": q, "qd": v, "mode": self.mode,
               "fingers": self.finger_state()[0], "grasped": self.grasped()}
        self.recorded += 1
        if self.recorded % 6 == 1:
            # Object positions at 10 Hz: where a miss happened, from PyBullet's side.
            row["objects"] = {n: [round(x, 4) for x in pos] for n, (pos, _) in self.object_poses().items()}
        self.record.write(json.dumps(row) + "\n")

    # --- the adapter -----------------------------------------------------------------
    def read_state(self):
        q, v = self.arm_state()
        return q, v, sum(self.finger_state()[0]), self.grasped()

    def execute(self, trajectory, sample_at):
        self.sample_at, self.goal_step = sample_at, self.steps

    def stop(self):
        self.sample_at = None
        self.target = self.arm_state()[0]
        self.finger_target = sum(self.finger_state()[0]) / 2.0

    def gripper(self, position, max_effort):
        self.finger_target = position / 2.0
        self.finger_force = max(min(max_effort / 2.0, FINGER_EFFORT_N), 1.0)
        self.grip_started, self.grip_still_since = self.steps, None
        return None

    def gripper_poll(self):
        if self.grip_started is None:
            return None
        elapsed = (self.steps - self.grip_started) * DT
        moving = any(abs(v) > 0.002 for v in self.finger_state()[1])
        if moving or elapsed < 0.05:
            self.grip_still_since = None
        elif self.grip_still_since is None:
            self.grip_still_since = self.steps
        still = self.grip_still_since is not None and (self.steps - self.grip_still_since) * DT >= GRIP_STILL_S
        if not (still or elapsed >= GRIP_TIMEOUT_S):
            return None
        self.grip_started = None
        return sum(self.finger_state()[0]), self.grasped()

    def object_poses(self):
        out = {}
        for name, body in self.objects.items():
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
            out[name] = (list(pos), list(orn))
        return out

    def on_event(self, stamp, what):
        super().on_event(stamp, what)
        if self.record is not None:
            self.record.write(json.dumps({"t": time.time(), "event": what}) + "\n")
            self.record.flush()

    def settle(self, secs):
        """Keep the arm holding and the world stepping, in real time, for `secs`."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            self.update()
            time.sleep(0.004)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world", help="the JSON of `cap world SCENE --seed N`")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--once", action="store_true", help="exit when the first connection ends")
    ap.add_argument("--final-poses", help="write the object poses here when a connection ends")
    ap.add_argument("--record", help="write joint states and events here (JSON lines)")
    args = ap.parse_args()
    with open(args.world) as f:
        world = json.load(f)
    arm = PyBulletPanda(world, record=args.record)

    def ended():
        arm.settle(1.0)
        if args.final_poses:
            poses = {n: {"position": pos, "orientation": orn} for n, (pos, orn) in arm.object_poses().items()}
            with open(args.final_poses, "w") as f:
                json.dump({"objects": poses}, f, indent=1)
        if arm.record is not None:
            arm.record.flush()

    arm.on_session_end = ended
    arm.serve(args.host, args.port, once=args.once)


if __name__ == "__main__":
    main()
