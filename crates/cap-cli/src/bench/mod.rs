//! `cap bench`: physics steps/s, pick-and-place episode wall time and IK µs/solve,
//! min/median/max over repetitions, on one core.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cap_core::scene::{Scene, TaskSpec};
use cap_script::run::{run_episode, EpisodeOptions};
use cap_sim::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

mod ik;

const PICK_PLACE: &str = r#"
pick("red_block");
place_on("red_block", "blue_plate");
"#;

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_owned());
    pb
}

/// Run the benchmarks and print the figures.
pub fn run(scene_path: &Path, reps: usize, compare: Option<&Path>) -> Result<()> {
    let reps = reps.max(3);
    let scene = Arc::new(Scene::load(scene_path)?);
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; build with --release for meaningful figures");
    }

    // Physics: idle world (objects resting, may sleep) and the arm sweeping.
    let steps = 4000;
    let mut idle = Vec::new();
    let mut moving = Vec::new();
    let pb = bar(reps, "physics steps/s");
    for _ in 0..reps {
        let mut w = World::new(Arc::clone(&scene), 0).context("building world")?;
        let t = Instant::now();
        for _ in 0..steps {
            w.step_physics();
        }
        idle.push(steps as f64 / t.elapsed().as_secs_f64());
        // Active: steps taken during a pick-and-place, timed with planning excluded.
        let mut w = World::new(Arc::clone(&scene), 0).context("building world")?;
        let s0 = w.steps();
        let t = Instant::now();
        w.pick("red_block")
            .map_err(|f| anyhow::anyhow!("bench pick failed: {f}"))?;
        w.place_on("red_block", "blue_plate")
            .map_err(|f| anyhow::anyhow!("bench place failed: {f}"))?;
        moving.push((w.steps() - s0) as f64 / t.elapsed().as_secs_f64());
        pb.inc(1);
    }
    pb.finish_and_clear();

    // One episode end to end: world build, script check, execution, predicate.
    let task = scene.task("red_on_blue").cloned();
    let mut episode = Vec::new();
    let mut direct = Vec::new();
    let mut recorded = Vec::new();
    let mut rrd_bytes = 0u64;
    let rrd = std::env::temp_dir().join(format!("cap-bench-{}.rrd", std::process::id()));
    let mut episode_steps = 0;
    let pb = bar(reps, "pick-and-place episodes");
    for rep in 0..reps {
        let t = Instant::now();
        let w = World::new(Arc::clone(&scene), rep as u64).context("building world")?;
        let e = run_episode(w, PICK_PLACE, task.as_ref(), &EpisodeOptions::default());
        episode.push(t.elapsed().as_secs_f64() * 1e3);
        episode_steps = e.world.steps();
        // The same actions called directly from Rust, interleaved so both see the same
        // machine: what the script layer adds (engine, static check, interpretation,
        // trace recording, predicate) is the difference.
        // On a fresh thread, like the episode's interpreter thread: the allocator
        // arena matters at this scale (rapier allocates every step).
        let t = Instant::now();
        let scene_ref = &scene;
        std::thread::scope(|s| {
            s.spawn(move || -> Result<()> {
                let mut w =
                    World::new(Arc::clone(scene_ref), rep as u64).context("building world")?;
                w.pick("red_block")
                    .map_err(|f| anyhow::anyhow!("bench pick failed: {f}"))?;
                w.place_on("red_block", "blue_plate")
                    .map_err(|f| anyhow::anyhow!("bench place failed: {f}"))?;
                w.settle(0.5);
                std::hint::black_box(w.is_on("red_block", "blue_plate").ok());
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("bench thread panicked")))
        })?;
        direct.push(t.elapsed().as_secs_f64() * 1e3);
        // The same episode recorded for rerun into a file at the default detail level
        // (poses at 20 Hz of sim time, meshes, trace, program), flush included.
        recorded.push(recorded_ms(
            &rrd,
            "cap bench",
            cap_viz::SAMPLE_BATCH,
            |opts| {
                let w = World::new(Arc::clone(&scene), rep as u64).context("building world")?;
                std::hint::black_box(run_episode(w, PICK_PLACE, task.as_ref(), opts).success);
                Ok(())
            },
        )?);
        rrd_bytes = std::fs::metadata(&rrd).map(|m| m.len()).unwrap_or(0);
        if task.is_some() && e.success != Some(true) {
            anyhow::bail!(
                "bench episode failed on seed {rep}: {:?}",
                e.primary_failure()
            );
        }
        pb.inc(1);
    }
    pb.finish_and_clear();

    // A batch of 20 episodes (seeds 0-19) on all cores.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut batch = Vec::new();
    for _ in 0..reps {
        batch.push(20.0 / batch20(&scene, task.as_ref(), cores, &EpisodeOptions::default()));
    }

    // IK: the tabletop targets, and poses reachable by construction.
    let w = World::new(Arc::clone(&scene), 0)?;
    let panda = cap_core::kinematics::Panda::new(w.kinematics().world_from_base());
    let ik_figures = ik::measure(&panda, reps);

    // Rendering: RGB + depth + segmentation of the scene's first camera, arm mid-motion.
    let mut w = World::new(Arc::clone(&scene), 0).context("building world")?;
    // Mid-motion: the tool over the middle of the arm's reach band, low (the built-in
    // Panda's point is the one this figure has always been measured at).
    let target = if w.robot().is_builtin() {
        w.tcp().translation.vector + cap_core::nalgebra::Vector3::new(0.1, 0.1, -0.2)
    } else {
        let r = w.reach();
        let mid = 0.5 * (r.min_radius_m + r.max_radius_m);
        cap_core::nalgebra::Vector3::new(
            r.base_xy_m[0] + mid * 0.9,
            r.base_xy_m[1] + mid * 0.3,
            0.5 * r.top_z_m,
        )
    };
    w.move_to(cap_core::nalgebra::Point3::from(target))
        .map_err(|f| anyhow::anyhow!("bench move failed: {f}"))?;
    let cam = scene
        .cameras
        .first()
        .cloned()
        .context("scene has no camera")?;
    let mut render = Vec::new();
    let frames_per_rep = 20;
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..frames_per_rep {
            std::hint::black_box(w.render(&cam));
        }
        render.push(t.elapsed().as_secs_f64() * 1e3 / frames_per_rep as f64);
    }

    // Inspection: the vision model judging a statement on that frame (image resize,
    // query encoding, ONNX Runtime on one thread).
    let frame = w.render(&cam);
    let inspection = match cap_vision::VisionInspector::embedded() {
        Ok(v) => {
            let statements = [
                "the red block is on the blue plate",
                "the gripper is empty",
                "the green block is left of the blue block",
                "the red block is visible",
            ];
            let (fw, fh) = (frame.width as usize, frame.height as usize);
            let mut t = Vec::new();
            for _ in 0..reps {
                let start = Instant::now();
                for s in statements {
                    std::hint::black_box(v.judge_image(&frame.rgb, fw, fh, s, Some(&scene)));
                }
                t.push(start.elapsed().as_secs_f64() * 1e3 / statements.len() as f64);
            }
            Ok(stats(t))
        }
        Err(e) => Err(e.to_string()),
    };

    let idle_med = stats(idle.clone()).1;
    let episode_med = stats(episode.clone()).1;
    let render_med = stats(render.clone()).1;
    let batch_med = stats(batch.clone()).1;
    let (a, b, c) = stats(idle);
    println!(
        "scene: {} ({} objects), dt = 1/240 s, one core, {reps} repetitions",
        scene.name,
        scene.objects.len()
    );
    println!("physics steps/s (idle)          min {a:>9.0}  median {b:>9.0}  max {c:>9.0}");
    let (a, b, c) = stats(moving);
    println!("physics steps/s (arm moving)*   min {a:>9.0}  median {b:>9.0}  max {c:>9.0}");
    let (a, b, c) = stats(episode.clone());
    println!("pick-and-place episode (ms)     min {a:>9.2}  median {b:>9.2}  max {c:>9.2}   ({episode_steps} steps)");
    // Minima: the least disturbed runs of each (this VM's noise swamps medians).
    let (direct_min, _, _) = stats(direct.clone());
    let (episode_min, _, _) = stats(episode.clone());
    let (a, b, c) = stats(direct);
    println!("same actions without the script (ms) min {a:>9.2}  median {b:>9.2}  max {c:>9.2}   (script layer {:+.1}% of an episode, from the minima)", 100.0 * (episode_min - direct_min) / episode_min);
    // A run of several episodes into one recording (what `cap run` and a multi-seed
    // session write): the file, meshes and footer are paid once.
    let run_len = reps.clamp(5, 20);
    let (mut run_plain, mut run_recorded) = (Vec::new(), Vec::new());
    // Interleaved rounds, plain then recorded (this VM's speed drifts: the paired
    // differences are what it moves least).
    let rounds = 7;
    let pb = bar(rounds, "runs of episodes");
    for _ in 0..rounds {
        let t = Instant::now();
        for rep in 0..run_len {
            let w = World::new(Arc::clone(&scene), rep as u64).context("building world")?;
            std::hint::black_box(
                run_episode(w, PICK_PLACE, task.as_ref(), &EpisodeOptions::default()).success,
            );
        }
        run_plain.push(t.elapsed().as_secs_f64() * 1e3);
        run_recorded.push(recorded_ms(
            &rrd,
            "cap bench run",
            cap_viz::SAMPLE_BATCH,
            |opts| {
                for rep in 0..run_len {
                    let w = World::new(Arc::clone(&scene), rep as u64).context("building world")?;
                    std::hint::black_box(run_episode(w, PICK_PLACE, task.as_ref(), opts).success);
                }
                Ok(())
            },
        )?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let (recorded_min, _, _) = stats(recorded.clone());
    let (_, episode_paired, _) = stats(episode.iter().zip(&recorded).map(|(p, r)| r - p).collect());
    let (a, b, c) = stats(recorded);
    println!("episode recorded for rerun (ms) min {a:>9.2}  median {b:>9.2}  max {c:>9.2}   (recording {:+.1}% of an episode from the minima, {:+.1}% from the median of paired differences; {:.0} KiB .rrd)", 100.0 * (recorded_min - episode_min) / episode_min, 100.0 * episode_paired / episode_med, rrd_bytes as f64 / 1024.0);
    print_paired(
        &format!("run of {run_len} episodes, one recording (ms)"),
        run_plain,
        run_recorded,
    );
    // The same batch of 20 on all cores, recorded into one recording as `cap eval
    // --record all` records a task: no spare core for rerun's encoding, so what it
    // costs is CPU time taken from the episodes.
    let (mut batch_plain, mut batch_recorded) = (Vec::new(), Vec::new());
    let pb = bar(rounds, "batches of 20, recorded or not");
    for _ in 0..rounds {
        batch_plain.push(batch20(&scene, task.as_ref(), cores, &EpisodeOptions::default()) * 1e3);
        batch_recorded.push(recorded_ms(&rrd, "cap bench batch", usize::MAX, |opts| {
            batch20(&scene, task.as_ref(), cores, opts);
            Ok(())
        })?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    print_paired(
        &format!("batch of 20 on {cores} cores, one recording (ms)"),
        batch_plain,
        batch_recorded,
    );
    let _ = std::fs::remove_file(&rrd);
    exec_commands(scene_path, task.is_some(), reps)?;
    let (a, b, c) = stats(batch);
    println!("episodes/s, batch of 20, {cores} cores  min {a:>9.1}  median {b:>9.1}  max {c:>9.1}");
    ik_figures.print();
    let (a, b, c) = stats(render);
    println!(
        "render {}x{} RGB+depth+seg (ms)  min {a:>9.3}  median {b:>9.3}  max {c:>9.3}   ({} triangles)",
        cam.width,
        cam.height,
        w.render_model().triangle_count()
    );
    match inspection {
        Ok((a, b, c)) => {
            println!("inspection, vision model (ms)   min {a:>9.3}  median {b:>9.3}  max {c:>9.3}")
        }
        Err(e) => println!("inspection, vision model: unavailable ({e})"),
    }
    println!("* includes motion planning and collision checking");
    if let Some(python) = compare {
        compare_pybullet(python, reps, idle_med, episode_med, render_med, batch_med)?;
    }
    Ok(())
}

/// Run the PyBullet version of the same task and print the ratios.
fn compare_pybullet(
    python: &Path,
    reps: usize,
    idle: f64,
    episode_ms: f64,
    render_ms: f64,
    batch: f64,
) -> Result<()> {
    let script = Path::new("bench/compare/pybullet_pickplace.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(["--reps", &reps.to_string()])
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("no JSON from the PyBullet script")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let f = |k: &str| {
        v[k].as_f64()
            .with_context(|| format!("PyBullet result has no {k}"))
    };
    let (pi, pe, pr, pb) = (
        f("idle_steps_per_s")?,
        f("episode_ms")?,
        f("render_ms")?,
        f("batch20_episodes_per_s")?,
    );
    println!();
    println!(
        "PyBullet {} (same task, medians; episode success {})",
        v["pybullet"], v["episode_success"]
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}   target",
        "", "cap", "PyBullet", "ratio"
    );
    println!(
        "{:<34} {:>12.0} {:>12.0} {:>9.1}x   >= 3x",
        "physics steps/s (idle)",
        idle,
        pi,
        idle / pi
    );
    println!(
        "{:<34} {:>12.2} {:>12.2} {:>9.3}   <= 0.100",
        "pick-and-place episode (ms)",
        episode_ms,
        pe,
        episode_ms / pe
    );
    println!(
        "{:<34} {:>12.2} {:>12.2} {:>9.3}   <= 0.111",
        "224x224 frame (ms)",
        render_ms,
        pr,
        render_ms / pr
    );
    println!(
        "{:<34} {:>12.1} {:>12.1} {:>9.1}x   >= 20x",
        "episodes/s, batch of 20",
        batch,
        pb,
        batch / pb
    );
    Ok(())
}

/// Whole `cap exec` commands (process start, scene, episode, report, checkpoint
/// Milliseconds to run `work` with its episodes recorded into `rrd` (a recording named
/// `name`, `batch` samples per batch), closing the recording included.
fn recorded_ms(
    rrd: &Path,
    name: &str,
    batch: usize,
    work: impl FnOnce(&EpisodeOptions) -> Result<()>,
) -> Result<f64> {
    let t = Instant::now();
    let rec = cap_viz::Recorder::new(name, &[cap_viz::Sink::Save(rrd.to_path_buf())])?;
    rec.set_sample_batch(batch);
    let opts = EpisodeOptions {
        recorder: Some(cap_viz::EpisodeLog::new(Arc::clone(&rec), None)),
        ..EpisodeOptions::default()
    };
    work(&opts)?;
    rec.finish()?;
    drop(opts);
    drop(rec);
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// One line of plain against recorded times (ms) from interleaved rounds: minima,
/// medians, and what recording costs from the minima and from the median of the
/// paired differences.
fn print_paired(what: &str, plain: Vec<f64>, recorded: Vec<f64>) {
    let rounds = plain.len();
    let (_, paired, _) = stats(plain.iter().zip(&recorded).map(|(p, r)| r - p).collect());
    let (plain_min, plain_med, _) = stats(plain);
    let (rec_min, rec_med, _) = stats(recorded);
    println!("{what}  plain min {plain_min:>7.1} median {plain_med:>7.1}  recorded min {rec_min:>7.1} median {rec_med:>7.1}   (recording {:+.1}% from the minima, {:+.1}% from the median of paired differences; {rounds} interleaved rounds)", 100.0 * (rec_min - plain_min) / plain_min, 100.0 * paired / plain_med);
}

/// Seconds to run seeds 0-19 of pick-and-place on `workers` threads with `opts`.
fn batch20(
    scene: &Arc<Scene>,
    task: Option<&TaskSpec>,
    workers: usize,
    opts: &EpisodeOptions,
) -> f64 {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= 20 {
                    break;
                }
                if let Ok(w) = World::new(Arc::clone(scene), i as u64) {
                    std::hint::black_box(run_episode(w, PICK_PLACE, task, opts).success);
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

/// frames), plain and recorded into an `.rrd` file, interleaved: what recording costs a
/// user's run, rerun's per-file costs (start, footer) included.
fn exec_commands(scene_path: &Path, has_task: bool, reps: usize) -> Result<()> {
    let exe = std::env::current_exe().context("finding the cap binary")?;
    let dir = std::env::temp_dir().join(format!("cap-bench-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let program = dir.join("pick_place.rhai");
    std::fs::write(&program, PICK_PLACE)
        .with_context(|| format!("writing {}", program.display()))?;
    let rrd = dir.join("exec.rrd");
    let (mut plain, mut recorded) = (Vec::new(), Vec::new());
    let pb = bar(reps, "cap exec commands");
    for rep in 0..reps {
        for record in [false, true] {
            let mut cmd = std::process::Command::new(&exe);
            cmd.arg("exec")
                .arg(scene_path)
                .arg(&program)
                .args(["--inspector", "geometric", "--seed", &rep.to_string()])
                .arg("--out")
                .arg(dir.join("out"));
            if has_task {
                cmd.args(["--task", "red_on_blue"]);
            }
            if record {
                cmd.arg("--save").arg(&rrd);
            }
            let t = Instant::now();
            let o = cmd.output().context("running cap exec")?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            anyhow::ensure!(
                o.status.success(),
                "bench cap exec failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            if record {
                recorded.push(ms);
            } else {
                plain.push(ms);
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);
    // Each recorded command ran right after a plain one: the median of those paired
    // differences is the figure least moved by a machine whose speed drifts.
    let (_, paired_med, _) = stats(plain.iter().zip(&recorded).map(|(p, r)| r - p).collect());
    let (plain_min, plain_med, _) = stats(plain);
    let (rec_min, rec_med, _) = stats(recorded);
    println!("cap exec command (ms)           plain min {plain_min:>7.1} median {plain_med:>7.1}  recorded min {rec_min:>7.1} median {rec_med:>7.1}   (recording {:+.1}% from the minima, {:+.1}% from the medians, {:+.1}% from the median of paired differences)", 100.0 * (rec_min - plain_min) / plain_min, 100.0 * (rec_med - plain_med) / plain_med, 100.0 * paired_med / plain_med);
    Ok(())
}

/// Remove the warm prompt states in `dir` (a cold start for the benchmark).
fn remove_states(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        if e.path().extension().is_some_and(|x| x == "state") {
            std::fs::remove_file(e.path()).ok();
        }
    }
}

/// `cap bench --llm`: the embedded model on the real first prompt of the main job
/// (system prompt with the API, the shipped skills `cap run` retrieves as examples,
/// scene facts, instruction), greedy, a fresh model (empty KV cache) per repetition,
/// once free and once under the grammar.
pub fn llm(scene_path: &Path, model: &str, reps: usize) -> Result<()> {
    use cap_agent::prompt::{fill, scene_facts};
    use cap_llm::{ChatRequest, Message, Provider};
    let scene = Arc::new(Scene::load(scene_path)?);
    let world = World::new(Arc::clone(&scene), 0).context("building world")?;
    let prompts = cap_agent::Prompts::default();
    let instruction = scene
        .tasks
        .first()
        .map_or("put the red block on the blue plate".to_string(), |t| {
            t.instruction.clone()
        });
    // The examples `cap run` shows for an instruction: the shipped skills it retrieves
    // (the user's own library is left out, so the figure does not depend on it).
    let library = cap_agent::skills::Library::shipped();
    let examples = |instruction: &str| {
        crate::skills::examples_for(&library, &scene, instruction, None, crate::skills::EXAMPLES)
            .map_or_else(|| prompts.examples.clone(), |(text, _, _)| text)
    };
    let messages_for = |instruction: &str| {
        vec![
            Message::system(fill(
                &prompts.system,
                &[("api", &cap_script::reference::reference())],
            )),
            Message::user(fill(
                &prompts.task,
                &[
                    ("examples", &examples(instruction)),
                    ("scene", &scene_facts(&world)),
                    ("instruction", instruction),
                ],
            )),
        ]
    };
    let messages = messages_for(&instruction);
    // Another instruction on the same scene: only the system message is shared.
    let other = messages_for("put every block in the nearest bowl");
    let grammar = cap_agent::grammar::program_grammar(&scene);
    let (mut prompt_rate, mut free_rate, mut constrained_rate) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut cold_s, mut warm_s, mut other_s) = (Vec::new(), Vec::new(), Vec::new());
    let (mut prompt_tokens, mut tokens, mut redraws) = (0, 0, 0);
    let (mut from_disk, mut other_tokens, mut other_from_disk) = (0, 0, 0);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // Its own state directory, so the user's warm states are neither used nor removed.
    let state_dir =
        std::env::temp_dir().join(format!("cap-bench-llm-state-{}", std::process::id()));
    let p = crate::llm::load_local(Some(model), None, 4096, None)?
        .with_state_dir(Some(state_dir.clone()));
    let pb = bar(reps * 4, "embedded model replies");
    for rep in 0..reps.max(1) {
        // Cold: no warm state (this process's context dropped, the state files
        // removed); the reply saves them. Warm: a fresh context again, which now loads
        // them, as a second `cap run` does: the same request, then another instruction.
        for (constrained, warm, msgs) in [
            (false, false, &messages),
            (false, true, &messages),
            (false, true, &other),
            (true, true, &messages),
        ] {
            p.forget_context();
            if !warm {
                remove_states(&state_dir);
            }
            let req = ChatRequest {
                messages: msgs.clone(),
                temperature: 0.0,
                max_tokens: 160,
                sample: rep as u32,
                grammar: constrained.then(|| grammar.clone()),
                dry: None,
            };
            p.chat(&req)?;
            let st = p.last_stats();
            if std::ptr::eq(msgs, &other) {
                other_s.push(st.prompt_seconds);
                other_tokens = st.prompt_tokens;
                other_from_disk = st.prompt_from_disk;
                pb.inc(1);
                continue;
            }
            prompt_tokens = st.prompt_tokens;
            match (constrained, warm) {
                (false, false) => {
                    cold_s.push(st.prompt_seconds);
                    prompt_rate.push(st.prompt_rate());
                    free_rate.push(st.rate());
                    tokens = st.tokens;
                }
                (false, true) => {
                    warm_s.push(st.prompt_seconds);
                    from_disk = st.prompt_from_disk;
                }
                _ => {
                    constrained_rate.push(st.rate());
                    redraws = st.grammar_redraws;
                }
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    std::fs::remove_dir_all(&state_dir).ok();
    println!("embedded model {model}, {threads} threads, llama.cpp (llama-cpp-2), {reps} repetitions, first prompt of `{instruction}`");
    let (a, b, c) = stats(prompt_rate);
    println!("prompt tokens/s ({prompt_tokens} tokens)       min {a:>7.1}  median {b:>7.1}  max {c:>7.1}");
    let (a, b, c) = stats(cold_s);
    println!("prompt s, cold (no warm state)        min {a:>7.2}  median {b:>7.2}  max {c:>7.2}");
    let (a, b, c) = stats(warm_s);
    println!("prompt s, warm, same request ({from_disk} of {prompt_tokens} tokens from disk)  min {a:>7.2}  median {b:>7.2}  max {c:>7.2}");
    let (a, b, c) = stats(other_s);
    println!("prompt s, warm, another instruction ({other_from_disk} of {other_tokens} from disk)  min {a:>7.2}  median {b:>7.2}  max {c:>7.2}");
    let (a, b, c) = stats(free_rate);
    println!(
        "generation tokens/s, free ({tokens} tokens)  min {a:>7.1}  median {b:>7.1}  max {c:>7.1}"
    );
    let (a, b, c) = stats(constrained_rate);
    println!("generation tokens/s, grammar ({redraws} redraws) min {a:>7.1}  median {b:>7.1}  max {c:>7.1}");
    Ok(())
}
