//! `cap`: the command-line front end.
//!
//! Exit codes: 0 success; 1 the program ran but the task failed (including sandbox
//! aborts and motion failures); 2 bad input (scene, program, arguments) — always with
//! a one-line reason on stderr.

mod bench;
mod eval;
mod llm;
mod record;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cap_core::scene::Scene;
use cap_core::vocabulary::sha256_hex;
use cap_script::run::{check_predicate, run_episode, EpisodeOptions};
use cap_sim::prelude::*;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "cap",
    version,
    about = "Code as policies: run rhai policy programs on a simulated tabletop arm"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check scene files strictly (unknown keys, NaN, overlaps, task predicates).
    Validate {
        /// Scene files.
        #[arg(required = true)]
        scenes: Vec<PathBuf>,
    },
    /// Run one policy program on a scene and report what happened.
    Exec {
        /// The scene (TOML).
        scene: PathBuf,
        /// The policy program (rhai).
        program: PathBuf,
        /// Task whose success predicate decides the exit code.
        #[arg(long)]
        task: Option<String>,
        /// Randomisation seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output directory for report.json and trace.jsonl.
        #[arg(long, default_value = "runs/last")]
        out: PathBuf,
        #[command(flatten)]
        inspect: InspectArgs,
        #[command(flatten)]
        record: record::RecordArgs,
    },
    /// Print the script API reference (the text a model is shown).
    Api,
    /// Ask a language model for a program, run it, explain failures, repair, repeat.
    Run(run::Args),
    /// Evaluate a suite (tasks x seeds x policy source); `cap eval merge` joins shards.
    #[command(args_conflicts_with_subcommands = true)]
    Eval {
        #[command(subcommand)]
        action: Option<EvalAction>,
        #[command(flatten)]
        args: eval::Args,
    },
    /// Judge one statement on one image with the vision model (or a remote one).
    Inspect {
        /// An RGB or RGBA PNG (a checkpoint frame, a camera image).
        image: PathBuf,
        /// The statement, e.g. "the red block is on the blue plate".
        statement: String,
        /// A scene whose objects resolve descriptions without a colour ("the bowl").
        #[arg(long)]
        scene: Option<PathBuf>,
        #[command(flatten)]
        inspect: InspectArgs,
    },
    /// Render the scene's cameras (RGB, depth, segmentation PNGs) after settling.
    Render {
        /// The scene (TOML).
        scene: PathBuf,
        /// Randomisation seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Only this camera (default: all of the scene's cameras).
        #[arg(long)]
        camera: Option<String>,
        /// Output directory.
        #[arg(long, default_value = "runs/render")]
        out: PathBuf,
    },
    /// Generate labelled renders for training or evaluating the vision inspector.
    Dataset {
        /// Output directory (images.u8, samples.jsonl, meta.json, preview PNGs).
        #[arg(long)]
        out: PathBuf,
        /// Stream seed: different seeds give disjoint scenes and placements.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of images.
        #[arg(long, default_value_t = 1000)]
        images: usize,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Measure physics steps/s, pick-and-place episode time and IK time.
    Bench {
        /// The scene to measure.
        #[arg(long, default_value = "scenes/tabletop.toml")]
        scene: PathBuf,
        /// Repetitions per measurement.
        #[arg(long, default_value_t = 10)]
        reps: usize,
        /// Also run bench/compare/pybullet_pickplace.py with this Python (which has
        /// `pybullet==3.2.7`) and print cap/PyBullet ratios.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// Measure the embedded language model instead (prompt and generation tokens/s,
        /// free and under the grammar): `qwen2.5-coder-0.5b` (default), `smollm2-135m`
        /// or a GGUF path.
        #[arg(long, value_name = "MODEL", num_args = 0..=1, default_missing_value = "qwen2.5-coder-0.5b")]
        llm: Option<String>,
    },
}

/// `cap eval` subcommands.
#[derive(Subcommand)]
enum EvalAction {
    /// Join the results of shards (`--shard I/N` runs) and summarise them.
    Merge {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// The shards' output directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
}

/// Which inspector judges checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum InspectorKind {
    /// cap's own ONNX vision model (embedded), cross-checked by the geometric one.
    Vision,
    /// Simulator state only.
    Geometric,
    /// A vision model behind an OpenAI-compatible chat API (--remote-url, --remote-model).
    Remote,
    /// No inspection: checkpoints answer cannot_tell and are not recorded.
    None,
}

