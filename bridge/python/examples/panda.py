"""The Franka Panda's facts the examples share: cap's joint names for it, its ready
pose, and its limits (datasheet position and velocity limits; the acceleration and
jerk limits Franka states for joint motion)."""

JOINTS = [f"panda_joint{i}" for i in range(1, 8)]
HOME = [0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398]
LIMITS = {
    "position_lower": [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973],
    "position_upper": [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973],
    "velocity": [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61],
    "acceleration": [15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0],
    "jerk": [7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0],
}
