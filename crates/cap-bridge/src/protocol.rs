//! The bridge protocol, version [`PROTOCOL_VERSION`]: JSON text messages over one
//! WebSocket, cap the client, the robot-side adapter the server. Field names mirror
//! ROS 2's `sensor_msgs/JointState`, `trajectory_msgs/JointTrajectory`,
//! `control_msgs/FollowJointTrajectory` and `control_msgs/GripperCommand`, so that a
//! ros2_control adapter is a field copy. `docs/bridge-protocol.md` is the reference.
//!
//! Every message is an object with a `type`. Nothing a robot sends is trusted: each
//! message is checked against the robot's own `hello` ([`check_state`] and friends) and
//! refused with a [`ProtocolError`] that says which field is wrong.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks; a `hello` with another is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// `FollowJointTrajectory` result codes.
pub mod codes {
    /// The goal was reached and the robot stopped.
    pub const SUCCESSFUL: i32 = 0;
    /// The goal is malformed (empty, non-finite, times not increasing, outside limits).
    pub const INVALID_GOAL: i32 = -1;
    /// The goal's joint names are not the robot's.
    pub const INVALID_JOINTS: i32 = -2;
    /// The goal arrived after its expiry.
    pub const OLD_HEADER_TIMESTAMP: i32 = -3;
    /// A joint left the path tolerance; the robot holds.
    pub const PATH_TOLERANCE_VIOLATED: i32 = -4;
    /// The robot stopped outside the goal tolerance.
    pub const GOAL_TOLERANCE_VIOLATED: i32 = -5;
}

/// A duration as ROS writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosDuration {
    /// Whole seconds.
    pub sec: i32,
    /// Nanoseconds, 0..1e9.
    pub nanosec: u32,
}

impl RosDuration {
    /// From seconds (negative and non-finite values become 0).
    pub fn from_secs(s: f64) -> Self {
        let s = if s.is_finite() { s.max(0.0) } else { 0.0 };
        let whole = s.floor();
        Self {
            sec: whole.min(f64::from(i32::MAX)) as i32,
            nanosec: (((s - whole) * 1e9).round() as u32).min(999_999_999),
        }
    }

    /// In seconds.
    pub fn as_secs(self) -> f64 {
        f64::from(self.sec) + f64::from(self.nanosec) * 1e-9
    }
}

/// Per-joint limits, in the order of `joint_names` (rad, rad/s, rad/s², rad/s³; m for
/// prismatic joints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Lower position limits.
    pub position_lower: Vec<f64>,
    /// Upper position limits.
    pub position_upper: Vec<f64>,
    /// Velocity limits.
    pub velocity: Vec<f64>,
    /// Acceleration limits.
    pub acceleration: Vec<f64>,
    /// Jerk limits.
    pub jerk: Vec<f64>,
}

/// The robot's gripper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GripperInfo {
    /// Widest opening, m.
    pub max_width: f64,
    /// Largest grip force, N.
    pub max_effort: f64,
}

/// The server's first message: who the robot is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotHello {
    /// Protocol version.
    pub protocol: u32,
    /// The robot's name (`panda`, `so101`, ...).
    pub robot: String,
    /// The arm's joints, base to tool.
    pub joint_names: Vec<String>,
    /// Their limits.
    pub limits: Limits,
    /// The gripper, if it has one.
    pub gripper: Option<GripperInfo>,
    /// What it supports beyond the core messages: `objects`, `gripper`, `recover`.
    pub capabilities: Vec<String>,
    /// How often it sends `state`, Hz.
    pub state_rate_hz: f64,
    /// Heartbeats the robot must hear from cap at least this often, ms; it stops and
    /// latches an error after that long without one.
    pub watchdog_ms: u32,
}

