//! cap's end of the bridge: connect, check the robot's `hello`, then one thread owns
//! the socket. It reads and checks every message, keeps the latest state, sends
//! heartbeats and what the caller queues, and watches the link: no valid state for
//! `link_timeout` (200 ms by default), or the socket dropping, ends every wait with
//! [`BridgeError::LinkLost`]. A goal is waited on up to 1.1 × its duration + 0.5 s
//! (MoveIt's rule), then cancelled; success is reported only once the robot says it
//! has stopped.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::link::Link;
use crate::protocol::{
    check_hello, check_objects, check_state, codes, parse_server, to_text, ClientHello,
    ClientMessage, Execute, Mode, ObjectPose, ProtocolError, RobotHello, ServerMessage, State,
    PROTOCOL_VERSION,
};

/// How often cap sends a heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(50);
/// How long a goal or gripper command may wait for its acceptance.
const RESPONSE_WAIT: Duration = Duration::from_secs(1);

/// Why the bridge cannot go on; each ends the episode with a typed failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BridgeError {
    /// No robot at the address, or the handshake failed.
    #[error("cannot connect to the robot at {url}: {why}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        why: String,
    },
    /// The robot broke the protocol (a field named).
    #[error("the robot broke the protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// The link went silent or dropped.
    #[error("link lost: {0}")]
    LinkLost(String),
    /// The robot refused a goal.
    #[error("the robot refused goal {goal_id} (code {code}): {why}")]
    Refused {
        /// The goal.
        goal_id: String,
        /// A `codes` value.
        code: i32,
        /// Why.
        why: String,
    },
    /// A goal ended without success.
    #[error("goal {goal_id} failed (code {code}): {why}")]
    GoalFailed {
        /// The goal.
        goal_id: String,
        /// A `codes` value.
        code: i32,
        /// Why.
        why: String,
    },
    /// The robot is in its error mode.
    #[error("the robot reports an error ({code}): {message}")]
    RobotError {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The robot is e-stopped.
    #[error("the robot is e-stopped: {0}")]
    Estop(String),
    /// A goal ran past 1.1 × its duration + 0.5 s and was cancelled.
    #[error("goal {goal_id} did not finish within {limit_s:.2} s; cancelled")]
    Timeout {
        /// The goal.
        goal_id: String,
        /// The limit.
        limit_s: f64,
    },
}

/// Connection settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientOptions {
    /// No valid state for this long is a lost link.
    pub link_timeout: Duration,
    /// Connecting and the handshake may take this long.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            link_timeout: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Default)]
struct Shared {
    state: Option<(State, Instant)>,
    objects: Vec<ObjectPose>,
    /// Why the link ended: the socket (`LinkLost`) or the robot breaking the protocol.
    closed: Option<BridgeError>,
    /// Measured positions while a goal runs (when, positions), if being kept.
    samples: Option<Vec<(Instant, Vec<f64>)>>,
}

/// A connected robot.
pub struct BridgeClient {
    hello: RobotHello,
    options: ClientOptions,
    shared: Arc<Mutex<Shared>>,
    outgoing: Sender<ClientMessage>,
    replies: Receiver<ServerMessage>,
    stop: Arc<AtomicBool>,
    io: Option<JoinHandle<()>>,
    connected_at: Instant,
}

