//! The simulated world: rapier state, the arm, the gripper, and the robot backend.

use std::sync::Arc;

use cap_core::arm::ArmKinematics;
use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::Joints;
use cap_core::nalgebra::{Isometry3, Translation3};
use cap_core::robot::{
    BackendError, GatedGripper, GatedTrajectory, GripperReport, MotionReport, RobotBackend,
    SafetyGate, SafetyLimits,
};
use cap_core::scene::{CameraSpec, Scene};
use rapier3d::prelude::*;

use crate::build::{assemble, groups, ObjectBody, FINGER_FRICTION, G_HELD, G_OBJECT, G_TABLE};
use crate::convert::{from_pose, to_pose};
use crate::geometry::{part_frame_pose, yaw, ArmPart};
use crate::observer::{SharedObserver, StepView};
use crate::render::{Frame, RenderModel};
use crate::robot::{Robot, RobotLoadError};
use crate::visual::{BodyPose, VisualBody};

/// The physics time step, seconds (240 Hz, as PyBullet's default).
pub const DT_S: f64 = 1.0 / 240.0;
/// Grip force the grasp assist assumes when deciding whether a held object slips, N.
pub const GRIP_FORCE_N: f64 = 30.0;
/// Speed at which the coupled fingers close or open (change of width), m/s.
const GRIPPER_SPEED_M_S: f64 = 0.12;
/// A finger touches an object when their contact distance is below this.
const TOUCH_M: f32 = 1e-3;
/// Steps the joint force must exceed the friction capacity before the object slips.
const SLIP_STEPS: u32 = 6;

/// The world could not be built or has become unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorldError {
    /// The scene asks for something the simulator cannot build.
    #[error("scene `{scene}`: {message}")]
    Build {
        /// Scene name.
        scene: String,
        /// What.
        message: String,
    },
    /// The scene's robot cannot be loaded (names the URDF and the link or joint).
    #[error("scene `{scene}`: robot: {source}")]
    Robot {
        /// Scene name.
        scene: String,
        /// Why.
        source: Arc<RobotLoadError>,
    },
}

/// The physics pipeline holds only scratch space; a fork gets a fresh one.
struct Pipeline(PhysicsPipeline);

impl Clone for Pipeline {
    fn clone(&self) -> Self {
        Pipeline(PhysicsPipeline::new())
    }
}

/// A grasped object.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) object: usize,
    joint: ImpulseJointHandle,
    over_capacity_steps: u32,
    capacity_n: f64,
}

/// The simulated tabletop. `Clone` is a fork: the copy evolves independently.
#[derive(Clone)]
pub struct World {
    pub(crate) scene: Arc<Scene>,
    seed: u64,
    gravity: Vector,
    params: IntegrationParameters,
    pipeline: Pipeline,
    islands: IslandManager,
    broad_phase: DefaultBroadPhase,
    pub(crate) narrow_phase: NarrowPhase,
    pub(crate) bodies: RigidBodySet,
    pub(crate) colliders: ColliderSet,
    impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    soft_bodies: SoftBodySet,
    ccd: CCDSolver,
    pub(crate) table_collider: ColliderHandle,
    pub(crate) objects: Vec<ObjectBody>,
    pub(crate) robot: Arc<Robot>,
    pub(crate) parts: Arc<Vec<ArmPart>>,
    pub(crate) part_bodies: Vec<RigidBodyHandle>,
    finger_colliders: [ColliderHandle; 2],
    pub(crate) kinematics: Arc<ArmKinematics>,
    pub(crate) gate: SafetyGate,
    pub(crate) q: Joints,
    pub(crate) width_m: f64,
    pub(crate) held: Option<Held>,
    step: u64,
    /// Steps after which motions stop with a timeout (the task's time limit).
    pub(crate) step_limit: Option<u64>,
    pub(crate) render_model: Arc<RenderModel>,
    pub(crate) observer: Option<SharedObserver>,
    /// The real arm this world mirrors, if any (never copied by a fork).
    pub(crate) remote: cap_core::remote::RemoteSlot,
    /// Where the objects stood when the episode began (after settling): the discs
    /// `table_point` keeps clear of (crate::footprint::Footprints).
    pub(crate) start_layout: Arc<crate::footprint::Footprints>,
}

