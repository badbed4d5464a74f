//! The robot-backend interface and the safety gate in front of it.
//!
//! A backend (the simulated arm in `cap-sim`, a bridge to a real arm later) only
//! accepts [`GatedTrajectory`] and [`GatedGripper`] values, and the only way to make
//! one is [`SafetyGate::admit`] / [`SafetyGate::admit_gripper`]. So every motion
//! command has passed the gate — joint position and velocity limits, the workspace box,
//! NaN/inf — before any backend sees it; the type system, not a convention, says so.

use std::sync::Arc;

use nalgebra::Point3;

use crate::arm::ArmKinematics;
use crate::failure::{Failure, FailureKind};
use crate::kinematics::{Joints, DOF, Q_MAX, Q_MIN, V_MAX};

/// Maximum opening of the built-in Panda's gripper, metres (other arms say their own:
/// [`SafetyLimits::gripper_max_width_m`]).
pub const GRIPPER_MAX_WIDTH_M: f64 = 0.08;

/// Slack on limit checks for floating-point round-off.
const LIMIT_EPS: f64 = 1e-9;

/// A joint trajectory sampled at the control period: `points[0]` is the first set-point
/// after the current configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct JointTrajectory {
    /// Control period, seconds.
    pub dt_s: f64,
    /// Set-points.
    pub points: Vec<Joints>,
}

/// A trajectory the safety gate admitted. Only [`SafetyGate::admit`] makes these.
#[derive(Debug, Clone, PartialEq)]
pub struct GatedTrajectory {
    traj: JointTrajectory,
}

impl GatedTrajectory {
    /// Control period, seconds.
    pub fn dt_s(&self) -> f64 {
        self.traj.dt_s
    }
    /// The admitted set-points.
    pub fn points(&self) -> &[Joints] {
        &self.traj.points
    }
}

/// A gripper width command the gate admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatedGripper {
    width_m: f64,
}

impl GatedGripper {
    /// Target opening, metres.
    pub fn width_m(&self) -> f64 {
        self.width_m
    }
}

/// Why the gate refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    /// The trajectory has no points or a bad period.
    #[error("empty trajectory or non-positive control period")]
    Malformed,
    /// A value is NaN or infinite.
    #[error("set-point {index}, joint {joint}: non-finite value")]
    NonFinite {
        /// Set-point index.
        index: usize,
        /// Joint index (0-based).
        joint: usize,
    },
    /// A joint position limit would be exceeded.
    #[error("set-point {index}: joint {} at {value:.4} rad is outside [{lo:.4}, {hi:.4}]", joint + 1)]
    JointPosition {
        /// Set-point index.
        index: usize,
        /// Joint index (0-based).
        joint: usize,
        /// Commanded value.
        value: f64,
        /// Lower limit.
        lo: f64,
        /// Upper limit.
        hi: f64,
    },
    /// A joint velocity limit would be exceeded.
    #[error("set-point {index}: joint {} would move at {speed:.3} rad/s, limit {limit:.3}", joint + 1)]
    JointVelocity {
        /// Set-point index.
        index: usize,
        /// Joint index (0-based).
        joint: usize,
        /// Implied speed.
        speed: f64,
        /// Allowed speed.
        limit: f64,
    },
    /// The tool centre point would leave the workspace box.
    #[error("set-point {index}: tool at [{:.3}, {:.3}, {:.3}] leaves the workspace box", point.x, point.y, point.z)]
    Workspace {
        /// Set-point index.
        index: usize,
        /// Offending TCP position.
        point: Point3<f64>,
    },
    /// A joint acceleration limit would be exceeded (set-points differenced at the
    /// control period, from rest).
    #[error("set-point {index}: joint {} would accelerate at {value:.2} rad/s², limit {limit:.2}", joint + 1)]
    JointAcceleration {
        /// Set-point index.
        index: usize,
        /// Joint index (0-based).
        joint: usize,
        /// Implied acceleration.
        value: f64,
        /// Allowed acceleration.
        limit: f64,
    },
    /// A joint jerk limit would be exceeded.
    #[error("set-point {index}: joint {} would jerk at {value:.0} rad/s³, limit {limit:.0}", joint + 1)]
    JointJerk {
        /// Set-point index.
        index: usize,
        /// Joint index (0-based).
        joint: usize,
        /// Implied jerk.
        value: f64,
        /// Allowed jerk.
        limit: f64,
    },
    /// The trajectory does not come to rest at its end.
    #[error("the trajectory ends with joint {} still moving at {speed:.3} rad/s", joint + 1)]
    NotAtRest {
        /// Joint index (0-based).
        joint: usize,
        /// Its speed over the last control period.
        speed: f64,
    },
    /// The trajectory was planned from a state other than the one the robot reports.
    #[error("joint {} was planned from {planned:.4} rad but the robot reports {reported:.4} (more than {tolerance} rad apart)", joint + 1)]
    StartMismatch {
        /// Joint index (0-based).
        joint: usize,
        /// Where the plan starts.
        planned: f64,
        /// Where the robot is.
        reported: f64,
        /// Allowed difference.
        tolerance: f64,
    },
    /// A gripper width outside [0, max] or not finite.
    #[error("gripper width {width_m} m is outside [0, {max_m}]")]
    GripperWidth {
        /// Commanded width.
        width_m: f64,
        /// The gripper's widest opening.
        max_m: f64,
    },
}

