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
        Failure::new(
            FailureKind::SafetyGate,
            format!("safety gate refused the command: {e}"),
        )
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
    fn gripper_widths_are_checked() {
        let g = gate();
        assert!(g.admit_gripper(0.04).is_ok());
        assert!(g.admit_gripper(0.2).is_err());
        assert!(g.admit_gripper(f64::INFINITY).is_err());
        let f: Failure = g.admit_gripper(-1.0).unwrap_err().into();
        assert_eq!(f.kind, FailureKind::SafetyGate);
    }
}
