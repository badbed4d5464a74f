//! Franka-Panda-like kinematics: forward kinematics from the public (modified, Craig)
//! DH parameters, the geometric Jacobian, and a damped-least-squares IK with joint
//! limits and a null-space pull away from them.
//!
//! Everything is fixed-size nalgebra in f64; one IK solve is a few microseconds
//! (`cap bench` prints the figure).

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use nalgebra::{Isometry3, Matrix6, SMatrix, Translation3, UnitQuaternion, Vector3, Vector6};

/// Degrees of freedom of the arm.
pub const DOF: usize = 7;
/// A joint configuration, radians.
pub type Joints = [f64; DOF];

/// Modified DH parameters (a_{i-1} m, d_i m, alpha_{i-1} rad) of the Panda, joints 1-7.
const DH: [(f64, f64, f64); DOF] = [
    (0.0, 0.333, 0.0),
    (0.0, 0.0, -FRAC_PI_2),
    (0.0, 0.316, FRAC_PI_2),
    (0.0825, 0.0, FRAC_PI_2),
    (-0.0825, 0.384, -FRAC_PI_2),
    (0.0, 0.0, FRAC_PI_2),
    (0.088, 0.0, FRAC_PI_2),
];
/// Joint 7 to flange.
const FLANGE_D_M: f64 = 0.107;
/// Flange to the tool centre point (between the fingertips), along the hand's z.
pub const FLANGE_TO_TCP_M: f64 = 0.1034;

/// Joint lower limits, radians (Panda datasheet).
pub const Q_MIN: Joints = [
    -2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973,
];
/// Joint upper limits, radians.
pub const Q_MAX: Joints = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973];
/// Joint velocity limits, rad/s.
pub const V_MAX: Joints = [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61];
/// The "ready" configuration: gripper pointing down in front of the base.
pub const HOME: Joints = [
    0.0,
    -FRAC_PI_4,
    0.0,
    -3.0 * FRAC_PI_4,
    0.0,
    FRAC_PI_2,
    FRAC_PI_4,
];

/// All frames of one configuration, in the world frame.
#[derive(Debug, Clone, Copy)]
pub struct Frames {
    /// Frames of joints 1..7 (z is the joint axis).
    pub joints: [Isometry3<f64>; DOF],
    /// The flange.
    pub flange: Isometry3<f64>,
    /// The hand (flange rotated -45° about z, as on the Panda).
    pub hand: Isometry3<f64>,
    /// The tool centre point: hand frame moved [`FLANGE_TO_TCP_M`] along its z.
    pub tcp: Isometry3<f64>,
}

/// Why an IK solve failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IkError {
    /// The target is not finite.
    #[error("target pose is not finite")]
    NonFinite,
    /// No configuration within joint limits reached the target.
    #[error("no solution within joint limits: best position error {position_error_m:.4} m, orientation error {orientation_error_rad:.3} rad")]
    NoSolution {
        /// Residual position error of the best attempt.
        position_error_m: f64,
        /// Residual orientation error of the best attempt.
        orientation_error_rad: f64,
    },
}

/// IK tuning.
#[derive(Debug, Clone, Copy)]
pub struct IkOptions {
    /// Iterations per attempt.
    pub max_iterations: usize,
    /// Position tolerance.
    pub position_tolerance_m: f64,
    /// Orientation tolerance.
    pub orientation_tolerance_rad: f64,
    /// Damping λ of the least-squares step.
    pub damping: f64,
}

impl Default for IkOptions {
    fn default() -> Self {
        Self {
            max_iterations: 150,
            position_tolerance_m: 2e-4,
            orientation_tolerance_rad: 2e-3,
            damping: 0.03,
        }
    }
}

/// A solved configuration.
#[derive(Debug, Clone, Copy)]
pub struct IkSolution {
    /// The joints.
    pub q: Joints,
    /// Iterations used (over all attempts).
    pub iterations: usize,
}

/// The arm's kinematic model, placed at `world_from_base`.
#[derive(Debug, Clone, Copy)]
pub struct Panda {
    /// Where the base sits in the world.
    pub world_from_base: Isometry3<f64>,
}

fn dh_transform(a: f64, d: f64, alpha: f64, theta: f64) -> Isometry3<f64> {
    // Craig: RotX(alpha) * TransX(a) * RotZ(theta) * TransZ(d)
    let rx = UnitQuaternion::from_axis_angle(&Vector3::x_axis(), alpha);
    let rz = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), theta);
    let rot = rx * rz;
    let trans = Vector3::new(a, 0.0, 0.0) + rx * Vector3::new(0.0, 0.0, d);
    Isometry3::from_parts(Translation3::from(trans), rot)
}

/// True when every joint is within limits (inclusive, with `tol` slack).
pub fn within_limits(q: &Joints, tol: f64) -> bool {
    q.iter()
        .zip(Q_MIN.iter().zip(Q_MAX.iter()))
        .all(|(v, (lo, hi))| *v >= lo - tol && *v <= hi + tol)
}