impl From<GateError> for Failure {
    fn from(e: GateError) -> Self {
        let kind = match e {
            GateError::StartMismatch { .. } => FailureKind::StartMismatch,
            _ => FailureKind::SafetyGate,
        };
        Failure::new(kind, format!("safety gate refused the command: {e}"))
    }
}

/// The limits the gate enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafetyLimits {
    /// Joint lower limits, rad.
    pub q_min: Joints,
    /// Joint upper limits, rad.
    pub q_max: Joints,
    /// Joint speed limits, rad/s.
    pub v_max_rad_s: Joints,
    /// Workspace box (TCP) lower corner, world frame.
    pub workspace_min_m: Point3<f64>,
    /// Workspace box upper corner.
    pub workspace_max_m: Point3<f64>,
    /// The gripper's widest opening, metres.
    pub gripper_max_width_m: f64,
    /// Acceleration and jerk limits, rest at the end, and the start-state tolerance,
    /// when the backend states them (a real arm's bridge does; the simulator's arm
    /// follows any trajectory exactly and leaves them off).
    pub dynamics: Option<DynamicLimits>,
}

/// What a real arm's controller also demands of a trajectory (Franka's "necessary
/// conditions", MoveIt's start-state check).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DynamicLimits {
    /// Joint acceleration limits, rad/s².
    pub a_max: Joints,
    /// Joint jerk limits, rad/s³.
    pub j_max: Joints,
    /// Largest difference between where a trajectory was planned from and where the
    /// robot reports it is, rad (MoveIt: 0.01).
    pub start_tolerance_rad: f64,
}

impl DynamicLimits {
    /// How far `traj` (from rest at `current`, coming to rest at its end) goes past
    /// these limits: the largest |acceleration| / limit and |jerk| / limit over its
    /// set-points and joints (≤ 1 when it keeps within them). A planner stretches a
    /// motion by these ratios' square and cube roots.
    pub fn worst_ratios(&self, current: &Joints, traj: &JointTrajectory) -> (f64, f64) {
        let (mut ra, mut rj) = (0.0f64, 0.0f64);
        let all = for_each_derivative(current, traj, |_, joint, d| {
            ra = ra.max(d.acceleration.abs() / self.a_max[joint]);
            rj = rj.max(d.jerk.abs() / self.j_max[joint]);
            Ok::<(), std::convert::Infallible>(())
        });
        match all {
            Ok(()) => (ra, rj),
            Err(never) => match never {},
        }
    }

    /// The Franka Panda's datasheet acceleration and jerk limits, 0.01 rad at start.
    pub fn panda() -> Self {
        Self {
            a_max: [15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0],
            j_max: [7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0],
            start_tolerance_rad: 0.01,
        }
    }
}

impl SafetyLimits {
    /// The Panda datasheet limits with the given workspace box.
    pub fn panda(workspace_min_m: Point3<f64>, workspace_max_m: Point3<f64>) -> Self {
        Self {
            q_min: Q_MIN,
            q_max: Q_MAX,
            v_max_rad_s: V_MAX,
            workspace_min_m,
            workspace_max_m,
            gripper_max_width_m: GRIPPER_MAX_WIDTH_M,
            dynamics: None,
        }
    }

    /// `arm`'s own limits (from its description; the padding of a short arm held at
    /// 0), its gripper's opening and the given workspace box.
    pub fn for_arm(
        arm: &ArmKinematics,
        gripper_max_width_m: f64,
        workspace_min_m: Point3<f64>,
        workspace_max_m: Point3<f64>,
    ) -> Self {
        Self {
            q_min: *arm.q_min(),
            q_max: *arm.q_max(),
            v_max_rad_s: *arm.v_max(),
            workspace_min_m,
            workspace_max_m,
            gripper_max_width_m,
            dynamics: None,
        }
    }
}

