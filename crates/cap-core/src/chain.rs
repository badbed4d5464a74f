//! A serial arm of 4 to 7 moving joints from any robot description (a URDF's chain
//! from base link to tool link): forward kinematics, the geometric Jacobian and the IK
//! of [`crate::ik`] — the same descent the Panda's model uses — with restarts made for
//! the arm at hand.
//!
//! Joint `i` sits at `origin_i` in the frame of the link before it (fixed joints in
//! between are folded into it) and moves its child link about (revolute) or along
//! (prismatic) `axis_i` of its own frame; `tool` places the tool centre point in the
//! last moving joint's child link.

use nalgebra::{Isometry3, SMatrix, Translation3, Unit, UnitQuaternion, Vector3};

use crate::ik::{self, ArmModel, IkError, IkOptions, SplitMix};
use crate::math;

/// Fewest and most moving joints a chain may have.
pub const DOF_RANGE: std::ops::RangeInclusive<usize> = 4..=7;

/// How a joint moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JointKind {
    /// About its axis, radians.
    Revolute,
    /// Along its axis, metres.
    Prismatic,
}

/// One moving joint of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainJoint {
    /// Its name in the description.
    pub name: String,
    /// Revolute or prismatic.
    pub kind: JointKind,
    /// Its frame in the previous moving joint's child link at zero (fixed joints in
    /// between folded in).
    pub origin: Isometry3<f64>,
    /// The unit axis it moves about or along, in its own frame.
    pub axis: Unit<Vector3<f64>>,
    /// Lower position limit.
    pub lower: f64,
    /// Upper position limit.
    pub upper: f64,
    /// Velocity limit (rad/s or m/s).
    pub velocity: f64,
    /// Effort limit (N·m or N), as the description gives it.
    pub effort: f64,
}

impl ChainJoint {
    fn motion(&self, q: f64) -> Isometry3<f64> {
        match self.kind {
            JointKind::Revolute => Isometry3::from_parts(
                Translation3::identity(),
                UnitQuaternion::from_axis_angle(&self.axis, q),
            ),
            JointKind::Prismatic => Isometry3::from_parts(
                Translation3::from(self.axis.into_inner() * q),
                UnitQuaternion::identity(),
            ),
        }
    }
}

/// A chain that cannot be built or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChainError {
    /// Too few or too many moving joints.
    #[error("the chain has {0} moving joints; cap drives arms of 4 to 7")]
    UnsupportedDof(usize),
    /// A joint's numbers are unusable.
    #[error("joint `{joint}`: {message}")]
    BadJoint {
        /// The joint.
        joint: String,
        /// What is wrong.
        message: String,
    },
    /// The tool offset or base pose is not finite.
    #[error("{0} is not finite")]
    NonFinite(&'static str),
    /// A configuration of the wrong length.
    #[error("a configuration of {got} values for {dof} joints")]
    WrongLength {
        /// Values given.
        got: usize,
        /// Joints of the chain.
        dof: usize,
    },
}

/// A solved configuration of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSolution {
    /// The joints.
    pub q: Vec<f64>,
    /// Iterations used (over all attempts).
    pub iterations: usize,
}

/// A serial arm.
#[derive(Debug, Clone)]
pub struct SerialChain {
    world_from_base: Isometry3<f64>,
    joints: Vec<ChainJoint>,
    tool: Isometry3<f64>,
    /// Upper bound of the distance from the first joint's origin to the TCP.
    reach_bound_m: f64,
}

fn finite_iso(t: &Isometry3<f64>) -> bool {
    t.translation.vector.iter().all(|v| v.is_finite())
        && t.rotation.coords.iter().all(|v| v.is_finite())
}

impl SerialChain {
    /// A chain of `joints` (base to tool) whose base sits at `world_from_base`, with the
    /// TCP at `tool` in the last joint's child link. Refuses a joint count outside
    /// [`DOF_RANGE`], non-finite poses, an empty or inverted limit range and a
    /// non-positive velocity limit.
    pub fn new(
        world_from_base: Isometry3<f64>,
        joints: Vec<ChainJoint>,
        tool: Isometry3<f64>,
    ) -> Result<Self, ChainError> {
        if !DOF_RANGE.contains(&joints.len()) {
            return Err(ChainError::UnsupportedDof(joints.len()));
        }
        if !finite_iso(&world_from_base) {
            return Err(ChainError::NonFinite("the base pose"));
        }
        if !finite_iso(&tool) {
            return Err(ChainError::NonFinite("the tool offset"));
        }
        for j in &joints {
            let bad = |message: String| ChainError::BadJoint {
                joint: j.name.clone(),
                message,
            };
            if !finite_iso(&j.origin) || !j.axis.iter().all(|v| v.is_finite()) {
                return Err(bad("its origin or axis is not finite".into()));
            }
            if !(j.lower.is_finite() && j.upper.is_finite() && j.lower < j.upper) {
                return Err(bad(format!(
                    "its position limits [{}, {}] are not a range",
                    j.lower, j.upper
                )));
            }
            if !(j.velocity.is_finite() && j.velocity > 0.0) {
                return Err(bad(format!(
                    "its velocity limit {} is not positive",
                    j.velocity
                )));
            }
        }
        // Every offset after the first joint can only add its length to the reach; a
        // prismatic joint adds its stroke.
        let reach_bound_m = joints
            .iter()
            .skip(1)
            .map(|j| j.origin.translation.vector.norm())
            .chain(
                joints
                    .iter()
                    .filter(|j| j.kind == JointKind::Prismatic)
                    .map(|j| j.lower.abs().max(j.upper.abs())),
            )
            .sum::<f64>()
            + tool.translation.vector.norm();
        Ok(Self {
            world_from_base,
            joints,
            tool,
            reach_bound_m,
        })
    }

