//! cap's one inverse-kinematics descent, for any arm of `N` joints: damped least
//! squares with joint clamping, a stall test, and a pull toward mid-range in the true
//! null space of the Jacobian. The Panda's model (`kinematics::Panda`) and every arm
//! loaded from a robot description (`chain::SerialChain`) solve
//! through it, monomorphised per joint count (fixed-size matrices, no allocation).

use nalgebra::{Isometry3, Matrix6, SMatrix, Vector6};

/// Why an IK solve failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IkError {
    /// The target is not finite.
    #[error("target pose is not finite")]
    NonFinite,
    /// The seed is not a configuration of this arm: the wrong length, or not finite.
    #[error("the seed is not a configuration of this arm ({got} values for {dof} joints, or one not finite)")]
    BadSeed {
        /// Values given.
        got: usize,
        /// Joints of the arm.
        dof: usize,
    },
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

/// What the descent needs of an arm.
pub trait ArmModel<const N: usize> {
    /// Lower and upper joint limits (rad, or m for prismatic joints).
    fn limits(&self) -> ([f64; N], [f64; N]);
    /// The tool-centre-point pose and its geometric Jacobian (linear rows 0-2, angular
    /// rows 3-5, world frame) at `q`.
    fn tcp_jacobian(&self, q: &[f64; N]) -> (Isometry3<f64>, SMatrix<f64, 6, N>);
}

/// The outcome of one descent.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<const N: usize> {
    /// The configuration that reached the target within tolerance, if one did.
    pub q: Option<[f64; N]>,
    /// Iterations used.
    pub iterations: usize,
    /// Best (position m, orientation rad) error seen.
    pub error: (f64, f64),
}

/// Iterations without a 1% improvement after which a descent gives up.
const STALL_ITERATIONS: usize = 25;
/// Gain of the pull toward mid-range, per iteration, at a joint's limit.
const PULL_GAIN: f64 = 0.05;
/// Below this smallest pivot of the Cholesky factor of `JJᵀ` (≈ the smallest singular
/// value of J), the undamped inverse is too ill-conditioned to project with.
const MIN_PIVOT: f64 = 1e-3;

