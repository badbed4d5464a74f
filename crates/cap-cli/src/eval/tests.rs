//! The pure parts of `cap eval`: the Wilson interval, `--shard` parsing, `--record`
//! selection and a task recording's report.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 5e-4
}

#[test]
fn wilson_matches_published_intervals() {
    assert_eq!(wilson(0, 0), (0.0, 1.0));
    // 95% Wilson score intervals (z = 1.96).
    let (lo, hi) = wilson(5, 10);
    assert!(close(lo, 0.2366) && close(hi, 0.7634), "{lo} {hi}");
    let (lo, hi) = wilson(10, 10);
    assert!(close(lo, 0.7225) && hi == 1.0, "{lo} {hi}");
    let (lo, hi) = wilson(0, 10);
    assert!(lo == 0.0 && close(hi, 0.2775), "{lo} {hi}");
    let (lo, hi) = wilson(81, 100);
    assert!(close(lo, 0.7222) && close(hi, 0.8749), "{lo} {hi}");
}

#[test]
fn shards_are_i_of_n_with_i_below_n() {
    assert_eq!(parse_shard("0/2").unwrap(), (0, 2));
    assert_eq!(parse_shard(" 1 / 3 ").unwrap(), (1, 3));
    for bad in ["2/2", "0/0", "a/2", "1", "1/b", "-1/2", ""] {
        let e = parse_shard(bad).unwrap_err();
        assert!(e.to_string().contains("--shard"), "{bad}: {e}");
    }
}

#[test]
fn record_selects_all_a_task_or_one_seed() {
    let sel = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(selects(&sel(&["all"]), "red_on_blue", 3));
    assert!(selects(&sel(&["red_on_blue"]), "red_on_blue", 7));
    assert!(selects(&sel(&["red_on_blue:3"]), "red_on_blue", 3));
    assert!(!selects(&sel(&["red_on_blue:3"]), "red_on_blue", 4));
    assert!(!selects(&sel(&["stack_three"]), "red_on_blue", 3));
    assert!(!selects(&sel(&[]), "red_on_blue", 3));
    assert!(!selects(&sel(&["red_on"]), "red_on_blue", 3));
}

#[test]
fn a_task_report_has_a_row_and_a_json_line_per_episode() {
    let r = |seed, success, class: Option<&str>| Result1 {
        scene: "tabletop".into(),
        task: "red_on_blue".into(),
        seed,
        success,
        failure_class: class.map(str::to_owned),
        failure_kind: class.map(|_| "collision".to_owned()),
        line: class.map(|_| 5),
        attempts: 1,
        tokens_in: 0,
        tokens_out: 0,
        sim_time_s: 6.5,
        wall_s: 0.1,
    };
    let md = task_report(&[r(0, true, None), r(1, false, Some("motion"))]);
    assert!(md.contains("| 0 | yes |  |  | 1 | 6.50 |"), "{md}");
    assert!(
        md.contains("| 1 | no | motion: collision | 5 | 1 | 6.50 |"),
        "{md}"
    );
    let json: Vec<&str> = md.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(json.len(), 2, "{md}");
    let back: Result1 = serde_json::from_str(json[1]).unwrap();
    assert_eq!((back.seed, back.success), (1, false));
}
