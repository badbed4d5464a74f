//! The script API: one declaration per function, used both to register it with the
//! engine and to generate the reference text (`cap api`, the model's prompt).
//!
//! Every call made by a program becomes a trace event with its arguments, result,
//! source line, current subgoal and, on failure, the failure kind. A failing motion
//! primitive raises a catchable error whose value is a map
//! `#{kind, message, object, function}`.

use std::sync::{Arc, Mutex, MutexGuard};

use cap_core::failure::{Failure, FailureKind};
use cap_core::robot::RobotBackend;
use cap_core::trace::{Answer, EventKind, TraceEvent};
use cap_sim::grasp::Side;
use cap_sim::prelude::*;
use rhai::{Dynamic, Engine, EvalAltResult, Map, NativeCallContext, Position};
use serde_json::Value;

use crate::monitor::{self, SharedMonitor};
use crate::sandbox::Meter;
use crate::value::{array3, number, point, string, to_json};

/// What group a function belongs to in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Reads the scene; no side effects. Also available to success predicates.
    Query,
    /// Moves the arm or gripper.
    Motion,
    /// Structures and annotates the run (subgoals, checkpoints, messages).
    Monitor,
}

impl Category {
    /// Its heading in the reference.
    pub fn title(self) -> &'static str {
        match self {
            Self::Query => "Scene queries",
            Self::Motion => "Motion",
            Self::Monitor => "Monitoring",
        }
    }
}

/// The kind of value a parameter takes. `Object` parameters are checked statically
/// against the scene's object names when given as string literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// An object name (`"red_block"`).
    Object,
    /// Free text.
    Text,
    /// A point `[x, y, z]`, metres.
    Point,
    /// A number.
    Number,
    /// A functional point name (`"top"`, ...).
    Which,
}

impl ParamType {
    fn name(self) -> &'static str {
        match self {
            Self::Object => "object name",
            Self::Text => "string",
            Self::Point => "[x, y, z]",
            Self::Number => "number",
            Self::Which => "point name",
        }
    }
}

/// What an option of a function's trailing options map takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    /// A number.
    Number,
    /// One of the names of [`Side`].
    Side,
    /// A string.
    Text,
}

/// One key of a function's options map (`pick("ball", #{yaw_deg: 90})`).
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// The key.
    pub name: &'static str,
    /// What it takes.
    pub ty: OptType,
    /// What it does.
    pub doc: &'static str,
}

impl OptType {
    /// How the reference shows the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Side => "\"front\"|\"back\"|\"left\"|\"right\"",
            Self::Text => "string",
        }
    }
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name shown in the reference.
    pub name: &'static str,
    /// What it takes.
    pub ty: ParamType,
}

/// The state a program's calls act on.
pub struct Session {
    /// The world.
    pub world: World,
    /// Events recorded so far.
    pub trace: Vec<TraceEvent>,
    /// The subgoal the program declared last.
    pub subgoal: Option<String>,
    /// Whether calls are recorded (off for success predicates).
    pub record: bool,
    /// The inspector behind `checkpoint(...)`, if one is configured.
    pub monitor: Option<SharedMonitor>,
    /// Check each subgoal's text when the next subgoal begins (and at the end).
    pub checkpoint_on_subgoal: bool,
    /// Checkpoints taken so far.
    pub checkpoints: u32,
    /// Names the episode for the monitor's image files (empty: no name).
    pub episode: String,
    /// Source line of the call being handled.
    pub line: Option<u32>,
    /// What the call being handled did beyond its result (the grasp `pick` used), for
    /// its trace event.
    pub detail: Option<Value>,
}

impl Session {
    /// A session over `world`.
    pub fn new(world: World, record: bool) -> Self {
        Self {
            world,
            trace: Vec::new(),
            subgoal: None,
            record,
            monitor: None,
            checkpoint_on_subgoal: false,
            checkpoints: 0,
            episode: String::new(),
            line: None,
            detail: None,
        }
    }

    /// Take a checkpoint of `statement` (if a monitor is configured) and record it;
    /// returns the primary inspector's answer.
    pub fn checkpoint(&mut self, statement: &str, automatic: bool) -> Answer {
        let Some(monitor) = self.monitor.clone() else {
            return Answer::CannotTell;
        };
        let r = monitor.checkpoint(&self.world, statement, self.checkpoints, &self.episode);
        self.checkpoints += 1;
        let answer = r.verdicts.first().map_or(Answer::CannotTell, |v| v.answer);
        if self.record {
            self.push(self.line, monitor::event(statement, automatic, r));
        }
        answer
    }

