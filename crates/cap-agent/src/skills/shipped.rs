//! The shipped part of the library: every reference policy in `examples/policies/`,
//! with the instruction and object kinds of the scene it is judged on (all run on seeds
//! 0-9 in the e2e tests and 0-4 in CI). Embedded, so the library works from the binary alone.

use super::{Origin, Skill};

const MIXED: &str = include_str!("../../../../scenes/mixed.toml");
const OBJECTS_DUCK: &str = include_str!("../../../../scenes/objects/duck.toml");
const OBJECTS_MUG: &str = include_str!("../../../../scenes/objects/mug.toml");
const OBJECTS_RANDOM_URDFS_000: &str =
    include_str!("../../../../scenes/objects/random_urdfs/000.toml");
const SORTING: &str = include_str!("../../../../scenes/sorting.toml");
const STACKING: &str = include_str!("../../../../scenes/stacking.toml");
const TABLETOP: &str = include_str!("../../../../scenes/tabletop.toml");

/// (scene file, its text, task).
const SHIPPED: &[(&str, &str, &str, &str)] = &[
    (
        "scenes/mixed.toml",
        MIXED,
        "align_blocks",
        include_str!("../../../../examples/policies/align_blocks.rhai"),
    ),
    (
        "scenes/sorting.toml",
        SORTING,
        "all_in_green_bowl",
        include_str!("../../../../examples/policies/all_in_green_bowl.rhai"),
    ),
    (
        "scenes/mixed.toml",
        MIXED,
        "ball_in_bowl",
        include_str!("../../../../examples/policies/ball_in_bowl.rhai"),
    ),
    (
        "scenes/tabletop.toml",
        TABLETOP,
        "blocks_in_corner",
        include_str!("../../../../examples/policies/blocks_in_corner.rhai"),
    ),
    (
        "scenes/mixed.toml",
        MIXED,
        "blocks_in_corners",
        include_str!("../../../../examples/policies/blocks_in_corners.rhai"),
    ),
    (
        "scenes/stacking.toml",
        STACKING,
        "blocks_on_plate",
        include_str!("../../../../examples/policies/blocks_on_plate.rhai"),
    ),
    (
        "scenes/sorting.toml",
        SORTING,
        "blue_in_red_bowl",
        include_str!("../../../../examples/policies/blue_in_red_bowl.rhai"),
    ),
    (
        "scenes/stacking.toml",
        STACKING,
        "container_on_plate",
        include_str!("../../../../examples/policies/container_on_plate.rhai"),
    ),
    (
        "scenes/objects/duck.toml",
        OBJECTS_DUCK,
        "duck_in_bowl",
        include_str!("../../../../examples/policies/duck_in_bowl.rhai"),
    ),
    (
        "scenes/tabletop.toml",
        TABLETOP,
        "green_in_yellow_bowl",
        include_str!("../../../../examples/policies/green_in_yellow_bowl.rhai"),
    ),
    (
        "scenes/mixed.toml",
        MIXED,
        "line_along_left_side",
        include_str!("../../../../examples/policies/line_along_left_side.rhai"),
    ),
    (
        "scenes/sorting.toml",
        SORTING,
        "line_up_blocks",
        include_str!("../../../../examples/policies/line_up_blocks.rhai"),
    ),
    (
        "scenes/objects/mug.toml",
        OBJECTS_MUG,
        "mug_on_plate",
        include_str!("../../../../examples/policies/mug_on_plate.rhai"),
    ),
    (
        "scenes/objects/random_urdfs/000.toml",
        OBJECTS_RANDOM_URDFS_000,
        "object_on_plate",
        include_str!("../../../../examples/policies/object_on_plate.rhai"),
    ),
    (
        "scenes/stacking.toml",
        STACKING,
        "rank_blocks",
        include_str!("../../../../examples/policies/rank_blocks.rhai"),
    ),
    (
        "scenes/tabletop.toml",
        TABLETOP,
        "red_on_blue",
        include_str!("../../../../examples/policies/red_on_blue.rhai"),
    ),
    (
        "scenes/sorting.toml",
        SORTING,
        "sort_by_color",
        include_str!("../../../../examples/policies/sort_by_color.rhai"),
    ),
    (
        "scenes/tabletop.toml",
        TABLETOP,
        "stack_all_blocks",
        include_str!("../../../../examples/policies/stack_all_blocks.rhai"),
    ),
    (
        "scenes/stacking.toml",
        STACKING,
        "stack_three",
        include_str!("../../../../examples/policies/stack_three.rhai"),
    ),
];

/// The object kinds (nouns) and the task's instruction in a scene file's text, read
/// loosely: a mesh scene is not validated here, since its mesh file is fetched data.
fn facts(scene: &str, task: &str) -> Option<(Vec<String>, String)> {
    let v: toml::Table = scene.parse().ok()?;
    let mut kinds: Vec<String> = v
        .get("objects")?
        .as_array()?
        .iter()
        .filter_map(|o| {
            let kind: cap_core::scene::ObjectKind = o.get("kind")?.clone().try_into().ok()?;
            Some(match kind {
                cap_core::scene::ObjectKind::Mesh => match o.get("noun").and_then(|n| n.as_str()) {
                    Some(n) => n.to_owned(),
                    // The validator's default: the name's last word.
                    None => o.get("name")?.as_str()?.rsplit('_').next()?.to_owned(),
                },
                k => k.noun().to_owned(),
            })
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    let instruction = v
        .get("tasks")?
        .as_array()?
        .iter()
        .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(task))?
        .get("instruction")?
        .as_str()?
        .to_owned();
    Some((kinds, instruction))
}

/// The shipped skills, by task name.
pub(super) fn skills() -> Vec<Skill> {
    SHIPPED
        .iter()
        .filter_map(|(path, text, task, program)| {
            let (kinds, instruction) = facts(text, task)?;
            Some(Skill {
                id: (*task).to_owned(),
                instruction,
                kinds,
                origin: Origin::Shipped,
                scene: (*path).to_owned(),
                task: Some((*task).to_owned()),
                success_rate: 1.0,
                seeds: 10,
                model: None,
                program: program.trim().to_owned(),
            })
        })
        .collect()
}