impl RobotHello {
    /// The `hello` of a robot that is `arm` (its joints, position and velocity limits),
    /// with `dynamics`' acceleration and jerk limits and a parallel gripper opening
    /// `gripper_max_width` m: what a robot-side adapter for a cap arm sends. 100 Hz
    /// state, a 200 ms watchdog.
    pub fn for_arm(
        robot: &str,
        arm: &cap_core::arm::ArmKinematics,
        dynamics: &cap_core::robot::DynamicLimits,
        gripper_max_width: f64,
    ) -> Self {
        let n = arm.dof();
        Self {
            protocol: PROTOCOL_VERSION,
            robot: robot.to_owned(),
            joint_names: arm.joint_names().to_vec(),
            limits: Limits {
                position_lower: arm.q_min()[..n].to_vec(),
                position_upper: arm.q_max()[..n].to_vec(),
                velocity: arm.v_max()[..n].to_vec(),
                acceleration: dynamics.a_max[..n].to_vec(),
                jerk: dynamics.j_max[..n].to_vec(),
            },
            gripper: Some(GripperInfo {
                max_width: gripper_max_width,
                max_effort: 70.0,
            }),
            capabilities: vec!["gripper".into(), "recover".into()],
            state_rate_hz: 100.0,
            watchdog_ms: 200,
        }
    }
}

/// cap's first message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientHello {
    /// Protocol version.
    pub protocol: u32,
    /// What cap is (`cap 0.1.0`).
    pub client: String,
}

/// `sensor_msgs/JointState`, less the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JointState {
    /// Joint names.
    pub name: Vec<String>,
    /// Positions.
    pub position: Vec<f64>,
    /// Velocities.
    pub velocity: Vec<f64>,
}

/// The gripper as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GripperState {
    /// Opening, m.
    pub width: f64,
    /// Whether it holds something.
    pub grasped: bool,
}

/// What the robot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// At rest, ready for a goal.
    Idle,
    /// Following a goal.
    Executing,
    /// Stopped on an error, latched until `recover`.
    Error,
    /// Emergency-stopped, latched until `recover`.
    Estop,
}

/// A robot-side error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotFault {
    /// Short machine-readable code (`watchdog`, `joint_limit`, `estop`, ...).
    pub code: String,
    /// What happened.
    pub message: String,
}

/// The robot's state, sent at `state_rate_hz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Sequence number, increasing by one.
    pub seq: u64,
    /// Robot clock, s.
    pub stamp: f64,
    /// The arm's joints.
    pub joint_state: JointState,
    /// The gripper, if there is one.
    pub gripper: Option<GripperState>,
    /// What it is doing.
    pub mode: Mode,
    /// The goal it is following.
    pub active_goal: Option<String>,
    /// The latched error, in `error` and `estop` modes.
    pub error: Option<RobotFault>,
}

/// An object's pose from the robot side's perception (mocap, tags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectPose {
    /// The object's name in cap's scene.
    pub name: String,
    /// Position of its bounding-box centre, m, in cap's world frame.
    pub position: [f64; 3],
    /// Orientation, quaternion `[x, y, z, w]`.
    pub orientation: [f64; 4],
}

/// `trajectory_msgs/JointTrajectoryPoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryPoint {
    /// Positions.
    pub positions: Vec<f64>,
    /// Velocities.
    pub velocities: Vec<f64>,
    /// When, from the start of the trajectory.
    pub time_from_start: RosDuration,
}

/// `trajectory_msgs/JointTrajectory`, less the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// Joint names, in the order of every point's values.
    pub joint_names: Vec<String>,
    /// The points.
    pub points: Vec<TrajectoryPoint>,
}

/// `control_msgs/JointTolerance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JointTolerance {
    /// The joint.
    pub name: String,
    /// Position tolerance.
    pub position: f64,
    /// Velocity tolerance.
    pub velocity: f64,
}

