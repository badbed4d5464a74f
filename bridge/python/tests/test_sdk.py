"""The SDK's promises, against its ideal arm (examples/kinematic_arm.py), as cap would
see them over the socket: goal checks, the watchdog, latching until `recover`, one
client at a time, and a reconnect that does not resume the old goal.

    python -m unittest discover -s bridge/python/tests

Each test is bounded (every wait has a deadline); the server binds an ephemeral port
on 127.0.0.1."""

import asyncio
import json
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

from websockets.sync.client import connect  # noqa: E402

import cap_bridge  # noqa: E402
from kinematic_arm import HOME, KinematicArm  # noqa: E402

NAMES = [f"panda_joint{i}" for i in range(1, 8)]


class QuietArm(KinematicArm):
    def __init__(self):
        super().__init__()
        self.stops = []

    def on_event(self, stamp, what):
        pass

    def stop(self):
        self.stops.append(time.monotonic())
        super().stop()


def serve_in_thread(arm):
    """Start `arm` on an ephemeral port in a thread; return the port."""
    ready = threading.Event()
    port = []

    def run():
        asyncio.run(arm.serve_async("127.0.0.1", 0, lambda p: (port.append(p), ready.set())))

    threading.Thread(target=run, daemon=True).start()
    if not ready.wait(5.0):
        raise RuntimeError("the arm did not start serving within 5 s")
    return port[0]


def duration(t):
    return {"sec": int(t), "nanosec": int(round((t - int(t)) * 1e9))}


def goal(goal_id, expires_at, seconds=2.0, joint1=0.5, names=NAMES, times=None):
    """Joint 1 from HOME to HOME + joint1 in `seconds`, 20 points."""
    times = times or [seconds * (k + 1) / 20 for k in range(20)]
    points = []
    for t in times:
        q = list(HOME)
        q[0] += joint1 * min(t / seconds, 1.0)
        points.append({"positions": q, "velocities": [0.0] * 7, "time_from_start": duration(t)})
    tol = [{"name": n, "position": 0.05, "velocity": 0.0} for n in names]
    return {"type": "execute", "goal_id": goal_id,
            "trajectory": {"joint_names": list(names), "points": points},
            "path_tolerance": tol,
            "goal_tolerance": [{"name": n, "position": 0.01, "velocity": 0.05} for n in names],
            "goal_time_tolerance": duration(0.5), "expires_at": expires_at}


class Client:
    def __init__(self, port):
        self.ws = connect(f"ws://127.0.0.1:{port}", open_timeout=5)
        self.hello = json.loads(self.ws.recv(timeout=5))
        self.ws.send(json.dumps({"type": "hello", "protocol": 1, "client": "test"}))
        self.seq = 0
        self.state = None

    def beat(self):
        self.seq += 1
        self.ws.send(json.dumps({"type": "heartbeat", "seq": self.seq}))

    def until(self, pred, within, beat=True):
        """Read messages (sending heartbeats every 50 ms if `beat`) until `pred(msg)`;
        return that message, or fail after `within` s."""
        deadline = time.monotonic() + within
        last_beat = 0.0
        while time.monotonic() < deadline:
            if beat and time.monotonic() - last_beat > 0.05:
                self.beat()
                last_beat = time.monotonic()
            try:
                m = json.loads(self.ws.recv(timeout=0.02))
            except TimeoutError:
                continue
            if m["type"] == "state":
                self.state = m
            if pred(m):
                return m
        raise AssertionError(f"nothing matched within {within} s (last state {self.state})")

    def now(self):
        """The robot's clock, from its latest state."""
        return self.until(lambda m: m["type"] == "state", 2.0)["stamp"]

    def send(self, m):
        self.ws.send(json.dumps(m))

    def response(self, goal_id):
        return self.until(lambda m: m["type"] == "goal_response" and m["goal_id"] == goal_id, 2.0)

    def close(self):
        self.ws.close()