/// The single gate every motion command passes.
#[derive(Debug, Clone)]
pub struct SafetyGate {
    limits: SafetyLimits,
    arm: Arc<ArmKinematics>,
}

impl SafetyGate {
    /// A gate for `arm`, enforcing `limits`.
    pub fn new(limits: SafetyLimits, arm: Arc<ArmKinematics>) -> Self {
        Self { limits, arm }
    }

    /// The limits in force.
    pub fn limits(&self) -> &SafetyLimits {
        &self.limits
    }

    /// The same gate also enforcing `dynamics` (or no longer, for `None`).
    pub fn with_dynamics(mut self, dynamics: Option<DynamicLimits>) -> Self {
        self.limits.dynamics = dynamics;
        self
    }

    /// [`SafetyGate::admit`] for a trajectory planned from `planned`, on a robot that
    /// reports it is at `reported`: with dynamic limits in force, the two must agree to
    /// their start tolerance.
    pub fn admit_from(
        &self,
        planned: &Joints,
        reported: &Joints,
        traj: JointTrajectory,
    ) -> Result<GatedTrajectory, GateError> {
        if let Some(d) = &self.limits.dynamics {
            for joint in 0..DOF {
                let (p, r) = (planned[joint], reported[joint]);
                if !r.is_finite() || (p - r).abs() > d.start_tolerance_rad + LIMIT_EPS {
                    return Err(GateError::StartMismatch {
                        joint,
                        planned: p,
                        reported: r,
                        tolerance: d.start_tolerance_rad,
                    });
                }
            }
        }
        self.admit(planned, traj)
    }

    /// Acceleration and jerk along `traj` from rest at `current`, and rest at its end.
    fn check_dynamics(
        d: &DynamicLimits,
        current: &Joints,
        traj: &JointTrajectory,
    ) -> Result<(), GateError> {
        let end = traj.points.len();
        for_each_derivative(current, traj, |index, joint, x| {
            let (a_lim, j_lim) = (d.a_max[joint], d.j_max[joint]);
            if x.acceleration.abs() > a_lim * (1.0 + 1e-6) + LIMIT_EPS {
                return Err(if index == end {
                    GateError::NotAtRest {
                        joint,
                        speed: x.speed_before.abs(),
                    }
                } else {
                    GateError::JointAcceleration {
                        index,
                        joint,
                        value: x.acceleration.abs(),
                        limit: a_lim,
                    }
                });
            }
            if x.jerk.abs() > j_lim * (1.0 + 1e-6) + LIMIT_EPS {
                return Err(GateError::JointJerk {
                    index,
                    joint,
                    value: x.jerk.abs(),
                    limit: j_lim,
                });
            }
            Ok(())
        })
    }

    /// Check a trajectory starting from `current`; admit it or say why not.
    pub fn admit(
        &self,
        current: &Joints,
        traj: JointTrajectory,
    ) -> Result<GatedTrajectory, GateError> {
        if traj.points.is_empty() || !(traj.dt_s.is_finite() && traj.dt_s > 0.0) {
            return Err(GateError::Malformed);
        }
        let l = &self.limits;
        let mut prev = *current;
        for (index, q) in traj.points.iter().enumerate() {
            for joint in 0..DOF {
                let v = q[joint];
                if !v.is_finite() {
                    return Err(GateError::NonFinite { index, joint });
                }
                if v < l.q_min[joint] - LIMIT_EPS || v > l.q_max[joint] + LIMIT_EPS {
                    return Err(GateError::JointPosition {
                        index,
                        joint,
                        value: v,
                        lo: l.q_min[joint],
                        hi: l.q_max[joint],
                    });
                }
                let speed = (v - prev[joint]).abs() / traj.dt_s;
                if speed > l.v_max_rad_s[joint] * (1.0 + 1e-6) + LIMIT_EPS {
                    return Err(GateError::JointVelocity {
                        index,
                        joint,
                        speed,
                        limit: l.v_max_rad_s[joint],
                    });
                }
            }
            let p = Point3::from(self.arm.tcp(q).translation.vector);
            let inside = (0..3).all(|i| {
                p[i] >= l.workspace_min_m[i] - LIMIT_EPS && p[i] <= l.workspace_max_m[i] + LIMIT_EPS
            });
            if !inside {
                return Err(GateError::Workspace { index, point: p });
            }
            prev = *q;
        }
        if let Some(d) = &self.limits.dynamics {
            Self::check_dynamics(d, current, &traj)?;
        }
        Ok(GatedTrajectory { traj })
    }