/// `FollowJointTrajectory.Goal` with an expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execute {
    /// cap's id for the goal.
    pub goal_id: String,
    /// The trajectory.
    pub trajectory: Trajectory,
    /// How far the measured state may be from the commanded one on the way.
    pub path_tolerance: Vec<JointTolerance>,
    /// How far from the last point it may stop.
    pub goal_tolerance: Vec<JointTolerance>,
    /// How long after the last point's time the robot may take to stop there.
    pub goal_time_tolerance: RosDuration,
    /// Robot clock after which the goal must be refused (`OLD_HEADER_TIMESTAMP`).
    pub expires_at: f64,
}

/// Messages cap sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message.
    Hello(ClientHello),
    /// Follow a trajectory.
    Execute(Execute),
    /// Stop the goal and hold.
    Cancel {
        /// The goal.
        goal_id: String,
    },
    /// `control_msgs/GripperCommand`.
    Gripper {
        /// cap's id for the command.
        id: String,
        /// Target opening, m.
        position: f64,
        /// Grip force, N.
        max_effort: f64,
    },
    /// Clear a latched error or e-stop (after a person has looked).
    Recover,
    /// cap is alive.
    Heartbeat {
        /// Increasing by one.
        seq: u64,
    },
}

/// Messages the robot sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The first message.
    Hello(RobotHello),
    /// The robot's state.
    State(State),
    /// Object poses.
    Objects {
        /// Robot clock, s.
        stamp: f64,
        /// The poses.
        objects: Vec<ObjectPose>,
    },
    /// Whether a goal was accepted.
    GoalResponse {
        /// The goal.
        goal_id: String,
        /// Accepted (then feedback and a result follow) or not.
        accepted: bool,
        /// A [`codes`] value when refused.
        error_code: i32,
        /// Why.
        error_string: String,
    },
    /// Progress of the active goal.
    Feedback {
        /// The goal.
        goal_id: String,
        /// Commanded positions now.
        desired: Vec<f64>,
        /// Measured positions now.
        actual: Vec<f64>,
        /// Time since the goal started, s.
        time_from_start: RosDuration,
    },
    /// How a goal ended; sent once the robot has stopped.
    Result {
        /// The goal.
        goal_id: String,
        /// A [`codes`] value.
        error_code: i32,
        /// Why, when not successful.
        error_string: String,
    },
    /// How a gripper command ended.
    GripperResult {
        /// The command.
        id: String,
        /// Final opening, m.
        position: f64,
        /// Whether it holds something.
        grasped: bool,
        /// Why it failed, if it did.
        error: Option<String>,
    },
    /// The robot is alive.
    Heartbeat {
        /// Increasing by one.
        seq: u64,
    },
}

/// A message that breaks the protocol.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// Not JSON, or not a message of the protocol.
    #[error("not a protocol message: {0}")]
    Malformed(String),
    /// Another protocol version.
    #[error("the robot speaks protocol {got}; this cap speaks {PROTOCOL_VERSION}")]
    Version {
        /// The robot's version.
        got: u32,
    },
    /// A field's value is unusable.
    #[error("{message}.{field}: {detail}")]
    Field {
        /// Which message.
        message: &'static str,
        /// Which field (`joint_state.position[3]`).
        field: String,
        /// What is wrong.
        detail: String,
    },
}

fn field(
    message: &'static str,
    field: impl Into<String>,
    detail: impl Into<String>,
) -> ProtocolError {
    ProtocolError::Field {
        message,
        field: field.into(),
        detail: detail.into(),
    }
}

/// Read a robot's message.
pub fn parse_server(text: &str) -> Result<ServerMessage, ProtocolError> {
    serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Read cap's message (the robot side does).
pub fn parse_client(text: &str) -> Result<ClientMessage, ProtocolError> {
    serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// A message as the text sent on the socket.
pub fn to_text<T: Serialize>(m: &T) -> Result<String, ProtocolError> {
    serde_json::to_string(m).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

fn finite(message: &'static str, name: &str, values: &[f64]) -> Result<(), ProtocolError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(field(
            message,
            format!("{name}[{i}]"),
            "not a finite number",
        )),
        None => Ok(()),
    }
}

