"""cap's bridge, robot side: subclass RobotAdapter, fill in five methods, serve.

The SDK speaks protocol version 1 (docs/bridge-protocol.md): it sends `hello`, `state`
(at `state_rate_hz`) and `objects`, checks every goal against the limits you declare,
hands accepted trajectories to your `execute`, watches the path tolerance and the end
of the goal, and keeps the watchdog: if cap's heartbeats stop for `watchdog_ms`, or its
socket drops mid-goal, it calls `stop()` and latches an error until cap sends
`recover`. One client at a time; a new connection never resumes an old goal.

Needs `websockets` (PyPI). Run against cap's `cap exec --robot` with the PyBullet
reference arm (examples/pybullet_panda.py); not run against hardware.
"""

import asyncio
import json
import math
import time

PROTOCOL_VERSION = 1
SUCCESSFUL, INVALID_GOAL, INVALID_JOINTS, OLD_HEADER_TIMESTAMP = 0, -1, -2, -3
PATH_TOLERANCE_VIOLATED, GOAL_TOLERANCE_VIOLATED = -4, -5


def secs(d):
    return d["sec"] + d["nanosec"] * 1e-9


def sample(goal, start, t):
    """Commanded positions at t s into the goal (cubic Hermite, as cap's server)."""
    pts = goal["trajectory"]["points"]
    prev_t, prev_q, prev_v = 0.0, start, [0.0] * len(start)
    for p in pts:
        at = secs(p["time_from_start"])
        if t <= at:
            h = max(at - prev_t, 1e-9)
            s = min(max((t - prev_t) / h, 0.0), 1.0)
            h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
            h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
            return [h00 * q0 + h10 * h * v0 + h01 * q1 + h11 * h * v1
                    for q0, v0, q1, v1 in zip(prev_q, prev_v, p["positions"], p["velocities"])]
        prev_t, prev_q, prev_v = at, p["positions"], p["velocities"]
    return list(pts[-1]["positions"]) if pts else list(start)


def gripper_result(gid, done):
    width, grasped = done
    return {"type": "gripper_result", "id": gid, "position": float(width),
            "grasped": bool(grasped), "error": None}