/// One damped-least-squares descent from `start` toward `target`.
///
/// The step is `dq = J⁺_λ e + (I − J⁺J) pull`, where `J⁺_λ = Jᵀ(JJᵀ + λ²I)⁻¹` is the
/// damped inverse (robust near singularities) and `J⁺ = Jᵀ(JJᵀ)⁻¹` the undamped one.
/// `I − J⁺J` is a true projector onto the null space: the pull never moves the tool,
/// so it cannot leave an error floor. (Projecting with the damped inverse leaks part of
/// the pull into the task space; near singular configurations the iteration then
/// settled 0.2-1.4 mm off the target.) Where `JJᵀ` is too ill-conditioned for the
/// undamped inverse — always for arms of fewer than six joints, which have no null
/// space — the pull is left out.
pub fn descend<const N: usize>(
    arm: &impl ArmModel<N>,
    target: &Isometry3<f64>,
    start: &[f64; N],
    opts: &IkOptions,
) -> Attempt<N> {
    let (lo, hi) = arm.limits();
    let mut q = *start;
    for (i, v) in q.iter_mut().enumerate() {
        *v = v.clamp(lo[i], hi[i]);
    }
    let lambda2 = opts.damping * opts.damping;
    let mut best = (f64::INFINITY, f64::INFINITY);
    let (mut last_progress, mut used) = (0, opts.max_iterations);
    for iter in 0..=opts.max_iterations {
        let (tcp, mut j) = arm.tcp_jacobian(&q);
        let ep = target.translation.vector - tcp.translation.vector;
        let er = (target.rotation * tcp.rotation.inverse()).scaled_axis();
        let err = (ep.norm(), er.norm());
        if err.0 < opts.position_tolerance_m && err.1 < opts.orientation_tolerance_rad {
            return Attempt {
                q: Some(q),
                iterations: iter,
                error: err,
            };
        }
        let metric = err.0 + 0.1 * err.1;
        if metric < 0.99 * (best.0 + 0.1 * best.1) {
            last_progress = iter;
        }
        if metric < best.0 + 0.1 * best.1 {
            best = err;
        }
        // A descent that has not improved by 1% in STALL_ITERATIONS has converged to a
        // point that is not the target (a limit, a singularity, out of reach).
        if iter == opts.max_iterations || iter - last_progress > STALL_ITERATIONS {
            used = iter;
            break;
        }
        // Clamp the task-space step so far targets do not make the linearisation lie.
        let ep = if err.0 > 0.1 { ep * (0.1 / err.0) } else { ep };
        let er = if err.1 > 0.4 { er * (0.4 / err.1) } else { er };
        let e = Vector6::new(ep.x, ep.y, ep.z, er.x, er.y, er.z);
        // Joint clamping: a joint that the step would push past its limit is locked
        // (its column taken out) and the step solved again with the others, so the
        // rest of the arm makes up for it instead of the clamp eating the step.
        let mut dq = SMatrix::<f64, N, 1>::zeros();
        for _ in 0..3 {
            let jjt: Matrix6<f64> = j * j.transpose();
            let scale = (err.0 / 0.02 + err.1 / 0.2).min(1.0);
            let lambda2 = (lambda2 * scale * scale).max(1e-6);
            let Some(damped) = (jjt + Matrix6::identity() * lambda2).cholesky() else {
                break;
            };
            dq = j.transpose() * damped.solve(&e) + null_space_pull(&j, &jjt, &q, &lo, &hi);
            let mut locked = false;
            for i in 0..N {
                let next = q[i] + dq[i];
                if (next < lo[i] || next > hi[i]) && j.column(i).iter().any(|v| *v != 0.0) {
                    j.column_mut(i).fill(0.0);
                    locked = true;
                }
            }
            if !locked {
                break;
            }
        }
        for i in 0..N {
            q[i] = (q[i] + dq[i]).clamp(lo[i], hi[i]);
        }
    }
    Attempt {
        q: None,
        iterations: used,
        error: best,
    }
}

/// `(I − J⁺J) pull` for the pull toward the middle of the joint ranges, or zero where
/// `JJᵀ` is near singular.
fn null_space_pull<const N: usize>(
    j: &SMatrix<f64, 6, N>,
    jjt: &Matrix6<f64>,
    q: &[f64; N],
    lo: &[f64; N],
    hi: &[f64; N],
) -> SMatrix<f64, N, 1> {
    let mut pull = SMatrix::<f64, N, 1>::zeros();
    for i in 0..N {
        let mid = 0.5 * (lo[i] + hi[i]);
        let half = 0.5 * (hi[i] - lo[i]);
        if half > 0.0 {
            pull[i] = PULL_GAIN * (mid - q[i]) / half;
        }
    }
    let Some(chol) = jjt.cholesky() else {
        return SMatrix::zeros();
    };
    let l = chol.l_dirty();
    if (0..6).any(|i| l[(i, i)] < MIN_PIVOT) {
        return SMatrix::zeros();
    }
    let projected = pull - j.transpose() * chol.solve(&(j * pull));
    // A projector never lengthens a vector; if this one did, rounding won.
    if projected.norm() > pull.norm() * (1.0 + 1e-6) {
        return SMatrix::zeros();
    }
    projected
}

/// A small deterministic generator (splitmix64): the same restarts and test targets
/// on every machine, without a dependency on rand.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A configuration uniformly within `lo..hi`, `margin` inside the limits.
    pub fn within<const N: usize>(
        &mut self,
        lo: &[f64; N],
        hi: &[f64; N],
        margin: f64,
    ) -> [f64; N] {
        let mut q = [0.0; N];
        for (i, v) in q.iter_mut().enumerate() {
            let (a, b) = (lo[i] + margin, hi[i] - margin);
            *v = if b > a {
                a + (b - a) * self.unit()
            } else {
                0.5 * (lo[i] + hi[i])
            };
        }
        q
    }
}
