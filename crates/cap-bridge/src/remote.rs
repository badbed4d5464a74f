//! The bridge as the arm a world mirrors ([`cap_core::remote::RemoteArm`]): each motion
//! the world's gate admitted becomes one `execute` goal (every few set-points, with
//! times and velocities), sent only when the robot is idle and where the motion was
//! planned from; cap then waits for the result and the robot at rest, keeping the
//! measured positions for the recording. Every bridge error becomes the typed failure
//! the episode ends with.

use std::time::{Duration, Instant};

use cap_core::arm::ArmKinematics;
use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::{Joints, DOF};
use cap_core::nalgebra::{Isometry3, Quaternion, Translation3, UnitQuaternion};
use cap_core::remote::{Measured, RemoteArm, RemoteGripper, RemoteMotion, ReportedObject};
use cap_core::robot::{DynamicLimits, GatedGripper, GatedTrajectory};

use crate::client::{BridgeClient, BridgeError, ClientOptions};
use crate::goal::{self, Tolerances};
use crate::protocol::{codes, RobotHello, State};

/// Every how many 240 Hz set-points a goal carries one (60 Hz; the robot interpolates).
const STRIDE: usize = 4;
/// A goal must reach the robot within this long of being made.
const EXPIRY_S: f64 = 1.0;
/// How long a gripper command may take.
const GRIPPER_LIMIT: Duration = Duration::from_secs(5);
/// How long cap waits for a first `objects` message from a robot that perceives objects.
const OBJECTS_WAIT: Duration = Duration::from_millis(500);

/// A robot behind the bridge.
pub struct BridgeArm {
    client: BridgeClient,
    url: String,
    tolerances: Tolerances,
    next_id: u64,
}

/// The failure a bridge error ends an episode with.
pub fn failure(e: &BridgeError) -> Failure {
    let kind = match e {
        BridgeError::Connect { .. } | BridgeError::LinkLost(_) => FailureKind::LinkLost,
        BridgeError::Protocol(_) | BridgeError::RobotError { .. } => FailureKind::RobotError,
        BridgeError::Estop(_) => FailureKind::Estop,
        BridgeError::Refused { .. } => FailureKind::GoalRefused,
        BridgeError::GoalFailed { code, .. }
            if *code == codes::PATH_TOLERANCE_VIOLATED
                || *code == codes::GOAL_TOLERANCE_VIOLATED =>
        {
            FailureKind::TrackingError
        }
        BridgeError::GoalFailed { code, .. } if *code == codes::OLD_HEADER_TIMESTAMP => {
            FailureKind::GoalRefused
        }
        BridgeError::GoalFailed { .. } => FailureKind::RobotError,
        BridgeError::Timeout { .. } => FailureKind::TrackingError,
    };
    Failure::new(kind, format!("robot: {e}"))
}

fn pad(values: &[f64]) -> Joints {
    let mut q = [0.0; DOF];
    for (d, v) in q.iter_mut().zip(values) {
        *d = *v;
    }
    q
}

fn measured(s: &State) -> Measured {
    Measured {
        q: pad(&s.joint_state.position),
        gripper_width_m: s.gripper.as_ref().map(|g| g.width),
        grasped: s.gripper.as_ref().map(|g| g.grasped),
    }
}

impl BridgeArm {
    /// Connect to the robot at `url` and check its `hello`.
    pub fn connect(url: &str, options: ClientOptions) -> Result<Self, BridgeError> {
        Ok(Self {
            client: BridgeClient::connect(url, options)?,
            url: url.to_owned(),
            tolerances: Tolerances::default(),
            next_id: 0,
        })
    }

    /// The robot's `hello`.
    pub fn hello(&self) -> &RobotHello {
        self.client.hello()
    }

    /// Whether the robot is the scene's arm: the same joints, by name and in order.
    /// The error says what differs.
    pub fn check_arm(&self, arm: &ArmKinematics) -> Result<(), String> {
        let mine = arm.joint_names();
        let theirs = &self.hello().joint_names;
        if mine != theirs.as_slice() {
            return Err(format!(
                "the robot at {} has joints {theirs:?}; the scene's arm has {mine:?}",
                self.url
            ));
        }
        Ok(())
    }

