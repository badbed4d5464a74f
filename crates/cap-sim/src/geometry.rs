//! Collision geometry: scene objects (including the compound bowl and plate) and the
//! arm's links, hand and fingers. The planner and the physics use the same shapes.

use std::f32::consts::{FRAC_PI_2, TAU};

use cap_core::kinematics::{Frames, DOF};
use cap_core::nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};
use cap_core::scene::{ObjectKind, ObjectSpec};
use rapier3d::glamx::{Pose3, Quat, Vec3};
use rapier3d::prelude::SharedShape;

/// Wall/rim thickness of bowls and plates, metres.
pub const WALL_M: f64 = 0.006;
/// The hand's extent along the fingers' closing axis: everything within this width
/// around a grasp must be clear while the hand comes down.
pub const HAND_ACROSS_FINGERS_M: f64 = 0.2;
/// The hand's extent across the closing axis.
pub const HAND_ALONG_FINGERS_M: f64 = 0.05;
/// Wall segments in a bowl's or plate's ring.
const RING_SEGMENTS: usize = 16;
/// Half thickness of a finger pad along the closing axis.
pub const FINGER_HALF_THICKNESS_M: f64 = 0.006;
/// Half width of a finger pad across the closing axis.
pub const FINGER_HALF_WIDTH_M: f64 = 0.0085;
/// Half length of a finger along the approach axis.
pub const FINGER_HALF_LENGTH_M: f64 = 0.0275;
/// Finger centre along the hand z axis, from the flange.
pub const FINGER_CENTER_Z_M: f64 = 0.0859;
/// How far the fingertips reach beyond the tool centre point.
pub const FINGERTIP_BEYOND_TCP_M: f64 =
    FINGER_CENTER_Z_M + FINGER_HALF_LENGTH_M - cap_core::kinematics::FLANGE_TO_TCP_M;

/// Thickness of the base of a bowl or plate (its support surface above its bottom).
pub fn base_thickness_m(spec: &ObjectSpec) -> f64 {
    match spec.kind {
        ObjectKind::Plate => (spec.size_m.z * 0.4).max(0.004),
        ObjectKind::Bowl => (spec.size_m.z * 0.15).max(0.005),
        _ => spec.size_m.z,
    }
}

/// The inner radius of a receptacle (where things can go), metres.
pub fn inner_radius_m(spec: &ObjectSpec) -> f64 {
    spec.size_m.x / 2.0 - WALL_M
}

/// The collision shape of a scene object, in its own frame (origin at the bounding-box
/// centre, z up); a mesh object's is its convex decomposition
/// ([`crate::mesh_model`]), which fails only if its file cannot be read again.
pub fn object_shape(spec: &ObjectSpec) -> Result<SharedShape, cap_core::mesh::MeshError> {
    if let Some(m) = &spec.mesh {
        return Ok(crate::mesh_model::mesh_model(m)?.shape.clone());
    }
    Ok(primitive_shape(spec))
}

fn primitive_shape(spec: &ObjectSpec) -> SharedShape {
    let s = spec.size_m.map(|v| v as f32);
    let (hx, hy, hz) = (s.x / 2.0, s.y / 2.0, s.z / 2.0);
    // parry cylinders stand along y; ours stand along z.
    let upright = Quat::from_rotation_x(FRAC_PI_2);
    match spec.kind {
        ObjectKind::Box => SharedShape::cuboid(hx, hy, hz),
        ObjectKind::Sphere => SharedShape::ball(hx),
        ObjectKind::Cylinder => SharedShape::compound(vec![(
            Pose3::from_parts(Vec3::ZERO, upright),
            SharedShape::cylinder(hz, hx),
        )]),
        ObjectKind::Bowl | ObjectKind::Plate => {
            let base = base_thickness_m(spec) as f32;
            let wall = WALL_M as f32;
            let r = hx;
            let mut parts = vec![(
                Pose3::from_parts(Vec3::new(0.0, 0.0, -hz + base / 2.0), upright),
                SharedShape::cylinder(base / 2.0, r),
            )];
            // The ring: tangent boxes slightly longer than their arc so it has no gaps,
            // standing on the base (not on the table: one support manifold instead of
            // seventeen keeps the contact solver's work small).
            let seg_half_len = (TAU * r / RING_SEGMENTS as f32) * 0.55;
            let ring_half_h = hz - base / 2.0;
            for i in 0..RING_SEGMENTS {
                let a = TAU * i as f32 / RING_SEGMENTS as f32;
                let c = Vec3::new(
                    (r - wall / 2.0) * cap_core::math::cos_f32(a),
                    (r - wall / 2.0) * cap_core::math::sin_f32(a),
                    base / 2.0,
                );
                parts.push((
                    Pose3::from_parts(c, Quat::from_rotation_z(a)),
                    SharedShape::cuboid(wall / 2.0, seg_half_len, ring_half_h),
                ));
            }
            SharedShape::compound(parts)
        }
        // A mesh spec without its mesh cannot be validated; its box stands in.
        ObjectKind::Mesh => SharedShape::cuboid(hx, hy, hz),
    }
}

