//! Motion planning: joint-space and Cartesian straight-line trajectories, timed
//! within the joint velocity limits, and checked for collisions with the table and
//! objects before anything moves.

use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::{IkError, IkOptions, Joints, DOF};
use cap_core::nalgebra::{Isometry3, Point3};
use cap_core::robot::{DynamicLimits, JointTrajectory};
use rapier3d::parry::bounding_volume::BoundingVolume;
use rapier3d::parry::query::{contact, intersection_test};

/// A held object may rest on or graze a surface; it collides only when it would sink
/// deeper than this.
const HELD_PENETRATION_M: f32 = 0.003;

use crate::convert::to_pose;
use crate::geometry::{part_frame_pose, PartFrame};
use crate::world::{World, DT_S};

/// Cartesian waypoint spacing.
const CART_STEP_M: f64 = 0.005;
/// Cartesian waypoint spacing in orientation.
const CART_STEP_RAD: f64 = 0.05;
/// A joint moving more than this between neighbouring Cartesian waypoints means the
/// IK jumped branches (a singularity or a limit lies on the line).
const MAX_WAYPOINT_JUMP_RAD: f64 = 0.3;
/// How many times a waypoint step is halved when its local solve stalls.
const LINE_SUBDIVISIONS: u32 = 3;
/// Tool speed of Cartesian moves at `speed = 1`, m/s.
const MAX_TOOL_SPEED_M_S: f64 = 0.6;
/// Shortest motion, seconds.
const MIN_DURATION_S: f64 = 0.05;
/// Collision checks every this many set-points (plus the last one).
const CHECK_EVERY: usize = 6;

/// Which objects a motion may touch, and whether the table counts for the fingers.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    /// Object indices the arm may touch (a grasp target, a placement target).
    pub objects: Vec<usize>,
}

impl World {
    /// Solve IK for a TCP pose, seeded from the current joints.
    pub fn solve_ik(&self, target: &Isometry3<f64>, seed: &Joints) -> Result<Joints, Failure> {
        match self.kinematics.ik(target, seed, &IkOptions::default()) {
            Ok(sol) => Ok(sol.q),
            Err(e @ (IkError::NonFinite | IkError::BadSeed { .. })) => {
                Err(Failure::new(FailureKind::InvalidArgument, e.to_string()))
            }
            Err(e @ IkError::NoSolution { .. }) => {
                let p = target.translation.vector;
                Err(Failure::new(
                    FailureKind::Unreachable,
                    format!(
                        "pose at [{:.3}, {:.3}, {:.3}] is out of the arm's reach: {e}{}",
                        p.x,
                        p.y,
                        p.z,
                        self.why_unreachable(target)
                    ),
                ))
            }
        }
    }

