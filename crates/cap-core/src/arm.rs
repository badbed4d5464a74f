//! The arm a world drives, whatever it is: the built-in Panda (its DH model) or a
//! serial chain from a robot description, behind one interface with one
//! configuration type.
//!
//! [`Joints`] is `[f64; 7]` for every arm, so trajectories, the safety gate and the
//! backend trait stay fixed-size: an arm of n < 7 joints uses the first n values, and
//! the rest are padding that stays 0 (its limits are [0, 0], so the gate refuses any
//! other value there).

use std::f64::consts::{FRAC_PI_2, PI};

use nalgebra::{Isometry3, Translation3, Vector3};

use crate::chain::{ChainError, JointKind, SerialChain};
use crate::ik::{IkError, IkOptions, SplitMix};
use crate::kinematics::{
    top_down, Frames, IkSolution, Joints, Panda, DOF, EFFORT_MAX_NM, FLANGE_TO_TCP_M, HOME, Q_MAX,
    Q_MIN, V_MAX,
};

/// The most joints an arm may have (the length of [`Joints`]).
pub const MAX_DOF: usize = DOF;

/// Speed limit the padding of a short arm's configuration carries (it never moves).
const PADDING_V_MAX: f64 = 1.0;

#[derive(Debug, Clone)]
enum Model {
    Panda(Panda),
    Chain(SerialChain),
}

/// An arm's kinematics, limits and ready pose.
#[derive(Debug, Clone)]
pub struct ArmKinematics {
    model: Model,
    dof: usize,
    names: Vec<String>,
    q_min: Joints,
    q_max: Joints,
    v_max: Joints,
    effort: Joints,
    home: Joints,
}

/// An arm that cannot be driven as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArmError {
    /// The chain itself is unusable.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A given ready pose has the wrong length.
    #[error("the ready pose (`home`) has {got} values for an arm of {dof} joints")]
    HomeLength {
        /// Values given.
        got: usize,
        /// Joints of the arm.
        dof: usize,
    },
    /// A given ready pose is outside the limits.
    #[error("the ready pose (`home`) puts joint `{joint}` at {value} outside [{lo}, {hi}]")]
    HomeOutside {
        /// The joint.
        joint: String,
        /// The value given.
        value: f64,
        /// Lower limit.
        lo: f64,
        /// Upper limit.
        hi: f64,
    },
    /// No ready pose was given and none was found.
    #[error("no ready pose: the tool cannot point straight down at any of {tried} places in front of the base (give one with `home = [...]`)")]
    NoHome {
        /// Places tried.
        tried: usize,
    },
}

/// Seeds (besides the zero pose) a ready pose is looked for from.
const HOME_SEEDS: usize = 24;

/// Places in front of the shoulder where a ready pose is looked for, as fractions of
/// the chain's reach bound: (forward, up).
const HOME_CANDIDATES: [(f64, f64); 11] = [
    (0.35, 0.15),
    (0.35, 0.25),
    (0.30, 0.35),
    (0.45, 0.20),
    (0.40, 0.10),
    (0.25, 0.40),
    (0.50, 0.05),
    (0.55, 0.15),
    (0.20, 0.20),
    (0.45, 0.00),
    (0.40, -0.05),
];

impl ArmKinematics {
    /// The built-in Panda, its base at `world_from_base`, ready at [`HOME`].
    pub fn panda(world_from_base: Isometry3<f64>) -> Self {
        Self {
            model: Model::Panda(Panda::new(world_from_base)),
            dof: DOF,
            names: (1..=DOF).map(|i| format!("panda_joint{i}")).collect(),
            q_min: Q_MIN,
            q_max: Q_MAX,
            v_max: V_MAX,
            effort: EFFORT_MAX_NM,
            home: HOME,
        }
    }

