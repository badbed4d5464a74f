#!/usr/bin/env python3
"""The CaP-style Franka Panda pick-and-place in PyBullet, measured the way `cap bench`
measures cap: 4 cm cubes and a plate on a table, dt 1/240, IK + position control,
success = the cube within 3 cm of the plate centre. Prints one JSON object.

    pip install pybullet==3.2.7     # Python 3.11; pybullet_data ships the Panda
    python3 bench/compare/pybullet_pickplace.py --reps 10

`cap bench --compare PYTHON` runs this with PYTHON and prints the ratios.
"""
import argparse
import json
import statistics
import time

import pybullet as p
import pybullet_data

DT = 1.0 / 240.0
EE = 11  # panda_grasptarget
FINGERS = (9, 10)
DOWN = None


def build(seed):
    p.resetSimulation()
    p.setAdditionalSearchPath(pybullet_data.getDataPath())
    p.setGravity(0, 0, -9.81)
    p.setTimeStep(DT)
    table = p.createMultiBody(0, p.createCollisionShape(p.GEOM_BOX, halfExtents=[0.5, 0.6, 0.025]),
                              p.createVisualShape(p.GEOM_BOX, halfExtents=[0.5, 0.6, 0.025], rgbaColor=[0.55, 0.38, 0.22, 1]),
                              basePosition=[0.45, 0, -0.025])
    robot = p.loadURDF("franka_panda/panda.urdf", [0, 0, 0], useFixedBase=True)
    # The Panda's fingers need a gear constraint or the cube slides in the grip.
    c = p.createConstraint(robot, FINGERS[0], robot, FINGERS[1], p.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0])
    p.changeConstraint(c, gearRatio=-1, erp=0.1, maxForce=50)
    for j in FINGERS:
        p.changeDynamics(robot, j, lateralFriction=1.0)
    home = [0, -0.785, 0, -2.356, 0, 1.571, 0.785]
    for j, q in enumerate(home):
        p.resetJointState(robot, j, q)
    for j in FINGERS:
        p.resetJointState(robot, j, 0.04)
    jitter = ((seed * 7919) % 61 - 30) / 1000.0
    colours = [[0.85, 0.12, 0.1, 1], [0.15, 0.65, 0.2, 1], [0.12, 0.25, 0.85, 1]]
    cubes = []
    for i, (x, y) in enumerate([(0.45 + jitter, 0.15), (0.55, 0.05), (0.40, -0.05)]):
        cs = p.createCollisionShape(p.GEOM_BOX, halfExtents=[0.02] * 3)
        vs = p.createVisualShape(p.GEOM_BOX, halfExtents=[0.02] * 3, rgbaColor=colours[i])
        cubes.append(p.createMultiBody(0.08, cs, vs, basePosition=[x, y, 0.02]))
    ps = p.createCollisionShape(p.GEOM_CYLINDER, radius=0.08, height=0.015)
    pv = p.createVisualShape(p.GEOM_CYLINDER, radius=0.08, length=0.015, rgbaColor=[0.12, 0.25, 0.85, 1])
    plate = p.createMultiBody(0.25, ps, pv, basePosition=[0.5, -0.25, 0.0075])
    for _ in range(60):
        p.stepSimulation()
    return robot, cubes, plate


def drive(robot, target, grip, steps):
    q = p.calculateInverseKinematics(robot, EE, target, DOWN, maxNumIterations=50)
    for j in range(7):
        p.setJointMotorControl2(robot, j, p.POSITION_CONTROL, q[j], force=200, maxVelocity=1.7)
    for j in FINGERS:
        p.setJointMotorControl2(robot, j, p.POSITION_CONTROL, grip, force=30)
    for _ in range(steps):
        p.stepSimulation()
    return steps


def episode(seed):
    robot, cubes, plate = build(seed)
    cube = cubes[0]
    c = p.getBasePositionAndOrientation(cube)[0]
    t = p.getBasePositionAndOrientation(plate)[0]
    n = 0
    n += drive(robot, [c[0], c[1], c[2] + 0.15], 0.04, 200)
    n += drive(robot, [c[0], c[1], c[2] + 0.005], 0.04, 150)
    n += drive(robot, [c[0], c[1], c[2] + 0.005], 0.0, 100)
    n += drive(robot, [c[0], c[1], c[2] + 0.15], 0.0, 150)
    n += drive(robot, [t[0], t[1], t[2] + 0.15], 0.0, 250)
    n += drive(robot, [t[0], t[1], t[2] + 0.04], 0.0, 150)
    n += drive(robot, [t[0], t[1], t[2] + 0.04], 0.04, 100)
    n += drive(robot, [t[0], t[1], t[2] + 0.15], 0.04, 121)
    f = p.getBasePositionAndOrientation(cube)[0]
    ok = ((f[0] - t[0]) ** 2 + (f[1] - t[1]) ** 2) ** 0.5 < 0.03 and f[2] > t[2]
    return ok, n


def main():
    global DOWN
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    p.connect(p.DIRECT)
    DOWN = p.getQuaternionFromEuler([3.14159265, 0, 0])
    idle, eps, renders, ok_count, steps = [], [], [], 0, 0
    for r in range(a.reps):
        build(r)
        t0 = time.perf_counter()
        for _ in range(4000):
            p.stepSimulation()
        idle.append(4000 / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        ok, steps = episode(r)
        eps.append((time.perf_counter() - t0) * 1e3)
        ok_count += ok
        view = p.computeViewMatrix([1.3, 0, 0.85], [0.35, 0, 0.08], [0, 0, 1])
        proj = p.computeProjectionMatrixFOV(55, 1.0, 0.01, 5)
        t0 = time.perf_counter()
        for _ in range(5):
            p.getCameraImage(224, 224, view, proj, renderer=p.ER_TINY_RENDERER)
        renders.append((time.perf_counter() - t0) * 1e3 / 5)
    t0 = time.perf_counter()
    for s in range(20):
        episode(100 + s)
    batch = 20 / (time.perf_counter() - t0)
    med = statistics.median
    print(json.dumps({
        "pybullet": p.getAPIVersion(),
        "idle_steps_per_s": med(idle),
        "episode_ms": med(eps),
        "episode_steps": steps,
        "episode_success": f"{ok_count}/{a.reps}",
        "render_ms": med(renders),
        "batch20_episodes_per_s": batch,
    }))


if __name__ == "__main__":
    main()