    /// With `checkpoint_on_subgoal`, check that the current subgoal was achieved.
    pub fn check_subgoal(&mut self) {
        if self.checkpoint_on_subgoal {
            if let Some(goal) = self.subgoal.clone() {
                self.checkpoint(&goal, true);
            }
        }
    }

    /// Append an event stamped with the current step, time and subgoal.
    pub fn push(&mut self, line: Option<u32>, event: EventKind) {
        let seq = self.trace.len() as u64;
        self.trace.push(TraceEvent {
            seq,
            step: self.world.steps(),
            sim_time_s: self.world.sim_time_s(),
            line,
            subgoal: self.subgoal.clone(),
            event,
        });
    }
}

/// A shared session, as the registered closures hold it.
pub type SharedSession = Arc<Mutex<Session>>;

/// Lock a session, surviving a poisoned lock (a panic elsewhere must not hide the trace).
pub fn lock(s: &SharedSession) -> MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

type Handler = fn(&mut Session, &[Dynamic]) -> Result<Dynamic, Failure>;

/// One API function: its declaration and its implementation.
pub struct ApiFn {
    /// Name in scripts.
    pub name: &'static str,
    /// Parameters in order.
    pub params: &'static [Param],
    /// What it returns, in words.
    pub returns: &'static str,
    /// One-line description.
    pub doc: &'static str,
    /// An example call.
    pub example: &'static str,
    /// Group.
    pub category: Category,
    /// Keys of an optional trailing options map; empty: the function takes none.
    pub options: &'static [Opt],
    handler: Handler,
}

impl ApiFn {
    /// The numbers of arguments it takes: its parameters, and one more (the options
    /// map) if it has options.
    pub fn arities(&self) -> std::ops::RangeInclusive<usize> {
        let n = self.params.len();
        n..=n + usize::from(!self.options.is_empty())
    }

    /// Its signature as the reference shows it.
    pub fn signature(&self) -> String {
        let mut params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty.name()))
            .collect();
        if !self.options.is_empty() {
            let keys: Vec<String> = self
                .options
                .iter()
                .map(|o| format!("{}: {}", o.name, o.ty.name()))
                .collect();
            params.push(format!("options?: #{{{}}}", keys.join(", ")));
        }
        format!("{}({})", self.name, params.join(", "))
    }
}

const NONE: &[Opt] = &[];
const PICK_OPTS: &[Opt] = &[
    Opt { name: "yaw_deg", ty: OptType::Number, doc: "wrist yaw in degrees: the fingers close along world (-sin yaw, cos yaw); 0 closes along y, 90 along x. A box is taken across the face pair nearest that yaw." },
    Opt { name: "side", ty: OptType::Side, doc: "for a bowl or plate: the rim point to take it by (front is toward the robot)." },
    Opt { name: "point", ty: OptType::Text, doc: "for a mesh object: the named grasp point to take it by (\"handle\"; the scene's grasp_points)." },
];
const PLACE_OPTS: &[Opt] = &[
    Opt { name: "yaw_deg", ty: OptType::Number, doc: "the object's final yaw about z in degrees (as pose(name).yaw, which is in radians); without it the object keeps the yaw it was held at." },
];

const fn p(name: &'static str, ty: ParamType) -> Param {
    Param { name, ty }
}

use ParamType::{Number as N, Object as O, Point as P, Text as T, Which as W};

