//! What a program's author must know of the arm that runs it, in words for the API
//! reference and the prompts: how wide the gripper opens, how wide the hand is, and
//! where the arm reaches straight down. Taken from the robot actually loaded.

use cap_sim::robot::{Robot, REACH_HIGH_Z_M};

/// The reference's paragraph on what makes a motion feasible, with `robot`'s figures.
/// For an arm other than the built-in Panda, a sentence naming the arm and its reach
/// follows.
pub fn feasibility(robot: &Robot) -> String {
    let open_cm = robot.gripper_max_width_m() * 100.0;
    let palm_cm = robot.palm_across_m() * 100.0;
    let mut out = format!(
        "\nWhat decides whether a motion is feasible: the fingers open {open_cm:.0} cm, so only objects narrower than that (across the grasped faces) can be picked, and bowls and plates are taken by their rim; the hand is {palm_cm:.0} cm wide along the fingers' closing axis, so neighbours within about {:.0} cm on that axis block a grasp (pick then turns the hand); every motion is checked for collisions with the table and every object other than the one being grasped or placed on, so leave room between objects, and the order of moves matters; the arm reaches straight down only within a band around its base (reachable_region(), reachable(pos), table_point(place)), and the table's corners lie outside it.\n",
        palm_cm / 2.0,
    );
    if !robot.is_builtin() {
        out.push_str(&format!("{}\n", arm_sentence(robot)));
    }
    out
}

/// One sentence on the arm: what it is, its joints, its gripper and its reach.
pub fn arm_sentence(robot: &Robot) -> String {
    let k = robot.kinematics();
    let band = robot.reach_band();
    let mut s = format!(
        "The arm is {} ({}): {} joints, {}; it reaches straight down between {:.2} and {:.2} m from its base axis",
        robot.name(),
        robot.about(),
        k.dof(),
        robot.gripper().describe(),
        band.min_radius_m,
        band.max_radius_m,
    );
    if band.top_z_m < REACH_HIGH_Z_M {
        s.push_str(&format!(
            ", and only up to {:.0} cm above its base, so keep motions low",
            band.top_z_m * 100.0
        ));
    }
    if k.dof() < 6 {
        s.push_str(&format!(
            "; with {} joints it cannot take every orientation: the gripper points down, and a tilted or sideways pose is unreachable",
            k.dof()
        ));
    }
    s.push('.');
    s
}
