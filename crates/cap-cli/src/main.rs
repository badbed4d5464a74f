//! `cap`: the command-line front end.
//!
//! Exit codes: 0 success; 1 the program ran but the task failed (including sandbox
//! aborts and motion failures); 2 bad input (scene, program, arguments) — always with
//! a one-line reason on stderr.

mod bench;
mod dataset_cmd;
mod eval;
mod exec;
mod llm;
mod record;
mod report;
mod robot_link;
mod robots;
mod run;
mod serve;
mod skills;
mod world_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cap_core::scene::Scene;
use cap_script::run::check_predicate;
use cap_sim::prelude::*;
use clap::{Parser, Subcommand};

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
        #[command(flatten)]
        robot: robot_link::RobotArgs,
    },
    /// Print the script API reference (the text a model is shown).
    Api {
        /// With the facts (gripper, hand, reach) of this scene's arm rather than the
        /// built-in Panda's.
        #[arg(long)]
        scene: Option<PathBuf>,
    },
    /// List the arms cap drives (the built-in Panda and the catalogue's, from their
    /// URDFs): joints, limits, ready pose, reach, gripper.
    Robots {
        /// Only this arm (builtin, panda, ur5, so101, xarm7).
        arm: Option<String>,
    },
    /// Ask a language model for a program, run it, explain failures, repair, repeat.
    Run(run::Args),
    /// The verified skill library: list, show, find, add (runs the program first), remove.
    Skills {
        /// The library's directory (default: DATA/skills, beside the shipped skills).
        #[arg(long, value_name = "DIR", global = true)]
        skills_dir: Option<PathBuf>,
        #[command(subcommand)]
        action: skills::Action,
    },
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
    /// Play the robot side of the bridge with the scene's simulated world (for
    /// `cap exec --robot` without hardware, and the bridge's fault tests).
    Serve(serve::Args),
    /// Print the laid-out tabletop (table, arm base, objects with their poses, masses,
    /// frictions and collision parts) as JSON, for another engine to build the same
    /// world.
    World {
        /// The scene (TOML).
        scene: PathBuf,
        /// Randomisation seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the JSON here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Judge a task's success predicate with the objects at poses from a file (another
    /// engine's, a robot's perception), not cap's simulation: exit 0 if it holds, 1 if not.
    Judge(world_cmd::JudgeArgs),
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
    /// Generate labelled renders for the vision inspector (`--family` for the held-out
    /// families), or score a vision model on them (`--eval DIR ...`).
    Dataset(dataset_cmd::DatasetArgs),
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
        /// free and under the grammar): `qwen2.5-coder-1.5b` (default), `qwen2.5-coder-0.5b`, `smollm2-135m`
        /// or a GGUF path.
        #[arg(long, value_name = "MODEL", num_args = 0..=1, default_missing_value = "qwen2.5-coder-1.5b")]
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
                Some(Box::new(
                    cap_vision::RemoteInspector::new(cap_vision::remote::config(url, model))
                        .map_err(|e| BadInput(format!("remote inspector: {e}")))?,
                ))
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
            robot,
        } => exec::run(
            &scene,
            &program,
            task.as_deref(),
            seed,
            &out,
            &exec::With {
                inspect: &inspect,
                record: &record,
                robot: &robot,
            },
        ),
        Command::Eval { action, args } => match action {
            Some(EvalAction::Merge { out, shards }) => eval::merge(&out, &shards),
            None => eval::run(&args),
        },
        Command::Run(args) => run::run(&args),
        Command::Skills { skills_dir, action } => skills::run(&action, skills_dir.as_deref()),
        Command::Inspect {
            image,
            statement,
            scene,
            inspect,
        } => inspect_image(&image, &statement, scene.as_deref(), &inspect),
        Command::Api { scene } => api(scene.as_deref()),
        Command::Robots { arm } => robots::run(arm.as_deref()),
        Command::Serve(args) => serve::run(&args),
        Command::World { scene, seed, out } => world_cmd::world(&scene, seed, out.as_deref()),
        Command::Judge(args) => world_cmd::judge(&args),
        Command::Render {
            scene,
            seed,
            camera,
            out,
        } => render(&scene, seed, camera.as_deref(), &out),
        Command::Dataset(a) => dataset_cmd::run(&a),
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

fn inspect_image(
    image: &Path,
    statement: &str,
    scene: Option<&Path>,
    args: &InspectArgs,
) -> Result<u8> {
    let scene = scene.map(Scene::load).transpose()?;
    let (rgb, w, h) = cap_vision::png_io::read_rgb(image).map_err(|e| BadInput(e.to_string()))?;
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
        let paths = cap_vision::png_io::write_pngs(&frame, out, &cam.name)?;
        println!("{}", paths.rgb.display());
        println!("{}", paths.depth.display());
        println!("{}", paths.seg.display());
    }
    Ok(0)
}

/// `cap api [--scene S]`: the reference, with the scene's arm if one is given.
fn api(scene: Option<&std::path::Path>) -> Result<u8> {
    let text = match scene {
        None => cap_script::reference::reference(),
        Some(p) => {
            let scene = Scene::load(p).map_err(|e| BadInput(e.to_string()))?;
            let w = World::new(Arc::new(scene), 0).map_err(|e| BadInput(e.to_string()))?;
            cap_script::reference::reference_for(w.robot())
        }
    };
    print!("{text}");
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
                let arm = World::new(Arc::new(scene.clone()), 0)
                    .map(|w| {
                        format!(
                            ", arm {} with {} joints",
                            w.robot().name(),
                            w.kinematics().dof()
                        )
                    })
                    .unwrap_or_default();
                if task_errors == 0 {
                    println!(
                        "{}: ok ({} objects, {} tasks{arm})",
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