/// Every API function, in reference order.
pub static API: &[ApiFn] = &[
    // ---- queries ----
    ApiFn { name: "objects", params: &[], returns: "array of names", doc: "Names of all objects in the scene, in scene order.", example: "for name in objects() { say(name); }", category: Category::Query, options: NONE, handler: h_objects },
    ApiFn { name: "find", params: &[p("description", T)], returns: "name", doc: "The one object matching a description: a colour and/or a kind (\"red block\", \"bowl\"), which may pick by a superlative (\"the biggest block\", \"the smallest bowl\", \"the tallest block\", \"the leftmost block\", \"the block closest to the green plate\") or leave out a colour or kind (\"the block that is not red\"); an error if none or several match.", example: "let big = find(\"biggest block\");", category: Category::Query, options: NONE, handler: h_find },
    ApiFn { name: "find_all", params: &[p("description", T)], returns: "array of names", doc: "All objects matching a description (\"block\", \"green\", \"blocks that are not red\"), in scene order.", example: "for b in find_all(\"blocks that are not red\") { say(b); }", category: Category::Query, options: NONE, handler: h_find_all },
    ApiFn { name: "position", params: &[p("name", O)], returns: "[x, y, z]", doc: "Centre of the object, metres, world frame.", example: "let p = position(\"red_block\");", category: Category::Query, options: NONE, handler: h_position },
    ApiFn { name: "pose", params: &[p("name", O)], returns: "#{position, yaw, upright}", doc: "Centre, yaw about z (radians) and whether the object stands upright.", example: "let yaw = pose(\"red_block\").yaw;", category: Category::Query, options: NONE, handler: h_pose },
    ApiFn { name: "size", params: &[p("name", O)], returns: "[sx, sy, sz]", doc: "Full extents of the object in its own frame, metres.", example: "let h = size(\"red_block\")[2];", category: Category::Query, options: NONE, handler: h_size },
    ApiFn { name: "color", params: &[p("name", O)], returns: "string", doc: "Colour name of the object (\"red\").", example: "if color(name) == \"red\" { say(name); }", category: Category::Query, options: NONE, handler: h_color },
    ApiFn { name: "kind", params: &[p("name", O)], returns: "string", doc: "What the object is: \"block\", \"bowl\", \"plate\", \"cylinder\" or \"ball\".", example: "let bowls = objects().filter(|n| kind(n) == \"bowl\");", category: Category::Query, options: NONE, handler: h_kind },
    ApiFn { name: "point", params: &[p("name", O), p("which", W)], returns: "[x, y, z]", doc: "A functional point: \"top\", \"center\", \"bottom\", \"inside\" (where things placed on/in it rest), \"left\" (+y), \"right\" (−y), \"front\" (−x, toward the robot), \"back\" (+x); or a mesh object's named point (\"handle\").", example: "let target = point(\"blue_plate\", \"inside\");", category: Category::Query, options: NONE, handler: h_point },
    ApiFn { name: "is_on", params: &[p("a", O), p("b", O)], returns: "bool", doc: "Whether object a rests on object b (on its top, or on the floor of a plate or bowl).", example: "if is_on(\"red_block\", \"blue_plate\") { say(\"done\"); }", category: Category::Query, options: NONE, handler: h_is_on },
    ApiFn { name: "is_in", params: &[p("a", O), p("b", O)], returns: "bool", doc: "Whether object a is inside bowl or plate b.", example: "is_in(\"green_block\", \"yellow_bowl\")", category: Category::Query, options: NONE, handler: h_is_in },
    ApiFn { name: "is_upright", params: &[p("name", O)], returns: "bool", doc: "Whether the object stands within 30° of upright.", example: "is_upright(\"red_block\")", category: Category::Query, options: NONE, handler: h_is_upright },
    ApiFn { name: "distance", params: &[p("a", O), p("b", O)], returns: "number", doc: "Distance between the centres of two objects, metres.", example: "let d = distance(\"red_block\", \"blue_block\");", category: Category::Query, options: NONE, handler: h_distance },
    ApiFn { name: "table_bounds", params: &[], returns: "#{min, max}", doc: "Corners of the table top: min = [x, y, 0] (front right), max = [x, y, 0] (back left). The corners themselves are out of the arm's reach; use table_point for a reachable place near one.", example: "let b = table_bounds(); let front_right = b.min;", category: Category::Query, options: NONE, handler: h_table_bounds },
    ApiFn { name: "reachable", params: &[p("pos", P)], returns: "bool", doc: "Whether the gripper can be at pos pointing straight down: inside the workspace box and within the arm's reach.", example: "if reachable([0.8, 0.3, 0.02]) { say(\"in reach\"); }", category: Category::Query, options: NONE, handler: h_reachable },
    ApiFn { name: "reachable_region", params: &[], returns: "#{base, min_radius, max_radius, x, y}", doc: "Where the arm reaches down on this table: between min_radius and max_radius (metres, horizontally) from base = [x, y], from the table top to 20 cm above it; x and y are the [min, max] ranges of that part of the table.", example: "let r = reachable_region(); let far_x = r.x[1];", category: Category::Query, options: NONE, handler: h_reachable_region },
    ApiFn { name: "table_point", params: &[p("place", T)], returns: "[x, y, 0]", doc: "A reachable point on the table top for a named place: \"middle\", \"top left corner\", \"top right corner\", \"bottom left corner\", \"bottom right corner\", \"top side\", \"bottom side\", \"left side\", \"right side\". Top is far from the robot (+x), bottom near it, left is +y. The point nearest the named place that the arm reaches with room to set an object down, clear of the objects as they stood at the start (a bowl in a corner moves that corner's point beside it).", example: "place_at(\"red_block\", table_point(\"top left corner\"));", category: Category::Query, options: NONE, handler: h_table_point },
    ApiFn { name: "gripper_position", params: &[], returns: "[x, y, z]", doc: "Where the tool centre point (between the fingertips) is now.", example: "let g = gripper_position();", category: Category::Query, options: NONE, handler: h_gripper_position },
    ApiFn { name: "holding", params: &[], returns: "name or \"\"", doc: "The object the gripper holds, or an empty string.", example: "if holding() == \"\" { pick(\"red_block\"); }", category: Category::Query, options: NONE, handler: h_holding },
    // ---- motion ----
    ApiFn { name: "move_to", params: &[p("pos", P)], returns: "true", doc: "Move the tool centre point in a straight line to pos, keeping the gripper pointing down.", example: "move_to([0.5, 0.0, 0.2]);", category: Category::Motion, options: NONE, handler: h_move_to },
    ApiFn { name: "move_by", params: &[p("dx", N), p("dy", N), p("dz", N)], returns: "true", doc: "Move the tool centre point by an offset, metres.", example: "move_by(0.0, 0.0, 0.1);", category: Category::Motion, options: NONE, handler: h_move_by },
    ApiFn { name: "open_gripper", params: &[], returns: "true", doc: "Open the gripper fully, releasing whatever it holds.", example: "open_gripper();", category: Category::Motion, options: NONE, handler: h_open },
    ApiFn { name: "close_gripper", params: &[], returns: "bool", doc: "Close the gripper until it holds something; whether it holds an object.", example: "let held = close_gripper();", category: Category::Motion, options: NONE, handler: h_close },
    ApiFn { name: "home", params: &[], returns: "true", doc: "Move the arm back to its ready pose.", example: "home();", category: Category::Motion, options: NONE, handler: h_home },
    ApiFn { name: "pick", params: &[p("name", O)], returns: "true", doc: "Grasp the object from above and lift it. Without options it tries the grasps that fit (both face pairs of a box, four wrist yaws of a ball or cylinder, four rim points of a bowl or plate) and takes the first whose approach is clear; raises no_grasp if the fingers close on nothing.", example: "pick(\"ball\", #{yaw_deg: 90});", category: Category::Motion, options: PICK_OPTS, handler: h_pick },
    ApiFn { name: "place_on", params: &[p("name", O), p("target", O)], returns: "true", doc: "Put the held object on (or in) the target object and let go; pick(name) it first. On a bowl or plate that already holds things it goes beside them.", example: "place_on(\"red_block\", \"blue_plate\");", category: Category::Motion, options: PLACE_OPTS, handler: h_place_on },
    ApiFn { name: "place_at", params: &[p("name", O), p("pos", P)], returns: "true", doc: "Put the held object down with its bottom centre at pos (z = 0 is the table top) and let go.", example: "place_at(\"red_block\", [0.4, -0.2, 0.0], #{yaw_deg: 45});", category: Category::Motion, options: PLACE_OPTS, handler: h_place_at },
    // ---- monitoring ----
    ApiFn { name: "subgoal", params: &[p("text", T)], returns: "()", doc: "Declare the step the program is on; later events are attributed to it.", example: "subgoal(\"pick up the red block\");", category: Category::Monitor, options: NONE, handler: h_subgoal },
    ApiFn { name: "checkpoint", params: &[p("statement", T)], returns: "string", doc: "State what should now be true of the scene; the inspector looks at the cameras and answers \"holds\", \"does_not_hold\" or \"cannot_tell\" (recorded in the trace).", example: "checkpoint(\"the red block is on the blue plate\");", category: Category::Monitor, options: NONE, handler: h_checkpoint },
    ApiFn { name: "say", params: &[p("text", T)], returns: "()", doc: "Record a message in the trace.", example: "say(\"all blocks stacked\");", category: Category::Monitor, options: NONE, handler: h_say },
];

