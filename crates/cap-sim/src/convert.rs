//! The one place where cap's f64 nalgebra math meets rapier's f32 glam types.

use cap_core::nalgebra::{Isometry3, Point3, Quaternion, Translation3, UnitQuaternion, Vector3};
use rapier3d::glamx::{Pose3, Quat, Vec3};

/// nalgebra (f64) pose → rapier pose.
pub fn to_pose(iso: &Isometry3<f64>) -> Pose3 {
    let t = iso.translation.vector;
    let q = iso.rotation.coords; // [i, j, k, w]
    Pose3::from_parts(
        Vec3::new(t.x as f32, t.y as f32, t.z as f32),
        Quat::from_xyzw(q.x as f32, q.y as f32, q.z as f32, q.w as f32).normalize(),
    )
}

/// rapier pose → nalgebra (f64) pose.
pub fn from_pose(p: &Pose3) -> Isometry3<f64> {
    let t = p.translation;
    let r = p.rotation;
    Isometry3::from_parts(
        Translation3::new(t.x as f64, t.y as f64, t.z as f64),
        UnitQuaternion::new_normalize(Quaternion::new(
            r.w as f64, r.x as f64, r.y as f64, r.z as f64,
        )),
    )
}

/// nalgebra vector → glam.
pub fn to_vec(v: &Vector3<f64>) -> Vec3 {
    Vec3::new(v.x as f32, v.y as f32, v.z as f32)
}

/// glam vector → nalgebra point.
pub fn to_point(v: Vec3) -> Point3<f64> {
    Point3::new(v.x as f64, v.y as f64, v.z as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_pose_to_f32_precision() {
        let iso = Isometry3::from_parts(
            Translation3::new(0.5, -0.25, 0.125),
            UnitQuaternion::from_euler_angles(0.3, -0.2, 1.1),
        );
        let back = from_pose(&to_pose(&iso));
        assert!((back.translation.vector - iso.translation.vector).norm() < 1e-6);
        assert!(back.rotation.angle_to(&iso.rotation) < 1e-6);
    }
}
