//! Recordings read back: what each entity holds, when.

use super::*;
use cap_core::scene::Scene;
use cap_script::run::{run_episode, EpisodeOptions};
use rerun::log::{Chunk, LogMsg};
use std::collections::BTreeMap;

const PICK_PLACE: &str = "pick(\"red_block\");\nplace_on(\"red_block\", \"blue_plate\");\n";

/// What a recording holds: the steps (on the `step` timeline) of the rows logged
/// per entity (`/world/...`) and per frame of [`POSES`] (`frame:world/...`), checking
/// that `sim_time` agrees with `step` on every row; and the static frame of each
/// entity that has one.
struct Logged {
    rows: BTreeMap<String, Vec<i64>>,
    frames: BTreeMap<String, String>,
}

fn logged(msgs: Vec<LogMsg>) -> Logged {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut frames = BTreeMap::new();
    for m in msgs {
        let LogMsg::ArrowMsg(_, arrow) = m else {
            continue;
        };
        let chunk = Chunk::from_arrow_msg(&arrow).unwrap();
        let entity = chunk.entity_path().to_string();
        for frame in chunk.iter_slices::<String>("CoordinateFrame:frame".into()) {
            frames.insert(entity.clone(), frame[0].to_string());
        }
        let timelines = chunk.timelines();
        let Some(step) = timelines.get(&"step".into()) else {
            continue;
        };
        let time = timelines.get(&"sim_time".into()).unwrap();
        for (s, t) in step.times_raw().iter().zip(time.times_raw()) {
            let expect = (*s as f64 * cap_sim::world::DT_S * 1e9).round() as i64;
            assert!(
                (t - expect).abs() <= 1,
                "{entity}: sim_time {t} ns at step {s}"
            );
        }
        if entity == format!("/{POSES}") {
            let children = chunk.iter_slices::<String>("Transform3D:child_frame".into());
            for (s, frame) in step.times_raw().iter().zip(children) {
                out.entry(format!("frame:{}", frame[0]))
                    .or_default()
                    .push(*s);
            }
        }
        out.entry(entity)
            .or_default()
            .extend_from_slice(step.times_raw());
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    Logged { rows: out, frames }
}

#[test]
fn episodes_play_in_turn_and_bodies_at_rest_are_logged_once_per_episode() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scene = Arc::new(Scene::load(root.join("scenes/tabletop.toml")).unwrap());
    let (stream, storage) = RecordingStreamBuilder::new("cap").memory().unwrap();
    let recorder = Recorder::from_stream(stream, DEFAULT_SAMPLE_EVERY).unwrap();
    let opts = EpisodeOptions {
        recorder: Some(EpisodeLog::new(Arc::clone(&recorder), None)),
        ..EpisodeOptions::default()
    };
    // Seeds 0, 0, 1: the second episode starts exactly as the first did; seed 1
    // places the objects a little differently.
    let mut ends = Vec::new();
    for seed in [0, 0, 1] {
        let w = World::new(Arc::clone(&scene), seed).unwrap();
        let e = run_episode(w, PICK_PLACE, None, &opts);
        assert!(e.abort.is_none(), "{:?}", e.abort);
        ends.push(e.world.steps() as i64);
    }
    recorder.finish().unwrap();
    let Logged { rows, frames } = logged(storage.take());

    // The first episode keeps its own steps; each next one starts a second after
    // the previous one ended.
    let starts = [0, ends[0] + 240, ends[0] + 240 + ends[1] + 240];
    let trace = &rows["/trace"];
    assert_eq!(trace[0], 0);
    for i in 0..3 {
        let inside = |s: &i64| (starts[i]..=starts[i] + ends[i]).contains(s);
        assert!(trace.contains(&starts[i]), "{trace:?}");
        assert!(trace.contains(&(starts[i] + ends[i])), "{trace:?}");
        if i > 0 {
            let gap = starts[i - 1] + ends[i - 1] + 1..starts[i];
            assert!(!trace.iter().any(|s| gap.contains(s)), "{trace:?}");
        }
        assert!(trace.iter().filter(|s| inside(s)).count() >= 4);
    }
    assert_eq!(*trace.last().unwrap(), starts[2] + ends[2]);
    assert_eq!(rows["/program"], starts.to_vec());

    // Every moving body's mesh is in its own frame, placed by the poses.
    for body in ["world/objects/green_block", "world/robot/link3", TCP] {
        assert_eq!(frames[&format!("/{body}")], body);
    }
    assert!(!frames.contains_key("/world/table"));
    // Poses are one chunk per batch at POSES, not rows of the bodies' entities.
    assert!(!rows.contains_key("/world/robot/link3"));
    // A block nobody touches is logged once per episode, at its start (each
    // episode is whole on its own, whatever ran before it).
    assert_eq!(rows["frame:world/objects/green_block"], starts.to_vec());
    // The arm moves in every episode and goes back home for the next one.
    let link = &rows["frame:world/robot/link3"];
    assert!(link.len() > 40, "{} samples of link3", link.len());
    assert!(link.contains(&starts[1]) && link.contains(&starts[2]));
    // Samples fall on the sampling grid of their episode (or its last step).
    let on_grid = |s: i64| {
        (0..3).any(|i| {
            let o = s - starts[i];
            (0..=ends[i]).contains(&o) && (o % DEFAULT_SAMPLE_EVERY as i64 == 0 || o == ends[i])
        })
    };
    assert!(link.iter().all(|&s| on_grid(s)), "{link:?}");
    // The table does not move at all: only its mesh, no poses.
    assert!(!rows.contains_key("frame:world/table"));
    assert!(rows["frame:world/robot/tcp"].len() > 40);
    for entity in [
        "/world/robot/gripper_opening",
        "/world/robot/planned_path",
        "/world/robot/tcp_path",
    ] {
        assert!(
            rows.contains_key(entity),
            "{entity} missing: {:?}",
            rows.keys()
        );
    }
}

