//! Motion primitives: what the script API's motion functions do. Each plans, checks
//! the path for collisions, passes the safety gate, and only then reaches the backend.
//! Every failure is a typed [`Failure`] naming the object involved.

use std::f64::consts::{FRAC_PI_2, PI};

use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::Joints;
use cap_core::math;
use cap_core::nalgebra::{Isometry3, Point3, Translation3, Vector3};
use cap_core::robot::{BackendError, JointTrajectory, RobotBackend};
use cap_core::scene::ObjectKind;

use crate::grasp::{wrap, Grasp, GraspRequest};
use crate::plan::Allowed;
use crate::world::World;

/// Height above a grasp or placement from which the final straight descent starts.
pub const APPROACH_M: f64 = 0.12;
/// Gap left under an object when it is set down.
const PLACE_CLEARANCE_M: f64 = 0.006;

/// The motion and gripper primitives, as methods on a world.
pub trait Primitives {
    /// Move the tool in a straight line to `pos`, keeping its orientation.
    fn move_to(&mut self, pos: Point3<f64>) -> Result<(), Failure>;
    /// Move the tool by an offset.
    fn move_by(&mut self, d: Vector3<f64>) -> Result<(), Failure>;
    /// Open the gripper fully (releasing whatever is held).
    fn open_gripper(&mut self) -> Result<(), Failure>;
    /// Close the gripper until it holds something or is shut; the object held, if any.
    fn close_gripper(&mut self) -> Result<Option<String>, Failure>;
    /// Go to the ready configuration.
    fn home(&mut self) -> Result<(), Failure>;
    /// Grasp the named object from above and lift it, choosing the grasp.
    fn pick(&mut self, name: &str) -> Result<(), Failure> {
        self.pick_with(name, &GraspRequest::default()).map(|_| ())
    }
    /// Grasp the named object from above with the first clear grasp that fits
    /// `request` (in the order of [`World::grasp_candidates`]) and lift it; the grasp
    /// used.
    fn pick_with(&mut self, name: &str, request: &GraspRequest) -> Result<Grasp, Failure>;
    /// Put the held object `name` on (or in) `target`.
    fn place_on(&mut self, name: &str, target: &str) -> Result<(), Failure> {
        self.place_on_with(name, target, None)
    }
    /// Put the held object `name` on (or in) `target`, turned to `yaw_rad` about world z
    /// if given.
    fn place_on_with(
        &mut self,
        name: &str,
        target: &str,
        yaw_rad: Option<f64>,
    ) -> Result<(), Failure>;
    /// Put the held object `name` down with its bottom centre at `pos`.
    fn place_at(&mut self, name: &str, pos: Point3<f64>) -> Result<(), Failure> {
        self.place_at_with(name, pos, None)
    }
    /// Put the held object `name` down with its bottom centre at `pos`, turned to
    /// `yaw_rad` about world z if given.
    fn place_at_with(
        &mut self,
        name: &str,
        pos: Point3<f64>,
        yaw_rad: Option<f64>,
    ) -> Result<(), Failure>;
}

fn finite(what: &str, v: &[f64]) -> Result<(), Failure> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(Failure::new(
            FailureKind::InvalidArgument,
            format!("{what} must be finite numbers, got {v:?}"),
        ))
    }
}

impl World {
    /// Plan (straight line first, joint space if that is impossible), check, gate and
    /// run a move of the tool to `target`.
    fn go(
        &mut self,
        target: &Isometry3<f64>,
        allowed: &Allowed,
        straight_only: bool,
    ) -> Result<(), Failure> {
        self.refresh_from_robot()?;
        let q0 = self.joint_positions();
        let traj = self.plan_move(&q0, target, straight_only)?;
        self.run(traj, allowed)
    }

    /// A straight line from `q0` to `target`, or (unless `straight_only`) a joint-space
    /// move where no straight line exists.
    fn plan_move(
        &self,
        q0: &Joints,
        target: &Isometry3<f64>,
        straight_only: bool,
    ) -> Result<JointTrajectory, Failure> {
        match self.plan_cartesian(q0, target) {
            Ok(t) => Ok(t),
            Err(e) if straight_only || e.kind != FailureKind::Unreachable => Err(e),
            Err(_) => {
                let q1 = self.solve_ik(target, q0)?;
                Ok(self.plan_joint(q0, &q1))
            }
        }
    }

    fn run(&mut self, traj: JointTrajectory, allowed: &Allowed) -> Result<(), Failure> {
        self.check_path(&traj, allowed)?;
        self.run_checked(traj)
    }

