//! The geometric inspector (Code-as-Monitor style): judges statements from the
//! simulator's own state. Ground truth for tests and training labels, and a
//! cross-check on the vision model.

use cap_core::robot::RobotBackend;
use cap_core::scene::Scene;
use cap_core::trace::{Answer, Verdict};
use cap_sim::labels::SEG_OBJECT0;
use cap_sim::prelude::*;

use crate::statement::{parse_for, Desc, Relation, Statement, Thing};
use crate::{Inspector, Observation};

/// An object is visible when it covers at least this many pixels of some camera.
pub const VISIBLE_MIN_PX: usize = 12;
/// `left_of`/`right_of` need this much separation along y, metres.
pub const SIDE_MARGIN_M: f64 = 0.02;
/// `near`: centre distance below this, metres (in 3D: a block lifted high above a plate,
/// or lying on the floor under the table, is not near it).
pub const NEAR_M: f64 = 0.10;
/// Below this height an object has fallen off the table (the one definition, shared
/// with the episode's outcome).
pub use cap_core::vocabulary::OFF_TABLE_Z_M;

/// Why a statement cannot be judged in this scene.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    /// No object fits the description.
    #[error("no object in the scene is a {0}")]
    NoSuchObject(String),
    /// Several objects fit it.
    #[error("`{0}` is ambiguous in this scene")]
    Ambiguous(String),
    /// The relation needs an object where the statement names none (or the table).
    #[error("{0} must be an object")]
    NotAnObject(&'static str),
    /// The world refused a query about an object.
    #[error("{0}")]
    Query(String),
}

/// Resolve a description to the one scene object it names.
pub fn resolve(scene: &Scene, d: &Desc) -> Result<usize, JudgeError> {
    let matches: Vec<usize> = scene
        .objects
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            d.color.as_deref().is_none_or(|c| c == o.color)
                && d.noun
                    .as_ref()
                    .is_none_or(|n| o.mesh.is_some() && n == o.noun())
                && match d.thing {
                    Some(Thing::Object(k)) => k == o.kind,
                    Some(Thing::Table) => false,
                    None => true,
                }
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(JudgeError::NoSuchObject(d.text())),
        _ => Err(JudgeError::Ambiguous(d.text())),
    }
}

/// Judge a parsed statement on `world`; `frames` are used for `visible` (rendered from
/// the scene's cameras when empty). `Err` means the statement cannot be judged here.
pub fn judge(world: &World, frames: &[Frame], st: &Statement) -> Result<bool, JudgeError> {
    let scene = world.scene();
    let obj = |d: &Option<Desc>| -> Result<Option<usize>, JudgeError> {
        match d {
            None => Ok(None),
            Some(d) if d.thing == Some(Thing::Table) => Ok(None),
            Some(d) => resolve(scene, d).map(Some),
        }
    };
    let a = obj(&st.subject)?;
    let b = obj(&st.object)?;
    let state = |i: usize| {
        world
            .object(&scene.objects[i].name)
            .map_err(|f| JudgeError::Query(f.message))
    };
    let query = |f: cap_core::failure::Failure| JudgeError::Query(f.message);
    let name = |i: usize| scene.objects[i].name.as_str();
    let need = |i: Option<usize>, what: &'static str| i.ok_or(JudgeError::NotAnObject(what));
    let holds = match st.relation {
        Relation::On => {
            let ia = need(a, "the first argument")?;
            match b {
                None => {
                    // On the table: bottom at the table top, not held.
                    let s = state(ia)?;
                    !s.held && s.aabb_min.z.abs() < 0.01
                }
                Some(ib) => world.is_on(name(ia), name(ib)).map_err(query)?,
            }
        }
        Relation::In => {
            let (ia, ib) = (need(a, "the first argument")?, need(b, "the container")?);
            world.is_in(name(ia), name(ib)).map_err(query)?
        }
        Relation::Holding => state(need(a, "what is held")?)?.held,
        Relation::GripperEmpty => world.holding().is_none(),
        Relation::LeftOf | Relation::RightOf | Relation::Near => {
            let pa = state(need(a, "the first argument")?)?.position();
            let pb = match b {
                Some(ib) => state(ib)?.position(),
                None => return Err(JudgeError::NotAnObject("the second argument")),
            };
            match st.relation {
                Relation::LeftOf => pa.y - pb.y > SIDE_MARGIN_M,
                Relation::RightOf => pb.y - pa.y > SIDE_MARGIN_M,
                _ => (pa - pb).norm() < NEAR_M,
            }
        }
        Relation::Visible => {
            let id = SEG_OBJECT0 + need(a, "the subject")? as u16;
            if frames.is_empty() {
                scene
                    .cameras
                    .iter()
                    .any(|c| world.render(c).pixels_of(id) >= VISIBLE_MIN_PX)
            } else {
                frames.iter().any(|f| f.pixels_of(id) >= VISIBLE_MIN_PX)
            }
        }
        Relation::Upright => state(need(a, "the subject")?)?.upright(),
        Relation::OffTable => state(need(a, "the subject")?)?.position().z < OFF_TABLE_Z_M,
    };
    Ok(holds != st.negated)
}