    /// The robot's position, velocity, acceleration and jerk limits (padded to 7), for
    /// the world's gate: `(q_min, q_max, v_max, dynamics)`.
    pub fn limits(&self) -> (Joints, Joints, Joints, DynamicLimits) {
        let l = &self.hello().limits;
        let panda = DynamicLimits::panda();
        let or_default = |given: &[f64], default: &Joints| -> Joints {
            let mut out = *default;
            for (d, v) in out.iter_mut().zip(given) {
                if v.is_finite() && *v > 0.0 {
                    *d = *v;
                }
            }
            out
        };
        let dynamics = DynamicLimits {
            a_max: or_default(&l.acceleration, &panda.a_max),
            j_max: or_default(&l.jerk, &panda.j_max),
            start_tolerance_rad: panda.start_tolerance_rad,
        };
        (
            pad(&l.position_lower),
            pad(&l.position_upper),
            pad(&l.velocity),
            dynamics,
        )
    }

    /// The robot's state now and the objects it reports (waiting briefly for a first
    /// `objects` message from a robot that perceives objects).
    pub fn initial(&mut self) -> Result<(Measured, Vec<ReportedObject>), Failure> {
        let s = self.client.wait_for_state().map_err(|e| failure(&e))?;
        if self.hello().capabilities.iter().any(|c| c == "objects") {
            let asked = Instant::now();
            while self.client.objects().is_empty() && asked.elapsed() < OBJECTS_WAIT {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok((measured(&s), self.objects()))
    }

    fn id(&mut self, what: &str) -> String {
        self.next_id += 1;
        format!("{what}{}", self.next_id)
    }
}

impl RemoteArm for BridgeArm {
    fn describe(&self) -> String {
        format!("{} ({})", self.url, self.hello().robot)
    }

    fn measured(&mut self) -> Result<Measured, Failure> {
        self.client
            .check_link()
            .map(|s| measured(&s))
            .map_err(|e| failure(&e))
    }

    fn objects(&mut self) -> Vec<ReportedObject> {
        self.client
            .objects()
            .into_iter()
            .map(|o| {
                let [x, y, z, w] = o.orientation;
                ReportedObject {
                    name: o.name,
                    pose: Isometry3::from_parts(
                        Translation3::new(o.position[0], o.position[1], o.position[2]),
                        UnitQuaternion::from_quaternion(Quaternion::new(w, x, y, z)),
                    ),
                }
            })
            .collect()
    }

    fn execute(&mut self, traj: &GatedTrajectory) -> Result<RemoteMotion, Failure> {
        let state = self.client.check_link().map_err(|e| failure(&e))?;
        let id = self.id("g");
        let names = self.hello().joint_names.clone();
        let start = pad(&state.joint_state.position);
        let g = goal::execute(
            &id,
            traj,
            &start,
            &names,
            STRIDE,
            &self.tolerances,
            state.stamp + EXPIRY_S,
        );
        let duration_s = traj.points().len() as f64 * traj.dt_s();
        self.client.begin_samples();
        let sent = Instant::now();
        let done = self.client.execute(&g, duration_s);
        let samples = self.client.take_samples();
        // Measured against the commanded positions from when the robot accepted the
        // goal (its motion starts then).
        let accepted = done.map_err(|e| failure(&e))?;
        let end = self.client.check_link().map_err(|e| failure(&e))?;
        let n = names.len();
        let commanded = traj.points();
        let mut max_err: f64 = 0.0;
        let measured_positions: Vec<(f64, Vec<f64>)> = samples
            .into_iter()
            .filter_map(|(at, q)| {
                let t = at.checked_duration_since(accepted)?.as_secs_f64();
                let k = ((t / traj.dt_s()).round() as usize).clamp(1, commanded.len()) - 1;
                for (j, v) in q.iter().enumerate().take(n) {
                    max_err = max_err.max((v - commanded[k][j]).abs());
                }
                Some((t, q))
            })
            .collect();
        Ok(RemoteMotion {
            goal_id: id,
            end: measured(&end),
            measured: measured_positions,
            duration_s: sent.elapsed().as_secs_f64(),
            max_tracking_error_rad: max_err,
        })
    }

    fn gripper(&mut self, cmd: &GatedGripper) -> Result<RemoteGripper, Failure> {
        let id = self.id("grip");
        let effort = self.hello().gripper.as_ref().map_or(0.0, |g| g.max_effort);
        let (width_m, grasped) = self
            .client
            .gripper(&id, cmd.width_m(), effort, GRIPPER_LIMIT)
            .map_err(|e| failure(&e))?;
        Ok(RemoteGripper { width_m, grasped })
    }

    fn stop(&mut self) {
        self.client.cancel_active();
    }
}
