#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::rank::LeaveOut;
use super::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cap-skills-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn kinds(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| (*s).to_owned()).collect()
}

fn skill(id: &str, instruction: &str, program: &str) -> Skill {
    Skill {
        id: id.into(),
        instruction: instruction.into(),
        kinds: kinds(&["block", "bowl"]),
        origin: Origin::Run,
        scene: "scenes/sorting.toml".into(),
        task: None,
        success_rate: 1.0,
        seeds: 3,
        model: Some("m".into()),
        program: program.into(),
    }
}

fn top(lib: &Library, instruction: &str, k: &[&str], n: usize) -> Vec<String> {
    let k = kinds(k);
    lib.retrieve(
        &Query {
            instruction,
            kinds: &k,
            leave_out: None,
        },
        n,
    )
    .into_iter()
    .map(|r| r.skill.id.clone())
    .collect()
}

#[test]
fn every_reference_policy_is_shipped_with_its_scene_facts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    files.sort();
    let lib = Library::shipped();
    let mut ids: Vec<String> = lib.skills().iter().map(|s| s.id.clone()).collect();
    ids.sort();
    assert_eq!(
        ids, files,
        "a policy without a shipped skill, or the reverse"
    );
    let sort = lib.get("sort_by_color").unwrap();
    assert_eq!(
        sort.instruction,
        "put each block in the bowl of the same colour"
    );
    assert_eq!(sort.kinds, kinds(&["block", "bowl"]));
    assert_eq!(
        lib.get("duck_in_bowl").unwrap().kinds,
        kinds(&["bowl", "duck", "plate"])
    );
    assert!(lib
        .get("object_on_plate")
        .unwrap()
        .kinds
        .contains(&"blob".to_owned()));
    assert!(lib
        .skills()
        .iter()
        .all(|s| s.origin == Origin::Shipped && !s.program.is_empty()));
}

#[test]
fn retrieval_ranks_the_most_similar_instructions_first() {
    let lib = Library::shipped();
    let tabletop = ["block", "bowl", "plate"];
    assert_eq!(
        top(
            &lib,
            "put every block into the bowl with its colour",
            &["block", "bowl"],
            1
        ),
        ["sort_by_color"]
    );
    let stack = top(&lib, "stack the blocks into one tower", &tabletop, 2);
    assert!(stack.iter().all(|s| s.starts_with("stack_")), "{stack:?}");
    let corner = top(
        &lib,
        "move the blocks to the top right corner of the table",
        &tabletop,
        2,
    );
    assert!(
        corner.contains(&"blocks_in_corner".to_owned()),
        "{corner:?}"
    );
    assert!(
        top(&lib, "xyzzy", &[], 3).is_empty(),
        "no shared word, no example"
    );
    // Colours are parameters: one block into one bowl is most like one block into one
    // bowl, whatever their colours, not like all the blocks into the green bowl.
    let k = kinds(&tabletop);
    let one = lib.retrieve(
        &Query {
            instruction: "put the green block in the yellow bowl",
            kinds: &k,
            leave_out: Some(LeaveOut {
                task: Some("green_in_yellow_bowl"),
            }),
        },
        2,
    );
    assert_eq!(one[0].skill.id, "blue_in_red_bowl");
}

#[test]
fn leave_one_out_never_returns_the_tasks_own_program() {
    let lib = Library::shipped();
    let k = kinds(&["block", "bowl", "plate"]);
    let mut q = Query {
        instruction: "put the red block on the blue plate",
        kinds: &k,
        leave_out: None,
    };
    assert_eq!(lib.retrieve(&q, 1)[0].skill.id, "red_on_blue");
    q.leave_out = Some(LeaveOut {
        task: Some("red_on_blue"),
    });
    let got = lib.retrieve(&q, 19);
    assert!(!got.is_empty());
    assert!(got.iter().all(|r| r.skill.id != "red_on_blue"));
    // Without a task name, a skill with the same instruction is left out too.
    let mut lib2 = Library::empty();
    lib2.skills.push(skill(
        "mine",
        "Put the red block on the blue plate!",
        "home();",
    ));
    q.leave_out = Some(LeaveOut { task: None });
    assert!(lib2.retrieve(&q, 3).is_empty());
}

