//! A robot-side bridge server in Rust, for tests that need no Python and no robot, and
//! for `cap serve`: it drives a [`Plant`] (an ideal kinematic arm, or a whole
//! simulated world) along accepted goals at 240 Hz, interpolating their points as
//! ros2_control does, watches the path tolerance, sends `state` at 100 Hz and
//! `objects` at 20 Hz, keeps a watchdog on cap's heartbeats (stops and latches an
//! error until `recover`), and injects faults on request. It records every position
//! the arm moves through with the time, so a test can say when the arm stopped from
//! the arm's own record.
//!
//! One client at a time; a new connection never resumes an old goal.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::link::Link;
use crate::plant::{KinematicPlant, Plant};
use crate::protocol::{
    check_execute, codes, parse_client, to_text, ClientMessage, Execute, GripperState, JointState,
    Mode, RobotFault, RobotHello, ServerMessage, State, PROTOCOL_VERSION,
};
use crate::trajectory;

/// The arm's control period.
const TICK: Duration = Duration::from_micros(4167);
/// How often state goes out.
const STATE_EVERY: Duration = Duration::from_millis(10);
/// How often object poses go out.
const OBJECTS_EVERY: Duration = Duration::from_millis(50);

/// Faults the server injects. Times are seconds into the first goal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Close the socket.
    pub drop_after_s: Option<f64>,
    /// Stop sending anything (socket open).
    pub hang_after_s: Option<f64>,
    /// Latch an e-stop.
    pub estop_after_s: Option<f64>,
    /// Send this protocol version in `hello`.
    pub version: Option<u32>,
    /// Report joint positions this far off where the arm is, rad.
    pub state_offset_rad: f64,
    /// The robot's clock runs this far ahead of what its states say, s: goals look
    /// older than they are (a stale command past its expiry).
    pub clock_ahead_s: f64,
    /// The robot's controller allows only this share of the jerk its `hello` states,
    /// and refuses goals that ask for more.
    pub jerk_share: Option<f64>,
    /// This joint (index) does not move: the path tolerance is violated.
    pub stuck_joint: Option<usize>,
    /// The arm plays goals this many times slower than commanded.
    pub slow_factor: Option<f64>,
    /// Report NaN joint positions.
    pub nan_after_s: Option<f64>,
    /// Send a message that is not JSON.
    pub malformed_after_s: Option<f64>,
    /// Report states with the joints renamed.
    pub wrong_joints_after_s: Option<f64>,
    /// Delay each state by up to this long (ms, pseudo-random), as a loaded network
    /// does.
    pub jitter_ms: u64,
    /// Closing the gripper never grips (the object slides out).
    pub grasp_fails: bool,
}

/// What the arm did, for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// (seconds since the server started, positions) each time the arm moved.
    pub motion: Vec<(f64, Vec<f64>)>,
    /// (seconds, what) for notable events: `connected`, `goal g1 accepted`,
    /// `goal g1 done`, `watchdog`, `estop`, `dropped`, `link_lost`, `path_tolerance`.
    pub events: Vec<(f64, String)>,
}

impl Record {
    /// When the arm last moved, seconds since the server started.
    pub fn last_motion_s(&self) -> Option<f64> {
        self.motion.last().map(|(t, _)| *t)
    }

    /// When `event` first happened.
    pub fn event_s(&self, event: &str) -> Option<f64> {
        self.events
            .iter()
            .find(|(_, e)| e == event)
            .map(|(t, _)| *t)
    }

    /// Whether any event starts with `prefix`.
    pub fn has_event(&self, prefix: &str) -> bool {
        self.events.iter().any(|(_, e)| e.starts_with(prefix))
    }
}

/// A running bridge server.
pub struct SimArm {
    port: u16,
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
    start: Instant,
    thread: Option<JoinHandle<()>>,
}

impl SimArm {
    /// Serve an ideal kinematic arm described by `hello`, at `initial`, on an
    /// ephemeral port of 127.0.0.1.
    pub fn start(hello: RobotHello, initial: Vec<f64>, faults: Faults) -> std::io::Result<Self> {
        let max_width = hello.gripper.as_ref().map_or(0.0, |g| g.max_width);
        let plant = Box::new(KinematicPlant::new(initial, max_width));
        Self::serve_plant("127.0.0.1:0", hello, plant, faults)
    }