impl World {
    /// Build the world for `scene`, drawing randomised object poses from `seed`, and let
    /// it settle. Simulated time starts at zero after settling.
    pub fn new(scene: Arc<Scene>, seed: u64) -> Result<Self, WorldError> {
        let params = IntegrationParameters {
            dt: DT_S as f32,
            // Objects are decimetre-sized: scale rapier's tolerances (prediction distance,
            // allowed error) to them, or 4 cm blocks get 5 cm of slop.
            length_unit: 0.1,
            // Finger contacts must be fresh every step for the grasp test.
            contact_recycling: false,
            ..IntegrationParameters::default()
        };
        let robot =
            Robot::for_scene(&scene.robot, &cap_core::paths::data_dir()).map_err(|source| {
                WorldError::Robot {
                    scene: scene.name.clone(),
                    source: Arc::new(source),
                }
            })?;
        let a = assemble(&scene, seed, &robot).map_err(|(object, e)| WorldError::Build {
            scene: scene.name.clone(),
            message: format!("object `{object}`: {e}"),
        })?;
        let gate = SafetyGate::new(
            SafetyLimits::for_arm(
                &a.kinematics,
                robot.gripper_max_width_m(),
                scene.robot.workspace_min_m,
                scene.robot.workspace_max_m,
            ),
            a.kinematics.clone(),
        );
        let home = *a.kinematics.home();
        let open = robot.gripper_max_width_m();
        let mut world = World {
            scene,
            seed,
            gravity: Vector::new(0.0, 0.0, -9.81),
            params,
            pipeline: Pipeline(PhysicsPipeline::new()),
            islands: IslandManager::new(),
            broad_phase: DefaultBroadPhase::default(),
            narrow_phase: NarrowPhase::new(),
            bodies: a.bodies,
            colliders: a.colliders,
            impulse_joints: ImpulseJointSet::new(),
            multibody_joints: MultibodyJointSet::new(),
            soft_bodies: SoftBodySet::new(),
            ccd: CCDSolver::new(),
            table_collider: a.table_collider,
            objects: a.objects,
            robot,
            parts: a.parts,
            part_bodies: a.part_bodies,
            finger_colliders: a.finger_colliders,
            kinematics: a.kinematics,
            gate,
            q: home,
            width_m: open,
            held: None,
            step: 0,
            step_limit: None,
            render_model: Arc::new(a.render_model),
            observer: None,
            remote: cap_core::remote::RemoteSlot::default(),
            start_layout: Arc::default(),
        };
        for _ in 0..60 {
            world.step_physics();
        }
        if let Some(name) = world.first_non_finite_object() {
            return Err(WorldError::Build {
                scene: world.scene.name.clone(),
                message: format!("object `{name}` diverged while settling"),
            });
        }
        world.start_layout = Arc::new(world.footprints());
        world.step = 0;
        Ok(world)
    }

    /// The scene this world was built from.
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// The seed the object poses were drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A copy that evolves independently (a program can be tried on it).
    pub fn fork(&self) -> World {
        self.clone()
    }

    /// Physics steps since the start of the episode.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Simulated seconds since the start of the episode.
    pub fn sim_time_s(&self) -> f64 {
        self.step as f64 * DT_S
    }

    /// Stop motions with a timeout once simulated time reaches `secs`.
    pub fn set_time_limit(&mut self, secs: f64) {
        self.step_limit = Some((secs / DT_S).ceil() as u64);
    }

    /// The arm's kinematic model and limits.
    pub fn kinematics(&self) -> &ArmKinematics {
        &self.kinematics
    }

    /// The robot: kinematics, parts, gripper, reach.
    pub fn robot(&self) -> &Robot {
        &self.robot
    }

    /// The safety gate in front of this world's arm.
    pub fn gate(&self) -> &SafetyGate {
        &self.gate
    }

    /// Also enforce acceleration and jerk limits, rest at the end and the start-state
    /// check (what a real arm's controller demands; a bridge sets them from the robot's
    /// `hello`); motions are then timed with a quintic profile. `None` turns them off.
    pub fn set_dynamic_limits(&mut self, dynamics: Option<cap_core::robot::DynamicLimits>) {
        self.gate = self.gate.clone().with_dynamics(dynamics);
    }

    /// Current tool-centre-point pose.
    pub fn tcp(&self) -> Isometry3<f64> {
        self.kinematics.tcp(&self.q)
    }

