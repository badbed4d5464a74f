//! The script API reference (`cap api`, the text a model is shown), generated from
//! the one table that registers the functions ([`crate::api::API`]), with the facts
//! of the arm that runs the program.

use crate::api::{Category, API};

/// The reference text (`cap api`) for the built-in Panda, generated from [`API`](crate::api::API).
pub fn reference() -> String {
    let robot = cap_sim::robot::Robot::builtin(cap_core::nalgebra::Isometry3::identity());
    reference_for(&robot)
}

/// The reference text for `robot`: its gripper, hand and reach in the feasibility
/// paragraph (see [`crate::robot_facts`]).
pub fn reference_for(robot: &cap_sim::robot::Robot) -> String {
    let mut out = String::new();
    out.push_str("# cap script API\n\n");
    out.push_str("Programs are rhai scripts. Units are metres and radians; the world frame has z up, the table top at z = 0, +x pointing away from the robot and +y to its left. Objects are named by strings such as \"red_block\".\n\n");
    out.push_str("Motion functions raise an error when they fail (unreachable, collision, no_grasp, slipped, ...). Catch it with `try { ... } catch (err) { ... }`; `err` is a map #{kind, message, object, function}.\n");
    out.push_str(&crate::robot_facts::feasibility(robot));
    for cat in [Category::Query, Category::Motion, Category::Monitor] {
        out.push_str(&format!("\n## {}\n\n", cat.title()));
        for f in API.iter().filter(|f| f.category == cat) {
            out.push_str(&format!(
                "{} -> {}\n    {}\n",
                f.signature(),
                f.returns,
                f.doc
            ));
            for o in f.options {
                out.push_str(&format!("    options.{}: {}\n", o.name, o.doc));
            }
            out.push_str(&format!("    e.g. {}\n", f.example));
        }
    }
    out
}