impl BridgeClient {
    /// Connect to `url` (`ws://HOST:PORT`), read and check the robot's `hello`, answer
    /// it, and start the I/O thread.
    pub fn connect(url: &str, options: ClientOptions) -> Result<Self, BridgeError> {
        let fail = |why: String| BridgeError::Connect {
            url: url.to_owned(),
            why,
        };
        let host = url
            .strip_prefix("ws://")
            .ok_or_else(|| fail("the address must start with ws://".into()))?;
        let host = host.split('/').next().unwrap_or(host);
        let addr = host
            .to_socket_addrs()
            .map_err(|e| fail(e.to_string()))?
            .next()
            .ok_or_else(|| fail("the host has no address".into()))?;
        let stream = TcpStream::connect_timeout(&addr, options.connect_timeout)
            .map_err(|e| fail(e.to_string()))?;
        let mut link =
            Link::client(url, stream, options.connect_timeout).map_err(|e| fail(e.to_string()))?;
        let deadline = Instant::now() + options.connect_timeout;
        let hello = loop {
            match link.poll().map_err(|e| fail(e.to_string()))? {
                Some(text) => match parse_server(&text)? {
                    ServerMessage::Hello(h) => break h,
                    other => {
                        return Err(fail(format!(
                            "the robot spoke before its hello: {}",
                            to_text(&other).unwrap_or_default()
                        )))
                    }
                },
                None if Instant::now() > deadline => {
                    return Err(fail("no hello from the robot".into()))
                }
                None => {}
            }
        };
        check_hello(&hello)?;
        let mine = ClientMessage::Hello(ClientHello {
            protocol: PROTOCOL_VERSION,
            client: format!("cap {}", env!("CARGO_PKG_VERSION")),
        });
        link.send(to_text(&mine)?)
            .map_err(|e| fail(e.to_string()))?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (outgoing, to_send) = mpsc::channel();
        let (reply_tx, replies) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let io = {
            let (shared, stop, hello) = (shared.clone(), stop.clone(), hello.clone());
            std::thread::spawn(move || io_loop(link, &hello, &shared, &to_send, &reply_tx, &stop))
        };
        Ok(Self {
            hello,
            options,
            shared,
            outgoing,
            replies,
            stop,
            io: Some(io),
            connected_at: Instant::now(),
        })
    }

    /// The robot's `hello`.
    pub fn hello(&self) -> &RobotHello {
        &self.hello
    }

    /// The latest valid state and its age.
    pub fn state(&self) -> Option<(State, Duration)> {
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.state.as_ref().map(|(st, at)| (st.clone(), at.elapsed()))
    }