    /// Moving joints.
    pub fn dof(&self) -> usize {
        self.joints.len()
    }

    /// The joints, base to tool.
    pub fn joints(&self) -> &[ChainJoint] {
        &self.joints
    }

    /// Where the base sits.
    pub fn world_from_base(&self) -> Isometry3<f64> {
        self.world_from_base
    }

    /// Put the base at `world_from_base`.
    pub fn set_base(&mut self, world_from_base: Isometry3<f64>) -> Result<(), ChainError> {
        if !finite_iso(&world_from_base) {
            return Err(ChainError::NonFinite("the base pose"));
        }
        self.world_from_base = world_from_base;
        Ok(())
    }

    /// The TCP in the last joint's child link.
    pub fn tool(&self) -> Isometry3<f64> {
        self.tool
    }

    /// The lower and upper limits.
    pub fn limits(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.joints.iter().map(|j| j.lower).collect(),
            self.joints.iter().map(|j| j.upper).collect(),
        )
    }

    /// Upper bound of the distance from the first joint to the TCP, metres.
    pub fn reach_bound_m(&self) -> f64 {
        self.reach_bound_m
    }

    /// The zero configuration, clamped into the limits.
    pub fn zero(&self) -> Vec<f64> {
        self.joints
            .iter()
            .map(|j| 0.0f64.clamp(j.lower, j.upper))
            .collect()
    }

    fn check_len(&self, q: &[f64]) -> Result<(), ChainError> {
        if q.len() == self.dof() {
            Ok(())
        } else {
            Err(ChainError::WrongLength {
                got: q.len(),
                dof: self.dof(),
            })
        }
    }

    /// World frames of each moving joint's child link at `q`, base to tool.
    pub fn link_frames(&self, q: &[f64]) -> Result<Vec<Isometry3<f64>>, ChainError> {
        self.check_len(q)?;
        let mut t = self.world_from_base;
        Ok(self
            .joints
            .iter()
            .zip(q)
            .map(|(j, &v)| {
                t = t * j.origin * j.motion(v);
                t
            })
            .collect())
    }

    /// World pose of the TCP at `q`.
    pub fn tcp(&self, q: &[f64]) -> Result<Isometry3<f64>, ChainError> {
        let frames = self.link_frames(q)?;
        Ok(frames.last().copied().unwrap_or(self.world_from_base) * self.tool)
    }

    /// World position of the first joint (fixed relative to the base).
    fn shoulder(&self) -> Vector3<f64> {
        let first = self
            .joints
            .first()
            .map_or(Isometry3::identity(), |j| j.origin);
        (self.world_from_base * first).translation.vector
    }

    /// Solve for a configuration whose TCP is at `target`, from `seed` and, if that
    /// fails, from restarts: the zero configuration and a fixed spread over the joint
    /// ranges, each turned toward the target about the first joint when that joint is
    /// vertical. Deterministic. A target beyond the chain's reach fails at once.
    pub fn ik(
        &self,
        target: &Isometry3<f64>,
        seed: &[f64],
        opts: &IkOptions,
    ) -> Result<ChainSolution, IkError> {
        self.solve(target, seed, opts, false)
    }

    /// Solve from `seed` only, staying on its branch (as straight-line waypoints need).
    pub fn ik_local(
        &self,
        target: &Isometry3<f64>,
        seed: &[f64],
        opts: &IkOptions,
    ) -> Result<ChainSolution, IkError> {
        self.solve(target, seed, opts, true)
    }

    fn solve(
        &self,
        target: &Isometry3<f64>,
        seed: &[f64],
        opts: &IkOptions,
        local: bool,
    ) -> Result<ChainSolution, IkError> {
        if !finite_iso(target) {
            return Err(IkError::NonFinite);
        }
        if seed.len() != self.dof() || seed.iter().any(|v| !v.is_finite()) {
            return Err(IkError::BadSeed {
                got: seed.len(),
                dof: self.dof(),
            });
        }
        match self.dof() {
            4 => Fixed::<4>(self).solve(target, seed, opts, local),
            5 => Fixed::<5>(self).solve(target, seed, opts, local),
            6 => Fixed::<6>(self).solve(target, seed, opts, local),
            _ => Fixed::<7>(self).solve(target, seed, opts, local),
        }
    }
}

/// A chain seen with its joint count fixed, for the descent's fixed-size matrices.
struct Fixed<'a, const N: usize>(&'a SerialChain);

