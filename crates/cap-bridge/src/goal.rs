//! From a trajectory the gate admitted to an `execute` goal: the arm's joints only (a
//! shorter arm's padding is not sent), every `stride`-th set-point and the last, each
//! with its time from the start and its velocity (central differences; zero at the
//! end, where the gate has made the arm come to rest).

use cap_core::robot::GatedTrajectory;

use crate::protocol::{Execute, JointTolerance, RosDuration, Trajectory, TrajectoryPoint};

/// How a goal is tolerated: MoveIt-like defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Path tolerance per joint, rad.
    pub path_rad: f64,
    /// Goal tolerance per joint, rad.
    pub goal_rad: f64,
    /// Goal velocity tolerance, rad/s.
    pub goal_velocity_rad_s: f64,
    /// Time after the last point the robot may take to settle, s.
    pub goal_time_s: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            path_rad: 0.05,
            goal_rad: 0.01,
            goal_velocity_rad_s: 0.05,
            goal_time_s: 0.5,
        }
    }
}

/// The goal `goal_id` following `traj` from `start` (the state it was planned from,
/// which the robot reported) on the joints `names`, valid until `expires_at` (robot
/// clock). Points are every `stride`-th set-point and the last (`stride` ≥ 1).
pub fn execute(
    goal_id: &str,
    traj: &GatedTrajectory,
    start: &cap_core::kinematics::Joints,
    names: &[String],
    stride: usize,
    tolerances: &Tolerances,
    expires_at: f64,
) -> Execute {
    let n = names.len();
    let dt = traj.dt_s();
    let pts = traj.points();
    let at = |k: isize| -> &cap_core::kinematics::Joints {
        if k < 0 {
            start
        } else {
            pts.get(k as usize).unwrap_or(start)
        }
    };
    let stride = stride.max(1);
    let last = pts.len().saturating_sub(1);
    let points = (0..pts.len())
        .filter(|k| k % stride == stride - 1 || *k == last)
        .map(|k| {
            let (prev, next) = (at(k as isize - 1), at((k + 1).min(last) as isize));
            let span = if k == last { 0.0 } else { 2.0 * dt };
            TrajectoryPoint {
                positions: pts[k][..n].to_vec(),
                velocities: (0..n)
                    .map(|i| {
                        if span > 0.0 {
                            (next[i] - prev[i]) / span
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                time_from_start: RosDuration::from_secs((k + 1) as f64 * dt),
            }
        })
        .collect();
    let tol = |position, velocity| -> Vec<JointTolerance> {
        names
            .iter()
            .map(|name| JointTolerance {
                name: name.clone(),
                position,
                velocity,
            })
            .collect()
    };
    Execute {
        goal_id: goal_id.to_owned(),
        trajectory: Trajectory {
            joint_names: names.to_vec(),
            points,
        },
        path_tolerance: tol(tolerances.path_rad, 0.0),
        goal_tolerance: tol(tolerances.goal_rad, tolerances.goal_velocity_rad_s),
        goal_time_tolerance: RosDuration::from_secs(tolerances.goal_time_s),
        expires_at,
    }
}
