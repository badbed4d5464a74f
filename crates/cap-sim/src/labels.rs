//! What each collider is — the table, a scene object, an arm part or the arm's base —
//! decided once, when the world is built, and read by every pipeline that needs it
//! (the renderer's colours and segmentation ids, the viewer's entity paths).

use rapier3d::prelude::ColliderHandle;

/// Segmentation id of pixels that see nothing.
pub const SEG_BACKGROUND: u16 = 0;
/// Segmentation id of the table.
pub const SEG_TABLE: u16 = 1;
/// Segmentation id of every robot part (links, hand, fingers, base).
pub const SEG_ROBOT: u16 = 2;
/// Segmentation id of scene object `i` (file order) is `SEG_OBJECT0 + i`.
pub const SEG_OBJECT0: u16 = 3;

const ARM_RGB: [f32; 3] = [0.88, 0.88, 0.9];
const FINGER_RGB: [f32; 3] = [0.25, 0.25, 0.27];

/// Which thing a collider belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The table.
    Table,
    /// Scene object `i` (file order).
    Object(usize),
    /// Arm part `i` (the order of [`crate::geometry::arm_parts`]).
    ArmPart(usize),
    /// The fixed pillar the arm stands on.
    ArmBase,
}

/// A collider's label: what it is, its entity path below the world root, its colour
/// and its segmentation id.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// What the collider belongs to.
    pub part: Part,
    /// `table`, `objects/NAME`, `robot/PART` or `robot/base`.
    pub path: String,
    /// Linear RGB in 0..1.
    pub rgb: [f32; 3],
    /// Segmentation id ([`SEG_TABLE`], [`SEG_ROBOT`], [`SEG_OBJECT0`] + index).
    pub seg: u16,
}

impl Label {
    /// The table, in its scene colour.
    pub fn table(rgb: [f32; 3]) -> Self {
        Self {
            part: Part::Table,
            path: "table".into(),
            rgb,
            seg: SEG_TABLE,
        }
    }

    /// Scene object `index` called `name`.
    pub fn object(index: usize, name: &str, rgb: [f32; 3]) -> Self {
        Self {
            part: Part::Object(index),
            path: format!("objects/{name}"),
            rgb,
            seg: SEG_OBJECT0 + index as u16,
        }
    }

    /// Arm part `index` called `name` (fingers are drawn dark).
    pub fn arm_part(index: usize, name: &str) -> Self {
        Self {
            part: Part::ArmPart(index),
            path: format!("robot/{name}"),
            rgb: if name.starts_with("finger") {
                FINGER_RGB
            } else {
                ARM_RGB
            },
            seg: SEG_ROBOT,
        }
    }

    /// The arm's base pillar.
    pub fn arm_base() -> Self {
        Self {
            part: Part::ArmBase,
            path: "robot/base".into(),
            rgb: ARM_RGB,
            seg: SEG_ROBOT,
        }
    }
}

/// Every collider's label, in the order the colliders were inserted.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    entries: Vec<(ColliderHandle, Label)>,
}

impl Labels {
    /// Label `collider`.
    pub fn insert(&mut self, collider: ColliderHandle, label: Label) {
        self.entries.push((collider, label));
    }

    /// The label of `collider`.
    pub fn get(&self, collider: ColliderHandle) -> Option<&Label> {
        self.entries
            .iter()
            .find(|(h, _)| *h == collider)
            .map(|(_, l)| l)
    }

    /// Colliders and their labels, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (ColliderHandle, &Label)> {
        self.entries.iter().map(|(h, l)| (*h, l))
    }

    /// How many colliders are labelled.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_path_colour_and_segmentation_id() {
        let o = Label::object(2, "red_block", [1.0, 0.0, 0.0]);
        assert_eq!(
            (o.path.as_str(), o.seg, o.part),
            ("objects/red_block", SEG_OBJECT0 + 2, Part::Object(2))
        );
        assert_eq!(Label::arm_part(8, "finger_left").rgb, FINGER_RGB);
        assert_eq!(Label::arm_part(3, "link3").rgb, ARM_RGB);
        assert_eq!(Label::arm_base().path, "robot/base");
        assert_eq!(Label::table([0.5; 3]).seg, SEG_TABLE);
    }
}