    /// Gate and execute a trajectory whose path was already checked.
    fn run_checked(&mut self, traj: JointTrajectory) -> Result<(), Failure> {
        let q0 = self.joint_positions();
        // On a real arm, the motion must start where the arm is now.
        let gated = match self.remote_start() {
            Some(reported) => {
                let admitted = self.gate.admit_from(&q0, &reported?, traj);
                if let Err(e @ cap_core::robot::GateError::StartMismatch { .. }) = &admitted {
                    // The robot is not where cap thinks: nothing more is sent.
                    self.end_remote(Failure::from(e.clone()));
                }
                admitted
            }
            None => self.gate.admit(&q0, traj),
        }
        .map_err(Failure::from)?;
        let report = self.execute(&gated).map_err(BackendError::into_failure)?;
        match report.stopped {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    fn set_width(&mut self, width: f64) -> Result<Option<String>, Failure> {
        self.refresh_from_robot()?;
        let cmd = self.gate.admit_gripper(width).map_err(Failure::from)?;
        let report = self.gripper(&cmd).map_err(BackendError::into_failure)?;
        if let Some(f) = self.check_time() {
            return Err(f);
        }
        Ok(report.holding)
    }

    fn approach_height(&self, z: f64) -> f64 {
        (z + APPROACH_M).min(self.scene.robot.workspace_max_m.z - 0.01)
    }

    fn above(pose: &Isometry3<f64>, z: f64) -> Isometry3<f64> {
        let t = pose.translation.vector;
        Isometry3::from_parts(Translation3::new(t.x, t.y, z), pose.rotation)
    }

    /// Plan the approach to `pre` (from where the arm is) and the straight descent to
    /// `grasp`, both checked for collisions, without moving anything.
    fn plan_grasp(
        &self,
        pre: &Isometry3<f64>,
        grasp: &Isometry3<f64>,
        allowed: &Allowed,
    ) -> Result<(JointTrajectory, JointTrajectory), Failure> {
        let q0 = self.joint_positions();
        let approach = self.plan_move(&q0, pre, false)?;
        self.check_path(&approach, &Allowed::default())?;
        let q_pre = approach.points.last().copied().unwrap_or(q0);
        let descent = self.plan_cartesian(&q_pre, grasp)?;
        self.check_path(&descent, allowed)?;
        Ok((approach, descent))
    }

    fn place(
        &mut self,
        name: &str,
        pos: Point3<f64>,
        allowed: Allowed,
        yaw_rad: Option<f64>,
    ) -> Result<(), Failure> {
        let holding = self.holding();
        if holding.as_deref() != Some(name) {
            let what = holding.map_or("nothing".to_owned(), |h| h.to_string());
            return Err(Failure::with_object(
                FailureKind::WrongOrder,
                format!("cannot place {name}: the gripper holds {what}; pick({name}) first"),
                name,
            ));
        }
        let o = self.object(name)?;
        let tcp = self.tcp();
        // Offsets from the tool to the object's centre (xy) and bottom (z).
        let dxy = o.position().xy().coords - tcp.translation.vector.xy();
        let dz_bottom = o.aabb_min.z - tcp.translation.z;
        // A final yaw turns the tool about its (vertical) axis, and the object's offset
        // from the tool with it. A box looks the same turned half a turn, so it turns
        // at most a quarter turn either way.
        let (rotation, dxy) = match yaw_rad {
            None => (tcp.rotation, dxy),
            Some(want) => {
                finite("yaw", &[want])?;
                let mut turn = wrap(want - o.yaw_rad());
                if o.kind == ObjectKind::Box {
                    if turn > FRAC_PI_2 {
                        turn -= PI;
                    } else if turn <= -FRAC_PI_2 {
                        turn += PI;
                    }
                }
                let r = math::rot_z(turn);
                let d = r * Vector3::new(dxy.x, dxy.y, 0.0);
                (r * tcp.rotation, d.xy())
            }
        };
        let goal = Isometry3::from_parts(
            Translation3::new(
                pos.x - dxy.x,
                pos.y - dxy.y,
                pos.z + PLACE_CLEARANCE_M - dz_bottom,
            ),
            rotation,
        );
        let pre = World::above(
            &goal,
            self.approach_height(goal.translation.z)
                .max(tcp.translation.z),
        );
        self.go(&pre, &Allowed::default(), false)?;
        self.go(&goal, &allowed, true)?;
        self.open_gripper()?;
        let mut after = allowed.objects.clone();
        if let Some(i) = self.object_index(name) {
            after.push(i);
        }
        let retreat = World::above(&goal, pre.translation.z);
        self.go(&retreat, &Allowed { objects: after }, true)
    }
}

impl Primitives for World {
    fn move_to(&mut self, pos: Point3<f64>) -> Result<(), Failure> {
        finite("move_to position", pos.coords.as_slice())?;
        self.refresh_from_robot()?;
        let rot = self.tcp().rotation;
        let target = Isometry3::from_parts(Translation3::from(pos.coords), rot);
        self.go(&target, &Allowed::default(), false)
    }

    fn move_by(&mut self, d: Vector3<f64>) -> Result<(), Failure> {
        finite("move_by offset", d.as_slice())?;
        self.refresh_from_robot()?;
        let p = Point3::from(self.tcp().translation.vector + d);
        self.move_to(p)
    }

    fn open_gripper(&mut self) -> Result<(), Failure> {
        self.set_width(self.robot.gripper_max_width_m()).map(|_| ())
    }

    fn close_gripper(&mut self) -> Result<Option<String>, Failure> {
        self.set_width(0.0)
    }

    fn home(&mut self) -> Result<(), Failure> {
        self.refresh_from_robot()?;
        let q0 = self.joint_positions();
        let home = *self.kinematics.home();
        let traj = self.plan_joint(&q0, &home);
        self.run(traj, &Allowed::default())
    }

    fn pick_with(&mut self, name: &str, request: &GraspRequest) -> Result<Grasp, Failure> {
        self.refresh_from_robot()?;
        // `object` builds the unknown-object failure listing the scene's names.
        self.object(name)?;
        let Some(idx) = self.object_index(name) else {
            return Err(Failure::with_object(
                FailureKind::UnknownObject,
                format!("no object named `{name}`"),
                name,
            ));
        };
        if let Some(held) = self.holding() {
            return Err(Failure::with_object(
                FailureKind::WrongOrder,
                format!("pick({name}): already holding {held}; place or drop it first"),
                name,
            ));
        }
        let candidates = self.grasp_candidates(name, request)?;
        if self.gripper_width() < self.robot.gripper_max_width_m() - 1e-6 {
            self.open_gripper()?;
        }
        let target_only = Allowed { objects: vec![idx] };
        // The first grasp whose approach and descent are clear; nothing moves until one is.
        let mut refused: Vec<(String, Failure)> = Vec::new();
        let mut chosen = None;
        for g in candidates {
            let pre = World::above(&g.tcp, self.approach_height(g.tcp.translation.z));
            match self.plan_grasp(&pre, &g.tcp, &target_only) {
                Ok(plans) => {
                    chosen = Some((g, pre, plans));
                    break;
                }
                Err(f) => refused.push((g.label, f)),
            }
        }
        let Some((grasp, pre, (approach, descent))) = chosen else {
            return Err(no_clear_grasp(name, refused));
        };
        self.run_checked(approach)?;
        self.run_checked(descent)?;
        let held = self.close_gripper()?;
        let lifted = self.go(&pre, &target_only, true);
        match held {
            Some(h) if h == name => {}
            Some(other) => {
                return Err(Failure::with_object(
                    FailureKind::WrongTarget,
                    format!("pick({name}) grasped {other} instead"),
                    name,
                ))
            }
            None => {
                let p = grasp.tcp.translation.vector;
                return Err(Failure::with_object(
                    FailureKind::NoGrasp,
                    format!(
                        "gripper closed on nothing at [{:.3}, {:.3}, {:.3}] while picking {name}",
                        p.x, p.y, p.z
                    ),
                    name,
                ));
            }
        }
        lifted?;
        if self.holding().as_deref() != Some(name) {
            return Err(Failure::with_object(
                FailureKind::Slipped,
                format!("{name} slipped out while lifting"),
                name,
            ));
        }
        Ok(grasp)
    }

    fn place_on_with(
        &mut self,
        name: &str,
        target: &str,
        yaw_rad: Option<f64>,
    ) -> Result<(), Failure> {
        self.refresh_from_robot()?;
        let t = self.object(target)?;
        self.object(name)?;
        if name == target {
            return Err(Failure::with_object(
                FailureKind::InvalidArgument,
                format!("cannot place {name} on itself"),
                name,
            ));
        }
        let p = t.position();
        let support = self.support_height(&t);
        // On a bowl or a plate that already holds things: beside them (spot.rs).
        let spot = match t.kind {
            ObjectKind::Bowl | ObjectKind::Plate => {
                let held = self.object(name)?;
                self.free_spot(&t, &held)
            }
            _ => p.xy(),
        };
        let tidx = self
            .object_index(target)
            .map(|i| vec![i])
            .unwrap_or_default();
        self.place(
            name,
            Point3::new(spot.x, spot.y, support),
            Allowed { objects: tidx },
            yaw_rad,
        )
    }

    fn place_at_with(
        &mut self,
        name: &str,
        pos: Point3<f64>,
        yaw_rad: Option<f64>,
    ) -> Result<(), Failure> {
        finite("place_at position", pos.coords.as_slice())?;
        self.refresh_from_robot()?;
        self.object(name)?;
        self.place(name, pos, Allowed::default(), yaw_rad)
    }
}

/// The failure of a pick none of whose grasps is clear: the first grasp's failure (its
/// kind and object), with what stopped each grasp tried.
fn no_clear_grasp(name: &str, refused: Vec<(String, Failure)>) -> Failure {
    let mut it = refused.into_iter();
    let Some((label, first)) = it.next() else {
        return Failure::with_object(FailureKind::NoGrasp, format!("no grasp of {name}"), name);
    };
    let rest: Vec<(String, Failure)> = it.collect();
    if rest.is_empty() {
        return first;
    }
    let mut message = format!("no clear grasp of {name}: {label}: {}", first.message);
    for (l, f) in &rest {
        message.push_str(&format!("; {l}: {}", f.message));
    }
    Failure {
        kind: first.kind,
        message,
        object: first.object,
    }
}