    /// Check a gripper width command.
    pub fn admit_gripper(&self, width_m: f64) -> Result<GatedGripper, GateError> {
        let max_m = self.limits.gripper_max_width_m;
        if !width_m.is_finite() || !(0.0..=max_m).contains(&width_m) {
            return Err(GateError::GripperWidth { width_m, max_m });
        }
        Ok(GatedGripper { width_m })
    }
}

/// A joint's motion at one set-point, by finite differences at the control period.
struct Derivative {
    /// Speed over the previous period.
    speed_before: f64,
    /// Acceleration.
    acceleration: f64,
    /// Jerk.
    jerk: f64,
}

/// Call `f(index, joint, derivative)` for every joint at every set-point of `traj`,
/// from rest at `current`, and once more for holding the last set-point (the arm
/// stopping there, index = the number of set-points); stop at the first error.
fn for_each_derivative<E>(
    current: &Joints,
    traj: &JointTrajectory,
    mut f: impl FnMut(usize, usize, Derivative) -> Result<(), E>,
) -> Result<(), E> {
    let dt = traj.dt_s;
    let (mut prev_q, mut prev_v, mut prev_a) = (*current, [0.0; DOF], [0.0; DOF]);
    let last = traj.points.last().copied().unwrap_or(*current);
    for (index, q) in traj.points.iter().chain(std::iter::once(&last)).enumerate() {
        for joint in 0..DOF {
            let v = (q[joint] - prev_q[joint]) / dt;
            let a = (v - prev_v[joint]) / dt;
            f(
                index,
                joint,
                Derivative {
                    speed_before: prev_v[joint],
                    acceleration: a,
                    jerk: (a - prev_a[joint]) / dt,
                },
            )?;
            prev_v[joint] = v;
            prev_a[joint] = a;
        }
        prev_q = *q;
    }
    Ok(())
}

/// What a backend reports after running a trajectory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MotionReport {
    /// Set-points executed (all of them unless stopped).
    pub executed: usize,
    /// Why the backend stopped early, if it did (collision, slip).
    pub stopped: Option<Failure>,
}

/// What a backend reports after a gripper command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GripperReport {
    /// Final opening, metres.
    pub width_m: f64,
    /// The object now held between the fingers, if any.
    pub holding: Option<String>,
}

/// A backend could not carry out a command at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// The link to the robot is lost; the robot has been stopped.
    #[error("robot link lost: {0}")]
    Link(String),
    /// The backend's internal state is unusable (a diverging simulation, say).
    #[error("backend fault: {0}")]
    Fault(String),
    /// A real arm behind the world failed the command, with its typed failure
    /// (`link_lost`, `estop`, `tracking_error`, ...).
    #[error("{0}")]
    Remote(Failure),
}

impl BackendError {
    /// The failure an episode ends with.
    pub fn into_failure(self) -> Failure {
        match self {
            Self::Remote(f) => f,
            Self::Link(m) => Failure::new(FailureKind::LinkLost, format!("robot link lost: {m}")),
            e @ Self::Fault(_) => {
                Failure::new(FailureKind::SafetyGate, format!("backend stopped: {e}"))
            }
        }
    }
}

/// Something that moves an arm: the simulator, or a bridge to hardware.
pub trait RobotBackend {
    /// Current joint positions, rad.
    fn joint_positions(&self) -> Joints;
    /// Current gripper opening, metres.
    fn gripper_width(&self) -> f64;
    /// The object currently held, if any.
    fn holding(&self) -> Option<String>;
    /// Follow an admitted trajectory at its control period.
    fn execute(&mut self, traj: &GatedTrajectory) -> Result<MotionReport, BackendError>;
    /// Open (to the commanded width) or close (until contact or empty) the gripper.
    /// A width smaller than the current one closes.
    fn gripper(&mut self, cmd: &GatedGripper) -> Result<GripperReport, BackendError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinematics::HOME;
    use nalgebra::Isometry3;

    fn gate() -> SafetyGate {
        SafetyGate::new(
            SafetyLimits::panda(Point3::new(0.1, -0.6, 0.0), Point3::new(0.9, 0.6, 0.8)),
            Arc::new(ArmKinematics::panda(Isometry3::identity())),
        )
    }