    /// Serve `plant` as the robot `hello` describes, on `addr` (port 0: an ephemeral
    /// one).
    pub fn serve_plant(
        addr: impl ToSocketAddrs,
        hello: RobotHello,
        plant: Box<dyn Plant>,
        faults: Faults,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));
        let start = Instant::now();
        let arm = Arm {
            hello,
            plant,
            mode: Mode::Idle,
            error: None,
            goal: None,
            faults,
            start,
            record: record.clone(),
            seq: 0,
            first_goal_at: None,
            last_q: Vec::new(),
        };
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || serve(listener, arm, &stop))
        };
        Ok(Self {
            port,
            stop,
            record,
            start,
            thread: Some(thread),
        })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL on 127.0.0.1.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// What the arm did so far.
    pub fn record(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Seconds since the server started (the record's clock).
    pub fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether the server thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for SimArm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // A panic in the server thread has already failed the test that caused it.
            if t.join().is_err() {
                eprintln!("bridge server thread panicked");
            }
        }
    }
}

struct Goal {
    execute: Execute,
    started: Instant,
    from: Vec<f64>,
}

struct Arm {
    hello: RobotHello,
    plant: Box<dyn Plant>,
    mode: Mode,
    error: Option<RobotFault>,
    goal: Option<Goal>,
    faults: Faults,
    start: Instant,
    record: Arc<Mutex<Record>>,
    seq: u64,
    first_goal_at: Option<Instant>,
    last_q: Vec<f64>,
}

impl Arm {
    fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn event(&self, what: String) {
        let t = self.now_s();
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .push((t, what));
    }

    fn note_motion(&mut self) {
        let q = self.plant.positions();
        if q != self.last_q {
            let t = self.now_s();
            self.record
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .motion
                .push((t, q.clone()));
            self.last_q = q;
        }
    }

    /// Stop where the arm is, latching `code`.
    fn halt(&mut self, mode: Mode, code: &str, message: &str) {
        self.goal = None;
        self.mode = mode;
        self.error = Some(RobotFault {
            code: code.into(),
            message: message.into(),
        });
        self.event(code.to_owned());
    }

    fn past(&self, limit: Option<f64>) -> bool {
        let into = self.first_goal_at.map(|t| t.elapsed().as_secs_f64());
        limit.zip(into).is_some_and(|(l, t)| t >= l)
    }

    fn state(&mut self) -> ServerMessage {
        self.seq += 1;
        let mut position: Vec<f64> = self
            .plant
            .positions()
            .iter()
            .map(|v| v + self.faults.state_offset_rad)
            .collect();
        if self.past(self.faults.nan_after_s) {
            position.iter_mut().for_each(|v| *v = f64::NAN);
        }
        let mut name = self.hello.joint_names.clone();
        if self.past(self.faults.wrong_joints_after_s) {
            name.iter_mut().for_each(|n| n.insert_str(0, "other_"));
        }
        let (width, grasped) = self.plant.gripper_state();
        ServerMessage::State(State {
            seq: self.seq,
            stamp: self.now_s(),
            joint_state: JointState {
                name,
                position,
                velocity: self.plant.velocities(),
            },
            gripper: Some(GripperState { width, grasped }),
            mode: self.mode,
            active_goal: self.goal.as_ref().map(|g| g.execute.goal_id.clone()),
            error: self.error.clone(),
        })
    }