    /// World pose of every arm part (links, hand, fingers), for loggers and renderers.
    pub fn arm_part_poses(&self) -> Vec<(&str, Isometry3<f64>)> {
        let frames = self.kinematics.frames(&self.q);
        self.parts
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    part_frame_pose(&frames, p.frame, self.width_m) * p.local,
                )
            })
            .collect()
    }

    /// Put object `name` at `position` (its bounding-box centre) with `yaw_rad`, at
    /// rest. A set-up tool for dataset generation and tests, not a robot action: the
    /// script API does not expose it. Releases the object if it was held.
    pub fn teleport(
        &mut self,
        name: &str,
        position: cap_core::nalgebra::Point3<f64>,
        yaw_rad: f64,
    ) -> Result<(), Failure> {
        let i = self.object_index(name).ok_or_else(|| {
            Failure::with_object(
                FailureKind::UnknownObject,
                format!("no object `{name}`"),
                name,
            )
        })?;
        if !(position.coords.iter().all(|v| v.is_finite()) && yaw_rad.is_finite()) {
            return Err(Failure::with_object(
                FailureKind::InvalidArgument,
                "teleport target must be finite",
                name,
            ));
        }
        if self.held.as_ref().is_some_and(|h| h.object == i) {
            self.release();
        }
        let pose = Isometry3::from_parts(
            Translation3::new(position.x, position.y, position.z),
            yaw(yaw_rad),
        );
        if let Some(b) = self.bodies.get_mut(self.objects[i].body) {
            b.set_position(to_pose(&pose), true);
            b.set_linvel(Vector::ZERO, true);
            b.set_angvel(Vector::ZERO, true);
        }
        Ok(())
    }

    /// Advance the physics by one step of [`DT_S`], without moving the arm.
    pub fn step_physics(&mut self) {
        self.pipeline.0.step(
            self.gravity,
            &self.params,
            &mut self.islands,
            &mut self.broad_phase,
            &mut self.narrow_phase,
            &mut self.bodies,
            &mut self.colliders,
            &mut self.impulse_joints,
            &mut self.multibody_joints,
            &mut self.soft_bodies,
            &mut self.ccd,
            &(),
            &(),
        );
        self.step += 1;
        if let Some(o) = &self.observer {
            o.on_step(&self.view());
        }
    }

    /// Hear every physics step and planned motion (a recorder); `None` stops it.
    pub fn set_observer(&mut self, observer: Option<SharedObserver>) {
        self.observer = observer;
    }

    /// What an observer sees of the world now.
    pub fn view(&self) -> StepView<'_> {
        StepView {
            step: self.step,
            bodies: &self.bodies,
            kinematics: &self.kinematics,
            q: &self.q,
            gripper_width_m: self.width_m,
        }
    }

    /// Render `camera`'s RGB, depth and segmentation images of the current state.
    pub fn render(&self, camera: &CameraSpec) -> Frame {
        self.render_model.render(&self.colliders, camera)
    }

    /// [`World::render`] under `lighting` instead of the default light.
    pub fn render_lit(&self, camera: &CameraSpec, lighting: &crate::render::Lighting) -> Frame {
        self.render_model
            .render_lit(&self.colliders, camera, lighting)
    }

    /// Render the scene's camera called `name`, if there is one.
    pub fn render_camera(&self, name: &str) -> Option<Frame> {
        self.scene.camera(name).map(|c| self.render(c))
    }

    /// The rigid bodies (read-only: the world's own pipelines move them).
    pub fn bodies(&self) -> &RigidBodySet {
        &self.bodies
    }

    /// The colliders (read-only).
    pub fn colliders(&self) -> &ColliderSet {
        &self.colliders
    }

    /// The tessellated, labelled colliders the renderer draws.
    pub fn render_model(&self) -> &RenderModel {
        &self.render_model
    }

    /// Every rigid body's geometry, named by what it is, in a stable order; a URDF
    /// arm's links drawn with their visual meshes where the description has them.
    pub fn visual_bodies(&self) -> Vec<VisualBody> {
        let mut out = crate::visual::bodies(&self.render_model, &self.colliders, &self.bodies);
        let meshes = self.robot.visual_meshes();
        for b in &mut out {
            if let Some(m) = meshes.iter().find(|m| m.entity == b.path) {
                b.vertices.clone_from(&m.vertices);
                b.triangles.clone_from(&m.triangles);
                b.colors.clone_from(&m.colors);
            }
        }
        out
    }

    /// The current pose of each of `visual`.
    pub fn visual_poses(&self, visual: &[VisualBody]) -> Vec<BodyPose> {
        crate::visual::poses(&self.bodies, visual)
    }

    /// Let the world run for `secs` with the arm still.
    pub fn settle(&mut self, secs: f64) {
        let n = (secs / DT_S).round() as u64;
        for _ in 0..n {
            self.step_physics();
        }
        if self.remote.is_attached() {
            self.settle_remote(secs);
        }
    }

    fn first_non_finite_object(&self) -> Option<String> {
        self.objects
            .iter()
            .zip(self.scene.objects.iter())
            .find_map(|(o, spec)| {
                let p = self.bodies.get(o.body)?.position();
                (!p.is_finite()).then(|| spec.name.clone())
            })
    }

    /// Put the arm's kinematic bodies where `q` and `width` say, for the next step.
    pub(crate) fn drive_arm(&mut self, q: &Joints, width_m: f64) {
        let frames = self.kinematics.frames(q);
        for (part, body) in self.parts.iter().zip(self.part_bodies.iter()) {
            let pose = part_frame_pose(&frames, part.frame, width_m) * part.local;
            if let Some(b) = self.bodies.get_mut(*body) {
                b.set_next_kinematic_position(to_pose(&pose));
            }
        }
        self.q = *q;
        self.width_m = width_m;
    }

    /// Objects each finger touches (by object index), sorted.
    pub(crate) fn finger_contacts(&self) -> [Vec<usize>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        for (f, finger) in self.finger_colliders.iter().enumerate() {
            for (i, o) in self.objects.iter().enumerate() {
                let touching = self
                    .narrow_phase
                    .contact_pair(*finger, o.collider)
                    .and_then(|p| p.find_deepest_contact())
                    .is_some_and(|(_, c)| c.dist <= TOUCH_M);
                if touching {
                    out[f].push(i);
                }
            }
        }
        out
    }

    pub(crate) fn attach(&mut self, object: usize) {
        let Some(ob) = self.objects.get(object).copied() else {
            return;
        };
        let hand_body = self.part_bodies[self.hand_part_index()];
        let (Some(body), Some(hand)) = (self.bodies.get(ob.body), self.bodies.get(hand_body))
        else {
            return;
        };
        // Relative to the hand *body* (the next kinematic pose it is driven to), which
        // is offset from the hand frame by the part's local pose.
        let hand_pose = from_pose(hand.next_position());
        let hand_from_object = hand_pose.inverse() * from_pose(body.position());
        let joint = FixedJointBuilder::new()
            .local_frame1(to_pose(&hand_from_object))
            .local_frame2(Pose::IDENTITY);
        let handle = self.impulse_joints.insert(hand_body, ob.body, joint, true);
        if let Some(c) = self.colliders.get_mut(ob.collider) {
            c.set_collision_groups(groups(G_HELD, G_TABLE | G_OBJECT));
        }
        let mu = 0.5 * (FINGER_FRICTION as f64 + self.scene.objects[object].friction);
        self.held = Some(Held {
            object,
            joint: handle,
            over_capacity_steps: 0,
            capacity_n: 2.0 * mu * GRIP_FORCE_N,
        });
    }

    pub(crate) fn release(&mut self) -> Option<usize> {
        let held = self.held.take()?;
        self.impulse_joints.remove(held.joint, true);
        let ob = self.objects[held.object];
        if let Some(c) = self.colliders.get_mut(ob.collider) {
            c.set_collision_groups(groups(G_OBJECT, Group::ALL));
        }
        if let Some(b) = self.bodies.get_mut(ob.body) {
            b.wake_up(true);
        }
        Some(held.object)
    }

    fn hand_part_index(&self) -> usize {
        self.parts
            .iter()
            .position(|p| p.name == "hand")
            .unwrap_or(0)
    }

    /// Check the held object's grasp after a step; `Some(failure)` if it slipped.
    pub(crate) fn check_slip(&mut self) -> Option<Failure> {
        let held = self.held.as_mut()?;
        let impulse = self.impulse_joints.get(held.joint)?.impulses;
        // rapier writes back the impulse of the last solver substep (dt / substeps).
        let substep_s = DT_S / self.params.num_solver_iterations.max(1) as f64;
        let force = (impulse[0].powi(2) + impulse[1].powi(2) + impulse[2].powi(2)).sqrt() as f64
            / substep_s;
        if force > held.capacity_n {
            held.over_capacity_steps += 1;
        } else {
            held.over_capacity_steps = 0;
        }
        if held.over_capacity_steps < SLIP_STEPS {
            return None;
        }
        let object = self.release()?;
        let name = self.scene.objects[object].name.clone();
        Some(Failure::with_object(
            FailureKind::Slipped,
            format!("{name} slipped out of the gripper (grasp force {force:.0} N exceeded what friction holds)"),
            name,
        ))
    }

    pub(crate) fn check_time(&self) -> Option<Failure> {
        let limit = self.step_limit?;
        (self.step >= limit).then(|| {
            Failure::new(
                FailureKind::Timeout,
                format!("episode time limit of {:.1} s reached", limit as f64 * DT_S),
            )
        })
    }

    fn check_finite(&self) -> Result<(), BackendError> {
        match self.first_non_finite_object() {
            Some(name) => Err(BackendError::Fault(format!(
                "object `{name}` diverged (non-finite pose)"
            ))),
            None => Ok(()),
        }
    }

    /// Index of an object by name.
    pub fn object_index(&self, name: &str) -> Option<usize> {
        self.scene.objects.iter().position(|o| o.name == name)
    }

    /// Current hand-from-held-object transform, if holding.
    pub(crate) fn held_offset(&self) -> Option<(usize, Isometry3<f64>)> {
        let held = self.held.as_ref()?;
        let ob = self.objects[held.object];
        let pose = from_pose(self.bodies.get(ob.body)?.position());
        Some((held.object, self.tcp().inverse() * pose))
    }
}

