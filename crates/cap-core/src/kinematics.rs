//! Franka-Panda-like kinematics: forward kinematics from the public (modified, Craig)
//! DH parameters, the geometric Jacobian, and the IK of [`crate::ik`] (damped least
//! squares with joint limits and a null-space pull away from them) with the Panda's
//! restarts.
//!
//! Everything is fixed-size nalgebra in f64; one IK solve is a few microseconds
//! (`cap bench` prints the figure).

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use nalgebra::{Isometry3, SMatrix, Translation3, UnitQuaternion, Vector3};

pub use crate::ik::{IkError, IkOptions};

use crate::chain::{ChainError, ChainJoint, JointKind, SerialChain};
use crate::ik::{self, ArmModel, SplitMix};
use crate::math;

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

/// No TCP pose is farther than this from the shoulder (joint 2): the sum of the
/// shoulder-elbow (√(0.316² + 0.0825²)), elbow-wrist (√(0.384² + 0.0825²)) and
/// wrist-TCP (≤ 0.088 + 0.107 + 0.1034) distances, rounded up.
const MAX_REACH_FROM_SHOULDER_M: f64 = 1.02;

/// Joint lower limits, radians (Panda datasheet).
pub const Q_MIN: Joints = [
    -2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973,
];
/// Joint upper limits, radians.
pub const Q_MAX: Joints = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973];
/// Joint velocity limits, rad/s.
pub const V_MAX: Joints = [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61];
/// Joint torque limits, N·m (Panda datasheet).
pub const EFFORT_MAX_NM: Joints = [87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0];
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
    let rx = math::rot_x(alpha);
    let rz = math::rot_z(theta);
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
    math::rot_z(yaw_rad) * math::rot_x(PI)
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
        let hand = flange * math::rot_z(-FRAC_PI_4);
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

    /// The same arm as a [`SerialChain`], built from its DH parameters, limits and
    /// tool: what a robot description of it gives (the tests check both agree). Fails
    /// only for a base pose that is not finite.
    pub fn chain(&self) -> Result<SerialChain, ChainError> {
        let joints = DH
            .iter()
            .enumerate()
            .map(|(i, &(a, d, alpha))| {
                let rx = math::rot_x(alpha);
                ChainJoint {
                    name: format!("panda_joint{}", i + 1),
                    kind: JointKind::Revolute,
                    origin: Isometry3::from_parts(
                        Translation3::from(
                            Vector3::new(a, 0.0, 0.0) + rx * Vector3::new(0.0, 0.0, d),
                        ),
                        rx,
                    ),
                    axis: Vector3::z_axis(),
                    lower: Q_MIN[i],
                    upper: Q_MAX[i],
                    velocity: V_MAX[i],
                    effort: EFFORT_MAX_NM[i],
                }
            })
            .collect();
        let tool = Isometry3::from_parts(
            Translation3::new(0.0, 0.0, FLANGE_D_M),
            math::rot_z(-FRAC_PI_4),
        ) * Translation3::new(0.0, 0.0, FLANGE_TO_TCP_M);
        SerialChain::new(self.world_from_base, joints, tool)
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
    /// that fails, from fixed restarts: the ready pose, the ready pose turned toward the
    /// target, and a fixed spread of configurations over the joint ranges. Deterministic:
    /// the same target and seed give the same joints on every machine.
    pub fn ik(
        &self,
        target: &Isometry3<f64>,
        seed: &Joints,
        opts: &IkOptions,
    ) -> Result<IkSolution, IkError> {
        check_finite(target)?;
        let rel = self.world_from_base.inverse() * target.translation.vector;
        let from_shoulder = (rel - Vector3::new(0.0, 0.0, DH[0].1)).norm();
        if from_shoulder > MAX_REACH_FROM_SHOULDER_M {
            return Err(IkError::NoSolution {
                position_error_m: from_shoulder - MAX_REACH_FROM_SHOULDER_M,
                orientation_error_rad: 0.0,
            });
        }
        let toward = math::atan2(rel.y, rel.x).clamp(Q_MIN[0], Q_MAX[0]);
        let mut turned = HOME;
        turned[0] = toward;
        let mut reaching = turned;
        reaching[1] = 0.3;
        reaching[3] = -2.0;
        let fixed = [*seed, HOME, turned, reaching];
        let spread = RESTARTS.iter().map(|r| {
            let mut q = *r;
            // The spread is about the base; turn it toward the target as well.
            q[0] = (q[0] + toward).clamp(Q_MIN[0], Q_MAX[0]);
            q
        });
        let mut total = 0;
        let mut best = (f64::INFINITY, f64::INFINITY);
        for (k, start) in fixed.into_iter().chain(spread).enumerate() {
            if k == 1 && *seed == HOME {
                continue;
            }
            let attempt = ik::descend(self, target, &start, opts);
            total += attempt.iterations;
            if let Some(q) = attempt.q {
                return Ok(IkSolution {
                    q,
                    iterations: total,
                });
            }
            let err = attempt.error;
            if err.0 + 0.1 * err.1 < best.0 + 0.1 * best.1 {
                best = err;
            }
        }
        Err(IkError::NoSolution {
            position_error_m: best.0,
            orientation_error_rad: best.1,
        })
    }

    /// Solve from `seed` only, with no restarts: the solution stays on the seed's
    /// branch (elbow and wrist as they are), which is what the waypoints of a straight
    /// line need. A target that cannot be reached from `seed` is an error even when a
    /// configuration on another branch would reach it.
    pub fn ik_local(
        &self,
        target: &Isometry3<f64>,
        seed: &Joints,
        opts: &IkOptions,
    ) -> Result<IkSolution, IkError> {
        check_finite(target)?;
        let attempt = ik::descend(self, target, seed, opts);
        match attempt.q {
            Some(q) => Ok(IkSolution {
                q,
                iterations: attempt.iterations,
            }),
            None => Err(IkError::NoSolution {
                position_error_m: attempt.error.0,
                orientation_error_rad: attempt.error.1,
            }),
        }
    }
}