/// Restarts after the seed and the zero configuration.
const SPREAD: usize = 18;

impl<const N: usize> ArmModel<N> for Fixed<'_, N> {
    fn limits(&self) -> ([f64; N], [f64; N]) {
        let (mut lo, mut hi) = ([0.0; N], [0.0; N]);
        for (i, j) in self.0.joints.iter().take(N).enumerate() {
            lo[i] = j.lower;
            hi[i] = j.upper;
        }
        (lo, hi)
    }

    fn tcp_jacobian(&self, q: &[f64; N]) -> (Isometry3<f64>, SMatrix<f64, 6, N>) {
        let mut axes = [Vector3::zeros(); N];
        let mut points = [Vector3::zeros(); N];
        let mut t = self.0.world_from_base;
        for (i, j) in self.0.joints.iter().take(N).enumerate() {
            let at = t * j.origin;
            axes[i] = at.rotation * j.axis.into_inner();
            points[i] = at.translation.vector;
            t = at * j.motion(q[i]);
        }
        let tcp = t * self.0.tool;
        let p = tcp.translation.vector;
        let mut jac = SMatrix::<f64, 6, N>::zeros();
        for (i, j) in self.0.joints.iter().take(N).enumerate() {
            let z = axes[i];
            match j.kind {
                JointKind::Revolute => {
                    jac.fixed_view_mut::<3, 1>(0, i)
                        .copy_from(&z.cross(&(p - points[i])));
                    jac.fixed_view_mut::<3, 1>(3, i).copy_from(&z);
                }
                JointKind::Prismatic => {
                    jac.fixed_view_mut::<3, 1>(0, i).copy_from(&z);
                }
            }
        }
        (tcp, jac)
    }
}

impl<const N: usize> Fixed<'_, N> {
    fn solve(
        &self,
        target: &Isometry3<f64>,
        seed: &[f64],
        opts: &IkOptions,
        local: bool,
    ) -> Result<ChainSolution, IkError> {
        let mut start = [0.0; N];
        start.copy_from_slice(&seed[..N]);
        let found = |q: [f64; N], iterations| ChainSolution {
            q: q.to_vec(),
            iterations,
        };
        if local {
            let a = ik::descend(self, target, &start, opts);
            return match a.q {
                Some(q) => Ok(found(q, a.iterations)),
                None => Err(IkError::NoSolution {
                    position_error_m: a.error.0,
                    orientation_error_rad: a.error.1,
                }),
            };
        }
        let chain = self.0;
        let far = (target.translation.vector - chain.shoulder()).norm() - chain.reach_bound_m;
        if far > 1e-9 {
            return Err(IkError::NoSolution {
                position_error_m: far,
                orientation_error_rad: 0.0,
            });
        }
        let (lo, hi) = self.limits();
        let mut zero = [0.0; N];
        for i in 0..N {
            zero[i] = 0.0f64.clamp(lo[i], hi[i]);
        }
        let mut rng = SplitMix(0x00C0_FFEE);
        let spread: Vec<[f64; N]> = (0..SPREAD).map(|_| rng.within(&lo, &hi, 0.05)).collect();
        let mut total = 0;
        let mut best = (f64::INFINITY, f64::INFINITY);
        let starts = [start, zero].into_iter().chain(spread).enumerate();
        for (k, s) in starts {
            if k == 1 && s == start {
                continue;
            }
            let s = if k == 0 {
                s
            } else {
                self.turned_toward(s, target)
            };
            let a = ik::descend(self, target, &s, opts);
            total += a.iterations;
            if let Some(q) = a.q {
                return Ok(found(q, total));
            }
            if a.error.0 + 0.1 * a.error.1 < best.0 + 0.1 * best.1 {
                best = a.error;
            }
        }
        Err(IkError::NoSolution {
            position_error_m: best.0,
            orientation_error_rad: best.1,
        })
    }

    /// `q` with its first joint turned so the TCP's azimuth about that joint's axis is
    /// the target's, when the first joint is (nearly) vertical; `q` as it is otherwise.
    fn turned_toward(&self, mut q: [f64; N], target: &Isometry3<f64>) -> [f64; N] {
        let chain = self.0;
        let Some(first) = chain.joints.first() else {
            return q;
        };
        if first.kind != JointKind::Revolute {
            return q;
        }
        let at = chain.world_from_base * first.origin;
        let axis = at.rotation * first.axis.into_inner();
        if axis.z.abs() < 0.95 {
            return q;
        }
        let (tcp, _) = self.tcp_jacobian(&q);
        let o = at.translation.vector;
        let (a, b) = (tcp.translation.vector - o, target.translation.vector - o);
        if a.xy().norm() < 1e-3 || b.xy().norm() < 1e-3 {
            return q;
        }
        let delta = math::atan2(b.y, b.x) - math::atan2(a.y, a.x);
        let delta = math::atan2(math::sin(delta), math::cos(delta));
        q[0] = (q[0] + delta * axis.z.signum()).clamp(first.lower, first.upper);
        q
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
