//! The objects on the table as discs in its plane: what a free place on the table
//! keeps clear of (`table_point`, `place_on` beside what a receptacle holds).

use cap_core::nalgebra::Point2;

/// Gap kept to objects already there, metres.
pub(crate) const CLEARANCE_M: f64 = 0.008;
/// Thickness of a finger beyond the opening, metres.
pub(crate) const FINGER_M: f64 = 0.012;

/// The objects on the table as discs in its plane (centre, radius), held ones left out:
/// what a free place on the table keeps clear of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Footprints {
    /// Each object's name and disc.
    pub discs: Vec<(String, Point2<f64>, f64)>,
}

impl Footprints {
    /// Room a place must leave around its centre for an object and the open fingers
    /// setting it down, given the gripper's opening (metres).
    pub fn room_m(gripper_max_width_m: f64) -> f64 {
        gripper_max_width_m / 2.0 + FINGER_M + CLEARANCE_M
    }

    /// The first object whose disc comes within `room` of `p`, if any.
    pub fn blocker(&self, p: Point2<f64>, room: f64) -> Option<&str> {
        self.discs
            .iter()
            .find(|(_, c, r)| (c - p).norm() < r + room)
            .map(|(n, _, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_names_the_object_in_the_way() {
        let l = Footprints {
            discs: vec![
                ("bowl".into(), Point2::new(0.6, 0.3), 0.11),
                ("block".into(), Point2::new(0.4, 0.0), 0.02),
            ],
        };
        let room = Footprints::room_m(0.08);
        assert!((room - 0.06).abs() < 1e-12);
        assert_eq!(l.blocker(Point2::new(0.6, 0.45), room), Some("bowl"));
        assert_eq!(l.blocker(Point2::new(0.6, 0.48), room), None);
        assert_eq!(l.blocker(Point2::new(0.45, 0.0), room), Some("block"));
        assert_eq!(l.blocker(Point2::new(0.4, -0.09), room), None);
    }
}
