//! A simulated arm behind the bridge protocol, for tests that need no Python and no
//! robot: a kinematic arm that follows accepted goals at 240 Hz, sends `state` at
//! 100 Hz, keeps a watchdog on cap's heartbeats (stops and latches an error), and
//! injects faults on request. It records every position it moves through with the
//! time, so a test can say when the arm stopped from the arm's own record.
//!
//! One client at a time; a new connection never resumes an old goal.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::link::Link;
use crate::protocol::{
    check_execute, codes, parse_client, to_text, ClientMessage, Execute, GripperState, JointState,
    Mode, RobotFault, RobotHello, ServerMessage, State, PROTOCOL_VERSION,
};

/// The arm's control period.
const TICK: Duration = Duration::from_micros(4167);
/// How often state goes out.
const STATE_EVERY: Duration = Duration::from_millis(10);

/// Faults the server injects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Close the socket this long into the first goal.
    pub drop_after_s: Option<f64>,
    /// Stop sending anything (socket open) this long into the first goal.
    pub hang_after_s: Option<f64>,
    /// Latch an e-stop this long into the first goal.
    pub estop_after_s: Option<f64>,
    /// Send this protocol version in `hello`.
    pub version: Option<u32>,
    /// Report joint positions this far off where the arm is, rad.
    pub state_offset_rad: f64,
}

/// What the arm did, for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// (seconds since the server started, positions) each time the arm moved.
    pub motion: Vec<(f64, Vec<f64>)>,
    /// (seconds, what) for notable events: `connected`, `goal g1 accepted`,
    /// `watchdog`, `estop`, `dropped`.
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
}

/// A running simulated arm server.
pub struct SimArm {
    port: u16,
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
    start: Instant,
    thread: Option<JoinHandle<()>>,
}

impl SimArm {
    /// Serve `hello`'s arm at `initial` on an ephemeral port of 127.0.0.1.
    pub fn start(hello: RobotHello, initial: Vec<f64>, faults: Faults) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));
        let start = Instant::now();
        let arm = Arm {
            hello,
            q: initial,
            width: 0.08,
            grasped: false,
            mode: Mode::Idle,
            error: None,
            goal: None,
            faults,
            start,
            record: record.clone(),
            seq: 0,
            first_goal_at: None,
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

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL.
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
}