impl ArmModel<DOF> for Panda {
    fn limits(&self) -> (Joints, Joints) {
        (Q_MIN, Q_MAX)
    }

    fn tcp_jacobian(&self, q: &Joints) -> (Isometry3<f64>, SMatrix<f64, 6, DOF>) {
        let frames = self.frames(q);
        (frames.tcp, self.jacobian(&frames))
    }
}

/// Which targets [`Panda::reachable_targets`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSet {
    /// Any pose: the TCP of a configuration drawn uniformly within the joint limits.
    General,
    /// Tool pointing straight down over the table (0 ≤ z < 0.45 m, in front of the
    /// base): configurations whose tool points roughly down, turned exactly down on
    /// their own branch.
    TopDown,
}

impl Panda {
    /// `n` TCP poses that a configuration within the joint limits reaches, made by
    /// forward kinematics (so each is reachable by construction), from `seed`. What
    /// the IK tests and `cap bench` measure the solve rate on.
    pub fn reachable_targets(&self, set: TargetSet, seed: u64, n: usize) -> Vec<Isometry3<f64>> {
        let mut rng = SplitMix(seed);
        let mut out = Vec::with_capacity(n);
        // Bounded: the top-down set keeps about one draw in twenty.
        for _ in 0..n.saturating_mul(200) {
            if out.len() == n {
                break;
            }
            match set {
                TargetSet::General => out.push(self.tcp(&rng.within(&Q_MIN, &Q_MAX, 0.02))),
                TargetSet::TopDown => {
                    let q = rng.within(&Q_MIN, &Q_MAX, 0.05);
                    let tcp = self.tcp(&q);
                    let t = self.world_from_base.inverse() * tcp;
                    let p = t.translation.vector;
                    if (t.rotation * Vector3::z()).z > -0.7
                        || !(0.0..0.45).contains(&p.z)
                        || p.x < 0.1
                    {
                        continue;
                    }
                    let x = t.rotation * Vector3::x();
                    let yaw = math::atan2(-x.y, -x.x) - FRAC_PI_4;
                    let flat = self.world_from_base
                        * Isometry3::from_parts(Translation3::from(p), top_down(yaw));
                    if let Ok(known) = self.ik_local(&flat, &q, &IkOptions::default()) {
                        out.push(self.tcp(&known.q));
                    }
                }
            }
        }
        out
    }
}

fn check_finite(target: &Isometry3<f64>) -> Result<(), IkError> {
    let finite = target.translation.vector.iter().all(|v| v.is_finite())
        && target.rotation.coords.iter().all(|v| v.is_finite());
    if finite {
        Ok(())
    } else {
        Err(IkError::NonFinite)
    }
}

