//! `cap-sim`: the simulated tabletop.
//!
//! A rapier3d world built from a [`cap_core::scene::Scene`] and a seed; an arm (the
//! built-in Panda or one from a URDF, [`robot`]) whose links are kinematic bodies
//! following gated joint trajectories; a coupled
//! two-finger gripper whose fingers stop on contact; motion planning with collision
//! checks; the geometric queries and spatial predicates the script API and success
//! predicates use; forks of the whole world.
//!
//! # Grasp assist
//! Grasps come from contacts: the fingers close until both touch the same object, and
//! only then is the object fixed to the hand by a joint (the "grasp assist", which
//! replaces friction-only holding, the weak spot of rigid-body simulators). A grasp
//! offset so that a finger misses the object closes on nothing. While held, the joint
//! force is compared each step with the friction the fingers could supply
//! (`2 μ F_grip`); a sustained excess (the object dragged into the table or another
//! object) breaks the grasp and is reported as `slipped`.

pub mod build;
pub mod convert;
pub mod footprint;
pub mod geometry;
pub mod grasp;
pub mod grasp_mesh;
pub mod labels;
pub mod layout;
pub mod link_shapes;
pub mod mesh_model;
pub mod observer;
pub mod plan;
pub mod primitives;
pub mod query;
pub mod reach;
pub mod remote;
pub mod render;
pub mod robot;
pub mod robot_visual;
pub mod served;
pub mod spot;
pub mod visual;
pub mod world;

pub use plan::Allowed;

pub use rapier3d;

/// The names most users of `cap-sim` need.
pub mod prelude {

    pub use crate::grasp::{Grasp, GraspRequest, Side};
    pub use crate::primitives::Primitives;
    pub use crate::query::{ObjectState, Which};
    pub use crate::reach::{Reach, Region};
    pub use crate::render::{Frame, Lighting};
    pub use crate::robot::Robot;
    pub use crate::world::{World, WorldError, DT_S};
}