    /// What about the arm explains an unreachable `target`, beyond the solver's words:
    /// a radius outside its reach band, a height above the band of an arm that cannot
    /// point down high up, or the orientations a 5-joint arm cannot take.
    fn why_unreachable(&self, target: &Isometry3<f64>) -> String {
        let reach = self.reach();
        let base = self.kinematics.world_from_base().translation.vector;
        let p = target.translation.vector;
        let r = (p.xy() - base.xy()).norm();
        let mut why = Vec::new();
        if r > reach.max_radius_m || r < reach.min_radius_m {
            why.push(format!(
                "it is {r:.3} m from the base axis, and the {} reaches straight down only between {:.3} and {:.3} m",
                self.robot.name(),
                reach.min_radius_m,
                reach.max_radius_m
            ));
        }
        let down = (target.rotation * cap_core::nalgebra::Vector3::z()).z < -0.999;
        if down
            && p.z - base.z > reach.top_z_m + 1e-9
            && reach.top_z_m < crate::robot::REACH_HIGH_Z_M
        {
            why.push(format!(
                "the {} points straight down only up to {:.0} cm above its base",
                self.robot.name(),
                reach.top_z_m * 100.0
            ));
        }
        let dof = self.kinematics.dof();
        if dof < 6 {
            why.push(format!(
                "with {dof} joints the {} cannot take every orientation: the tool axis must lie in the arm's vertical plane through the target, and the wrist's roll range limits the yaw",
                self.robot.name()
            ));
        }
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        }
    }

    /// The time scaling motions use: a cosine profile, or a quintic one (zero
    /// velocity and acceleration at both ends) when the gate enforces acceleration and
    /// jerk limits, as a real arm's bridge has it do.
    fn profile(&self) -> Profile {
        match self.gate.limits().dynamics {
            Some(d) => Profile::Quintic(d),
            None => Profile::Cosine,
        }
    }

    /// A smooth joint-space move from `from` to `to`.
    pub fn plan_joint(&self, from: &Joints, to: &Joints) -> JointTrajectory {
        let speed = self.scene.robot.speed;
        let v_max = &self.gate.limits().v_max_rad_s;
        let profile = self.profile();
        let mut duration: f64 = MIN_DURATION_S;
        for i in 0..DOF {
            duration = duration.max(profile.duration((to[i] - from[i]).abs(), v_max[i], i, speed));
        }
        fit(&[*from, *to], duration, profile)
    }

    /// A straight-line tool move to `target` (position and orientation interpolated),
    /// timed so that neither the tool speed nor any joint speed limit is exceeded.
    pub fn plan_cartesian(
        &self,
        from: &Joints,
        target: &Isometry3<f64>,
    ) -> Result<JointTrajectory, Failure> {
        let start = self.kinematics.tcp(from);
        let dist = (target.translation.vector - start.translation.vector).norm();
        let angle = start.rotation.angle_to(&target.rotation);
        let n = ((dist / CART_STEP_M).max(angle / CART_STEP_RAD).ceil() as usize).max(1);
        let mut waypoints = Vec::with_capacity(n + 1);
        waypoints.push(*from);
        let mut q = *from;
        for k in 1..=n {
            let t = k as f64 / n as f64;
            let pose = start.lerp_slerp(target, t);
            let prev = start.lerp_slerp(target, (k - 1) as f64 / n as f64);
            let Some(next) = self.follow_line(&prev, &pose, &q, LINE_SUBDIVISIONS) else {
                // Off the seed's branch: either the line leaves the reach (say where), or
                // the arm would have to change branch (elbow or wrist) to go on.
                self.solve_ik(&pose, &q)?;
                return Err(Failure::new(
                    FailureKind::Unreachable,
                    format!(
                        "no straight-line path: the arm would have to flip (change its elbow or wrist configuration) at {:.0}% of the way",
                        t * 100.0
                    ),
                ));
            };
            let jump = (0..DOF).map(|i| (next[i] - q[i]).abs()).fold(0.0, f64::max);
            if jump > MAX_WAYPOINT_JUMP_RAD {
                return Err(Failure::new(
                    FailureKind::Unreachable,
                    format!(
                        "no straight-line path: the arm would have to flip at {:.0}% of the way",
                        t * 100.0
                    ),
                ));
            }
            waypoints.push(next);
            q = next;
        }
        let speed = self.scene.robot.speed;
        let v_max = &self.gate.limits().v_max_rad_s;
        let profile = self.profile();
        let segs = n as f64;
        let mut duration =
            (profile.peak_speed() * dist / (MAX_TOOL_SPEED_M_S * speed)).max(MIN_DURATION_S);
        for (k, w) in waypoints.windows(2).enumerate() {
            for i in 0..DOF {
                let dq = (w[1][i] - w[0][i]).abs() * segs;
                duration = duration.max(profile.duration(dq, v_max[i], i, speed));
                // A bend of the joint path between segments changes the joint's speed
                // within one control period; with jerk limits it must be slow there.
                if let (Profile::Quintic(d), Some(next)) = (profile, waypoints.get(k + 2)) {
                    let bend = ((next[i] - w[1][i]) - (w[1][i] - w[0][i])).abs() * segs;
                    let t =
                        (profile.peak_speed() * bend / (d.j_max[i] * speed * DT_S * DT_S)).sqrt();
                    duration = duration.max(t);
                }
            }
        }
        Ok(fit(&waypoints, duration, profile))
    }

    /// The joints at `to` on the branch of `q` (the joints at `from`): a local solve
    /// from `q`, and where that stalls, halfway first (down to `depth` halvings). No
    /// restarts: a restart would land on another branch and show up as a flip.
    fn follow_line(
        &self,
        from: &Isometry3<f64>,
        to: &Isometry3<f64>,
        q: &Joints,
        depth: u32,
    ) -> Option<Joints> {
        if let Ok(sol) = self.kinematics.ik_local(to, q, &IkOptions::default()) {
            return Some(sol.q);
        }
        if depth == 0 {
            return None;
        }
        let mid = from.lerp_slerp(to, 0.5);
        let q_mid = self.follow_line(from, &mid, q, depth - 1)?;
        self.follow_line(&mid, to, &q_mid, depth - 1)
    }

    /// Check that following `traj` keeps the arm (and whatever it holds) clear of the
    /// table and of every object not in `allowed`.
    pub fn check_path(&self, traj: &JointTrajectory, allowed: &Allowed) -> Result<(), Failure> {
        let width = self.gripper_width_now();
        let held = self.held_offset();
        let table = self.colliders.get(self.table_collider);
        // Obstacles: the table and the objects not allowed, with their AABBs.
        let mut obstacles = Vec::new();
        if let Some(t) = table {
            obstacles.push(("table", t.position(), t.shape(), t.compute_aabb()));
        }
        for (i, ob) in self.objects.iter().enumerate() {
            if allowed.objects.contains(&i) || held.as_ref().is_some_and(|(h, _)| *h == i) {
                continue;
            }
            if let Some(c) = self.colliders.get(ob.collider) {
                obstacles.push((
                    self.scene.objects[i].name.as_str(),
                    c.position(),
                    c.shape(),
                    c.compute_aabb(),
                ));
            }
        }
        let held_shape = held.as_ref().and_then(|(i, off)| {
            let c = self.colliders.get(self.objects[*i].collider)?;
            Some((self.scene.objects[*i].name.as_str(), *off, c.shape()))
        });
        // Links turned only by a vertical first joint sweep a circle about the base
        // axis and cannot meet the table anew (a description's shoulder may sit on it).
        let spin_only = crate::robot::first_axis_vertical(&self.kinematics);
        let n = traj.points.len();
        let indices = (0..n).filter(|k| k % CHECK_EVERY == CHECK_EVERY - 1 || *k == n - 1);
        for k in indices {
            let q = &traj.points[k];
            let frames = self.kinematics.frames(q);
            // Names stay borrowed; a string is only built for the failure message.
            let held_mover = held_shape
                .as_ref()
                .map(|(name, off, shape)| (Some(*name), "", frames.tcp * off, *shape, false));
            let parts = self.parts.iter().map(|part| {
                let pose = part_frame_pose(&frames, part.frame, width) * part.local;
                let above_table = spin_only && part.frame == PartFrame::Joint(0);
                (
                    None,
                    part.name.as_str(),
                    pose,
                    part.shape.as_ref(),
                    above_table,
                )
            });
            for (held_name, part_name, pose, shape, skip_table) in parts.chain(held_mover) {
                let pose = to_pose(&pose);
                let aabb = shape.compute_aabb(&pose);
                for (name, opose, oshape, oaabb) in &obstacles {
                    if !aabb.intersects(oaabb) || (skip_table && *name == "table") {
                        continue;
                    }
                    let hit = if held_name.is_some() {
                        contact(&pose, shape, opose, *oshape, 0.0)
                            .map_or(true, |c| c.is_some_and(|c| c.dist < -HELD_PENETRATION_M))
                    } else {
                        intersection_test(&pose, shape, opose, *oshape)
                            .map_or(true, |r| r.intersecting)
                    };
                    if hit {
                        let mover =
                            held_name.map_or_else(|| part_name.to_owned(), |h| format!("held {h}"));
                        let at = Point3::from(frames.tcp.translation.vector);
                        return Err(Failure::with_object(
                            FailureKind::Collision,
                            format!(
                                "{mover} would hit {name} {:.2} s into the motion (tool at [{:.3}, {:.3}, {:.3}])",
                                (k + 1) as f64 * DT_S,
                                at.x,
                                at.y,
                                at.z
                            ),
                            *name,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn gripper_width_now(&self) -> f64 {
        cap_core::robot::RobotBackend::gripper_width(self)
    }
}

/// A time scaling s(t) of a path over [0, 1].
#[derive(Debug, Clone, Copy)]
enum Profile {
    /// ½(1 − cos πt): zero velocity at the ends.
    Cosine,
    /// 10t³ − 15t⁴ + 6t⁵: zero velocity and acceleration at the ends, timed within
    /// these acceleration and jerk limits.
    Quintic(DynamicLimits),
}

impl Profile {
    fn s(self, t: f64) -> f64 {
        match self {
            Profile::Cosine => 0.5 * (1.0 - cap_core::math::cos(std::f64::consts::PI * t)),
            Profile::Quintic(_) => t * t * t * (10.0 - 15.0 * t + 6.0 * t * t),
        }
    }

    /// Peak of ds/dt × duration.
    fn peak_speed(self) -> f64 {
        match self {
            Profile::Cosine => std::f64::consts::FRAC_PI_2,
            Profile::Quintic(_) => 1.875,
        }
    }

    /// The shortest duration that moves joint `i` through `delta` within its limits
    /// (velocity `v_max`, and the profile's acceleration and jerk limits), at `speed`.
    fn duration(self, delta: f64, v_max: f64, i: usize, speed: f64) -> f64 {
        let by_speed = self.peak_speed() * delta / (v_max * speed);
        match self {
            Profile::Cosine => by_speed,
            Profile::Quintic(d) => {
                // Peaks of the quintic: acceleration 10/√3 Δ/T², jerk 60 Δ/T³.
                let by_acc = (5.7735 * delta / (d.a_max[i] * speed)).sqrt();
                let by_jerk = (60.0 * delta / (d.j_max[i] * speed)).cbrt();
                by_speed.max(by_acc).max(by_jerk)
            }
        }
    }
}

/// Sample `waypoints` over `duration`, and under acceleration and jerk limits stretch
/// the motion until the sampled set-points keep within them (the estimate from the
/// profile's peaks ignores the sampling and the bends of a polyline).
fn fit(waypoints: &[Joints], duration: f64, profile: Profile) -> JointTrajectory {
    let traj = sample_polyline(waypoints, duration, profile);
    let Profile::Quintic(d) = profile else {
        return traj;
    };
    let (mut traj, mut duration) = (traj, duration);
    for _ in 0..8 {
        let (ra, rj) = d.worst_ratios(&waypoints[0], &traj);
        if ra <= 1.0 && rj <= 1.0 {
            break;
        }
        duration *= ra.sqrt().max(rj.cbrt()).max(1.0) * 1.02;
        traj = sample_polyline(waypoints, duration, profile);
    }
    traj
}

/// Sample a joint polyline (waypoints evenly spaced in the path parameter) at the
/// control period with `profile`'s time scaling of total `duration`.
fn sample_polyline(waypoints: &[Joints], duration: f64, profile: Profile) -> JointTrajectory {
    let steps = ((duration / DT_S).ceil() as usize).max(1);
    let segs = (waypoints.len() - 1).max(1) as f64;
    let mut points = Vec::with_capacity(steps);
    for k in 1..=steps {
        let t = k as f64 / steps as f64;
        let s = profile.s(t);
        let x = s * segs;
        let i = (x.floor() as usize).min(waypoints.len().saturating_sub(2));
        let f = x - i as f64;
        let a = &waypoints[i];
        let b = &waypoints[(i + 1).min(waypoints.len() - 1)];
        let mut q = [0.0; DOF];
        for j in 0..DOF {
            q[j] = a[j] + (b[j] - a[j]) * f;
        }
        points.push(q);
    }
    JointTrajectory { dt_s: DT_S, points }
}