#[test]
fn episodes_that_run_at_the_same_time_play_in_the_order_they_began() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scene = Arc::new(Scene::load(root.join("scenes/tabletop.toml")).unwrap());
    let (stream, storage) = RecordingStreamBuilder::new("cap").memory().unwrap();
    let recorder = Recorder::from_stream(stream, DEFAULT_SAMPLE_EVERY).unwrap();
    let log = EpisodeLog::new(Arc::clone(&recorder), None);
    let begin = |seed: u64| {
        let mut w = World::new(Arc::clone(&scene), seed).unwrap();
        let r = log
            .begin(&w, "settle();", &format!("seed {seed}"), 0)
            .unwrap();
        w.set_observer(r.observer());
        (w, r)
    };
    let run = |w: &mut World, steps: u64| {
        for _ in 0..steps {
            w.step_physics();
        }
    };
    // A begins, then B and C; B runs and ends first, then C, then A; a fourth
    // episode, D, is dropped without ending (a panicking episode).
    let (mut a, ra) = begin(0);
    let (mut b, rb) = begin(1);
    let (mut c, rc) = begin(2);
    run(&mut b, 500);
    rb.end(&b, &[]);
    run(&mut c, 100);
    rc.end(&c, &[]);
    run(&mut a, 300);
    let (mut d, rd) = begin(3);
    run(&mut d, 48);
    drop(rd);
    ra.end(&a, &[]);
    recorder.finish().unwrap();
    let Logged { rows, .. } = logged(storage.take());

    let gap = 240;
    let starts = [
        0,
        300 + gap,
        300 + gap + 500 + gap,
        300 + 500 + 100 + 3 * gap,
    ];
    let lens = [300, 500, 100, 48];
    assert_eq!(rows["/program"], starts.to_vec());
    // Every row of the poses and the gripper lies inside one episode.
    for entity in ["frame:world/robot/link3", "/world/robot/gripper_opening"] {
        for s in &rows[entity] {
            assert!(
                (0..4).any(|i| (starts[i]..=starts[i] + lens[i]).contains(s)),
                "{entity}: step {s} outside every episode {starts:?}"
            );
        }
    }
    // Each episode logs its bodies at its start and the path of its TCP at its end
    // (the one dropped has no end).
    let block = &rows["frame:world/objects/green_block"];
    assert!(starts.iter().all(|s| block.contains(s)), "{block:?}");
    assert_eq!(
        rows["/world/robot/tcp_path"],
        vec![starts[0] + 300, starts[1] + 500, starts[2] + 100]
    );
}

#[test]
fn a_stream_that_cannot_be_opened_is_reported_by_finish() {
    let r = Recorder::spawn(
        Box::new(|| {
            Err(VizError::Start {
                sink: "Save(\"run.rrd\")".into(),
                message: "disk full".into(),
            })
        }),
        DEFAULT_SAMPLE_EVERY,
    )
    .unwrap();
    r.log_report("{}");
    let e = r.finish().unwrap_err().to_string();
    assert!(e.contains("run.rrd") && e.contains("disk full"), "{e}");
    assert!(r.finish().is_err());
}

#[test]
fn planned_paths_are_thinned_to_their_shape() {
    let path: Vec<Joints> = (0..1000).map(|i| [f64::from(i); 7]).collect();
    let d = decimate(&path, PLAN_POINTS);
    assert_eq!(d.len(), PLAN_POINTS);
    assert_eq!(d[0], path[0]);
    assert_eq!(d[PLAN_POINTS - 1], path[999]);
    assert!(d.windows(2).all(|w| w[1][0] > w[0][0]));
    assert_eq!(decimate(&path[..10], PLAN_POINTS).len(), 10);
}
