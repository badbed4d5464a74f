//! Transcendental functions that give the same bits on every machine.
//!
//! `f64::sin` and friends call the platform's C library, and glibc picks its code path
//! by CPU (FMA or not), other platforms have other implementations: a trace computed
//! through them can differ in the last bit between two machines, and the difference
//! grows through the IK iteration and the physics. Everything that feeds a trace calls
//! these instead: they are the `libm` crate's pure-Rust ports of musl, compiled to the
//! same instructions on every x86-64 CPU. nalgebra's own math (through simba) goes to
//! `libm` as well: cap-core turns on simba's `libm_force`, and rapier's
//! `enhanced-determinism` does the same for parry and glam.

use nalgebra::{Quaternion, UnitQuaternion};

/// Sine, radians.
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// Cosine, radians.
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

/// `(sin x, cos x)`.
pub fn sin_cos(x: f64) -> (f64, f64) {
    libm::sincos(x)
}

/// Sine of an `f32`, radians (rapier's side of the world).
pub fn sin_f32(x: f32) -> f32 {
    libm::sinf(x)
}

/// Cosine of an `f32`, radians.
pub fn cos_f32(x: f32) -> f32 {
    libm::cosf(x)
}

/// Tangent, radians.
pub fn tan(x: f64) -> f64 {
    libm::tan(x)
}

/// Four-quadrant arctangent of `y / x`, radians in (−π, π].
pub fn atan2(y: f64, x: f64) -> f64 {
    libm::atan2(y, x)
}

/// Arc cosine, radians in [0, π]; the argument is clamped to [−1, 1] first, so rounding
/// just past ±1 does not give NaN.
pub fn acos(x: f64) -> f64 {
    libm::acos(x.clamp(-1.0, 1.0))
}

/// Rotation by `angle_rad` about the x axis.
pub fn rot_x(angle_rad: f64) -> UnitQuaternion<f64> {
    let (s, c) = sin_cos(0.5 * angle_rad);
    UnitQuaternion::new_unchecked(Quaternion::new(c, s, 0.0, 0.0))
}

/// Rotation by `angle_rad` about the y axis.
pub fn rot_y(angle_rad: f64) -> UnitQuaternion<f64> {
    let (s, c) = sin_cos(0.5 * angle_rad);
    UnitQuaternion::new_unchecked(Quaternion::new(c, 0.0, s, 0.0))
}

/// Roll, pitch, yaw (about fixed x, then y, then z, as URDF's `rpy`).
pub fn rpy(roll: f64, pitch: f64, yaw: f64) -> UnitQuaternion<f64> {
    rot_z(yaw) * rot_y(pitch) * rot_x(roll)
}

/// Rotation by `angle_rad` about the z axis.
pub fn rot_z(angle_rad: f64) -> UnitQuaternion<f64> {
    let (s, c) = sin_cos(0.5 * angle_rad);
    UnitQuaternion::new_unchecked(Quaternion::new(c, 0.0, 0.0, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    #[test]
    fn axis_rotations_match_nalgebra() {
        for a in [-3.0, -1.2, 0.0, 0.4, 1.25, 3.1] {
            let x = UnitQuaternion::from_axis_angle(&Vector3::x_axis(), a);
            let z = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), a);
            assert!(rot_x(a).angle_to(&x) < 1e-12, "{a}");
            assert!(rot_z(a).angle_to(&z) < 1e-12, "{a}");
        }
    }

    #[test]
    fn functions_agree_with_std_to_the_last_bits() {
        for x in [-2.5f64, -0.3, 0.0, 0.7, 1.9, 3.0] {
            assert!((sin(x) - x.sin()).abs() < 1e-15);
            assert!((cos(x) - x.cos()).abs() < 1e-15);
            assert!((atan2(x, 0.8) - x.atan2(0.8)).abs() < 1e-15);
        }
        assert_eq!(acos(1.0 + 1e-12), 0.0);
    }
}