#[test]
fn skills_are_added_read_back_deduplicated_and_removed() {
    let dir = tmp("roundtrip");
    let lib = Library::open(&dir).unwrap();
    let n = lib.skills().len();
    let program =
        "fn put(o, t) {\n    pick(o);\n    place_on(o, t);\n}\nput(\"red_block\", \"red_bowl\");";
    let s = skill(
        &id_for("put the red block away", program),
        "put the red block away",
        program,
    );
    assert!(valid_id(&s.id), "{}", s.id);
    let Added::New(path) = lib.add(&dir, &s).unwrap() else {
        panic!("not new")
    };
    assert_eq!(
        read_skill(&path).unwrap(),
        s,
        "a skill reads back as written"
    );
    let lib = Library::open(&dir).unwrap();
    assert_eq!(lib.skills().len(), n + 1);
    // The same program for the same instruction, laid out differently: known.
    let again = Skill {
        id: "other".into(),
        program: program.replace('\n', " "),
        ..s.clone()
    };
    assert_eq!(lib.add(&dir, &again).unwrap(), Added::Known(s.id.clone()));
    assert!(matches!(
        lib.remove(&dir, "red_on_blue"),
        Err(SkillError::Shipped { .. })
    ));
    assert!(matches!(
        lib.remove(&dir, "../etc"),
        Err(SkillError::BadId { .. })
    ));
    assert!(matches!(
        lib.remove(&dir, "nope"),
        Err(SkillError::Unknown { .. })
    ));
    assert_eq!(lib.remove(&dir, &s.id).unwrap(), path);
    assert_eq!(Library::open(&dir).unwrap().skills().len(), n);
}

#[test]
fn a_broken_skill_file_names_itself_and_its_line() {
    let dir = tmp("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.toml"),
        "id = \"bad\"\ninstruction = \"x\"\nkinds = 3\n",
    )
    .unwrap();
    let e = Library::open(&dir).unwrap_err().to_string();
    assert!(e.contains("bad.toml:3"), "{e}");
    std::fs::write(
        dir.join("bad.toml"),
        toml::to_string(&skill("notbad", "x", "home();")).unwrap(),
    )
    .unwrap();
    let e = Library::open(&dir).unwrap_err().to_string();
    assert!(e.contains("differs from the file's name"), "{e}");
}

#[test]
fn helpers_recurring_in_verified_programs_become_library_functions() {
    let helper = "fn put_in(o, t) {\n    pick(o);\n    place_on(o, t);\n}";
    let mut lib = Library::empty();
    lib.skills
        .push(skill("a", "x", &format!("{helper}\nput_in(\"a\", \"b\");")));
    assert!(
        lib.functions().is_empty(),
        "one program is not a recurrence"
    );
    lib.skills.push(skill(
        "b",
        "y",
        &format!("{}\nput_in(\"c\", \"d\");", helper.replace("\n    ", " ")),
    ));
    let f = lib.functions();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].signature(), "put_in(o, t)");
    let text = examples_text(&[&lib.skills[0]], &f);
    assert!(
        text.starts_with("Instruction: x\n```rhai\nfn put_in"),
        "{text}"
    );
    assert!(text.contains("Library functions"), "{text}");
    // The same name with another body is ambiguous: not promoted.
    lib.skills.push(skill(
        "c",
        "z",
        "fn put_in(o, t) { pick(o); }\nput_in(\"a\", \"b\");",
    ));
    assert!(lib.functions().is_empty());
}

#[test]
fn ids_are_stable_and_file_safe() {
    let a = id_for(
        "Put the RED block on the blue plate, please!",
        "pick(\"a\");",
    );
    assert_eq!(
        a,
        id_for(
            "Put the RED block on the blue plate, please!",
            "pick(\"a\");  "
        )
    );
    assert!(
        a.starts_with("put_the_red_block_on_the_blue_plate_please-"),
        "{a}"
    );
    assert!(valid_id(&a));
    assert_ne!(
        a,
        id_for(
            "Put the RED block on the blue plate, please!",
            "pick(\"b\");"
        )
    );
    assert!(valid_id(&id_for("!!!", "")));
}