/// How checkpoints are inspected (shared by exec, run and inspect).
#[derive(clap::Args, Clone, Debug)]
pub struct InspectArgs {
    /// Inspector for checkpoint(...) statements.
    #[arg(long, value_enum, default_value_t = InspectorKind::Vision)]
    inspector: InspectorKind,
    /// Use this ONNX model (its card is the .json beside it) instead of the embedded one.
    #[arg(long)]
    vision_model: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible API, up to /v1 (remote inspector).
    #[arg(long, env = "CAP_VISION_URL")]
    remote_url: Option<String>,
    /// Model id for the remote inspector.
    #[arg(long, env = "CAP_VISION_MODEL")]
    remote_model: Option<String>,
    /// Also check each subgoal's text when the next subgoal begins and at the end.
    #[arg(long)]
    checkpoint_on_subgoal: bool,
    /// Do not cross-check the vision or remote inspector with the geometric one.
    #[arg(long)]
    no_cross_check: bool,
}

impl InspectArgs {
    fn vision(&self) -> Result<cap_vision::VisionInspector> {
        match &self.vision_model {
            Some(p) => cap_vision::VisionInspector::from_file(p),
            None => cap_vision::VisionInspector::embedded(),
        }
        .map_err(|e| BadInput(format!("vision inspector: {e}")).into())
    }

    fn inspector(&self) -> Result<Option<Box<dyn cap_vision::Inspector>>> {
        Ok(match self.inspector {
            InspectorKind::None => None,
            InspectorKind::Geometric => Some(Box::new(cap_vision::GeometricInspector)),
            InspectorKind::Vision => Some(Box::new(
                match &self.vision_model {
                    Some(p) => cap_vision::VisionInspector::from_file(p),
                    None => cap_vision::VisionInspector::embedded(),
                }
                .map_err(|e| BadInput(format!("vision inspector: {e}")))?,
            )),
            InspectorKind::Remote => {
                let (Some(url), Some(model)) = (&self.remote_url, &self.remote_model) else {
                    return Err(BadInput(
                        "the remote inspector needs --remote-url and --remote-model (or CAP_VISION_URL, CAP_VISION_MODEL)".into(),
                    )
                    .into());
                };
                Some(Box::new(cap_vision::RemoteInspector::new(
                    cap_vision::remote::RemoteConfig::new(url, model),
                )))
            }
        })
    }

    pub(crate) fn monitor(&self, run_dir: &Path) -> Result<Option<cap_script::SharedMonitor>> {
        Ok(self.inspector()?.map(|i| {
            Arc::new(
                cap_vision::CheckpointMonitor::new(i, !self.no_cross_check)
                    .with_images(run_dir, "checkpoints"),
            ) as cap_script::SharedMonitor
        }))
    }
}

/// An error that means "bad input": exit code 2. The one such type of the binary.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BadInput {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { scenes } => validate(&scenes),
        Command::Exec {
            scene,
            program,
            task,
            seed,
            out,
            inspect,
            record,
        } => exec(
            &scene,
            &program,
            task.as_deref(),
            seed,
            &out,
            &inspect,
            &record,
        ),
        Command::Eval { action, args } => match action {
            Some(EvalAction::Merge { out, shards }) => eval::merge(&out, &shards),
            None => eval::run(&args),
        },
        Command::Run(args) => run::run(&args),
        Command::Inspect {
            image,
            statement,
            scene,
            inspect,
        } => inspect_image(&image, &statement, scene.as_deref(), &inspect),
        Command::Api => {
            print!("{}", cap_script::api::reference());
            Ok(0)
        }
        Command::Render {
            scene,
            seed,
            camera,
            out,
        } => render(&scene, seed, camera.as_deref(), &out),
        Command::Dataset {
            out,
            seed,
            images,
            threads,
        } => dataset(&out, seed, images, threads),
        Command::Bench {
            scene,
            reps,
            compare,
            llm,
        } => match llm {
            Some(model) => bench::llm(&scene, &model, reps),
            None => bench::run(&scene, reps, compare.as_deref()),
        }
        .map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One line: the chain joined.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("cap: {}", msg.join(": ").replace('\n', " "));
            if e.downcast_ref::<BadInput>().is_some()
                || e.chain().any(|c| c.is::<cap_core::scene::SceneError>())
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn read_png_rgb(path: &Path) -> Result<(Vec<u8>, usize, usize)> {
    let file = std::fs::File::open(path)
        .map_err(|e| BadInput(format!("{}: cannot open: {e}", path.display())))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| BadInput(format!("{}: not a PNG: {e}", path.display())))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| BadInput(format!("{}: image too large", path.display())))?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let rgb: Vec<u8> = match info.color_type {
        png::ColorType::Rgb => buf[..w * h * 3].to_vec(),
        png::ColorType::Rgba => buf[..w * h * 4]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf[..w * h].iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf[..w * h * 2]
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => {
            return Err(BadInput(format!("{}: indexed PNG not expanded", path.display())).into())
        }
    };
    Ok((rgb, w, h))
}

