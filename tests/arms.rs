//! End-to-end tests of arms other than the built-in Panda: the catalogue arms' scenes
//! (their URDFs come from setup.sh's fetch of example-robot-data), the same reference
//! programs on them, a scene bringing its own URDF, and the errors a broken robot
//! description gives (exit 2, naming the file and the link or joint).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};

mod common;
use common::{cap, root, stderr, stdout, tmp};

fn data() -> PathBuf {
    cap_core::paths::data_dir()
}

fn ur5_urdf() -> PathBuf {
    let p = data().join("robots/example-robot-data/robots/ur_description/urdf/ur5_robot.urdf");
    assert!(
        p.is_file(),
        "{} is missing: run `bash scripts/fetch-robots.sh` (setup.sh does)",
        p.display()
    );
    p
}

/// tabletop.toml with its `[robot]` table replaced by `robot`, written into `dir`.
fn scene_with_robot(dir: &Path, robot: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(root().join("scenes/tabletop.toml")).unwrap();
    let start = text.find("[robot]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let scene = format!("{}{}{}", &text[..start], robot, &text[end..]);
    let path = dir.join("scene.toml");
    std::fs::write(&path, scene).unwrap();
    path
}

#[test]
fn cap_robots_describes_every_arm_from_its_description() {
    let o = cap(&["robots"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for (arm, joints) in [
        ("builtin", 7),
        ("panda", 7),
        ("ur5", 6),
        ("so101", 5),
        ("xarm7", 7),
    ] {
        let block = out
            .split("\n")
            .skip_while(|l| !l.starts_with(&format!("{arm}: ")))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            block.contains(&format!("{joints} joints")),
            "{arm}: {block}"
        );
        assert!(block.contains("reaches straight down between"), "{arm}");
        assert!(block.contains("gripper: "), "{arm}");
    }
    // Limits come from the URDF: the UR5's shoulder turns ±360° at 3.15 rad/s.
    assert!(out.contains("shoulder_pan_joint"), "{out}");
    let o = cap(&["robots", "kuka"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ur5"), "{}", stderr(&o));
}

#[test]
fn the_tabletop_programs_run_unchanged_on_other_arms() {
    let mut runs = 0;
    let mut ok = 0;
    let mut unexplained = Vec::new();
    for arm in ["panda", "ur5", "xarm7"] {
        let scene = format!("scenes/arms/tabletop_{arm}.toml");
        for task in [
            "red_on_blue",
            "green_in_yellow_bowl",
            "stack_all_blocks",
            "blocks_in_corner",
        ] {
            for seed in 0..3 {
                let out = tmp(&format!("arm-{arm}-{task}-{seed}"));
                let s = seed.to_string();
                let program = format!("examples/policies/{task}.rhai");
                let o = cap(&[
                    "exec",
                    &scene,
                    &program,
                    "--task",
                    task,
                    "--seed",
                    &s,
                    "--out",
                    out.to_str().unwrap(),
                ]);
                runs += 1;
                assert!(out.join("trace.jsonl").is_file(), "{arm} {task} {seed}");
                if o.status.code() == Some(0) {
                    ok += 1;
                } else if !stderr(&o).contains("reaches straight down only between") {
                    // Every miss must be explained by the arm's reach.
                    unexplained.push(format!("{arm} {task} seed {seed}: {}", stderr(&o)));
                }
            }
        }
    }
    assert!(unexplained.is_empty(), "{unexplained:#?}");
    assert!(ok * 10 >= runs * 9, "{ok} of {runs} succeeded");
}

#[test]
fn a_scene_brings_its_own_urdf() {
    let urdf = ur5_urdf();
    let packages = data().join("robots");
    let robot = format!(
        "[robot]\nurdf = \"{}\"\nbase_link = \"base_link\"\ntool_link = \"tool0\"\ntcp = [0.0, 0.0, 0.15]\ngripper = {{ kind = \"mounted\", max_width = 0.085 }}\npackages = [\"{}\"]\nworkspace_min = [0.15, -0.55, 0.0]\nworkspace_max = [0.85, 0.55, 0.65]\nspeed = 0.8",
        urdf.display(),
        packages.display()
    );
    let dir = tmp("own-urdf");
    let scene = scene_with_robot(&dir, &robot);
    let o = cap(&["validate", scene.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("with 6 joints"), "{}", stdout(&o));
    let out = dir.join("run");
    let o = cap(&[
        "exec",
        scene.to_str().unwrap(),
        "examples/policies/red_on_blue.rhai",
        "--task",
        "red_on_blue",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The API reference and the prompt's facts are the loaded arm's.
    let o = cap(&["api", "--scene", scene.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let api = stdout(&o);
    assert!(api.contains("the fingers open 8 cm"), "{api}");
    assert!(api.contains("6 joints"), "{api}");
    let builtin = stdout(&cap(&["api"]));
    assert!(
        !builtin.contains("The arm is"),
        "the built-in reference is unchanged"
    );
}

#[test]
fn broken_robot_descriptions_exit_2_naming_the_file_and_the_link_or_joint() {
    let urdf = ur5_urdf();
    let packages = data().join("robots");
    let dir = tmp("bad-urdf");
    std::fs::create_dir_all(&dir).unwrap();
    // A copy of the URDF away from its package, with no package roots: meshes missing.
    let lonely = dir.join("lonely.urdf");
    std::fs::copy(&urdf, &lonely).unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let robot = |urdf: &Path, tool: &str, gripper: &str, packages: &Path| {
        format!(
            "[robot]\nurdf = \"{}\"\nbase_link = \"base_link\"\ntool_link = \"{tool}\"\ngripper = {gripper}\npackages = [\"{}\"]",
            urdf.display(),
            packages.display()
        )
    };
    let mounted = "{ kind = \"mounted\", max_width = 0.085 }";
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "no-tool",
            robot(&urdf, "nope", mounted, &packages),
            vec!["ur5_robot.urdf".into(), "no link `nope`".into()],
        ),
        (
            "no-mesh",
            robot(&lonely, "tool0", mounted, &empty),
            vec![
                "lonely.urdf".into(),
                "link `base_link`".into(),
                "base.stl".into(),
                "not found".into(),
            ],
        ),
        (
            "no-finger-joint",
            robot(
                &urdf,
                "tool0",
                "{ kind = \"fingers\", joints = [\"left\", \"right\"], max_width = 0.08 }",
                &packages,
            ),
            vec!["ur5_robot.urdf".into(), "no joint `left`".into()],
        ),
        (
            "unknown-arm",
            "[robot]\narm = \"kuka_iiwa\"".into(),
            vec!["no arm `kuka_iiwa`".into(), "so101".into()],
        ),
        (
            "both",
            format!("[robot]\narm = \"ur5\"\nurdf = \"{}\"", urdf.display()),
            vec!["robot.urdf".into(), "not both".into()],
        ),
        (
            "no-gripper",
            format!(
                "[robot]\nurdf = \"{}\"\nbase_link = \"base_link\"\ntool_link = \"tool0\"",
                urdf.display()
            ),
            vec!["robot.gripper".into(), "is required".into()],
        ),
    ];
    for (name, robot, expect) in cases {
        let scene = scene_with_robot(&dir.join(name), &robot);
        let o = cap(&["validate", scene.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        for e in expect {
            assert!(err.contains(&e), "{name}: `{e}` not in: {err}");
        }
        // exec refuses it the same way, and still writes nothing half-done silently.
        let o = cap(&[
            "exec",
            scene.to_str().unwrap(),
            "examples/policies/red_on_blue.rhai",
            "--out",
            dir.join(name).join("run").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{name} exec: {}", stderr(&o));
    }
}

#[test]
fn mutated_urdfs_through_the_binary_exit_0_or_2_never_a_panic() {
    let urdf = ur5_urdf();
    let text = std::fs::read_to_string(&urdf).unwrap();
    let packages = data().join("robots");
    let dir = tmp("fuzz-urdf");
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // A fixed, deterministic set of damages: lines dropped, numbers made NaN or huge,
    // names changed, the file cut short, a joint made a second parent.
    let mut state = 0x5EED_u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 33) as usize) % n.max(1)
    };
    let mut codes = Vec::new();
    for k in 0..24 {
        let mutated = match k % 6 {
            0 => {
                let drop = next(lines.len());
                lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != drop)
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            1 => text.replacen("0.", "nan", 1 + next(40)),
            2 => text.replacen("lower=\"", "lower=\"1e308", 1 + next(6)),
            3 => text.replacen("link=\"", "link=\"x", 1 + next(12)),
            4 => text[..next(text.len())].to_owned(),
            _ => text.replacen(
                "<child link=\"wrist_1_link\"",
                "<child link=\"forearm_link\"",
                1,
            ),
        };
        let path = dir.join(format!("m{k}.urdf"));
        std::fs::write(&path, mutated).unwrap();
        let robot = format!(
            "[robot]\nurdf = \"{}\"\nbase_link = \"base_link\"\ntool_link = \"tool0\"\ntcp = [0.0, 0.0, 0.15]\ngripper = {{ kind = \"mounted\", max_width = 0.085 }}\npackages = [\"{}\"]",
            path.display(),
            packages.display()
        );
        let scene = scene_with_robot(&dir.join(format!("s{k}")), &robot);
        let o = cap(&["validate", scene.to_str().unwrap()]);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0) | Some(2)),
            "mutation {k}: exit {code:?}: {}",
            stderr(&o)
        );
        if code == Some(2) {
            // The error names the file.
            assert!(
                stderr(&o).contains(&format!("m{k}.urdf")),
                "mutation {k}: {}",
                stderr(&o)
            );
        }
        codes.push(code);
    }
    assert!(codes.contains(&Some(2)), "some mutations must be refused");
}
