//! Motion primitives: what the script API's motion functions do. Each plans, checks
//! the path for collisions, passes the safety gate, and only then reaches the backend.
//! Every failure is a typed [`Failure`] naming the object involved.

use std::f64::consts::{FRAC_PI_2, PI};

use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::{top_down, HOME};
use cap_core::nalgebra::{Isometry3, Point3, Translation3, Vector3};
use cap_core::robot::{JointTrajectory, RobotBackend, GRIPPER_MAX_WIDTH_M};
use cap_core::scene::ObjectKind;

use crate::geometry::{FINGERTIP_BEYOND_TCP_M, WALL_M};
use crate::plan::Allowed;
use crate::world::World;

/// Height above a grasp or placement from which the final straight descent starts.
pub const APPROACH_M: f64 = 0.12;
/// Gap left under an object when it is set down.
const PLACE_CLEARANCE_M: f64 = 0.006;
/// Widest object the gripper can close around.
const MAX_GRASP_WIDTH_M: f64 = GRIPPER_MAX_WIDTH_M - 0.004;

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
    /// Grasp the named object from above and lift it.
    fn pick(&mut self, name: &str) -> Result<(), Failure>;
    /// Put the held object `name` on (or in) `target`.
    fn place_on(&mut self, name: &str, target: &str) -> Result<(), Failure>;
    /// Put the held object `name` down with its bottom centre at `pos`.
    fn place_at(&mut self, name: &str, pos: Point3<f64>) -> Result<(), Failure>;
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