/// Judges statements from simulator state.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeometricInspector;

impl Inspector for GeometricInspector {
    fn name(&self) -> &str {
        "geometric"
    }

    fn model(&self) -> String {
        "simulator state".into()
    }

    fn inspect(&self, obs: &Observation<'_>, statement: &str) -> Verdict {
        let verdict = |answer, detail: String| Verdict {
            inspector: "geometric".into(),
            model: self.model(),
            answer,
            confidence: if answer == Answer::CannotTell {
                0.0
            } else {
                1.0
            },
            detail: Some(detail),
        };
        let Some(world) = obs.world else {
            return verdict(
                Answer::CannotTell,
                "the geometric inspector needs the simulator state".into(),
            );
        };
        match parse_for(statement, Some(world.scene())) {
            Err(e) => verdict(Answer::CannotTell, e.to_string()),
            Ok(st) => match judge(world, obs.frames, &st) {
                Ok(true) => verdict(Answer::Holds, st.canonical()),
                Ok(false) => verdict(Answer::DoesNotHold, st.canonical()),
                Err(e) => verdict(Answer::CannotTell, format!("{}: {e}", st.canonical())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn world() -> World {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
        World::new(Arc::new(Scene::load(path).unwrap()), 0).unwrap()
    }

    fn ask(w: &World, s: &str) -> Answer {
        GeometricInspector
            .inspect(
                &Observation {
                    world: Some(w),
                    frames: &[],
                },
                s,
            )
            .answer
    }

    #[test]
    fn follows_the_world_through_a_pick_and_place() {
        let mut w = world();
        assert_eq!(ask(&w, "the gripper is empty"), Answer::Holds);
        assert_eq!(ask(&w, "the red block is on the table"), Answer::Holds);
        assert_eq!(
            ask(&w, "the red block is on the blue plate"),
            Answer::DoesNotHold
        );
        assert_eq!(ask(&w, "the red block is visible"), Answer::Holds);
        w.pick("red_block").unwrap();
        assert_eq!(ask(&w, "pick up the red block"), Answer::Holds);
        assert_eq!(ask(&w, "the gripper is empty"), Answer::DoesNotHold);
        assert_eq!(
            ask(&w, "the red block is on the table"),
            Answer::DoesNotHold
        );
        w.place_on("red_block", "blue_plate").unwrap();
        w.settle(0.3);
        assert_eq!(ask(&w, "the red block is on the blue plate"), Answer::Holds);
        assert_eq!(
            ask(&w, "the red block is not on the blue plate"),
            Answer::DoesNotHold
        );
        assert_eq!(
            ask(&w, "the red block is near the blue plate"),
            Answer::Holds
        );
        assert_eq!(ask(&w, "the red block is upright"), Answer::Holds);
        assert_eq!(
            ask(&w, "the red block has fallen off the table"),
            Answer::DoesNotHold
        );
    }

    #[test]
    fn near_is_a_centre_distance_in_3d() {
        let mut w = world();
        let plate = w.object("blue_plate").unwrap().position();
        let at = |dx: f64, z: f64| cap_core::nalgebra::Point3::new(plate.x + dx, plate.y, z);
        // Beside the plate on the table, 8 cm away: near; 12 cm away: not. Right above
        // it but 20 cm up, or on the floor under the table: not near, though the
        // horizontal distance is 2 cm.
        for (dx, z, expected) in [
            (0.08, 0.021, Answer::Holds),
            (0.12, 0.021, Answer::DoesNotHold),
            (0.02, 0.2, Answer::DoesNotHold),
            (0.02, -0.5, Answer::DoesNotHold),
        ] {
            w.teleport("red_block", at(dx, z), 0.0).unwrap();
            assert_eq!(
                ask(&w, "the red block is near the blue plate"),
                expected,
                "red block {dx} m beside the plate at z = {z} m"
            );
        }
    }

    #[test]
    fn sides_follow_world_y() {
        let w = world();
        // tabletop: red block at y = +0.15, blue block at y = -0.15 (±3 cm).
        assert_eq!(
            ask(&w, "the red block is left of the blue block"),
            Answer::Holds
        );
        assert_eq!(
            ask(&w, "the red block is right of the blue block"),
            Answer::DoesNotHold
        );
        assert_eq!(
            ask(&w, "the blue block is right of the red block"),
            Answer::Holds
        );
    }

    #[test]
    fn unknown_or_ambiguous_objects_cannot_be_told() {
        let w = world();
        assert_eq!(
            ask(&w, "the purple block is on the table"),
            Answer::CannotTell
        );
        assert_eq!(
            ask(&w, "the bowl is upright"),
            Answer::CannotTell,
            "two bowls"
        );
        assert_eq!(ask(&w, "the red block is dancing"), Answer::CannotTell);
        let v = GeometricInspector.inspect(
            &Observation {
                world: None,
                frames: &[],
            },
            "the red block is visible",
        );
        assert_eq!(v.answer, Answer::CannotTell);
    }
}
