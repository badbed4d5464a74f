//! Scene parsing and validation: good files load, every kind of bad one is refused
//! naming its file and key.

use super::*;

const GOOD: &str = r#"
[scene]
name = "t"
[table]
size = [1.0, 1.2, 0.05]
center = [0.5, 0.0]
[[objects]]
name = "red_block"
kind = "box"
color = "red"
size = [0.04, 0.04, 0.04]
mass = 0.1
position = [0.5, 0.1]
[objects.randomize]
x = [-0.02, 0.02]
[[objects]]
name = "blue_plate"
kind = "plate"
color = "blue"
size = [0.16, 0.16, 0.02]
mass = 0.3
position = [0.5, -0.15]
[[tasks]]
name = "red_on_blue"
instruction = "put the red block on the blue plate"
success = 'is_on("red_block", "blue_plate")'
"#;

fn invalid(text: &str) -> String {
    match Scene::from_toml(text, "s.toml") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_scene_loads_with_radians_and_resting_z() {
    let s = Scene::from_toml(GOOD, "s.toml").unwrap();
    assert_eq!(s.objects.len(), 2);
    assert!((s.objects[0].position_m.z - 0.02).abs() < 1e-12);
    assert_eq!(
        s.objects[0].randomize.x_m,
        Range {
            lo: -0.02,
            hi: 0.02
        }
    );
    assert_eq!(s.task("red_on_blue").unwrap().time_limit_s, 120.0);
    assert_eq!(s.objects[1].description(), "blue plate");
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = invalid(&GOOD.replace("mass = 0.1", "mass = 0.1\ncolour = \"red\""));
    assert!(e.starts_with("s.toml:"), "{e}");
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn nan_and_inf_are_rejected_with_key() {
    let e = invalid(&GOOD.replace("position = [0.5, 0.1]", "position = [nan, 0.1]"));
    assert!(
        e.contains("objects[0] (red_block).position[0]") && e.contains("finite"),
        "{e}"
    );
    let e = invalid(&GOOD.replace("mass = 0.3", "mass = inf"));
    assert!(e.contains("objects[1] (blue_plate).mass"), "{e}");
}

#[test]
fn duplicate_names_are_rejected() {
    let e = invalid(&GOOD.replace("name = \"blue_plate\"", "name = \"red_block\""));
    assert!(e.contains("duplicate object name `red_block`"), "{e}");
}

#[test]
fn overlapping_spawns_are_rejected_including_randomisation() {
    let e = invalid(&GOOD.replace("position = [0.5, -0.15]", "position = [0.5, 0.02]"));
    assert!(e.contains("overlaps `red_block`"), "{e}");
    // 0.13 m apart in y: clear at nominal poses, but not once y is randomised ±4 cm.
    let near = GOOD.replace("position = [0.5, -0.15]", "position = [0.5, -0.03]");
    let near = near.replace("x = [-0.02, 0.02]", "y = [-0.04, 0.04]");
    assert!(invalid(&near).contains("overlaps"));
}

#[test]
fn off_table_and_bad_values_are_rejected() {
    assert!(
        invalid(&GOOD.replace("position = [0.5, 0.1]", "position = [1.2, 0.1]"))
            .contains("not fully on the table")
    );
    assert!(
        invalid(&GOOD.replace("color = \"red\"", "color = \"mauve\"")).contains("unknown colour")
    );
    assert!(invalid(&GOOD.replace("kind = \"box\"", "kind = \"torus\"")).contains("torus"));
    assert!(
        invalid(&GOOD.replace("[0.16, 0.16, 0.02]", "[0.16, 0.10, 0.02]")).contains("diameter")
    );
    assert!(
        invalid(&GOOD.replace("x = [-0.02, 0.02]", "x = [0.02, -0.02]"))
            .contains("above upper bound")
    );
}