    fn check_goal(&self, e: &Execute) -> Result<(), (i32, String)> {
        if self.mode != Mode::Idle {
            let why = format!("the arm is {:?}; send recover first", self.mode);
            return Err((codes::INVALID_GOAL, why));
        }
        check_execute(e, &self.hello, self.now_s() + self.faults.clock_ahead_s)?;
        if let Some(share) = self.faults.jerk_share {
            let n = self.hello.joint_names.len();
            if let Some((j, jerk)) = trajectory::worst_jerk(e, n) {
                let limit = self.hello.limits.jerk.get(j).copied().unwrap_or(0.0) * share;
                if jerk > limit {
                    return Err((
                        codes::INVALID_GOAL,
                        format!(
                            "joint `{}` jerk {jerk:.0} rad/s^3 exceeds the controller's {limit:.0}",
                            self.hello.joint_names[j]
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Answer one message from cap; what to send back.
    fn on_message(&mut self, m: ClientMessage) -> Vec<ServerMessage> {
        match m {
            ClientMessage::Execute(e) => {
                if let Err((code, why)) = self.check_goal(&e) {
                    self.event(format!("goal {} refused", e.goal_id));
                    return vec![ServerMessage::GoalResponse {
                        goal_id: e.goal_id,
                        accepted: false,
                        error_code: code,
                        error_string: why,
                    }];
                }
                self.event(format!("goal {} accepted", e.goal_id));
                self.first_goal_at.get_or_insert_with(Instant::now);
                self.mode = Mode::Executing;
                let id = e.goal_id.clone();
                self.goal = Some(Goal {
                    execute: e,
                    started: Instant::now(),
                    from: self.plant.positions(),
                });
                vec![ServerMessage::GoalResponse {
                    goal_id: id,
                    accepted: true,
                    error_code: codes::SUCCESSFUL,
                    error_string: String::new(),
                }]
            }
            ClientMessage::Cancel { goal_id } => {
                if self
                    .goal
                    .as_ref()
                    .is_some_and(|g| g.execute.goal_id == goal_id)
                {
                    self.goal = None;
                    self.mode = Mode::Idle;
                    self.event(format!("goal {goal_id} cancelled"));
                    return vec![ServerMessage::Result {
                        goal_id,
                        error_code: codes::INVALID_GOAL,
                        error_string: "cancelled".into(),
                    }];
                }
                Vec::new()
            }
            ClientMessage::Gripper {
                id,
                position,
                max_effort,
            } => {
                let refused = |why: String| ServerMessage::GripperResult {
                    id: id.clone(),
                    position: f64::NAN,
                    grasped: false,
                    error: Some(why),
                };
                if self.mode != Mode::Idle {
                    return vec![refused(format!("the arm is {:?}", self.mode))];
                }
                let max = self.hello.gripper.as_ref().map_or(0.0, |g| g.max_width);
                if !position.is_finite() || position < 0.0 || position > max + 1e-9 {
                    return vec![refused(format!("width {position} outside [0, {max}]"))];
                }
                match self.plant.gripper(position, max_effort) {
                    Ok((mut width, mut grasped)) => {
                        if self.faults.grasp_fails && grasped {
                            // The object slides out: report it and open a little.
                            grasped = false;
                            width = self.plant.gripper(max, max_effort).map_or(width, |r| r.0);
                        }
                        self.event(format!("gripper {id} at {width:.3}"));
                        vec![ServerMessage::GripperResult {
                            id,
                            position: width,
                            grasped,
                            error: None,
                        }]
                    }
                    Err(why) => vec![refused(why)],
                }
            }
            ClientMessage::Recover => {
                self.mode = Mode::Idle;
                self.error = None;
                self.event("recovered".into());
                Vec::new()
            }
            ClientMessage::Hello(_) | ClientMessage::Heartbeat { .. } => Vec::new(),
        }
    }

    /// Drive the plant one period along the goal (or hold); the result once the goal
    /// is done or has failed its path tolerance.
    fn tick(&mut self) -> Option<ServerMessage> {
        let dt = TICK.as_secs_f64();
        let Some(g) = self.goal.as_ref() else {
            self.plant.step(None, dt);
            return None;
        };
        let slow = self.faults.slow_factor.unwrap_or(1.0).max(1.0);
        let t = g.started.elapsed().as_secs_f64() / slow;
        let mut target = trajectory::sample(&g.execute, &g.from, t);
        if let Some(j) = self.faults.stuck_joint {
            if let (Some(v), Some(at)) = (target.get_mut(j), g.from.get(j)) {
                *v = *at;
            }
        }
        let id = g.execute.goal_id.clone();
        let end = g
            .execute
            .trajectory
            .points
            .last()
            .map_or(0.0, |p| p.time_from_start.as_secs());
        let tolerance: Vec<f64> = g
            .execute
            .path_tolerance
            .iter()
            .map(|t| t.position)
            .collect();
        // Where it should be now (what the path tolerance is measured against).
        let desired = trajectory::sample(&g.execute, &g.from, t);
        self.plant.step(Some(&target), dt);
        self.note_motion();
        let actual = self.plant.positions();
        let off = actual
            .iter()
            .zip(&desired)
            .zip(&tolerance)
            .enumerate()
            .find(|(_, ((a, d), tol))| **tol > 0.0 && (*a - *d).abs() > **tol);
        if let Some((j, ((a, d), tol))) = off {
            let why = format!(
                "joint `{}` is {:.3} rad from its path (tolerance {tol:.3})",
                self.hello.joint_names.get(j).map_or("?", String::as_str),
                (a - d).abs()
            );
            self.goal = None;
            self.mode = Mode::Idle;
            self.event("path_tolerance".into());
            return Some(ServerMessage::Result {
                goal_id: id,
                error_code: codes::PATH_TOLERANCE_VIOLATED,
                error_string: why,
            });
        }
        if t < end {
            return None;
        }
        self.goal = None;
        self.mode = Mode::Idle;
        self.event(format!("goal {id} done"));
        Some(ServerMessage::Result {
            goal_id: id,
            error_code: codes::SUCCESSFUL,
            error_string: String::new(),
        })
    }
}

fn serve(listener: TcpListener, mut arm: Arm, stop: &AtomicBool) {
    arm.last_q = arm.plant.positions();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                arm.event("connected".into());
                session(stream, &mut arm, stop);
                // A new connection never resumes the old goal.
                if arm.goal.take().is_some() {
                    arm.mode = Mode::Idle;
                }
            }
            Err(_) => {
                // Nobody connected: the arm holds.
                arm.plant.step(None, 0.002);
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// A pseudo-random delay of up to `max_ms` for state `seq` (deterministic).
fn jitter(seq: u64, max_ms: u64) -> Duration {
    if max_ms == 0 {
        return Duration::ZERO;
    }
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    Duration::from_millis(x % (max_ms + 1))
}

fn session(stream: TcpStream, arm: &mut Arm, stop: &AtomicBool) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Ok(mut link) = Link::server(stream, Duration::from_secs(2)) else {
        return;
    };
    let mut hello = arm.hello.clone();
    hello.protocol = arm.faults.version.unwrap_or(PROTOCOL_VERSION);
    if !arm.plant.objects().is_empty() && !hello.capabilities.iter().any(|c| c == "objects") {
        hello.capabilities.push("objects".into());
    }
    let send =
        |link: &mut Link, m: &ServerMessage| to_text(m).ok().is_some_and(|t| link.send(t).is_ok());
    if !send(&mut link, &ServerMessage::Hello(hello)) {
        return;
    }
    let watchdog = Duration::from_millis(u64::from(arm.hello.watchdog_ms));
    let mut heard = Instant::now();
    let mut next_state = Instant::now();
    let mut last_objects = Instant::now() - OBJECTS_EVERY;
    let mut next_tick = Instant::now();
    let mut hanging = false;
    // A socket that ends mid-goal latches an error; one that ends with the arm idle is
    // a client that finished.
    let lost = |arm: &mut Arm| {
        if arm.goal.is_some() {
            arm.halt(Mode::Error, "link_lost", "the socket dropped");
        } else {
            arm.event("disconnected".into());
        }
    };
    while !stop.load(Ordering::SeqCst) {
        // Everything cap sent since the last tick.
        loop {
            match link.poll() {
                Ok(Some(text)) => {
                    heard = Instant::now();
                    let Ok(m) = parse_client(&text) else {
                        continue;
                    };
                    for reply in arm.on_message(m) {
                        if !hanging && !send(&mut link, &reply) {
                            return lost(arm);
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return lost(arm),
            }
        }
        if heard.elapsed() > watchdog && arm.mode != Mode::Error {
            arm.halt(Mode::Error, "watchdog", "no heartbeat from the client");
        }
        if arm.past(arm.faults.drop_after_s) {
            arm.faults.drop_after_s = None;
            arm.event("dropped".into());
            link.close();
            return arm.halt(Mode::Error, "link_lost", "the socket dropped");
        }
        if arm.past(arm.faults.hang_after_s) {
            arm.faults.hang_after_s = None;
            arm.event("hanging".into());
            hanging = true;
        }
        if arm.past(arm.faults.estop_after_s) {
            arm.faults.estop_after_s = None;
            arm.halt(Mode::Estop, "estop", "the e-stop was pressed");
        }
        if arm.past(arm.faults.malformed_after_s) {
            arm.faults.malformed_after_s = None;
            arm.event("malformed".into());
            if link.send("{\"type\": \"state\", \"seq\": ".into()).is_err() {
                return lost(arm);
            }
        }
        if let Some(result) = arm.tick() {
            if !hanging && !send(&mut link, &result) {
                return lost(arm);
            }
        }
        if !hanging && Instant::now() >= next_state {
            let s = arm.state();
            if !send(&mut link, &s) {
                return lost(arm);
            }
            next_state = Instant::now() + STATE_EVERY + jitter(arm.seq, arm.faults.jitter_ms);
        }
        if !hanging && last_objects.elapsed() >= OBJECTS_EVERY {
            last_objects = Instant::now();
            let objects = arm.plant.objects();
            if !objects.is_empty() {
                let m = ServerMessage::Objects {
                    stamp: arm.now_s(),
                    objects,
                };
                if !send(&mut link, &m) {
                    return lost(arm);
                }
            }
        }
        next_tick += TICK;
        if let Some(wait) = next_tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        } else {
            next_tick = Instant::now();
        }
    }
}