/// Look up a function by name.
pub fn get(name: &str) -> Option<&'static ApiFn> {
    API.iter().find(|f| f.name == name)
}

/// The failure as the catchable value a script sees.
fn failure_value(function: &str, f: &Failure) -> Dynamic {
    let mut m = Map::new();
    m.insert("kind".into(), f.kind.label().into());
    m.insert("message".into(), f.message.clone().into());
    m.insert("object".into(), f.object.clone().unwrap_or_default().into());
    m.insert("function".into(), function.into());
    Dynamic::from_map(m)
}

/// Register the functions for which `include` is true into `engine`, acting on
/// `session`. Each call is charged to `meter`; the time of motion and monitoring calls
/// (bounded by simulated time, not by the program's loops) does not count as computing.
pub fn register(
    engine: &mut Engine,
    session: &SharedSession,
    meter: &Arc<Meter>,
    include: impl Fn(&ApiFn) -> bool,
) {
    for f in API.iter().filter(|f| include(f)) {
        let s = Arc::clone(session);
        let meter = Arc::clone(meter);
        let excluded = f.category == Category::Motion || matches!(f.name, "checkpoint" | "subgoal");
        for arity in f.arities() {
            let s = Arc::clone(&s);
            let meter = Arc::clone(&meter);
            let types = vec![std::any::TypeId::of::<Dynamic>(); arity];
            engine.register_raw_fn(
                f.name,
                types,
                move |ctx: NativeCallContext, args: &mut [&mut Dynamic]| {
                    let args: Vec<Dynamic> = args.iter().map(|a| (**a).clone()).collect();
                    let line = ctx.call_position().line().map(|l| l as u32);
                    meter.charge_call();
                    let started = std::time::Instant::now();
                    let mut session = lock(&s);
                    session.line = line;
                    let result = (f.handler)(&mut session, &args);
                    if excluded {
                        meter.exclude(started.elapsed());
                    }
                    let detail = session.detail.take();
                    if session.record {
                        let (result_json, failure) = match &result {
                            Ok(v) => (to_json(v), None),
                            Err(e) => (Value::Null, Some(e.clone())),
                        };
                        session.push(
                            line,
                            EventKind::Call {
                                function: f.name.to_owned(),
                                args: args.iter().map(to_json).collect(),
                                result: result_json,
                                failure,
                                detail,
                            },
                        );
                    }
                    drop(session);
                    result.map_err(|e| {
                        Box::new(EvalAltResult::ErrorRuntime(
                            failure_value(f.name, &e),
                            ctx.call_position().max(Position::START),
                        ))
                    })
                },
            );
        }
    }
}

