//! `--robot ws://HOST:PORT`: a program on a real arm behind the bridge. cap connects,
//! checks that the robot is the scene's arm, bounds its gate by the robot's own
//! limits, starts the world from the state and objects the robot reports, and (unless
//! `--no-sim-check`) runs the program in simulation on that world first. Only a
//! program that succeeds there is sent; then the world mirrors the robot.

use cap_bridge::client::ClientOptions;
use cap_bridge::remote::{failure, BridgeArm};
use cap_core::failure::{Failure, FailureKind};
use cap_sim::prelude::*;
use serde::Serialize;

/// How to reach a robot.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RobotArgs {
    /// Run on the robot behind the bridge at this address (`ws://HOST:PORT`), after the
    /// program has succeeded in simulation on the world the robot reports.
    #[arg(long, value_name = "ws://HOST:PORT")]
    pub robot: Option<String>,
    /// Send the program to the robot without trying it in simulation first. The report
    /// says so.
    #[arg(long, requires = "robot")]
    pub no_sim_check: bool,
    /// The robot is lost when no valid state has come for this long, ms.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub link_timeout_ms: u64,
}

/// What `report.json` says about the robot.
#[derive(Debug, Clone, Serialize)]
pub struct RobotFacts {
    /// The address.
    pub url: String,
    /// The name the robot gave itself in its `hello`.
    pub robot: Option<String>,
    /// `passed`, `failed` (the robot was not moved) or `skipped` (`--no-sim-check`).
    pub sim_check: &'static str,
    /// The failure of the simulation check, when it failed.
    pub sim_check_failure: Option<Failure>,
    /// Motions the robot followed.
    pub motions: usize,
    /// The largest measured-minus-commanded joint difference over all motions, rad.
    pub max_tracking_error_rad: f64,
    /// Wall seconds the robot spent moving.
    pub motion_time_s: f64,
    /// Objects the robot reported at the start (the rest are where the scene puts
    /// them).
    pub reported_objects: Vec<String>,
    /// What success was judged from: the robot's reported object poses, or (for a
    /// robot that reports none) cap's mirror of the world.
    pub judged_from: &'static str,
    /// The failure that ended the link, if one did (nothing was sent after it).
    pub link_failure: Option<Failure>,
}

impl RobotFacts {
    fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            robot: None,
            sim_check: "skipped",
            sim_check_failure: None,
            motions: 0,
            max_tracking_error_rad: 0.0,
            motion_time_s: 0.0,
            reported_objects: Vec::new(),
            judged_from: "cap's mirror of the world",
            link_failure: None,
        }
    }

    /// Fill in what the robot did from the world that mirrored it.
    pub fn take_world(&mut self, world: &World) {
        let motions = world.remote_motions();
        self.motions = motions.len();
        self.max_tracking_error_rad = motions
            .iter()
            .map(|m| m.max_tracking_error_rad)
            .fold(0.0, f64::max);
        self.motion_time_s = motions.iter().map(|m| m.duration_s).sum();
        self.link_failure = world.remote_failure().cloned();
    }
}

/// Why a robot run could not start.
pub enum LinkError {
    /// The inputs do not fit the robot (exit 2): its joints are not the scene arm's, it
    /// reports objects the scene does not have.
    Bad(String),
    /// The robot could not be reached or failed at once (exit 1): a typed failure.
    Failed(Box<RobotFacts>, Failure),
}

/// Connect to the robot and start `world` from its state: `world` is left bounded by
/// the robot's limits and at its reported state, ready for the simulation check; the
/// arm is returned to be attached after it.
pub fn connect(
    url: &str,
    args: &RobotArgs,
    world: &mut World,
) -> Result<(BridgeArm, RobotFacts), LinkError> {
    let mut facts = RobotFacts::new(url);
    let options = ClientOptions {
        link_timeout: std::time::Duration::from_millis(args.link_timeout_ms.max(1)),
        ..ClientOptions::default()
    };
    let mut arm = match BridgeArm::connect(url, options) {
        Ok(a) => a,
        Err(e) => {
            let f = failure(&e);
            return Err(LinkError::Failed(Box::new(facts), f));
        }
    };
    facts.robot = Some(arm.hello().robot.clone());
    arm.check_arm(world.kinematics()).map_err(LinkError::Bad)?;
    let (q_min, q_max, v_max, dynamics) = arm.limits();
    world.bound_by_robot(&q_min, &q_max, &v_max, dynamics);
    let (measured, objects) = match arm.initial() {
        Ok(s) => s,
        Err(f) => return Err(LinkError::Failed(Box::new(facts), f)),
    };
    if let Err(f) = world.adopt_measured(&measured, &objects) {
        return Err(match f.kind {
            FailureKind::RobotError if f.object.is_some() => LinkError::Bad(f.message),
            _ => LinkError::Failed(Box::new(facts), f),
        });
    }
    facts.reported_objects = objects.iter().map(|o| o.name.clone()).collect();
    if !objects.is_empty() {
        facts.judged_from = "the robot's reported object poses";
    }
    facts.sim_check = if args.no_sim_check {
        "skipped"
    } else {
        "passed"
    };
    Ok((arm, facts))
}