fn inspect_image(
    image: &Path,
    statement: &str,
    scene: Option<&Path>,
    args: &InspectArgs,
) -> Result<u8> {
    let scene = scene.map(Scene::load).transpose()?;
    let (rgb, w, h) = read_png_rgb(image)?;
    let t = Instant::now();
    let verdict = match args.inspector {
        InspectorKind::Vision => args
            .vision()?
            .judge_image(&rgb, w, h, statement, scene.as_ref()),
        InspectorKind::Remote => {
            let i = args
                .inspector()?
                .context("no remote inspector configured")?;
            let frame = cap_sim::prelude::Frame {
                camera: "image".into(),
                width: w as u32,
                height: h as u32,
                rgb,
                depth_m: Vec::new(),
                seg: Vec::new(),
            };
            i.inspect(
                &cap_vision::Observation {
                    world: None,
                    frames: std::slice::from_ref(&frame),
                },
                statement,
            )
        }
        other => {
            return Err(BadInput(format!(
                "`cap inspect` judges images: use --inspector vision or remote, not {other:?}"
            ))
            .into())
        }
    };
    println!(
        "{}: {} (confidence {:.2}) — {} [{}; {:.2} ms]",
        statement,
        verdict.answer.label(),
        verdict.confidence,
        verdict.detail.clone().unwrap_or_default(),
        verdict.model,
        t.elapsed().as_secs_f64() * 1e3
    );
    println!("{}", serde_json::to_string(&verdict)?);
    Ok(0)
}

fn render(scene_path: &Path, seed: u64, camera: Option<&str>, out: &Path) -> Result<u8> {
    let scene = Arc::new(Scene::load(scene_path)?);
    let cameras: Vec<_> = match camera {
        Some(name) => vec![scene.camera(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = scene.cameras.iter().map(|c| c.name.as_str()).collect();
            BadInput(format!(
                "scene `{}` has no camera `{name}` (cameras: {})",
                scene.name,
                known.join(", ")
            ))
        })?],
        None => scene.cameras.clone(),
    };
    let world = World::new(Arc::clone(&scene), seed)?;
    for cam in &cameras {
        let frame = world.render(cam);
        let paths = frame.write_pngs(out, &cam.name)?;
        println!("{}", paths.rgb.display());
        println!("{}", paths.depth.display());
        println!("{}", paths.seg.display());
    }
    Ok(0)
}

fn dataset(out: &Path, seed: u64, images: usize, threads: Option<usize>) -> Result<u8> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let pb = indicatif::ProgressBar::new(images as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} images, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_message("rendering");
    let t = Instant::now();
    let n = cap_vision::dataset::generate(out, seed, images, threads, &|done| {
        pb.set_position(done as u64)
    })
    .with_context(|| format!("writing the dataset to {}", out.display()))?;
    pb.finish_and_clear();
    println!(
        "{n} images in {:.1} s -> {}",
        t.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(0)
}

fn validate(paths: &[PathBuf]) -> Result<u8> {
    let mut bad = 0;
    for p in paths {
        match Scene::load(p) {
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
            Ok(scene) => {
                let mut task_errors = 0;
                for t in &scene.tasks {
                    for e in check_predicate(&scene, &t.success) {
                        eprintln!("{}: tasks.{}.success: {e}", p.display(), t.name);
                        task_errors += 1;
                    }
                }
                if let Err(e) = World::new(Arc::new(scene.clone()), 0) {
                    eprintln!("{}: {e}", p.display());
                    task_errors += 1;
                }
                if task_errors == 0 {
                    println!(
                        "{}: ok ({} objects, {} tasks)",
                        p.display(),
                        scene.objects.len(),
                        scene.tasks.len()
                    );
                } else {
                    bad += 1;
                }
            }
        }
    }
    if bad > 0 {
        return Err(BadInput(format!("{bad} of {} scene file(s) invalid", paths.len())).into());
    }
    Ok(0)
}