class SdkTests(unittest.TestCase):
    def setUp(self):
        self.arm = QuietArm()
        self.port = serve_in_thread(self.arm)

    def test_hello_declares_the_arm(self):
        c = Client(self.port)
        self.assertEqual(c.hello["protocol"], cap_bridge.PROTOCOL_VERSION)
        self.assertEqual(c.hello["joint_names"], NAMES)
        self.assertEqual(len(c.hello["limits"]["jerk"]), 7)
        s = c.until(lambda m: m["type"] == "state", 2.0)
        self.assertEqual(s["mode"], "idle")
        self.assertEqual(s["joint_state"]["position"], HOME)
        c.close()

    def test_goal_checks_refuse_with_ros_codes(self):
        c = Client(self.port)
        now = c.now()
        cases = [
            ("wrong_joints", goal("a", now + 5, names=list(reversed(NAMES))), cap_bridge.INVALID_JOINTS),
            ("expired", goal("b", now - 0.5), cap_bridge.OLD_HEADER_TIMESTAMP),
            ("beyond_limit", goal("c", now + 5, joint1=3.5), cap_bridge.INVALID_GOAL),
            ("times_not_increasing", goal("d", now + 5, times=[0.5, 0.5, 1.0]), cap_bridge.INVALID_GOAL),
        ]
        for what, g, code in cases:
            c.send(g)
            r = c.response(g["goal_id"])
            self.assertFalse(r["accepted"], what)
            self.assertEqual(r["error_code"], code, f"{what}: {r['error_string']}")
        # Nothing moved.
        self.assertEqual(c.until(lambda m: m["type"] == "state", 2.0)["joint_state"]["position"], HOME)
        c.close()

    def test_a_goal_runs_to_a_successful_result(self):
        c = Client(self.port)
        c.send(goal("g1", c.now() + 1.0, seconds=0.5))
        self.assertTrue(c.response("g1")["accepted"])
        r = c.until(lambda m: m["type"] == "result", 3.0)
        self.assertEqual(r["error_code"], cap_bridge.SUCCESSFUL, r["error_string"])
        q = c.until(lambda m: m["type"] == "state", 2.0)["joint_state"]["position"]
        self.assertAlmostEqual(q[0], HOME[0] + 0.5, places=6)
        c.close()

    def test_silent_client_stops_the_arm_within_the_watchdog_and_latches(self):
        c = Client(self.port)
        c.send(goal("g1", c.now() + 1.0, seconds=3.0))
        self.assertTrue(c.response("g1")["accepted"])
        c.until(lambda m: m["type"] == "state" and m["joint_state"]["position"][0] > HOME[0] + 0.05, 2.0)
        silent_since = time.monotonic()
        s = c.until(lambda m: m["type"] == "state" and m["mode"] == "error", 2.0, beat=False)
        self.assertEqual(s["error"]["code"], "watchdog")
        self.assertEqual(len(self.arm.stops), 1)
        # The SDK stopped the arm within the watchdog (200 ms) of the last heartbeat,
        # give or take one 4 ms control period and this test's own 50 ms beat spacing.
        self.assertLess(self.arm.stops[0] - silent_since, 0.2 + 0.06)
        held = s["joint_state"]["position"]
        self.assertLess(held[0], HOME[0] + 0.5 - 0.05, "the goal must not have run to its end")
        later = c.until(lambda m: m["type"] == "state", 2.0)
        time.sleep(0.3)
        later = c.until(lambda m: m["type"] == "state" and m["seq"] > later["seq"] + 10, 2.0)
        self.assertEqual(later["joint_state"]["position"], held, "the arm must hold")
        self.assertEqual(later["mode"], "error", "the error latches")
        # Refused until recover, accepted after.
        c.send(goal("g2", c.now() + 1.0, seconds=0.5, joint1=0.0))
        r = c.response("g2")
        self.assertFalse(r["accepted"])
        self.assertIn("recover", r["error_string"])
        c.send({"type": "recover"})
        c.until(lambda m: m["type"] == "state" and m["mode"] == "idle", 2.0)
        c.send(goal("g3", c.now() + 1.0, seconds=0.5, joint1=0.0))
        self.assertTrue(c.response("g3")["accepted"])
        c.close()

    def test_second_client_is_refused_while_one_is_connected(self):
        first = Client(self.port)
        with self.assertRaises(Exception):
            second = Client(self.port)
            second.until(lambda m: False, 1.0)
        first.until(lambda m: m["type"] == "state", 2.0)
        first.close()

    def test_a_reconnect_does_not_resume_the_old_goal(self):
        c = Client(self.port)
        c.send(goal("g1", c.now() + 1.0, seconds=3.0))
        self.assertTrue(c.response("g1")["accepted"])
        c.until(lambda m: m["type"] == "state" and m["joint_state"]["position"][0] > HOME[0] + 0.05, 2.0)
        c.close()
        deadline = time.monotonic() + 2.0
        while not self.arm.stops and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.arm.stops), 1, "a drop mid-goal stops the arm")
        again = Client(self.port)
        s = again.until(lambda m: m["type"] == "state", 2.0)
        self.assertEqual(s["mode"], "error")
        self.assertEqual(s["error"]["code"], "link_lost")
        self.assertIsNone(s["active_goal"])
        time.sleep(0.2)
        later = again.until(lambda m: m["type"] == "state" and m["seq"] > s["seq"] + 10, 2.0)
        self.assertEqual(later["joint_state"]["position"], s["joint_state"]["position"])
        again.close()


class ExampleTests(unittest.TestCase):
    def test_every_example_compiles(self):
        # The ROS 2 and LeRobot sketches cannot run here (no rclpy, no lerobot, no
        # arm); they must at least be valid Python.
        folder = os.path.join(HERE, "..", "examples")
        names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
        self.assertIn("ros2_control_adapter.py", names)
        self.assertIn("so101_lerobot_adapter.py", names)
        for n in names:
            with open(os.path.join(folder, n)) as f:
                compile(f.read(), n, "exec")


if __name__ == "__main__":
    unittest.main()