    /// A chain, ready at `home` if given, otherwise at a pose found by IK: the tool
    /// pointing straight down in front of the base (world +x), at the first of a fixed
    /// list of places the chain reaches.
    pub fn chain(chain: SerialChain, home: Option<&[f64]>) -> Result<Self, ArmError> {
        let dof = chain.dof();
        let (mut q_min, mut q_max) = ([0.0; DOF], [0.0; DOF]);
        let (mut v_max, mut effort) = ([PADDING_V_MAX; DOF], [0.0; DOF]);
        for (i, j) in chain.joints().iter().enumerate().take(DOF) {
            q_min[i] = j.lower;
            q_max[i] = j.upper;
            v_max[i] = j.velocity;
            effort[i] = j.effort;
        }
        let names = chain.joints().iter().map(|j| j.name.clone()).collect();
        let mut arm = Self {
            model: Model::Chain(chain),
            dof,
            names,
            q_min,
            q_max,
            v_max,
            effort,
            home: [0.0; DOF],
        };
        arm.home = match home {
            Some(h) => arm.checked_home(h)?,
            None => arm.find_home()?,
        };
        Ok(arm)
    }

    fn checked_home(&self, h: &[f64]) -> Result<Joints, ArmError> {
        if h.len() != self.dof {
            return Err(ArmError::HomeLength {
                got: h.len(),
                dof: self.dof,
            });
        }
        let mut q = [0.0; DOF];
        for (i, &v) in h.iter().enumerate() {
            let (lo, hi) = (self.q_min[i], self.q_max[i]);
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(ArmError::HomeOutside {
                    joint: self.names[i].clone(),
                    value: v,
                    lo,
                    hi,
                });
            }
            q[i] = v;
        }
        Ok(q)
    }

    /// The first of [`HOME_CANDIDATES`] the tool reaches pointing down (at wrist yaw
    /// 0, else 180° or ±90°: a wrist that cannot turn a full circle), in the
    /// configuration (of those reached from the zero pose and a fixed spread of seeds)
    /// whose lowest link past the shoulder is highest (elbow up, clear of the table),
    /// its joints unwound toward 0.
    fn find_home(&self) -> Result<Joints, ArmError> {
        let Model::Chain(chain) = &self.model else {
            return Ok(HOME);
        };
        let reach = chain.reach_bound_m();
        let shoulder = self.shoulder();
        let mut zero = [0.0; DOF];
        zero[..self.dof].copy_from_slice(&chain.zero());
        let mut rng = SplitMix(0x0005_EED5);
        let seeds: Vec<Joints> = std::iter::once(zero)
            .chain((0..HOME_SEEDS).map(|_| rng.within(&self.q_min, &self.q_max, 0.05)))
            .collect();
        let opts = IkOptions::default();
        let yaws = [0.0, PI, FRAC_PI_2, -FRAC_PI_2];
        let places = HOME_CANDIDATES
            .iter()
            .flat_map(|c| yaws.iter().map(move |y| (c, y)));
        for (&(fwd, up), &yaw) in places {
            let p = shoulder + Vector3::new(fwd * reach, 0.0, up * reach);
            let target = Isometry3::from_parts(Translation3::from(p), top_down(yaw));
            let best = seeds
                .iter()
                .filter_map(|s| self.ik_local(&target, s, &opts).ok())
                .chain(self.ik(&target, &zero, &opts).ok())
                .map(|sol| {
                    let q = self.unwound(sol.q);
                    let turns: f64 = q.iter().map(|v| v.abs()).sum();
                    (self.lowest_link_z(&q) - 0.01 * turns, q)
                })
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, q)) = best {
                return Ok(q);
            }
        }
        Err(ArmError::NoHome {
            tried: HOME_CANDIDATES.len(),
        })
    }

    /// `q` with each revolute joint turned by whole turns toward 0 while it stays
    /// within its limits (the same pose, joints less wound up).
    fn unwound(&self, mut q: Joints) -> Joints {
        let Model::Chain(c) = &self.model else {
            return q;
        };
        let tau = std::f64::consts::TAU;
        for (i, j) in c.joints().iter().enumerate().take(self.dof) {
            if j.kind != JointKind::Revolute {
                continue;
            }
            while q[i] > std::f64::consts::PI && q[i] - tau >= j.lower {
                q[i] -= tau;
            }
            while q[i] < -std::f64::consts::PI && q[i] + tau <= j.upper {
                q[i] += tau;
            }
        }
        q
    }

    /// Height of the lowest moving link frame from the third on (the first two sit at
    /// the shoulder whatever the pose; the elbow is the third), metres.
    fn lowest_link_z(&self, q: &Joints) -> f64 {
        let f = self.frames(q);
        f.joints[2.min(self.dof - 1)..self.dof]
            .iter()
            .map(|t| t.translation.z)
            .fold(f64::INFINITY, f64::min)
    }

    /// Moving joints (the first `dof` values of a configuration).
    pub fn dof(&self) -> usize {
        self.dof
    }

    /// The joints' names, base to tool.
    pub fn joint_names(&self) -> &[String] {
        &self.names
    }

    /// Lower position limits (padding: 0).
    pub fn q_min(&self) -> &Joints {
        &self.q_min
    }

    /// Upper position limits (padding: 0).
    pub fn q_max(&self) -> &Joints {
        &self.q_max
    }

    /// Velocity limits, rad/s or m/s.
    pub fn v_max(&self) -> &Joints {
        &self.v_max
    }

    /// Effort limits as the description gives them (0 where it gives none).
    pub fn effort(&self) -> &Joints {
        &self.effort
    }

    /// The ready pose.
    pub fn home(&self) -> &Joints {
        &self.home
    }

    /// Where the base sits in the world.
    pub fn world_from_base(&self) -> Isometry3<f64> {
        match &self.model {
            Model::Panda(p) => p.world_from_base,
            Model::Chain(c) => c.world_from_base(),
        }
    }

    /// The chain, for an arm built from a description.
    pub fn serial_chain(&self) -> Option<&SerialChain> {
        match &self.model {
            Model::Chain(c) => Some(c),
            Model::Panda(_) => None,
        }
    }

    /// The built-in Panda's model, for the arm that is one.
    pub fn builtin_panda(&self) -> Option<&Panda> {
        match &self.model {
            Model::Panda(p) => Some(p),
            Model::Chain(_) => None,
        }
    }

    /// World position of the first joint (the shoulder the reach is measured from).
    pub fn shoulder(&self) -> Vector3<f64> {
        match &self.model {
            Model::Panda(p) => {
                (p.world_from_base * Translation3::new(0.0, 0.0, 0.333))
                    .translation
                    .vector
            }
            Model::Chain(c) => {
                let first = c
                    .joints()
                    .first()
                    .map_or(Isometry3::identity(), |j| j.origin);
                (c.world_from_base() * first).translation.vector
            }
        }
    }

    /// True when every joint is within its limits (with `tol` slack) and the padding
    /// is zero.
    pub fn within_limits(&self, q: &Joints, tol: f64) -> bool {
        (0..DOF).all(|i| q[i] >= self.q_min[i] - tol && q[i] <= self.q_max[i] + tol)
    }

    /// All frames of `q`: each moving joint's child link (the Panda's DH joint frames;
    /// padding repeats the last), the hand and the TCP. A chain's hand is the TCP
    /// moved back [`FLANGE_TO_TCP_M`] along its z, where cap's parallel gripper puts
    /// its palm.
    pub fn frames(&self, q: &Joints) -> Frames {
        match &self.model {
            Model::Panda(p) => p.frames(q),
            Model::Chain(c) => {
                // `q` always has DOF ≥ dof values, so link_frames cannot fail.
                let links = c.link_frames(&q[..self.dof]).unwrap_or_default();
                let last = links.last().copied().unwrap_or(c.world_from_base());
                let mut joints = [last; DOF];
                joints[..links.len()].copy_from_slice(&links);
                let tcp = last * c.tool();
                let hand = tcp * Translation3::new(0.0, 0.0, -FLANGE_TO_TCP_M);
                Frames {
                    joints,
                    flange: hand,
                    hand,
                    tcp,
                }
            }
        }
    }

    /// World pose of the TCP at `q`.
    pub fn tcp(&self, q: &Joints) -> Isometry3<f64> {
        match &self.model {
            Model::Panda(p) => p.tcp(q),
            Model::Chain(c) => {
                let links = c.link_frames(&q[..self.dof]).unwrap_or_default();
                links.last().copied().unwrap_or(c.world_from_base()) * c.tool()
            }
        }
    }

    /// IK from `seed` with the arm's restarts (see [`Panda::ik`], [`SerialChain::ik`]).
    pub fn ik(
        &self,
        target: &Isometry3<f64>,
        seed: &Joints,
        opts: &IkOptions,
    ) -> Result<IkSolution, IkError> {
        match &self.model {
            Model::Panda(p) => p.ik(target, seed, opts),
            Model::Chain(c) => self.padded(c.ik(target, &seed[..self.dof], opts)),
        }
    }

    /// IK from `seed` only, staying on its branch.
    pub fn ik_local(
        &self,
        target: &Isometry3<f64>,
        seed: &Joints,
        opts: &IkOptions,
    ) -> Result<IkSolution, IkError> {
        match &self.model {
            Model::Panda(p) => p.ik_local(target, seed, opts),
            Model::Chain(c) => self.padded(c.ik_local(target, &seed[..self.dof], opts)),
        }
    }

    fn padded(
        &self,
        r: Result<crate::chain::ChainSolution, IkError>,
    ) -> Result<IkSolution, IkError> {
        let sol = r?;
        let mut q = [0.0; DOF];
        q[..self.dof].copy_from_slice(&sol.q);
        Ok(IkSolution {
            q,
            iterations: sol.iterations,
        })
    }

    /// The same arm with its base at `world_from_base`.
    pub fn with_base(&self, world_from_base: Isometry3<f64>) -> Result<Self, ArmError> {
        let mut arm = self.clone();
        match &mut arm.model {
            Model::Panda(p) => p.world_from_base = world_from_base,
            Model::Chain(c) => c.set_base(world_from_base)?,
        }
        Ok(arm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinematics::TargetSet;

    #[test]
    fn the_panda_as_a_chain_drives_like_the_builtin() {
        let builtin = ArmKinematics::panda(Isometry3::translation(0.1, 0.2, 0.0));
        let chain = Panda::new(Isometry3::translation(0.1, 0.2, 0.0))
            .chain()
            .unwrap_or_else(|e| panic!("{e}"));
        let arm = ArmKinematics::chain(chain, Some(&HOME)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(arm.dof(), 7);
        assert_eq!(arm.home(), &HOME);
        let a = builtin.frames(&HOME);
        let b = arm.frames(&HOME);
        assert!((a.tcp.translation.vector - b.tcp.translation.vector).norm() < 1e-9);
        assert!(a.tcp.rotation.angle_to(&b.tcp.rotation) < 1e-9);
        assert!((a.hand.translation.vector - b.hand.translation.vector).norm() < 1e-9);
        assert!((builtin.shoulder() - arm.shoulder()).norm() < 1e-12);
        let targets = Panda::new(Isometry3::translation(0.1, 0.2, 0.0)).reachable_targets(
            TargetSet::TopDown,
            7,
            40,
        );
        for t in &targets {
            let s = arm
                .ik(t, &HOME, &IkOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!((arm.tcp(&s.q).translation.vector - t.translation.vector).norm() < 2.5e-4);
        }
    }

    #[test]
    fn a_short_arm_pads_its_configuration_and_finds_a_ready_pose() {
        let full = Panda::new(Isometry3::identity())
            .chain()
            .unwrap_or_else(|e| panic!("{e}"));
        // The Panda without its last joint: 6 joints, the tool on link 6.
        let joints = full.joints()[..6].to_vec();
        let chain = SerialChain::new(Isometry3::identity(), joints, full.tool())
            .unwrap_or_else(|e| panic!("{e}"));
        let arm = ArmKinematics::chain(chain, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(arm.dof(), 6);
        assert_eq!(arm.q_min()[6], 0.0);
        assert_eq!(arm.q_max()[6], 0.0);
        assert_eq!(arm.home()[6], 0.0);
        assert!(arm.within_limits(arm.home(), 0.0));
        let down = arm.tcp(arm.home()).rotation * Vector3::z();
        assert!(down.z < -0.999, "the ready pose points down: {down:?}");
        let mut off = *arm.home();
        off[6] = 0.1;
        assert!(!arm.within_limits(&off, 1e-9), "padding must stay 0");
        assert!(matches!(
            ArmKinematics::chain(arm.serial_chain().cloned().unwrap(), Some(&[0.0; 3])),
            Err(ArmError::HomeLength { got: 3, dof: 6 })
        ));
        let mut bad = [0.0; 6];
        bad[3] = 9.0;
        let e = ArmKinematics::chain(arm.serial_chain().cloned().unwrap(), Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("panda_joint4"), "{e}");
    }
}