impl Drop for SimArm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // A panic in the server thread has already failed the test that caused it.
            if t.join().is_err() {
                eprintln!("sim arm server thread panicked");
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
    q: Vec<f64>,
    width: f64,
    grasped: bool,
    mode: Mode,
    error: Option<RobotFault>,
    goal: Option<Goal>,
    faults: Faults,
    start: Instant,
    record: Arc<Mutex<Record>>,
    seq: u64,
    first_goal_at: Option<Instant>,
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

    fn moved(&self) {
        let t = self.now_s();
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .motion
            .push((t, self.q.clone()));
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

    fn state(&mut self) -> ServerMessage {
        self.seq += 1;
        ServerMessage::State(State {
            seq: self.seq,
            stamp: self.now_s(),
            joint_state: JointState {
                name: self.hello.joint_names.clone(),
                position: self
                    .q
                    .iter()
                    .map(|v| v + self.faults.state_offset_rad)
                    .collect(),
                velocity: vec![0.0; self.q.len()],
            },
            gripper: Some(GripperState {
                width: self.width,
                grasped: self.grasped,
            }),
            mode: self.mode,
            active_goal: self.goal.as_ref().map(|g| g.execute.goal_id.clone()),
            error: self.error.clone(),
        })
    }

    /// Answer one message from cap; what to send back.
    fn on_message(&mut self, m: ClientMessage) -> Vec<ServerMessage> {
        match m {
            ClientMessage::Execute(e) => {
                let refuse = |code, why: String| ServerMessage::GoalResponse {
                    goal_id: e.goal_id.clone(),
                    accepted: false,
                    error_code: code,
                    error_string: why,
                };
                if self.mode != Mode::Idle {
                    let why = format!("the arm is {:?}; send recover first", self.mode);
                    return vec![refuse(codes::INVALID_GOAL, why)];
                }
                if let Err((code, why)) = check_execute(&e, &self.hello, self.now_s()) {
                    return vec![refuse(code, why)];
                }
                self.event(format!("goal {} accepted", e.goal_id));
                self.first_goal_at.get_or_insert_with(Instant::now);
                self.mode = Mode::Executing;
                let id = e.goal_id.clone();
                self.goal = Some(Goal {
                    execute: e,
                    started: Instant::now(),
                    from: self.q.clone(),
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
            ClientMessage::Gripper { id, position, .. } => {
                self.width = position.clamp(
                    0.0,
                    self.hello.gripper.as_ref().map_or(0.0, |g| g.max_width),
                );
                vec![ServerMessage::GripperResult {
                    id,
                    position: self.width,
                    grasped: self.grasped,
                    error: None,
                }]
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

    /// Move along the goal; the result once it is done.
    fn tick(&mut self) -> Option<ServerMessage> {
        let g = self.goal.as_ref()?;
        let t = g.started.elapsed().as_secs_f64();
        let pts = &g.execute.trajectory.points;
        let end = pts.last().map_or(0.0, |p| p.time_from_start.as_secs());
        // Linear between the points (the first from where the goal started).
        let mut prev = (0.0, g.from.clone());
        let mut q = pts.last().map_or(g.from.clone(), |p| p.positions.clone());
        for p in pts {
            let at = p.time_from_start.as_secs();
            if t <= at {
                let f = ((t - prev.0) / (at - prev.0).max(1e-9)).clamp(0.0, 1.0);
                q = prev
                    .1
                    .iter()
                    .zip(&p.positions)
                    .map(|(a, b)| a + (b - a) * f)
                    .collect();
                break;
            }
            prev = (at, p.positions.clone());
        }
        if q != self.q {
            self.q = q;
            self.moved();
        }
        if t < end {
            return None;
        }
        let id = g.execute.goal_id.clone();
        self.goal = None;
        self.mode = Mode::Idle;
        self.event(format!("goal {id} done"));
        Some(ServerMessage::Result {
            goal_id: id,
            error_code: codes::SUCCESSFUL,
            error_string: String::new(),
        })
    }

    fn since_first_goal_s(&self) -> Option<f64> {
        self.first_goal_at.map(|t| t.elapsed().as_secs_f64())
    }
}

fn serve(listener: TcpListener, mut arm: Arm, stop: &AtomicBool) {
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
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
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
    let send =
        |link: &mut Link, m: &ServerMessage| to_text(m).ok().is_some_and(|t| link.send(t).is_ok());
    if !send(&mut link, &ServerMessage::Hello(hello)) {
        return;
    }
    let watchdog = Duration::from_millis(u64::from(arm.hello.watchdog_ms));
    let mut heard = Instant::now();
    let mut last_state = Instant::now() - STATE_EVERY;
    let mut next_tick = Instant::now();
    let mut hanging = false;
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
                            return arm.halt(Mode::Error, "link_lost", "the socket dropped");
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return arm.halt(Mode::Error, "link_lost", "the socket dropped"),
            }
        }
        if heard.elapsed() > watchdog && arm.mode != Mode::Error {
            arm.halt(Mode::Error, "watchdog", "no heartbeat from the client");
        }
        let into = arm.since_first_goal_s();
        let past = |limit: Option<f64>| limit.zip(into).is_some_and(|(l, t)| t >= l);
        if past(arm.faults.drop_after_s) {
            arm.faults.drop_after_s = None;
            arm.event("dropped".into());
            link.close();
            return arm.halt(Mode::Error, "link_lost", "the socket dropped");
        }
        if past(arm.faults.hang_after_s) {
            arm.faults.hang_after_s = None;
            arm.event("hanging".into());
            hanging = true;
        }
        if past(arm.faults.estop_after_s) {
            arm.faults.estop_after_s = None;
            arm.halt(Mode::Estop, "estop", "the e-stop was pressed");
        }
        if let Some(result) = arm.tick() {
            if !hanging && !send(&mut link, &result) {
                return arm.halt(Mode::Error, "link_lost", "the socket dropped");
            }
        }
        if !hanging && last_state.elapsed() >= STATE_EVERY {
            last_state = Instant::now();
            let s = arm.state();
            if !send(&mut link, &s) {
                return arm.halt(Mode::Error, "link_lost", "the socket dropped");
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
