//! The embedded vision model through ONNX Runtime (needs `bash setup.sh` to have
//! fetched the library): it agrees with the simulator on fresh renders it never saw,
//! and refuses what it does not know.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeMap;

use cap_core::trace::Answer;
use cap_vision::dataset::generate_one;
use cap_vision::VisionInspector;

fn model() -> VisionInspector {
    VisionInspector::embedded().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn agrees_with_the_simulator_on_unseen_scenes() {
    let v = model();
    // A seed stream disjoint from training (1) and the card's held-out split (1000003).
    let mut per: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for i in 0..60 {
        let g = generate_one(77_000_001, i).unwrap();
        let f = g.frame.as_ref().unwrap();
        for (st, label) in &g.samples {
            let q = v.encode(st, None).unwrap();
            let p = v
                .probability(&f.rgb, f.width as usize, f.height as usize, &q)
                .unwrap();
            let e = per.entry(st.relation.label()).or_default();
            e.0 += u32::from((p > 0.5) == *label);
            e.1 += 1;
        }
    }
    let (ok, n) = per.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let acc = f64::from(ok) / f64::from(n);
    eprintln!("{per:?} overall {acc:.3} over {n}");
    assert!(n > 500);
    assert!(acc >= 0.9, "overall accuracy {acc:.3}: {per:?}");
}

#[test]
fn unknown_vocabulary_and_bad_images_cannot_be_told() {
    let v = model();
    let img = vec![128u8; 224 * 224 * 3];
    for s in [
        "the white block is on the table",
        "the red block is upright",
        "the red ball is visible",
        "the red block is singing",
        "the bowl is on the table",
    ] {
        let verdict = v.judge_image(&img, 224, 224, s, None);
        assert_eq!(verdict.answer, Answer::CannotTell, "{s}: {verdict:?}");
        assert_eq!(verdict.confidence, 0.0, "{s}");
    }
    let verdict = v.judge_image(&img[..100], 224, 224, "the red block is visible", None);
    assert_eq!(verdict.answer, Answer::CannotTell);
}

#[test]
fn negation_flips_the_answer_and_confidence_is_kept() {
    let v = model();
    let g = generate_one(77_000_002, 0).unwrap();
    let f = g.frame.unwrap();
    let (w, h) = (f.width as usize, f.height as usize);
    let a = v.judge_image(&f.rgb, w, h, "the gripper is empty", None);
    let b = v.judge_image(&f.rgb, w, h, "the gripper is not empty", None);
    assert!((a.confidence - b.confidence).abs() < 1e-12);
    assert_eq!(a.answer.negate(), b.answer);
}