    #[test]
    fn admits_a_slow_motion_and_refuses_each_violation() {
        let g = gate();
        let dt = 1.0 / 240.0;
        let mut next = HOME;
        next[0] += 0.001;
        assert!(g
            .admit(
                &HOME,
                JointTrajectory {
                    dt_s: dt,
                    points: vec![next]
                }
            )
            .is_ok());

        let mut fast = HOME;
        fast[0] += 0.1; // 24 rad/s
        assert!(matches!(
            g.admit(
                &HOME,
                JointTrajectory {
                    dt_s: dt,
                    points: vec![fast]
                }
            ),
            Err(GateError::JointVelocity { joint: 0, .. })
        ));

        let mut nan = HOME;
        nan[3] = f64::NAN;
        assert!(matches!(
            g.admit(
                &HOME,
                JointTrajectory {
                    dt_s: dt,
                    points: vec![nan]
                }
            ),
            Err(GateError::NonFinite { joint: 3, .. })
        ));

        let mut beyond = HOME;
        beyond[3] = 0.0; // joint 4 must stay below -0.0698
        assert!(matches!(
            g.admit(
                &beyond,
                JointTrajectory {
                    dt_s: dt,
                    points: vec![beyond]
                }
            ),
            Err(GateError::JointPosition { joint: 3, .. })
        ));

        let tight = SafetyGate::new(
            SafetyLimits::panda(Point3::new(0.4, -0.6, 0.0), Point3::new(0.9, 0.6, 0.8)),
            Arc::new(ArmKinematics::panda(Isometry3::identity())),
        );
        assert!(matches!(
            tight.admit(
                &HOME,
                JointTrajectory {
                    dt_s: dt,
                    points: vec![HOME]
                }
            ),
            Err(GateError::Workspace { .. })
        ));
        assert_eq!(
            g.admit(
                &HOME,
                JointTrajectory {
                    dt_s: dt,
                    points: vec![]
                }
            ),
            Err(GateError::Malformed)
        );
    }

    #[test]
    fn dynamic_limits_refuse_jumps_in_acceleration_motion_at_the_end_and_a_stale_start() {
        let limits = DynamicLimits {
            a_max: [10.0; DOF],
            j_max: [1000.0; DOF],
            start_tolerance_rad: 0.01,
        };
        let g = gate().with_dynamics(Some(limits));
        let dt = 1.0 / 240.0;
        // A quintic move of joint 1 by 0.1 rad over 1 s keeps within both limits.
        let smooth: Vec<Joints> = (1..=240)
            .map(|k| {
                let t = f64::from(k) / 240.0;
                let mut q = HOME;
                q[0] += 0.1 * t * t * t * (10.0 - 15.0 * t + 6.0 * t * t);
                q
            })
            .collect();
        let traj = |points: Vec<Joints>| JointTrajectory { dt_s: dt, points };
        assert!(g.admit(&HOME, traj(smooth.clone())).is_ok());
        let (ra, rj) = limits.worst_ratios(&HOME, &traj(smooth.clone()));
        assert!(ra < 1.0 && rj < 1.0 && ra > 0.0, "{ra} {rj}");
        // Starting at constant speed: a step of acceleration, a jerk of ~ v / dt².
        let mut steady = HOME;
        steady[1] += 0.0001;
        assert!(matches!(
            g.admit(&HOME, traj(vec![steady])),
            Err(GateError::JointJerk { joint: 1, .. })
        ));
        // The same move cut off while still moving does not end at rest.
        let cut = smooth[..120].to_vec();
        let soft = gate().with_dynamics(Some(DynamicLimits {
            j_max: [1e9; DOF],
            ..limits
        }));
        assert!(matches!(
            soft.admit(&HOME, traj(cut)),
            Err(GateError::NotAtRest { joint: 0, .. })
        ));
        // Planned from a state the robot is not in.
        let mut reported = HOME;
        reported[4] += 0.02;
        assert!(matches!(
            g.admit_from(&HOME, &reported, traj(smooth.clone())),
            Err(GateError::StartMismatch { joint: 4, .. })
        ));
        reported[4] = HOME[4] + 0.005;
        assert!(g.admit_from(&HOME, &reported, traj(smooth)).is_ok());
        // Without dynamic limits (the simulator) a start at speed is fine.
        assert!(gate().admit(&HOME, traj(vec![steady])).is_ok());
    }

    #[test]
    fn gripper_widths_are_checked() {
        let g = gate();
        assert!(g.admit_gripper(0.04).is_ok());
        assert!(g.admit_gripper(0.2).is_err());
        assert!(g.admit_gripper(f64::INFINITY).is_err());
        let f: Failure = g.admit_gripper(-1.0).unwrap_err().into();
        assert_eq!(f.kind, FailureKind::SafetyGate);
    }
}