class RobotAdapter:
    """Subclass and implement read_state, execute, stop, gripper, object_poses."""

    robot = "my robot"
    joint_names = []
    # position_lower, position_upper, velocity, acceleration, jerk: one value per joint
    limits = {}
    gripper_max_width = 0.08
    gripper_max_effort = 70.0
    state_rate_hz = 100.0
    watchdog_ms = 200

    # --- what an integrator implements -------------------------------------------
    def read_state(self):
        """(positions, velocities, gripper_width, grasped) of the arm now."""
        raise NotImplementedError

    def execute(self, trajectory, sample_at):
        """Start following `trajectory` (the goal's points); `sample_at(t)` gives the
        commanded positions t s in. Called once per goal; return at once. `step(t)`
        is then called every control period until the goal ends."""
        raise NotImplementedError

    def step(self, t):
        """Called at the control rate while a goal runs, t s into it (optional)."""

    def stop(self):
        """Stop now and hold where the arm is."""
        raise NotImplementedError

    def gripper(self, position, max_effort):
        """Move the gripper to `position` m (close until it grips). Either block and
        return (width, grasped) (keep it well under the link timeout, 200 ms), or
        start the motion and return None: the SDK then calls `gripper_poll()` every
        control period, and refuses goals, until it returns (width, grasped)."""
        raise NotImplementedError

    def gripper_poll(self):
        """(width, grasped) once a gripper motion `gripper` started has ended, else None."""
        return None

    def update(self):
        """Called every control period (about 4 ms), idle or not: a simulated arm steps
        its physics here."""

    def on_event(self, stamp, what):
        """Each SDK event (connected, goal accepted/done, watchdog, link_lost, ...), with
        its time on the robot's clock. Prints `event T what` by default."""
        print(f"event {stamp:.3f} {what}", flush=True)

    def on_session_end(self):
        """Called when cap's connection ends, after the arm is held."""

    def object_poses(self):
        """{name: ([x, y, z], [qx, qy, qz, qw])} in cap's world frame ({} for none)."""
        return {}

    # --- the SDK ------------------------------------------------------------------
    def __init__(self):
        self.mode, self.error, self.goal, self.seq = "idle", None, None, 0
        self.pending_gripper = None
        self.t0 = time.monotonic()
        self.events = []

    def now(self):
        return time.monotonic() - self.t0

    def event(self, what):
        self.events.append((self.now(), what))
        self.on_event(self.now(), what)

    def halt(self, mode, code, message):
        if self.goal is not None or self.pending_gripper is not None:
            self.stop()
        self.goal, self.mode, self.pending_gripper = None, mode, None
        self.error = {"code": code, "message": message}
        self.event(code)

    def hello(self):
        return {"type": "hello", "protocol": PROTOCOL_VERSION, "robot": self.robot,
                "joint_names": list(self.joint_names), "limits": self.limits,
                "gripper": {"max_width": self.gripper_max_width,
                            "max_effort": self.gripper_max_effort},
                "capabilities": ["gripper", "recover"] + (["objects"] if self.object_poses() else []),
                "state_rate_hz": self.state_rate_hz, "watchdog_ms": self.watchdog_ms}

    def state(self):
        q, v, width, grasped = self.read_state()
        self.seq += 1
        return {"type": "state", "seq": self.seq, "stamp": self.now(),
                "joint_state": {"name": list(self.joint_names), "position": list(q),
                                "velocity": list(v)},
                "gripper": {"width": width, "grasped": bool(grasped)}, "mode": self.mode,
                "active_goal": self.goal["goal_id"] if self.goal else None, "error": self.error}

    def check_goal(self, g):
        t = g["trajectory"]
        if self.mode != "idle":
            return INVALID_GOAL, f"the arm is {self.mode}; send recover first"
        if self.pending_gripper is not None:
            return INVALID_GOAL, "the gripper is moving"
        if t["joint_names"] != list(self.joint_names):
            return INVALID_JOINTS, f"joints {t['joint_names']}, the robot's are {self.joint_names}"
        if self.now() > g["expires_at"]:
            return OLD_HEADER_TIMESTAMP, f"expired at {g['expires_at']:.3f} s"
        if not t["points"]:
            return INVALID_GOAL, "no points"
        lo, hi, vel = (self.limits[k] for k in ("position_lower", "position_upper", "velocity"))
        last = -1.0
        for k, p in enumerate(t["points"]):
            at = secs(p["time_from_start"])
            if at <= last:
                return INVALID_GOAL, f"point {k}: time_from_start does not increase"
            last = at
            for i, (q, v) in enumerate(zip(p["positions"], p["velocities"])):
                if not (math.isfinite(q) and math.isfinite(v)):
                    return INVALID_GOAL, f"point {k}: a value is not finite"
                if q < lo[i] - 1e-9 or q > hi[i] + 1e-9 or abs(v) > vel[i] * (1 + 1e-6):
                    return INVALID_GOAL, f"point {k}: joint `{self.joint_names[i]}` outside its limits"
        return SUCCESSFUL, ""

    def on_message(self, m):
        kind = m.get("type")
        if kind == "execute":
            code, why = self.check_goal(m)
            if code != SUCCESSFUL:
                return [{"type": "goal_response", "goal_id": m["goal_id"], "accepted": False,
                         "error_code": code, "error_string": why}]
            start = list(self.read_state()[0])
            self.goal = dict(m, started=time.monotonic(), start=start)
            self.mode = "executing"
            self.event(f"goal {m['goal_id']} accepted")
            self.execute(m["trajectory"], lambda t: sample(m, start, t))
            return [{"type": "goal_response", "goal_id": m["goal_id"], "accepted": True,
                     "error_code": SUCCESSFUL, "error_string": ""}]
        if kind == "cancel":
            if self.goal and self.goal["goal_id"] == m["goal_id"]:
                self.stop()
                self.goal, self.mode = None, "idle"
                self.event(f"goal {m['goal_id']} cancelled")
                return [{"type": "result", "goal_id": m["goal_id"], "error_code": INVALID_GOAL,
                         "error_string": "cancelled"}]
            return []
        if kind == "gripper":
            pos = m["position"]
            busy = self.mode != "idle" or self.pending_gripper is not None
            if busy or not (0.0 <= pos <= self.gripper_max_width + 1e-9):
                return [{"type": "gripper_result", "id": m["id"], "position": 0.0,
                         "grasped": False, "error": f"refused (mode {self.mode}, width {pos})"}]
            done = self.gripper(pos, min(m["max_effort"], self.gripper_max_effort))
            if done is None:
                self.pending_gripper = m["id"]
                return []
            return [gripper_result(m["id"], done)]
        if kind == "recover":
            self.mode, self.error = "idle", None
            self.event("recovered")
        return []

    def tick(self):
        """Watch the goal: path tolerance, then done when past its end and within the
        goal tolerance. Also ends a gripper motion in progress."""
        if self.pending_gripper is not None:
            done = self.gripper_poll()
            if done is not None:
                gid, self.pending_gripper = self.pending_gripper, None
                return gripper_result(gid, done)
        g = self.goal
        if g is None:
            return None
        t = time.monotonic() - g["started"]
        self.step(t)
        q = self.read_state()[0]
        desired = sample(g, g["start"], t)
        for i, tol in enumerate(x["position"] for x in g["path_tolerance"]):
            if tol > 0 and abs(q[i] - desired[i]) > tol:
                self.stop()
                self.goal, self.mode = None, "idle"
                self.event("path_tolerance")
                return {"type": "result", "goal_id": g["goal_id"],
                        "error_code": PATH_TOLERANCE_VIOLATED,
                        "error_string": f"joint `{self.joint_names[i]}` left its path"}
        end = secs(g["trajectory"]["points"][-1]["time_from_start"])
        if t < end:
            return None
        final = g["trajectory"]["points"][-1]["positions"]
        ok = all(abs(a - b) <= x["position"] for a, b, x in zip(q, final, g["goal_tolerance"]))
        if not ok and t < end + secs(g["goal_time_tolerance"]):
            return None
        self.goal, self.mode = None, "idle"
        self.event(f"goal {g['goal_id']} done")
        return {"type": "result", "goal_id": g["goal_id"],
                "error_code": SUCCESSFUL if ok else GOAL_TOLERANCE_VIOLATED,
                "error_string": "" if ok else "stopped outside the goal tolerance"}

    async def session(self, ws):
        from websockets.exceptions import ConnectionClosed
        self.event("connected")
        heard = time.monotonic()
        period = 1.0 / self.state_rate_hz
        next_state = next_objects = time.monotonic()
        try:
            await ws.send(json.dumps(self.hello()))
            while True:
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=0.004)
                    heard = time.monotonic()
                    for reply in self.on_message(json.loads(text)):
                        await ws.send(json.dumps(reply))
                except asyncio.TimeoutError:
                    pass
                self.update()
                if time.monotonic() - heard > self.watchdog_ms / 1000 and self.mode != "error":
                    self.halt("error", "watchdog", "no heartbeat from the client")
                result = self.tick()
                if result:
                    await ws.send(json.dumps(result))
                now = time.monotonic()
                if now >= next_state:
                    next_state = now + period
                    await ws.send(json.dumps(self.state()))
                if now >= next_objects:
                    next_objects = now + 0.05
                    poses = self.object_poses()
                    if poses:
                        await ws.send(json.dumps({"type": "objects", "stamp": self.now(), "objects": [
                            {"name": n, "position": list(p), "orientation": list(o)}
                            for n, (p, o) in poses.items()]}))
        except (ConnectionClosed, ValueError):
            if self.goal is not None or self.pending_gripper is not None:
                self.halt("error", "link_lost", "the socket dropped")
            else:
                self.event("disconnected")
        self.on_session_end()

    async def serve_async(self, host="127.0.0.1", port=0, ready=None, once=False):
        """Serve cap's connections, one at a time (a second is closed with 1013), and
        call `update()` between them too. With `once`, return when the first ends."""
        from websockets.asyncio.server import serve
        ended = asyncio.Event()
        busy = [False]

        async def handler(ws):
            if busy[0]:
                await ws.close(1013, "another client is connected")
                return
            busy[0] = True
            try:
                await self.session(ws)
            finally:
                busy[0] = False
                ended.set()

        async def idle():
            while True:
                if not busy[0]:
                    self.update()
                await asyncio.sleep(0.004)

        async with serve(handler, host, port) as server:
            port = server.sockets[0].getsockname()[1]
            if ready:
                ready(port)
            ticker = asyncio.create_task(idle())
            try:
                if once:
                    await ended.wait()
                else:
                    await asyncio.Future()
            finally:
                ticker.cancel()

    def serve(self, host="127.0.0.1", port=0, once=False):
        """Serve until interrupted (or, with `once`, until the first connection ends);
        prints the address."""
        asyncio.run(self.serve_async(
            host, port, lambda p: print(f"serving on ws://{host}:{p}", flush=True), once))