impl RobotBackend for World {
    fn joint_positions(&self) -> Joints {
        self.q
    }

    fn gripper_width(&self) -> f64 {
        self.width_m
    }

    fn holding(&self) -> Option<String> {
        self.held
            .as_ref()
            .map(|h| self.scene.objects[h.object].name.clone())
    }

    fn execute(&mut self, traj: &GatedTrajectory) -> Result<MotionReport, BackendError> {
        if let Some(o) = &self.observer {
            o.on_plan(&self.view(), traj.points());
        }
        if self.remote.is_attached() {
            return self.execute_remote(traj);
        }
        self.follow(traj, true)
    }

    fn gripper(&mut self, cmd: &GatedGripper) -> Result<GripperReport, BackendError> {
        if self.remote.is_attached() {
            return self.gripper_remote(cmd);
        }
        self.gripper_local(cmd)
    }
}

impl World {
    /// Drive the arm along `traj` in the simulation, stopping at the time limit and (if
    /// `check_slip`) when a held object slips.
    pub(crate) fn follow(
        &mut self,
        traj: &GatedTrajectory,
        check_slip: bool,
    ) -> Result<MotionReport, BackendError> {
        let width = self.width_m;
        let mut report = MotionReport::default();
        for q in traj.points() {
            if let Some(f) = self.check_time() {
                report.stopped = Some(f);
                return Ok(report);
            }
            self.drive_arm(q, width);
            self.step_physics();
            report.executed += 1;
            if !check_slip {
                continue;
            }
            if let Some(f) = self.check_slip() {
                report.stopped = Some(f);
                return Ok(report);
            }
        }
        self.check_finite()?;
        Ok(report)
    }

    /// Open or close the simulated gripper.
    pub(crate) fn gripper_local(
        &mut self,
        cmd: &GatedGripper,
    ) -> Result<GripperReport, BackendError> {
        let target = cmd.width_m();
        let q = self.q;
        let dw = GRIPPER_SPEED_M_S * DT_S;
        if target >= self.width_m {
            // Opening releases whatever is held.
            self.release();
            while self.width_m < target - 1e-12 {
                if self.check_time().is_some() {
                    break;
                }
                let w = (self.width_m + dw).min(target);
                self.drive_arm(&q, w);
                self.step_physics();
            }
        } else {
            while self.held.is_none() && self.width_m > target + 1e-12 {
                if self.check_time().is_some() {
                    break;
                }
                let w = (self.width_m - dw).max(target);
                self.drive_arm(&q, w);
                self.step_physics();
                let [left, right] = self.finger_contacts();
                if let Some(&both) = left.iter().find(|i| right.contains(i)) {
                    self.attach(both);
                }
            }
            // Let the grasp settle for a moment.
            for _ in 0..12 {
                self.step_physics();
            }
        }
        self.check_finite()?;
        Ok(GripperReport {
            width_m: self.width_m,
            holding: self.holding(),
        })
    }
}