/// Wrap an angle to (−π, π].
fn wrap(a: f64) -> f64 {
    let mut a = (a + PI).rem_euclid(2.0 * PI) - PI;
    if a <= -PI {
        a += 2.0 * PI;
    }
    a
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
        let q0 = self.joint_positions();
        let traj = match self.plan_cartesian(&q0, target) {
            Ok(t) => t,
            Err(e) if straight_only || e.kind != FailureKind::Unreachable => return Err(e),
            Err(_) => {
                let q1 = self.solve_ik(target, &q0)?;
                self.plan_joint(&q0, &q1)
            }
        };
        self.run(traj, allowed)
    }

    fn run(&mut self, traj: JointTrajectory, allowed: &Allowed) -> Result<(), Failure> {
        self.check_path(&traj, allowed)?;
        let q0 = self.joint_positions();
        let gated = self.gate.admit(&q0, traj).map_err(Failure::from)?;
        let report = self
            .execute(&gated)
            .map_err(|e| Failure::new(FailureKind::SafetyGate, format!("backend stopped: {e}")))?;
        match report.stopped {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    fn set_width(&mut self, width: f64) -> Result<Option<String>, Failure> {
        let cmd = self.gate.admit_gripper(width).map_err(Failure::from)?;
        let report = self
            .gripper(&cmd)
            .map_err(|e| Failure::new(FailureKind::SafetyGate, format!("backend stopped: {e}")))?;
        if let Some(f) = self.check_time() {
            return Err(f);
        }
        Ok(report.holding)
    }

    /// Choose a grasp for object `name`: the TCP pose and the object's extent across
    /// the fingers.
    fn grasp_for(&self, name: &str) -> Result<(Isometry3<f64>, f64), Failure> {
        let o = self.object(name)?;
        let c = o.position();
        let top = o.aabb_max.z;
        let bottom = o.aabb_min.z;
        let low = bottom + FINGERTIP_BEYOND_TCP_M + 0.004;
        let (xy, yaw, across) = match o.kind {
            ObjectKind::Box => {
                // Close across the narrower face; of the two yaws that do so, take the
                // one nearest to the gripper's natural yaw (0) so the wrist turns least.
                let obj_yaw = o.yaw_rad();
                let (across, base) = if o.size_m.y <= o.size_m.x {
                    (o.size_m.y, obj_yaw)
                } else {
                    (o.size_m.x, obj_yaw + FRAC_PI_2)
                };
                let yaw = [wrap(base), wrap(base + PI)]
                    .into_iter()
                    .fold(f64::NAN, |best, y| {
                        if best.is_nan() || y.abs() < best.abs() {
                            y
                        } else {
                            best
                        }
                    });
                (c.xy(), yaw, across)
            }
            ObjectKind::Cylinder | ObjectKind::Sphere => (c.xy(), 0.0, o.size_m.x),
            ObjectKind::Bowl | ObjectKind::Plate => {
                // Too wide to close around: straddle the wall on the side facing the robot.
                let base = self.kinematics.world_from_base.translation.vector.xy();
                let to_base = base - c.xy().coords;
                let dir = if to_base.norm() > 1e-6 {
                    to_base.normalize()
                } else {
                    Vector3::x().xy()
                };
                let r = o.size_m.x / 2.0 - WALL_M / 2.0;
                let yaw = wrap((-dir.x).atan2(dir.y));
                let yaw = if yaw.abs() > FRAC_PI_2 {
                    wrap(yaw + PI)
                } else {
                    yaw
                };
                (c.xy() + dir * r, yaw, WALL_M)
            }
        };
        if across > MAX_GRASP_WIDTH_M {
            return Err(Failure::with_object(
                FailureKind::NoGrasp,
                format!("{name} is {:.3} m across, wider than the gripper opens ({MAX_GRASP_WIDTH_M:.3} m)", across),
                name,
            ));
        }
        let z = match o.kind {
            ObjectKind::Bowl | ObjectKind::Plate => (top - 0.012).max(low),
            _ => c.z.max(low).min(top - 0.004),
        };
        Ok((
            Isometry3::from_parts(Translation3::new(xy.x, xy.y, z), top_down(yaw)),
            across,
        ))
    }

    fn approach_height(&self, z: f64) -> f64 {
        (z + APPROACH_M).min(self.scene.robot.workspace_max_m.z - 0.01)
    }

    fn above(pose: &Isometry3<f64>, z: f64) -> Isometry3<f64> {
        let t = pose.translation.vector;
        Isometry3::from_parts(Translation3::new(t.x, t.y, z), pose.rotation)
    }
}

impl Primitives for World {
    fn move_to(&mut self, pos: Point3<f64>) -> Result<(), Failure> {
        finite("move_to position", pos.coords.as_slice())?;
        let rot = self.tcp().rotation;
        let target = Isometry3::from_parts(Translation3::from(pos.coords), rot);
        self.go(&target, &Allowed::default(), false)
    }

    fn move_by(&mut self, d: Vector3<f64>) -> Result<(), Failure> {
        finite("move_by offset", d.as_slice())?;
        let p = Point3::from(self.tcp().translation.vector + d);
        self.move_to(p)
    }

    fn open_gripper(&mut self) -> Result<(), Failure> {
        self.set_width(GRIPPER_MAX_WIDTH_M).map(|_| ())
    }

    fn close_gripper(&mut self) -> Result<Option<String>, Failure> {
        self.set_width(0.0)
    }

    fn home(&mut self) -> Result<(), Failure> {
        let q0 = self.joint_positions();
        let traj = self.plan_joint(&q0, &HOME);
        self.run(traj, &Allowed::default())
    }

    fn pick(&mut self, name: &str) -> Result<(), Failure> {
        let idx = match self.object_index(name) {
            Some(i) => i,
            // `object` builds the unknown-object failure listing the scene's names.
            None => return self.object(name).map(|_| ()),
        };
        if let Some(held) = self.holding() {
            return Err(Failure::with_object(
                FailureKind::WrongOrder,
                format!("pick({name}): already holding {held}; place or drop it first"),
                name,
            ));
        }
        let (grasp, _) = self.grasp_for(name)?;
        if self.gripper_width() < GRIPPER_MAX_WIDTH_M - 1e-6 {
            self.open_gripper()?;
        }
        let pre = World::above(&grasp, self.approach_height(grasp.translation.z));
        self.go(&pre, &Allowed::default(), false)?;
        let target_only = Allowed { objects: vec![idx] };
        self.go(&grasp, &target_only, true)?;
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
                let p = grasp.translation.vector;
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
        Ok(())
    }

    fn place_on(&mut self, name: &str, target: &str) -> Result<(), Failure> {
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
        let tidx = self
            .object_index(target)
            .map(|i| vec![i])
            .unwrap_or_default();
        self.place(
            name,
            Point3::new(p.x, p.y, support),
            Allowed { objects: tidx },
        )
    }

    fn place_at(&mut self, name: &str, pos: Point3<f64>) -> Result<(), Failure> {
        finite("place_at position", pos.coords.as_slice())?;
        self.object(name)?;
        self.place(name, pos, Allowed::default())
    }
}

impl World {
    fn place(&mut self, name: &str, pos: Point3<f64>, allowed: Allowed) -> Result<(), Failure> {
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
        let dxy = o.position().xy() - tcp.translation.vector.xy();
        let dz_bottom = o.aabb_min.z - tcp.translation.z;
        let goal = Isometry3::from_parts(
            Translation3::new(
                pos.x - dxy.x,
                pos.y - dxy.y,
                pos.z + PLACE_CLEARANCE_M - dz_bottom,
            ),
            tcp.rotation,
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
