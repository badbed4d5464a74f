//! `cap dataset`: domain-randomised labelled renders in the training distribution and
//! the held-out families, and `--eval`, which scores the vision model on them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;

use common::{cap, stderr, stdout, tmp};
use serde_json::Value;

fn generate(dir: &Path, family: &str, images: usize, seed: u64) {
    let o = cap(&[
        "dataset",
        "--out",
        dir.to_str().unwrap(),
        "--family",
        family,
        "--images",
        &images.to_string(),
        "--seed",
        &seed.to_string(),
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn each_family_holds_out_what_it_says_and_is_labelled_both_ways() {
    let base = tmp("dataset-families");
    for family in ["train", "ood-camera", "ood-size", "ood-table"] {
        let dir = base.join(family);
        generate(&dir, family, 30, 11);
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        assert_eq!(meta["family"], family);
        let n = meta["images"].as_u64().unwrap() as usize;
        assert!(n >= 28, "{family}: {n} images of 30");
        assert_eq!(
            std::fs::metadata(dir.join("images.u8")).unwrap().len() as usize,
            n * 112 * 112 * 3
        );
        let scenes = lines(&dir.join("scenes.jsonl"));
        assert_eq!(scenes.len(), n);
        for s in &scenes {
            let table = s["table_color"].as_str().unwrap();
            let held_table = table == "green" || table == "pink";
            assert_eq!(held_table, family == "ood-table", "{family}: {s}");
            let az = s["camera"]["azimuth_deg"].as_f64().unwrap().abs();
            assert_eq!(az >= 48.0, family == "ood-camera", "{family}: azimuth {az}");
            for o in s["objects"].as_array().unwrap() {
                let name = o[0].as_str().unwrap();
                let d = o[1][0].as_f64().unwrap();
                let band = if name.ends_with("bowl") {
                    (0.17, 0.20)
                } else if name.ends_with("plate") {
                    (0.18, 0.21)
                } else {
                    (0.050, 0.058)
                };
                // Sizes are written to 0.1 mm: allow that much at the band's edges.
                if family == "ood-size" {
                    assert!(d >= band.0 - 1e-4 && d <= band.1 + 1e-4, "{name} is {d} m");
                } else {
                    assert!(
                        !(d > band.0 + 1e-4 && d < band.1 - 1e-4),
                        "{family}: {name} is {d} m, in the held-out band"
                    );
                }
            }
        }
        // Every relation is labelled, and each relation has true and false statements.
        let samples = lines(&dir.join("samples.jsonl"));
        for rel in [
            "on",
            "in",
            "holding",
            "gripper_empty",
            "left_of",
            "right_of",
            "near",
            "visible",
        ] {
            for label in [true, false] {
                assert!(
                    samples
                        .iter()
                        .any(|s| s["relation"] == rel && s["label"] == label),
                    "{family}: no {rel} = {label}"
                );
            }
        }
        assert!(dir.join("preview/000_rgb.png").is_file());
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (a, b) = (tmp("dataset-det-a"), tmp("dataset-det-b"));
    generate(&a, "train", 6, 3);
    generate(&b, "train", 6, 3);
    for f in ["images.u8", "masks.u8", "samples.jsonl", "scenes.jsonl"] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

fn eval(dirs: &[&Path], model: Option<&str>, json: &Path) -> (String, Vec<Value>) {
    let mut args = vec!["dataset".to_owned(), "--eval".to_owned()];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap().to_owned()));
    args.extend(["--json".to_owned(), json.to_str().unwrap().to_owned()]);
    args.extend(["--threads".to_owned(), "2".to_owned()]);
    if let Some(m) = model {
        args.extend(["--vision-model".to_owned(), m.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cap(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let reports: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (stdout(&o), reports.as_array().unwrap().clone())
}

#[test]
fn eval_scores_a_model_per_relation_and_writes_json() {
    let base = tmp("dataset-eval");
    let (id, ood) = (base.join("id"), base.join("ood"));
    generate(&id, "nominal", 40, 21);
    generate(&ood, "ood-camera", 20, 22);
    let (table, reports) = eval(&[&id, &ood], None, &base.join("eval.json"));
    assert!(table.contains("conf.wrong") && table.contains("family ood-camera"));
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1]["family"], "ood-camera");
    let id_report = &reports[0];
    let statements = lines(&id.join("samples.jsonl")).len() as u64;
    assert_eq!(id_report["all"]["statements"], statements);
    assert_eq!(
        id_report["unencodable"], 0,
        "the model knows every kind and colour"
    );
    let per = id_report["per_relation"].as_object().unwrap();
    assert_eq!(per.len(), 8);
    let sum: u64 = per
        .values()
        .map(|s| s["statements"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, statements);
    // The embedded model on fresh renders: it answers a part, rightly, with its
    // calibrated thresholds (its card: 35% answered, 98.8% of those right, on 1000
    // images). A model that always says cannot_tell, or guesses, fails here.
    let all = &id_report["all"];
    let f = |k: &str| all[k].as_f64().unwrap();
    assert!(f("answered") >= 0.2, "{all}");
    assert!(f("answered_accuracy") >= 0.93, "{all}");
    assert!(f("accuracy") >= 0.75, "{all}");
    assert!((0.0..=0.1).contains(&f("ece")), "{all}");

    // The model file in models/ is the embedded one: the same figures.
    let (_, file_reports) = eval(
        &[&id],
        Some("models/checkpoint_vlm.onnx"),
        &base.join("file.json"),
    );
    assert_eq!(file_reports[0]["all"], reports[0]["all"]);
}

#[test]
fn bad_input_names_the_file_and_line() {
    let dir = tmp("dataset-bad");
    generate(&dir, "train", 3, 5);
    let samples = dir.join("samples.jsonl");
    let mut text: Vec<String> = std::fs::read_to_string(&samples)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    text[2] = "{\"image\": 0, \"relation\": ".into();
    std::fs::write(&samples, text.join("\n")).unwrap();
    let o = cap(&["dataset", "--eval", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("samples.jsonl:3"), "{}", stderr(&o));

    let o = cap(&["dataset", "--eval", "/nonexistent/dataset"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("meta.json"), "{}", stderr(&o));

    let o = cap(&["dataset", "--out", "/tmp/x", "--family", "ood-moon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ood-camera"), "{}", stderr(&o));

    // A model whose card does not match it is refused before anything is read.
    let model = dir.join("m.onnx");
    std::fs::write(&model, b"not onnx").unwrap();
    std::fs::write(dir.join("m.json"), crate_card()).unwrap();
    let o = cap(&[
        "dataset",
        "--eval",
        dir.to_str().unwrap(),
        "--vision-model",
        model.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sha256"), "{}", stderr(&o));
}

fn crate_card() -> String {
    std::fs::read_to_string(common::root().join("models/checkpoint_vlm.json")).unwrap()
}