/// One rigid part of the arm, posed relative to a kinematic frame.
#[derive(Clone)]
pub struct ArmPart {
    /// Human name (`link3`, `hand`, `finger_left`, a URDF link's name).
    pub name: String,
    /// Which frame carries it.
    pub frame: PartFrame,
    /// Pose in that frame.
    pub local: Isometry3<f64>,
    /// The shape.
    pub shape: SharedShape,
}

/// The frame an arm part rides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartFrame {
    /// Joint frame `i` (0-based): the built-in Panda's DH frame, or the child link of
    /// a description's moving joint `i`.
    Joint(usize),
    /// The hand frame.
    Hand,
    /// The left finger (+y of the hand), displaced by the opening.
    FingerLeft,
    /// The right finger (−y of the hand).
    FingerRight,
}

const LINK_NAMES: [&str; DOF] = [
    "link1", "link2", "link3", "link4", "link5", "link6", "link7",
];

/// The arm's collision parts. Link capsules join consecutive joint origins (fixed in
/// each joint's frame under the modified DH convention).
pub fn arm_parts() -> Vec<ArmPart> {
    // Next origin in frame i: TransX(a) then RotX(alpha) (0, 0, d).
    const NEXT: [(f64, f64, f64, f64); DOF] = [
        (0.0, 0.0, -std::f64::consts::FRAC_PI_2, 0.075), // 1 -> 2 (shoulder)
        (0.0, 0.316, std::f64::consts::FRAC_PI_2, 0.065), // 2 -> 3 (upper arm)
        (0.0825, 0.0, std::f64::consts::FRAC_PI_2, 0.065), // 3 -> 4 (elbow)
        (-0.0825, 0.384, -std::f64::consts::FRAC_PI_2, 0.06), // 4 -> 5 (forearm)
        (0.0, 0.0, std::f64::consts::FRAC_PI_2, 0.055),  // 5 -> 6 (wrist)
        (0.088, 0.0, std::f64::consts::FRAC_PI_2, 0.055), // 6 -> 7
        (0.0, 0.107, 0.0, 0.045),                        // 7 -> flange
    ];
    let mut parts = Vec::new();
    for (i, &(a, d, alpha, radius)) in NEXT.iter().enumerate() {
        let end = Vector3::new(
            a,
            -d * cap_core::math::sin(alpha),
            d * cap_core::math::cos(alpha),
        );
        let shape = if end.norm() < 1e-9 {
            SharedShape::ball(radius as f32)
        } else {
            SharedShape::capsule(
                Vec3::ZERO,
                Vec3::new(end.x as f32, end.y as f32, end.z as f32),
                radius as f32,
            )
        };
        parts.push(ArmPart {
            name: LINK_NAMES[i].into(),
            frame: PartFrame::Joint(i),
            local: Isometry3::identity(),
            shape,
        });
    }
    parts.extend(gripper_parts(HAND_ACROSS_FINGERS_M));
    parts
}

/// A parallel gripper at the hand frame: a palm `palm_across_m` wide along the closing
/// axis and two pads (the built-in Panda's hand, and cap's gripper on every URDF arm).
pub fn gripper_parts(palm_across_m: f64) -> Vec<ArmPart> {
    let finger = SharedShape::cuboid(
        FINGER_HALF_WIDTH_M as f32,
        FINGER_HALF_THICKNESS_M as f32,
        FINGER_HALF_LENGTH_M as f32,
    );
    let mut parts = vec![ArmPart {
        name: "hand".into(),
        frame: PartFrame::Hand,
        local: Isometry3::translation(0.0, 0.0, 0.03),
        shape: SharedShape::cuboid(
            (HAND_ALONG_FINGERS_M / 2.0) as f32,
            (palm_across_m / 2.0) as f32,
            0.03,
        ),
    }];
    for (name, frame) in [
        ("finger_left", PartFrame::FingerLeft),
        ("finger_right", PartFrame::FingerRight),
    ] {
        parts.push(ArmPart {
            name: name.into(),
            frame,
            local: Isometry3::identity(),
            shape: finger.clone(),
        });
    }
    parts
}

/// World pose of a part frame for the given arm frames (in hand coordinates the
/// fingers sit at ±(width/2 + pad half thickness) along y).
pub fn part_frame_pose(frames: &Frames, frame: PartFrame, width_m: f64) -> Isometry3<f64> {
    let offset = width_m / 2.0 + FINGER_HALF_THICKNESS_M;
    match frame {
        PartFrame::Joint(i) => frames.joints[i],
        PartFrame::Hand => frames.hand,
        PartFrame::FingerLeft => frames.hand * Translation3::new(0.0, offset, FINGER_CENTER_Z_M),
        PartFrame::FingerRight => frames.hand * Translation3::new(0.0, -offset, FINGER_CENTER_Z_M),
    }
}

/// Yaw rotation about world z.
pub fn yaw(rad: f64) -> UnitQuaternion<f64> {
    UnitQuaternion::from_axis_angle(&Vector3::z_axis(), rad)
}