    /// The latest object poses.
    pub fn objects(&self) -> Vec<ObjectPose> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .objects
            .clone()
    }

    /// Whether the link is alive now: open, and a valid state newer than the link
    /// timeout (or, right after connecting, the first one on its way).
    pub fn check_link(&self) -> Result<State, BridgeError> {
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = &s.closed {
            return Err(why.clone());
        }
        match &s.state {
            Some((st, at)) if at.elapsed() <= self.options.link_timeout => match st.mode {
                Mode::Estop => Err(BridgeError::Estop(
                    st.error
                        .as_ref()
                        .map_or(String::new(), |e| e.message.clone()),
                )),
                Mode::Error => {
                    let (code, message) = st
                        .error
                        .as_ref()
                        .map_or((String::new(), String::new()), |e| {
                            (e.code.clone(), e.message.clone())
                        });
                    Err(BridgeError::RobotError { code, message })
                }
                _ => Ok(st.clone()),
            },
            Some((_, at)) => Err(BridgeError::LinkLost(format!(
                "no state for {} ms (limit {} ms)",
                at.elapsed().as_millis(),
                self.options.link_timeout.as_millis()
            ))),
            None if self.connected_at.elapsed() > self.options.link_timeout => {
                Err(BridgeError::LinkLost("no state since connecting".into()))
            }
            None => Err(BridgeError::LinkLost("no state yet".into())),
        }
    }

    /// Wait (bounded by the link timeout) for a first state.
    pub fn wait_for_state(&self) -> Result<State, BridgeError> {
        let deadline = Instant::now() + self.options.link_timeout * 2;
        loop {
            match self.check_link() {
                Ok(s) => return Ok(s),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    fn send(&self, m: ClientMessage) -> Result<(), BridgeError> {
        self.outgoing
            .send(m)
            .map_err(|_| BridgeError::LinkLost("the I/O thread has stopped".into()))
    }

    /// Send `goal` and wait for it: accepted, then a result, then the robot at rest.
    /// The link is checked all the while; past 1.1 × `duration_s` + 0.5 s the goal is
    /// cancelled.
    /// Returns when the robot accepted the goal (its motion starts then).
    pub fn execute(&self, goal: &Execute, duration_s: f64) -> Result<Instant, BridgeError> {
        let id = goal.goal_id.clone();
        self.check_link()?;
        self.send(ClientMessage::Execute(goal.clone()))?;
        let cancel = |e: BridgeError| {
            // Best effort: the robot also stops on its own watchdog.
            if self
                .send(ClientMessage::Cancel {
                    goal_id: id.clone(),
                })
                .is_err()
            {
                return e;
            }
            e
        };
        // Accepted?
        let asked = Instant::now();
        loop {
            if let Err(e) = self.check_link() {
                return Err(cancel(e));
            }
            match self.replies.recv_timeout(Duration::from_millis(5)) {
                Ok(ServerMessage::GoalResponse {
                    goal_id,
                    accepted,
                    error_code,
                    error_string,
                }) if goal_id == id => {
                    if accepted {
                        break;
                    }
                    return Err(BridgeError::Refused {
                        goal_id,
                        code: error_code,
                        why: error_string,
                    });
                }
                _ if asked.elapsed() > RESPONSE_WAIT => {
                    return Err(cancel(BridgeError::Timeout {
                        goal_id: id.clone(),
                        limit_s: RESPONSE_WAIT.as_secs_f64(),
                    }))
                }
                _ => {}
            }
        }
        // Done?
        let limit_s = 1.1 * duration_s + 0.5;
        let started = Instant::now();
        loop {
            if let Err(e) = self.check_link() {
                return Err(cancel(e));
            }
            match self.replies.recv_timeout(Duration::from_millis(5)) {
                Ok(ServerMessage::Result {
                    goal_id,
                    error_code,
                    error_string,
                }) if goal_id == id => {
                    if error_code != codes::SUCCESSFUL {
                        return Err(BridgeError::GoalFailed {
                            goal_id,
                            code: error_code,
                            why: error_string,
                        });
                    }
                    return self.wait_at_rest(&id, started, limit_s).map(|()| started);
                }
                _ if started.elapsed().as_secs_f64() > limit_s => {
                    return Err(cancel(BridgeError::Timeout {
                        goal_id: id.clone(),
                        limit_s,
                    }))
                }
                _ => {}
            }
        }
    }

    /// After a successful result: wait until a state shows the robot idle with the goal
    /// gone (it reports success only once stopped, but the state confirms it).
    fn wait_at_rest(&self, id: &str, started: Instant, limit_s: f64) -> Result<(), BridgeError> {
        loop {
            let s = self.check_link()?;
            if s.mode == Mode::Idle && s.active_goal.as_deref() != Some(id) {
                return Ok(());
            }
            if started.elapsed().as_secs_f64() > limit_s {
                return Err(BridgeError::Timeout {
                    goal_id: id.to_owned(),
                    limit_s,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ask the robot to clear a latched error or e-stop.
    pub fn recover(&self) -> Result<(), BridgeError> {
        self.send(ClientMessage::Recover)
    }

    /// Cancel goal `goal_id` (the robot stops and holds).
    pub fn cancel(&self, goal_id: &str) -> Result<(), BridgeError> {
        self.send(ClientMessage::Cancel {
            goal_id: goal_id.to_owned(),
        })
    }

    /// Cancel whatever goal the latest state says is active (best effort).
    pub fn cancel_active(&self) {
        let active = self.state().and_then(|(s, _)| s.active_goal);
        if let Some(id) = active {
            if self.cancel(&id).is_err() {
                // The link is already gone; the robot's watchdog stops it.
            }
        }
    }

    /// Move the gripper to `position` (m) with `max_effort` (N) and wait for the
    /// result: the opening reached and whether it holds something. Bounded by
    /// `limit` and the link watchdog.
    pub fn gripper(
        &self,
        id: &str,
        position: f64,
        max_effort: f64,
        limit: Duration,
    ) -> Result<(f64, bool), BridgeError> {
        self.check_link()?;
        self.send(ClientMessage::Gripper {
            id: id.to_owned(),
            position,
            max_effort,
        })?;
        let asked = Instant::now();
        loop {
            self.check_link()?;
            match self.replies.recv_timeout(Duration::from_millis(5)) {
                Ok(ServerMessage::GripperResult {
                    id: got,
                    position,
                    grasped,
                    error,
                }) if got == id => {
                    return match error {
                        Some(why) => Err(BridgeError::Refused {
                            goal_id: id.to_owned(),
                            code: codes::INVALID_GOAL,
                            why,
                        }),
                        None if !position.is_finite() => {
                            Err(BridgeError::Protocol(ProtocolError::Field {
                                message: "gripper_result",
                                field: "position".into(),
                                detail: format!("{position}"),
                            }))
                        }
                        None => {
                            // A state after the result shows the gripper as it is now.
                            let at = self.state().map_or(0, |(s, _)| s.seq);
                            self.wait_newer_state(at)?;
                            Ok((position, grasped))
                        }
                    };
                }
                _ if asked.elapsed() > limit => {
                    return Err(BridgeError::Timeout {
                        goal_id: id.to_owned(),
                        limit_s: limit.as_secs_f64(),
                    })
                }
                _ => {}
            }
        }
    }

    /// Wait (bounded by the link watchdog) for a state newer than sequence `seq`.
    fn wait_newer_state(&self, seq: u64) -> Result<State, BridgeError> {
        let asked = Instant::now();
        loop {
            let s = self.check_link()?;
            if s.seq > seq {
                return Ok(s);
            }
            if asked.elapsed() > self.options.link_timeout {
                return Err(BridgeError::LinkLost(format!(
                    "no new state for {} ms",
                    self.options.link_timeout.as_millis()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Start keeping every measured position (for the next goal).
    pub fn begin_samples(&self) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .samples = Some(Vec::new());
    }

    /// The positions kept since [`BridgeClient::begin_samples`], with when each came,
    /// and stop keeping them.
    pub fn take_samples(&self) -> Vec<(Instant, Vec<f64>)> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .samples
            .take()
            .unwrap_or_default()
    }
}

impl Drop for BridgeClient {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.io.take() {
            if t.join().is_err() {
                eprintln!("bridge I/O thread panicked");
            }
        }
    }
}

fn io_loop(
    mut link: Link,
    hello: &RobotHello,
    shared: &Mutex<Shared>,
    to_send: &Receiver<ClientMessage>,
    replies: &Sender<ServerMessage>,
    stop: &AtomicBool,
) {
    let close = |why: BridgeError| {
        shared.lock().unwrap_or_else(|p| p.into_inner()).closed = Some(why);
    };
    let lost = |why: String| close(BridgeError::LinkLost(why));
    let mut last_beat = Instant::now() - HEARTBEAT;
    let mut beat = 0u64;
    let mut last_seq = None;
    while !stop.load(Ordering::SeqCst) {
        while let Ok(m) = to_send.try_recv() {
            match to_text(&m) {
                Ok(text) => {
                    if let Err(e) = link.send(text) {
                        return lost(e.to_string());
                    }
                }
                Err(e) => return lost(e.to_string()),
            }
        }
        if last_beat.elapsed() >= HEARTBEAT {
            last_beat = Instant::now();
            beat += 1;
            let text = to_text(&ClientMessage::Heartbeat { seq: beat }).unwrap_or_default();
            if let Err(e) = link.send(text) {
                return lost(e.to_string());
            }
        }
        match link.poll() {
            Ok(None) => {}
            Err(e) => return lost(e.to_string()),
            Ok(Some(text)) => {
                let m = match parse_server(&text) {
                    Ok(m) => m,
                    Err(e) => return close(BridgeError::Protocol(e)),
                };
                match m {
                    ServerMessage::State(s) => {
                        if let Err(e) = check_state(&s, hello, last_seq) {
                            return close(BridgeError::Protocol(e));
                        }
                        last_seq = Some(s.seq);
                        let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
                        let now = Instant::now();
                        if let Some(samples) = sh.samples.as_mut() {
                            samples.push((now, s.joint_state.position.clone()));
                        }
                        sh.state = Some((s, now));
                    }
                    ServerMessage::Objects { objects, .. } => {
                        if let Err(e) = check_objects(&objects) {
                            return close(BridgeError::Protocol(e));
                        }
                        shared.lock().unwrap_or_else(|p| p.into_inner()).objects = objects;
                    }
                    ServerMessage::Heartbeat { .. } | ServerMessage::Feedback { .. } => {}
                    ServerMessage::Hello(_) => {
                        return close(BridgeError::Protocol(ProtocolError::Malformed(
                            "a second hello".into(),
                        )));
                    }
                    other => {
                        if replies.send(other).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
    link.close();
}