/// Top-down tool orientation with the fingers closing along the world direction
/// `(−sin yaw, cos yaw, 0)`: yaw 0 closes along world y.
pub fn top_down(yaw_rad: f64) -> UnitQuaternion<f64> {
    UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw_rad)
        * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), PI)
}

impl Panda {
    /// The arm with its base at `world_from_base`.
    pub fn new(world_from_base: Isometry3<f64>) -> Self {
        Self { world_from_base }
    }

    /// All frames of configuration `q`.
    pub fn frames(&self, q: &Joints) -> Frames {
        let mut t = self.world_from_base;
        let mut joints = [Isometry3::identity(); DOF];
        for (i, &(a, d, alpha)) in DH.iter().enumerate() {
            t *= dh_transform(a, d, alpha, q[i]);
            joints[i] = t;
        }
        let flange = t * Translation3::new(0.0, 0.0, FLANGE_D_M);
        let hand = flange * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), -FRAC_PI_4);
        let tcp = hand * Translation3::new(0.0, 0.0, FLANGE_TO_TCP_M);
        Frames {
            joints,
            flange,
            hand,
            tcp,
        }
    }

    /// World pose of the tool centre point.
    pub fn tcp(&self, q: &Joints) -> Isometry3<f64> {
        self.frames(q).tcp
    }

    /// Geometric Jacobian (linear rows 0-2, angular rows 3-5) at the TCP.
    pub fn jacobian(&self, frames: &Frames) -> SMatrix<f64, 6, DOF> {
        let p = frames.tcp.translation.vector;
        let mut j = SMatrix::<f64, 6, DOF>::zeros();
        for (i, f) in frames.joints.iter().enumerate() {
            let z = f.rotation * Vector3::z();
            let o = f.translation.vector;
            let lin = z.cross(&(p - o));
            j.fixed_view_mut::<3, 1>(0, i).copy_from(&lin);
            j.fixed_view_mut::<3, 1>(3, i).copy_from(&z);
        }
        j
    }

    /// Solve for a configuration whose TCP is at `target`, starting from `seed` and, if
    /// that fails, from a few fixed restarts. Deterministic.
    pub fn ik(
        &self,
        target: &Isometry3<f64>,
        seed: &Joints,
        opts: &IkOptions,
    ) -> Result<IkSolution, IkError> {
        let finite = target.translation.vector.iter().all(|v| v.is_finite())
            && target.rotation.coords.iter().all(|v| v.is_finite());
        if !finite {
            return Err(IkError::NonFinite);
        }
        let mut restarts: [Joints; 4] = [*seed, HOME, HOME, HOME];
        // Restarts: the ready pose, and the ready pose turned toward the target.
        let rel = self.world_from_base.inverse() * target.translation.vector;
        let toward = rel.y.atan2(rel.x).clamp(Q_MIN[0], Q_MAX[0]);
        restarts[2][0] = toward;
        restarts[3][0] = toward;
        restarts[3][1] = 0.3;
        restarts[3][3] = -2.0;
        let mut total = 0;
        let mut best = (f64::INFINITY, f64::INFINITY);
        for start in restarts.iter() {
            let (result, iters, err) = self.dls(target, start, opts);
            total += iters;
            if let Some(q) = result {
                return Ok(IkSolution {
                    q,
                    iterations: total,
                });
            }
            if err.0 + 0.1 * err.1 < best.0 + 0.1 * best.1 {
                best = err;
            }
        }
        Err(IkError::NoSolution {
            position_error_m: best.0,
            orientation_error_rad: best.1,
        })
    }

    fn dls(
        &self,
        target: &Isometry3<f64>,
        start: &Joints,
        opts: &IkOptions,
    ) -> (Option<Joints>, usize, (f64, f64)) {
        let mut q = *start;
        for (i, v) in q.iter_mut().enumerate() {
            *v = v.clamp(Q_MIN[i], Q_MAX[i]);
        }
        let lambda2 = opts.damping * opts.damping;
        let mut err = (f64::INFINITY, f64::INFINITY);
        for iter in 0..opts.max_iterations {
            let frames = self.frames(&q);
            let ep = target.translation.vector - frames.tcp.translation.vector;
            let er = (target.rotation * frames.tcp.rotation.inverse()).scaled_axis();
            err = (ep.norm(), er.norm());
            if err.0 < opts.position_tolerance_m && err.1 < opts.orientation_tolerance_rad {
                return (Some(q), iter, err);
            }
            // Clamp the task-space step so far targets do not make the linearisation lie.
            let ep = if err.0 > 0.1 { ep * (0.1 / err.0) } else { ep };
            let er = if err.1 > 0.4 { er * (0.4 / err.1) } else { er };
            let e = Vector6::new(ep.x, ep.y, ep.z, er.x, er.y, er.z);
            let j = self.jacobian(&frames);
            let a: Matrix6<f64> = j * j.transpose() + Matrix6::identity() * lambda2;
            let Some(chol) = a.cholesky() else { break };
            let dq_task = j.transpose() * chol.solve(&e);
            // Null-space pull toward the middle of the joint ranges keeps the solution away
            // from limits and from elbow flips.
            let mut pull = SMatrix::<f64, DOF, 1>::zeros();
            for i in 0..DOF {
                let mid = 0.5 * (Q_MIN[i] + Q_MAX[i]);
                let half = 0.5 * (Q_MAX[i] - Q_MIN[i]);
                pull[i] = 0.05 * (mid - q[i]) / half;
            }
            let jp = j.transpose() * chol.solve(&(j * pull));
            let dq = dq_task + (pull - jp);
            for i in 0..DOF {
                q[i] = (q[i] + dq[i]).clamp(Q_MIN[i], Q_MAX[i]);
            }
        }
        let frames = self.frames(&q);
        let ep = (target.translation.vector - frames.tcp.translation.vector).norm();
        let er = (target.rotation * frames.tcp.rotation.inverse())
            .scaled_axis()
            .norm();
        if ep < opts.position_tolerance_m && er < opts.orientation_tolerance_rad {
            return (Some(q), opts.max_iterations, (ep, er));
        }
        let best = if ep < err.0 { (ep, er) } else { err };
        (None, opts.max_iterations, best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panda() -> Panda {
        Panda::new(Isometry3::identity())
    }

    #[test]
    fn home_points_down_in_front_of_the_base() {
        let tcp = panda().tcp(&HOME);
        let p = tcp.translation.vector;
        // The Panda ready pose: TCP ~0.31 m in front, ~0.49 m up, tool z pointing down.
        assert!(
            (p.x - 0.307).abs() < 0.01 && p.y.abs() < 1e-9 && (p.z - 0.487).abs() < 0.01,
            "{p}"
        );
        let z = tcp.rotation * Vector3::z();
        assert!(z.z < -0.999, "{z}");
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        let p = panda();
        let q = [0.1, -0.5, 0.2, -2.0, 0.3, 1.8, 0.4];
        let f = p.frames(&q);
        let j = p.jacobian(&f);
        let h = 1e-6;
        for i in 0..DOF {
            let mut q2 = q;
            q2[i] += h;
            let d = (p.tcp(&q2).translation.vector - f.tcp.translation.vector) / h;
            for r in 0..3 {
                assert!((d[r] - j[(r, i)]).abs() < 1e-5, "joint {i} row {r}");
            }
        }
    }

    #[test]
    fn ik_reaches_tabletop_targets_to_a_tenth_of_a_millimetre() {
        let p = panda();
        let mut worst: f64 = 0.0;
        for (x, y, z, yaw) in [
            (0.5, 0.0, 0.05, 0.0),
            (0.4, 0.3, 0.02, 0.5),
            (0.65, -0.25, 0.2, -1.0),
            (0.3, -0.2, 0.4, 1.2),
            (0.7, 0.2, 0.03, 0.3),
        ] {
            let target = Isometry3::from_parts(Translation3::new(x, y, z), top_down(yaw));
            let sol = p.ik(&target, &HOME, &IkOptions::default()).unwrap();
            assert!(within_limits(&sol.q, 0.0));
            let got = p.tcp(&sol.q);
            let e = (got.translation.vector - target.translation.vector).norm();
            let r = got.rotation.angle_to(&target.rotation);
            worst = worst.max(e);
            assert!(
                e < 2e-4 && r < 2e-3,
                "target {x},{y},{z}: pos err {e}, rot err {r}"
            );
        }
        assert!(worst < 2e-4);
    }

    #[test]
    fn ik_reports_unreachable_targets() {
        let p = panda();
        let far = Isometry3::from_parts(Translation3::new(1.5, 0.0, 0.1), top_down(0.0));
        match p.ik(&far, &HOME, &IkOptions::default()) {
            Err(IkError::NoSolution {
                position_error_m, ..
            }) => assert!(position_error_m > 0.3),
            other => panic!("expected NoSolution, got {other:?}"),
        }
        let nan = Isometry3::from_parts(Translation3::new(f64::NAN, 0.0, 0.1), top_down(0.0));
        assert_eq!(
            p.ik(&nan, &HOME, &IkOptions::default()).unwrap_err(),
            IkError::NonFinite
        );
    }

    #[test]
    fn base_offset_moves_the_whole_arm() {
        let p = Panda::new(Isometry3::translation(0.1, 0.2, 0.0));
        let a = p.tcp(&HOME).translation.vector;
        let b = panda().tcp(&HOME).translation.vector;
        assert!((a - b - Vector3::new(0.1, 0.2, 0.0)).norm() < 1e-12);
    }
}