/// Check a robot's `hello`: the version, one limit of each kind per joint, finite,
/// lower below upper, the rest positive; 1 to 7 joints with distinct names; a
/// watchdog and a state rate cap can work with.
pub fn check_hello(h: &RobotHello) -> Result<(), ProtocolError> {
    const M: &str = "hello";
    if h.protocol != PROTOCOL_VERSION {
        return Err(ProtocolError::Version { got: h.protocol });
    }
    let n = h.joint_names.len();
    if !(1..=cap_core::arm::MAX_DOF).contains(&n) {
        return Err(field(
            M,
            "joint_names",
            format!("{n} joints; cap drives 1 to {}", cap_core::arm::MAX_DOF),
        ));
    }
    for (i, name) in h.joint_names.iter().enumerate() {
        if name.is_empty() || h.joint_names[..i].contains(name) {
            return Err(field(
                M,
                format!("joint_names[{i}]"),
                format!("`{name}` is empty or repeated"),
            ));
        }
    }
    let l = &h.limits;
    for (name, values) in [
        ("limits.position_lower", &l.position_lower),
        ("limits.position_upper", &l.position_upper),
        ("limits.velocity", &l.velocity),
        ("limits.acceleration", &l.acceleration),
        ("limits.jerk", &l.jerk),
    ] {
        if values.len() != n {
            return Err(field(
                M,
                name,
                format!("{} values for {n} joints", values.len()),
            ));
        }
        finite(M, name, values)?;
    }
    for i in 0..n {
        if l.position_lower[i] >= l.position_upper[i] {
            return Err(field(
                M,
                format!("limits.position_lower[{i}]"),
                "not below the upper limit",
            ));
        }
        for (name, v) in [
            ("limits.velocity", l.velocity[i]),
            ("limits.acceleration", l.acceleration[i]),
            ("limits.jerk", l.jerk[i]),
        ] {
            if v <= 0.0 {
                return Err(field(M, format!("{name}[{i}]"), "not positive"));
            }
        }
    }
    if let Some(g) = &h.gripper {
        if !(g.max_width.is_finite() && g.max_width > 0.0 && g.max_width < 0.5) {
            return Err(field(M, "gripper.max_width", format!("{} m", g.max_width)));
        }
        if !(g.max_effort.is_finite() && g.max_effort > 0.0) {
            return Err(field(
                M,
                "gripper.max_effort",
                format!("{} N", g.max_effort),
            ));
        }
    }
    if !(h.state_rate_hz.is_finite() && h.state_rate_hz >= 50.0) {
        return Err(field(
            M,
            "state_rate_hz",
            format!("{} Hz; the protocol needs at least 50", h.state_rate_hz),
        ));
    }
    if !(20..=5000).contains(&h.watchdog_ms) {
        return Err(field(
            M,
            "watchdog_ms",
            format!("{} ms is outside 20..5000", h.watchdog_ms),
        ));
    }
    Ok(())
}

/// Check a `state` against the robot's `hello` and the previous state's sequence
/// number: the same joints in the same order, finite values, a sequence that moves on,
/// and an error in the modes that latch one.
pub fn check_state(
    s: &State,
    hello: &RobotHello,
    previous_seq: Option<u64>,
) -> Result<(), ProtocolError> {
    const M: &str = "state";
    let js = &s.joint_state;
    if js.name != hello.joint_names {
        return Err(field(
            M,
            "joint_state.name",
            format!(
                "{:?}, the robot's joints are {:?}",
                js.name, hello.joint_names
            ),
        ));
    }
    for (name, values) in [
        ("joint_state.position", &js.position),
        ("joint_state.velocity", &js.velocity),
    ] {
        if values.len() != js.name.len() {
            return Err(field(
                M,
                name,
                format!("{} values for {} joints", values.len(), js.name.len()),
            ));
        }
        finite(M, name, values)?;
    }
    if !s.stamp.is_finite() {
        return Err(field(M, "stamp", "not a finite number"));
    }
    if let Some(prev) = previous_seq {
        if s.seq <= prev {
            return Err(field(M, "seq", format!("{} after {prev}", s.seq)));
        }
    }
    if let Some(g) = &s.gripper {
        if !g.width.is_finite() || g.width < -1e-3 {
            return Err(field(M, "gripper.width", format!("{}", g.width)));
        }
    }
    if matches!(s.mode, Mode::Error | Mode::Estop) && s.error.is_none() {
        return Err(field(M, "error", "missing in an error or estop mode"));
    }
    Ok(())
}