/// Restarts tried after the seed and the ready pose: elbow up and down, wrist turned
/// either way, reaching near and far. Each is turned toward the target about the base
/// before use. Fixed (not random), so a solve is deterministic.
const RESTARTS: [Joints; 18] = [
    [0.0, 0.0, 0.0, -1.6, 0.0, 1.6, FRAC_PI_4],
    [0.0, 0.6, 0.0, -1.2, 0.0, 1.8, FRAC_PI_4],
    [0.0, -0.4, 0.0, -2.6, 0.0, 2.2, FRAC_PI_4],
    [0.0, 0.2, 0.0, -2.2, 0.0, 2.4, -0.8],
    [0.0, -0.3, 0.0, -1.0, 0.0, 0.8, 2.0],
    [0.6, 0.3, -0.6, -1.8, 0.0, 2.0, FRAC_PI_4],
    [-0.6, 0.3, 0.6, -1.8, 0.0, 2.0, FRAC_PI_4],
    [0.0, 0.4, 0.0, -2.0, 1.5, 1.5, 0.0],
    [0.0, 0.4, 0.0, -2.0, -1.5, 1.5, 0.0],
    [0.0, -1.0, 0.0, -2.2, 0.0, 3.0, FRAC_PI_4],
    [0.0, 1.0, 0.0, -0.6, 0.0, 1.2, -FRAC_PI_4],
    [1.5, 0.0, -1.5, -1.5, 1.0, 1.5, 0.0],
    [0.0, 0.6, 0.0, -2.8, 2.4, 1.5, 2.4],
    [0.0, 0.6, 0.0, -2.8, -2.4, 1.5, -2.4],
    [0.0, -0.8, 0.0, -2.9, 0.0, 3.4, FRAC_PI_4],
    [0.0, 1.2, 0.0, -2.6, 2.6, 2.0, 2.0],
    [0.0, 1.2, 0.0, -2.6, -2.6, 2.0, -2.0],
    [0.0, -0.6, 0.0, -0.5, 0.0, 0.6, -1.5],
];

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

    fn solves(p: &Panda, target: &Isometry3<f64>) -> bool {
        let opts = IkOptions::default();
        match p.ik(target, &HOME, &opts) {
            Ok(sol) => {
                let got = p.tcp(&sol.q);
                let e = (got.translation.vector - target.translation.vector).norm();
                let r = got.rotation.angle_to(&target.rotation);
                assert!(within_limits(&sol.q, 0.0), "{:?}", sol.q);
                assert!(e < opts.position_tolerance_m && r < opts.orientation_tolerance_rad);
                true
            }
            Err(_) => false,
        }
    }

    fn solve_rate(set: TargetSet, seed: u64, n: usize) -> (f64, Vec<Isometry3<f64>>) {
        let p = panda();
        let targets = p.reachable_targets(set, seed, n);
        assert_eq!(targets.len(), n);
        let failed: Vec<_> = targets.into_iter().filter(|t| !solves(&p, t)).collect();
        (1.0 - failed.len() as f64 / n as f64, failed)
    }

    /// The IK solves poses that are reachable by construction (forward kinematics of
    /// random configurations within the joint limits), from the ready pose.
    #[test]
    fn ik_solves_poses_that_in_limit_configurations_reach() {
        let (rate, failed) = solve_rate(TargetSet::General, 17, 2000);
        assert!(
            rate >= 0.995,
            "solved {:.2}%; first failures {:?}",
            rate * 100.0,
            &failed[..failed.len().min(3)]
        );
    }

    /// The same for top-down poses over the table: configurations whose tool points
    /// straight down.
    #[test]
    fn ik_solves_top_down_poses_that_in_limit_configurations_reach() {
        let (rate, failed) = solve_rate(TargetSet::TopDown, 29, 1000);
        assert!(
            rate >= 0.995,
            "solved {:.2}%; first failures {:?}",
            rate * 100.0,
            &failed[..failed.len().min(3)]
        );
        // Every one points down.
        for t in panda().reachable_targets(TargetSet::TopDown, 29, 50) {
            assert!((t.rotation * Vector3::z()).z < -0.9999);
        }
    }

    /// Regression: top-down poses near the base and at the edge of reach, which a
    /// solution within the limits reaches, were refused with "best position error
    /// 0.0002 m" when the null-space pull leaked into the task space.
    #[test]
    fn ik_reaches_top_down_poses_near_the_base_and_at_the_edge_of_reach() {
        let p = panda();
        for (x, y) in [
            (0.80, 0.0),
            (0.75, 0.2),
            (0.65, 0.4),
            (0.22, 0.0),
            (0.25, 0.15),
            (0.3, -0.3),
        ] {
            for z in [0.03, 0.15] {
                let target = Isometry3::from_parts(Translation3::new(x, y, z), top_down(0.0));
                assert!(solves(&p, &target), "({x}, {y}, {z})");
            }
        }
    }

    /// Waypoints of a straight line solved with `ik_local` stay on the seed's branch.
    #[test]
    fn local_ik_keeps_the_branch() {
        let p = panda();
        let opts = IkOptions::default();
        let mut q = HOME;
        let start = p.tcp(&HOME);
        let goal = Isometry3::from_parts(Translation3::new(0.6, 0.3, 0.03), top_down(0.3));
        for k in 1..=200 {
            let pose = start.lerp_slerp(&goal, k as f64 / 200.0);
            let next = p.ik_local(&pose, &q, &opts).unwrap().q;
            let jump = (0..DOF).map(|i| (next[i] - q[i]).abs()).fold(0.0, f64::max);
            assert!(jump < 0.1, "waypoint {k}: joint jump {jump}");
            q = next;
        }
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
