//! `cap serve SCENE`: the robot side of the bridge, played by cap's own simulation. The
//! scene's world (its arm, objects and physics) runs in real time behind the bridge
//! protocol, reports its objects as a robot's perception would, and injects faults on
//! request, so `cap exec --robot` and the bridge's fault tests need no Python and no
//! robot. It prints its address, serves until interrupted (or, with `--once`, until
//! its first client leaves), and with `--record` writes what the arm did.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_bridge::plant::Plant;
use cap_bridge::protocol::{ObjectPose, RobotHello};
use cap_bridge::server::{Faults, Record, SimArm};
use cap_core::kinematics::{Joints, DOF};
use cap_core::robot::{DynamicLimits, RobotBackend};
use cap_core::scene::Scene;
use cap_sim::prelude::*;

use crate::BadInput;

/// `cap serve`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The scene (TOML) whose world plays the robot.
    pub scene: PathBuf,
    /// Randomisation seed of the object poses.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0: any free one; the address is printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Exit when the first client disconnects.
    #[arg(long)]
    pub once: bool,
    /// Exit after this many seconds whatever happens.
    #[arg(long, value_name = "S")]
    pub max_s: Option<f64>,
    /// Write what the arm did (events, and when it last moved) to this JSON file when
    /// the server exits.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Inject a fault (repeatable): drop-after=S, hang-after=S, estop-after=S,
    /// version=N, state-offset=RAD, clock-ahead=S, jerk-share=F, stuck-joint=J,
    /// slow=F, nan-after=S, malformed-after=S, wrong-joints-after=S, jitter-ms=MS,
    /// grasp-fails. Times are seconds into the first goal.
    #[arg(long = "fault", value_name = "NAME[=VALUE]")]
    pub faults: Vec<String>,
}

/// Parse `--fault` values.
pub fn parse_faults(given: &[String]) -> Result<Faults, String> {
    let mut f = Faults::default();
    for g in given {
        let (name, value) = g.split_once('=').unwrap_or((g.as_str(), ""));
        let num = || -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("--fault {name}: `{value}` is not a non-negative number"))
        };
        match name {
            "drop-after" => f.drop_after_s = Some(num()?),
            "hang-after" => f.hang_after_s = Some(num()?),
            "estop-after" => f.estop_after_s = Some(num()?),
            "version" => f.version = Some(num()? as u32),
            "state-offset" => f.state_offset_rad = num()?,
            "clock-ahead" => f.clock_ahead_s = num()?,
            "jerk-share" => f.jerk_share = Some(num()?),
            "stuck-joint" => f.stuck_joint = Some(num()? as usize),
            "slow" => f.slow_factor = Some(num()?),
            "nan-after" => f.nan_after_s = Some(num()?),
            "malformed-after" => f.malformed_after_s = Some(num()?),
            "wrong-joints-after" => f.wrong_joints_after_s = Some(num()?),
            "jitter-ms" => f.jitter_ms = num()? as u64,
            "grasp-fails" => f.grasp_fails = true,
            other => {
                return Err(format!(
                "unknown fault `{other}`; faults: drop-after, hang-after, estop-after, version, \
                     state-offset, clock-ahead, jerk-share, stuck-joint, slow, nan-after, \
                     malformed-after, wrong-joints-after, jitter-ms, grasp-fails"
            ))
            }
        }
    }
    Ok(f)
}

/// A simulated world as the plant behind the server.
struct WorldPlant {
    world: World,
    n: usize,
    /// Time not yet stepped, s.
    owed_s: f64,
    last_q: Joints,
    v: Vec<f64>,
}

impl Plant for WorldPlant {
    fn step(&mut self, target: Option<&[f64]>, dt_s: f64) {
        let mut q = self.world.joint_positions();
        if let Some(t) = target {
            for (d, v) in q.iter_mut().zip(t.iter().take(self.n)) {
                *d = *v;
            }
        }
        self.owed_s += dt_s;
        let mut stepped = 0;
        while self.owed_s >= DT_S * 0.5 && stepped < 8 {
            self.world.servo(&q);
            self.owed_s -= DT_S;
            stepped += 1;
        }
        let now = self.world.joint_positions();
        self.v = (0..self.n)
            .map(|i| (now[i] - self.last_q[i]) / dt_s.max(1e-9))
            .collect();
        self.last_q = now;
    }

    fn positions(&self) -> Vec<f64> {
        self.world.joint_positions()[..self.n].to_vec()
    }

    fn velocities(&self) -> Vec<f64> {
        self.v.clone()
    }

    fn gripper(&mut self, width: f64, _max_effort: f64) -> Result<(f64, bool), String> {
        let (w, held) = self.world.serve_gripper(width).map_err(|f| f.message)?;
        Ok((w, held.is_some()))
    }

    fn gripper_state(&self) -> (f64, bool) {
        (self.world.gripper_width(), self.world.is_holding())
    }

    fn objects(&self) -> Vec<ObjectPose> {
        self.world
            .object_poses()
            .into_iter()
            .map(|(name, p)| {
                let t = p.translation.vector;
                let r = p.rotation.coords;
                ObjectPose {
                    name,
                    position: [t.x, t.y, t.z],
                    orientation: [r.x, r.y, r.z, r.w],
                }
            })
            .collect()
    }
}

fn write_record(path: &Path, r: &Record) -> Result<()> {
    let v = serde_json::json!({
        "events": r.events,
        "last_motion_s": r.last_motion_s(),
        "motion_samples": r.motion.len(),
    });
    std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Run `cap serve`.
pub fn run(args: &Args) -> Result<u8> {
    let faults = parse_faults(&args.faults).map_err(BadInput)?;
    let scene = Scene::load(&args.scene).map_err(|e| BadInput(e.to_string()))?;
    let world = World::new(Arc::new(scene), args.seed)
        .map_err(|e| BadInput(format!("{}: {e}", args.scene.display())))?;
    let kin = world.kinematics();
    let n = kin.dof();
    let hello = RobotHello::for_arm(
        &format!("cap serve {}", world.scene().name),
        kin,
        &DynamicLimits::panda(),
        world.robot().gripper_max_width_m(),
    );
    let q = world.joint_positions();
    let plant = WorldPlant {
        world,
        n,
        owed_s: 0.0,
        last_q: q,
        v: vec![0.0; n.min(DOF)],
    };
    let server = SimArm::serve_plant(
        (args.host.as_str(), args.port),
        hello,
        Box::new(plant),
        faults,
    )
    .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    println!("serving on ws://{}:{}", args.host, server.port());
    std::io::stdout().flush()?;
    let started = Instant::now();
    let mut printed = 0;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let r = server.record();
        // Each event as it happens, on the server's clock (seconds since it started).
        for (t, what) in r.events.iter().skip(printed) {
            println!("event {t:.3} {what}");
        }
        printed = r.events.len();
        std::io::stdout().flush()?;
        let left = args.once
            && r.has_event("connected")
            && r.events
                .last()
                .is_some_and(|(_, e)| e == "disconnected" || e == "link_lost");
        let timed_out = args
            .max_s
            .is_some_and(|m| started.elapsed().as_secs_f64() > m);
        if left || timed_out || !server.is_running() {
            break;
        }
    }
    // Give the watchdog's stop a moment to show in the record.
    std::thread::sleep(Duration::from_millis(300));
    if let Some(path) = &args.record {
        write_record(path, &server.record())?;
    }
    Ok(0)
}