fn write_outputs(
    out: &Path,
    report: &Value,
    trace: &[cap_core::trace::TraceEvent],
) -> Result<String> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut text = String::new();
    for ev in trace {
        text.push_str(&serde_json::to_string(ev)?);
        text.push('\n');
    }
    let digest = sha256_hex(text.as_bytes());
    std::fs::write(out.join("trace.jsonl"), &text)
        .with_context(|| format!("writing {}/trace.jsonl", out.display()))?;
    let mut report = report.clone();
    report["trace_sha256"] = json!(digest);
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )
    .with_context(|| format!("writing {}/report.json", out.display()))?;
    Ok(digest)
}

fn invalid(out: &Path, base: Value, reason: &str) -> Result<u8> {
    let mut report = base;
    report["status"] = json!("invalid");
    report["exit_code"] = json!(2);
    report["error"] = json!(reason);
    // Best effort: a report even for inputs too broken to run.
    let _ = write_outputs(out, &report, &[]);
    Err(BadInput(reason.to_owned()).into())
}

fn exec(
    scene_path: &Path,
    program_path: &Path,
    task: Option<&str>,
    seed: u64,
    out: &Path,
    inspect: &InspectArgs,
    record: &record::RecordArgs,
) -> Result<u8> {
    let wall = Instant::now();
    let base = json!({
        "cap_version": env!("CARGO_PKG_VERSION"),
        "scene_path": scene_path.display().to_string(),
        "program": program_path.display().to_string(),
        "task": task,
        "seed": seed,
    });
    let scene = match Scene::load(scene_path) {
        Ok(s) => s,
        Err(e) => return invalid(out, base, &e.to_string()),
    };
    let source = match std::fs::read_to_string(program_path) {
        Ok(s) => s,
        Err(e) => {
            return invalid(
                out,
                base,
                &format!("{}: cannot read: {e}", program_path.display()),
            )
        }
    };
    let task_spec = match task {
        None => None,
        Some(name) => match scene.task(name) {
            Some(t) => Some(t.clone()),
            None => {
                let known: Vec<&str> = scene.tasks.iter().map(|t| t.name.as_str()).collect();
                return invalid(
                    out,
                    base,
                    &format!(
                        "{}: no task `{name}`; tasks: {}",
                        scene_path.display(),
                        known.join(", ")
                    ),
                );
            }
        },
    };
    let scene = Arc::new(scene);
    let world = match World::new(Arc::clone(&scene), seed) {
        Ok(w) => w,
        Err(e) => return invalid(out, base, &format!("{}: {e}", scene_path.display())),
    };
    // The inspector (and ONNX Runtime) is loaded only for programs that can use it.
    let inspects = source.contains("checkpoint") || inspect.checkpoint_on_subgoal;
    let monitor = if inspects {
        match inspect.monitor(out) {
            Ok(m) => m,
            Err(e) => return invalid(out, base, &e.to_string()),
        }
    } else {
        None
    };
    let what = task_spec
        .as_ref()
        .map_or("program".to_owned(), |t| t.name.clone());
    let recorder = match record.recorder(&format!("cap exec {what} seed {seed}")) {
        Ok(r) => r,
        Err(e) => return invalid(out, base, &e.to_string()),
    };
    let opts = EpisodeOptions {
        monitor,
        checkpoint_on_subgoal: inspect.checkpoint_on_subgoal,
        recorder: recorder.as_ref().map(|r| {
            cap_viz::EpisodeLog::new(Arc::clone(r), Some(out.to_path_buf()))
                as cap_script::run::SharedRecorder
        }),
        label: format!("{} seed {seed}", program_path.display()),
        ..EpisodeOptions::default()
    };
    let episode = run_episode(world, &source, task_spec.as_ref(), &opts);

    let status = if !episode.static_errors.is_empty() {
        "invalid"
    } else if episode.success == Some(true) || (task_spec.is_none() && episode.abort.is_none()) {
        "success"
    } else {
        "failed"
    };
    let code: u8 = match status {
        "success" => 0,
        "failed" => 1,
        _ => 2,
    };
    let primary = episode.primary_failure();
    let subgoal = primary.as_ref().and_then(|(f, _)| {
        episode
            .trace
            .iter()
            .rev()
            .find(|e| e.failure() == Some(f))
            .and_then(|e| e.subgoal.clone())
    });
    let failure_json = primary.as_ref().map(|(f, line)| {
        json!({"kind": f.kind, "message": f.message, "object": f.object, "line": line, "subgoal": subgoal})
    });
    let calls = episode
        .trace
        .iter()
        .filter(|e| matches!(e.event, cap_core::trace::EventKind::Call { .. }))
        .count();
    let mut report = base;
    report["scene"] = json!(scene.name);
    report["instruction"] = json!(task_spec.as_ref().map(|t| t.instruction.clone()));
    report["program_sha256"] = json!(sha256_hex(source.as_bytes()));
    report["status"] = json!(status);
    report["exit_code"] = json!(code);
    report["success"] = json!(episode.success);
    // Also when the program aborted: "the predicate held, but the program did not end".
    report["predicate_held"] = json!(episode.predicate);
    report["failure"] = failure_json.unwrap_or(Value::Null);
    report["static_errors"] = serde_json::to_value(&episode.static_errors)?;
    report["sim_time_s"] = json!(episode.world.sim_time_s());
    report["steps"] = json!(episode.world.steps());
    report["calls"] = json!(calls);
    report["inspector"] = json!(format!("{:?}", inspect.inspector).to_lowercase());
    report["checkpoints"] = json!(episode
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            cap_core::trace::EventKind::Checkpoint {
                statement,
                automatic,
                verdicts,
                disagreement,
                ..
            } => Some(json!({
                "statement": statement,
                "automatic": automatic,
                "line": e.line,
                "subgoal": e.subgoal,
                "answer": verdicts.first().map(|v| v.answer),
                "confidence": verdicts.first().map(|v| v.confidence),
                "disagreement": disagreement,
            })),
            _ => None,
        })
        .collect::<Vec<_>>());
    report["wall_time_s"] = json!(wall.elapsed().as_secs_f64());
    // The recording is closed (rerun writes its footer) while the run's own outputs
    // are written.
    let finishing = record::finish_with_report(recorder.as_ref(), &report)?;
    let digest = write_outputs(out, &report, &episode.trace)?;
    let recorded = record.closed(finishing);

    println!(
        "{what} (seed {seed}): {status} — {calls} calls, {:.2} s simulated, {:.3} s wall; trace {} ({})",
        episode.world.sim_time_s(),
        wall.elapsed().as_secs_f64(),
        out.join("trace.jsonl").display(),
        &digest[..12]
    );
    if let Some((f, line)) = &primary {
        let at = line.map_or(String::new(), |l| format!(" at line {l}"));
        let sg = subgoal.map_or(String::new(), |s| format!(" (subgoal: {s})"));
        let msg = format!("{}{at}{sg}: {}", f.kind, f.message);
        println!("  failure: {msg}");
        if code == 2 {
            for e in episode.static_errors.iter().skip(1) {
                println!("  also: {e}");
            }
            eprintln!("cap: {}: {msg}", program_path.display());
        } else {
            eprintln!("cap: {what} failed: {msg}");
        }
    }
    // A recording that could not be written fails the command (exit 1 at least).
    Ok(if recorded { code } else { code.max(1) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // tests: a panic is the failure report

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn exec_record(extra: &[&str]) -> Result<record::RecordArgs, clap::Error> {
        let mut args = vec!["cap", "exec", "scene.toml", "policy.rhai"];
        args.extend_from_slice(extra);
        match Cli::try_parse_from(args)?.command {
            Command::Exec { record, .. } => Ok(record),
            _ => panic!("not exec"),
        }
    }

    #[test]
    fn spawn_and_connect_take_optional_addresses() {
        assert_eq!(exec_record(&[]).unwrap().spawn, None);
        assert_eq!(exec_record(&["--spawn"]).unwrap().spawn, Some(9876));
        assert_eq!(exec_record(&["--spawn=5123"]).unwrap().spawn, Some(5123));
        assert!(exec_record(&["--spawn=port"]).is_err());
        assert_eq!(
            exec_record(&["--connect"]).unwrap().connect.as_deref(),
            Some(record::DEFAULT_VIEWER)
        );
        let save = exec_record(&["--save", "x.rrd"]).unwrap();
        assert_eq!(save.sinks().len(), 1);
    }

    #[test]
    fn exec_needs_a_scene_and_a_program() {
        assert!(Cli::try_parse_from(["cap", "exec", "scene.toml"]).is_err());
        assert!(Cli::try_parse_from(["cap", "exec", "s.toml", "p.rhai", "--seed", "x"]).is_err());
        assert!(Cli::try_parse_from(["cap", "frobnicate"]).is_err());
    }
}