/// Check object poses: finite, a unit quaternion, names given.
pub fn check_objects(objects: &[ObjectPose]) -> Result<(), ProtocolError> {
    const M: &str = "objects";
    for (i, o) in objects.iter().enumerate() {
        if o.name.is_empty() {
            return Err(field(M, format!("objects[{i}].name"), "empty"));
        }
        finite(M, &format!("objects[{i}].position"), &o.position)?;
        finite(M, &format!("objects[{i}].orientation"), &o.orientation)?;
        let norm = o.orientation.iter().map(|v| v * v).sum::<f64>().sqrt();
        if (norm - 1.0).abs() > 1e-3 {
            return Err(field(
                M,
                format!("objects[{i}].orientation"),
                format!("not a unit quaternion (norm {norm:.4})"),
            ));
        }
    }
    Ok(())
}

/// Check a goal against the robot's `hello` (what the robot side does before it
/// accepts one): `Err((code, why))` with a [`codes`] value.
pub fn check_execute(e: &Execute, hello: &RobotHello, now: f64) -> Result<(), (i32, String)> {
    let t = &e.trajectory;
    if t.joint_names != hello.joint_names {
        return Err((
            codes::INVALID_JOINTS,
            format!(
                "joints {:?}, the robot's are {:?}",
                t.joint_names, hello.joint_names
            ),
        ));
    }
    if now > e.expires_at {
        return Err((
            codes::OLD_HEADER_TIMESTAMP,
            format!("expired at {:.3} s, now {now:.3} s", e.expires_at),
        ));
    }
    if t.points.is_empty() {
        return Err((codes::INVALID_GOAL, "no points".into()));
    }
    let n = t.joint_names.len();
    let l = &hello.limits;
    let mut last = -1.0;
    for (k, p) in t.points.iter().enumerate() {
        if p.positions.len() != n || p.velocities.len() != n {
            return Err((
                codes::INVALID_GOAL,
                format!(
                    "point {k}: {} positions and {} velocities for {n} joints",
                    p.positions.len(),
                    p.velocities.len()
                ),
            ));
        }
        if p.positions
            .iter()
            .chain(&p.velocities)
            .any(|v| !v.is_finite())
        {
            return Err((
                codes::INVALID_GOAL,
                format!("point {k}: a value is not finite"),
            ));
        }
        let at = p.time_from_start.as_secs();
        if at <= last {
            return Err((
                codes::INVALID_GOAL,
                format!("point {k}: time_from_start {at:.4} s does not increase"),
            ));
        }
        last = at;
        for i in 0..n {
            let q = p.positions[i];
            if q < l.position_lower[i] - 1e-9 || q > l.position_upper[i] + 1e-9 {
                return Err((
                    codes::INVALID_GOAL,
                    format!(
                        "point {k}: joint `{}` at {q:.4} is outside [{:.4}, {:.4}]",
                        t.joint_names[i], l.position_lower[i], l.position_upper[i]
                    ),
                ));
            }
            if p.velocities[i].abs() > l.velocity[i] * (1.0 + 1e-6) {
                return Err((
                    codes::INVALID_GOAL,
                    format!(
                        "point {k}: joint `{}` at {:.3} rad/s, limit {:.3}",
                        t.joint_names[i], p.velocities[i], l.velocity[i]
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