/// Read back a failure thrown by [`register`]'s wrapper.
pub fn failure_from_value(v: &Dynamic) -> Option<Failure> {
    let m = v.read_lock::<Map>()?;
    let kind = m.get("kind")?.to_string();
    let kind: FailureKind = serde_json::from_value(Value::String(kind)).ok()?;
    let message = m.get("message").map(|m| m.to_string()).unwrap_or_default();
    let object = m
        .get("object")
        .map(|o| o.to_string())
        .filter(|o| !o.is_empty());
    Some(Failure {
        kind,
        message,
        object,
    })
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

fn ok() -> Result<Dynamic, Failure> {
    Ok(Dynamic::TRUE)
}

fn h_objects(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(Dynamic::from_array(
        s.world
            .scene()
            .objects
            .iter()
            .map(|o| o.name.clone().into())
            .collect(),
    ))
}
fn h_find(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(s.world.find(&string("find", "description", &a[0])?)?.into())
}
fn h_find_all(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let d = string("find_all", "description", &a[0])?;
    Ok(Dynamic::from_array(
        s.world
            .find_all(&d)
            .into_iter()
            .map(Dynamic::from)
            .collect(),
    ))
}
fn obj(s: &Session, f: &str, p: &str, d: &Dynamic) -> Result<ObjectState, Failure> {
    s.world.object(&string(f, p, d)?)
}
fn h_position(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let o = obj(s, "position", "name", &a[0])?;
    Ok(array3(o.position().coords.into()))
}
fn h_pose(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let o = obj(s, "pose", "name", &a[0])?;
    let mut m = Map::new();
    m.insert("position".into(), array3(o.position().coords.into()));
    m.insert("yaw".into(), Dynamic::from_float(o.yaw_rad()));
    m.insert("upright".into(), o.upright().into());
    Ok(Dynamic::from_map(m))
}
fn h_size(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let o = obj(s, "size", "name", &a[0])?;
    Ok(array3(o.size_m.into()))
}
fn h_color(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(obj(s, "color", "name", &a[0])?.color.into())
}
fn h_kind(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let o = obj(s, "kind", "name", &a[0])?;
    let noun = s
        .world
        .scene()
        .object(&o.name)
        .map_or(o.kind.noun(), |spec| spec.noun());
    Ok(noun.to_owned().into())
}
fn h_point(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let name = string("point", "name", &a[0])?;
    let which = string("point", "which", &a[1])?;
    if let Some(w) = Which::parse(&which) {
        return Ok(array3(s.world.point(&name, w)?.coords.into()));
    }
    Ok(array3(s.world.named_point(&name, &which)?.coords.into()))
}
fn two(s: &Session, f: &str, a: &[Dynamic]) -> Result<(String, String), Failure> {
    let (x, y) = (string(f, "a", &a[0])?, string(f, "b", &a[1])?);
    s.world.object(&x)?;
    s.world.object(&y)?;
    Ok((x, y))
}
fn h_is_on(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let (x, y) = two(s, "is_on", a)?;
    Ok(s.world.is_on(&x, &y)?.into())
}
fn h_is_in(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let (x, y) = two(s, "is_in", a)?;
    Ok(s.world.is_in(&x, &y)?.into())
}
fn h_is_upright(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(obj(s, "is_upright", "name", &a[0])?.upright().into())
}
fn h_distance(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let (x, y) = two(s, "distance", a)?;
    Ok(Dynamic::from_float(s.world.distance(&x, &y)?))
}
fn h_table_bounds(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    let t = &s.world.scene().table;
    let mut m = Map::new();
    m.insert(
        "min".into(),
        array3([
            t.center_m.x - t.size_m.x / 2.0,
            t.center_m.y - t.size_m.y / 2.0,
            0.0,
        ]),
    );
    m.insert(
        "max".into(),
        array3([
            t.center_m.x + t.size_m.x / 2.0,
            t.center_m.y + t.size_m.y / 2.0,
            0.0,
        ]),
    );
    Ok(Dynamic::from_map(m))
}
fn h_gripper_position(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(array3(s.world.tcp().translation.vector.into()))
}
fn h_holding(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(s.world.holding().unwrap_or_default().into())
}
fn h_move_to(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let p = point("move_to", "pos", &a[0])?;
    s.world.move_to(p)?;
    ok()
}
fn h_move_by(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let d = cap_core::nalgebra::Vector3::new(
        number("move_by", "dx", &a[0])?,
        number("move_by", "dy", &a[1])?,
        number("move_by", "dz", &a[2])?,
    );
    s.world.move_by(d)?;
    ok()
}
fn h_open(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    s.world.open_gripper()?;
    ok()
}
fn h_close(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    Ok(s.world.close_gripper()?.is_some().into())
}
fn h_home(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    s.world.home()?;
    ok()
}
/// The options map a call passed after its `n` parameters (empty if none), checked
/// against the function's keys.
fn options(f: &str, a: &[Dynamic], n: usize) -> Result<Map, Failure> {
    let Some(d) = a.get(n) else {
        return Ok(Map::new());
    };
    let allowed = get(f).map_or(NONE, |f| f.options);
    let Some(m) = d.read_lock::<Map>().map(|m| m.clone()) else {
        return Err(Failure::new(
            FailureKind::InvalidArgument,
            format!(
                "{f}: the options must be a map such as #{{{}: ...}}, got {}",
                allowed.first().map_or("", |o| o.name),
                d.type_name()
            ),
        ));
    };
    for key in m.keys() {
        if !allowed.iter().any(|o| o.name == key.as_str()) {
            let names: Vec<&str> = allowed.iter().map(|o| o.name).collect();
            return Err(Failure::new(
                FailureKind::InvalidArgument,
                format!(
                    "{f}: unknown option `{key}`; options are {}",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(m)
}
fn yaw_option(f: &str, m: &Map) -> Result<Option<f64>, Failure> {
    m.get("yaw_deg")
        .map(|v| number(f, "yaw_deg", v).map(f64::to_radians))
        .transpose()
}
fn h_pick(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let name = string("pick", "name", &a[0])?;
    let opts = options("pick", a, 1)?;
    let side = match opts.get("side") {
        None => None,
        Some(v) => {
            let text = string("pick", "side", v)?;
            Some(Side::parse(&text).ok_or_else(|| {
                let names: Vec<&str> = Side::ALL.iter().map(|(n, _)| *n).collect();
                Failure::new(
                    FailureKind::InvalidArgument,
                    format!(
                        "pick: unknown side `{text}`; use one of {}",
                        names.join(", ")
                    ),
                )
            })?)
        }
    };
    let point = opts
        .get("point")
        .map(|v| string("pick", "point", v))
        .transpose()?;
    let request = GraspRequest {
        yaw_rad: yaw_option("pick", &opts)?,
        side,
        point,
    };
    let grasp = s.world.pick_with(&name, &request)?;
    s.detail = Some(serde_json::json!({
        "grasp": grasp.label,
        "yaw_deg": (grasp.yaw_rad.to_degrees() * 10.0).round() / 10.0,
    }));
    ok()
}
fn h_place_on(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let name = string("place_on", "name", &a[0])?;
    let target = string("place_on", "target", &a[1])?;
    let yaw = yaw_option("place_on", &options("place_on", a, 2)?)?;
    s.world.place_on_with(&name, &target, yaw)?;
    ok()
}
fn h_place_at(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let name = string("place_at", "name", &a[0])?;
    let pos = point("place_at", "pos", &a[1])?;
    let yaw = yaw_option("place_at", &options("place_at", a, 2)?)?;
    s.world.place_at_with(&name, pos, yaw)?;
    ok()
}
fn h_reachable(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let p = point("reachable", "pos", &a[0])?;
    Ok(s.world.reachable(p).into())
}
fn h_reachable_region(s: &mut Session, _: &[Dynamic]) -> Result<Dynamic, Failure> {
    let r = s.world.reachable_region();
    let mut m = Map::new();
    m.insert(
        "base".into(),
        array3([r.reach.base_xy_m[0], r.reach.base_xy_m[1], 0.0]),
    );
    m.insert(
        "min_radius".into(),
        Dynamic::from_float(r.reach.min_radius_m),
    );
    m.insert(
        "max_radius".into(),
        Dynamic::from_float(r.reach.max_radius_m),
    );
    let pair = |v: [f64; 2]| {
        Dynamic::from_array(vec![Dynamic::from_float(v[0]), Dynamic::from_float(v[1])])
    };
    m.insert("x".into(), pair(r.x_m));
    m.insert("y".into(), pair(r.y_m));
    Ok(Dynamic::from_map(m))
}
fn h_table_point(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let place = string("table_point", "place", &a[0])?;
    Ok(array3(s.world.table_point(&place)?.coords.into()))
}
fn text(f: &str, a: &[Dynamic]) -> Result<String, Failure> {
    let t = string(f, "text", &a[0])?;
    Ok(t.chars().take(500).collect())
}
fn h_subgoal(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let next = text("subgoal", a)?;
    s.check_subgoal();
    s.subgoal = Some(next);
    Ok(Dynamic::UNIT)
}
fn h_checkpoint(s: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    let statement = text("checkpoint", a)?;
    Ok(s.checkpoint(&statement, false).label().into())
}
fn h_say(_: &mut Session, a: &[Dynamic]) -> Result<Dynamic, Failure> {
    text("say", a)?;
    Ok(Dynamic::UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn reference_lists_every_function_with_doc_and_example() {
        let r = reference();
        for f in API {
            assert!(r.contains(&format!("{}(", f.name)), "{} missing", f.name);
            assert!(
                !f.doc.is_empty() && f.example.contains(f.name)
                    || f.name == "kind"
                    || f.name == "objects",
                "{}",
                f.name
            );
        }
        let mut names: Vec<_> = API.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), API.len(), "duplicate API names");
    }
}
