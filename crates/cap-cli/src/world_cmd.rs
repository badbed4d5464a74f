//! `cap world SCENE --seed N`: the laid-out tabletop as JSON, for another engine to
//! build the same world (the PyBullet reference arm does). `cap judge SCENE --task T
//! --poses FILE`: a task's success predicate evaluated with the objects where another
//! engine (or a robot's perception) left them, not where cap's simulation did.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use cap_core::nalgebra::{Isometry3, Quaternion, Translation3, UnitQuaternion};
use cap_core::remote::ReportedObject;
use cap_core::scene::Scene;
use cap_sim::layout::{Layout, Part, PartShape};
use cap_sim::prelude::*;
use serde_json::{json, Value};

use crate::BadInput;

/// `cap judge`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct JudgeArgs {
    /// The scene (TOML).
    pub scene: PathBuf,
    /// The task whose success predicate is judged.
    #[arg(long)]
    pub task: String,
    /// The seed whose layout places the objects the file does not mention.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// JSON: `{"objects": {"NAME": {"position": [x, y, z], "orientation": [x, y, z, w]}}}`
    /// (bounding-box centres, world frame; what `pybullet_panda.py --final-poses` writes).
    #[arg(long)]
    pub poses: PathBuf,
}

/// Print the world's layout as JSON (to `out`, or stdout).
pub fn world(scene_path: &Path, seed: u64, out: Option<&Path>) -> Result<u8> {
    let scene = Arc::new(Scene::load(scene_path)?);
    let world = World::new(Arc::clone(&scene), seed)?;
    let doc = layout_json(&scene, seed, &world.layout());
    let text = serde_json::to_string_pretty(&doc)?;
    match out {
        Some(p) => {
            std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?
        }
        None => println!("{text}"),
    }
    Ok(0)
}

fn pose_json(pose: &Isometry3<f64>) -> (Value, Value) {
    let t = pose.translation.vector;
    let q = pose.rotation.coords; // [x, y, z, w]
    (json!([t.x, t.y, t.z]), json!([q.x, q.y, q.z, q.w]))
}

fn part_json(part: &Part) -> Value {
    let (position, orientation) = pose_json(&part.pose);
    let mut v = match &part.shape {
        PartShape::Box { half_extents: h } => {
            json!({"shape": "box", "half_extents": [h.x, h.y, h.z]})
        }
        PartShape::Cylinder {
            radius,
            half_height,
        } => json!({"shape": "cylinder", "radius": radius, "half_height": half_height}),
        PartShape::Sphere { radius } => json!({"shape": "sphere", "radius": radius}),
        PartShape::Convex { vertices } => json!({
            "shape": "convex",
            "vertices": vertices.iter().map(|p| [p.x, p.y, p.z]).collect::<Vec<_>>(),
        }),
    };
    v["position"] = position;
    v["orientation"] = orientation;
    v
}

fn layout_json(scene: &Scene, seed: u64, l: &Layout) -> Value {
    let objects: Vec<Value> = l
        .objects
        .iter()
        .map(|o| {
            let (position, orientation) = pose_json(&o.pose);
            let s = &o.spec;
            json!({
                "name": s.name,
                "kind": format!("{:?}", s.kind).to_lowercase(),
                "color": s.color,
                "rgb": s.rgb,
                "size": [s.size_m.x, s.size_m.y, s.size_m.z],
                "mass": s.mass_kg,
                "friction": s.friction,
                "position": position,
                "orientation": orientation,
                "parts": o.parts.iter().map(part_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "format": "cap-world/1",
        "scene": scene.name,
        "seed": seed,
        "frame": "world: table top at z = 0, +x away from the robot, +z up; metres; quaternions [x, y, z, w]",
        "robot": {"arm": l.arm, "base": l.base_m, "yaw_deg": l.base_yaw_rad.to_degrees()},
        "table": {"size": l.table_size_m, "center": l.table_center_m, "friction": l.table_friction},
        "objects": objects,
    })
}

/// Read `{"objects": {name: {position, orientation}}}`; every value is checked, and a
/// bad one names the object and the field.
fn read_poses(path: &Path) -> Result<Vec<ReportedObject>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("{}: not JSON: {e}", path.display())))?;
    let Some(objects) = doc.get("objects").and_then(Value::as_object) else {
        return Err(BadInput(format!("{}: no `objects` map", path.display())).into());
    };
    let numbers = |v: Option<&Value>, n: usize, what: &str, name: &str| -> Result<Vec<f64>> {
        let xs: Option<Vec<f64>> = v
            .and_then(Value::as_array)
            .filter(|a| a.len() == n)
            .and_then(|a| a.iter().map(Value::as_f64).collect());
        xs.filter(|xs| xs.iter().all(|x| x.is_finite()))
            .ok_or_else(|| {
                BadInput(format!(
                    "{}: objects.{name}.{what}: needs {n} finite numbers",
                    path.display()
                ))
                .into()
            })
    };
    let mut out = Vec::new();
    for (name, v) in objects {
        let p = numbers(v.get("position"), 3, "position", name)?;
        let q = numbers(v.get("orientation"), 4, "orientation", name)?;
        let quat = Quaternion::new(q[3], q[0], q[1], q[2]);
        if (quat.norm() - 1.0).abs() > 1e-3 {
            return Err(BadInput(format!(
                "{}: objects.{name}.orientation: not a unit quaternion (norm {:.4})",
                path.display(),
                quat.norm()
            ))
            .into());
        }
        out.push(ReportedObject {
            name: name.clone(),
            pose: Isometry3::from_parts(
                Translation3::new(p[0], p[1], p[2]),
                UnitQuaternion::new_normalize(quat),
            ),
        });
    }
    Ok(out)
}

/// Judge `task` with the objects at `poses`: exit 0 if the predicate holds, 1 if not.
pub fn judge(args: &JudgeArgs) -> Result<u8> {
    let scene = Arc::new(Scene::load(&args.scene)?);
    let Some(task) = scene.tasks.iter().find(|t| t.name == args.task).cloned() else {
        let known: Vec<&str> = scene.tasks.iter().map(|t| t.name.as_str()).collect();
        return Err(BadInput(format!(
            "scene `{}` has no task `{}` (tasks: {})",
            scene.name,
            args.task,
            known.join(", ")
        ))
        .into());
    };
    let placed = read_poses(&args.poses)?;
    let mut world = World::new(Arc::clone(&scene), args.seed)?;
    world
        .place_objects(&placed)
        .map_err(|f| BadInput(format!("{}: {}", args.poses.display(), f.message)))?;
    let missing = scene.objects.len() - placed.len();
    let (_, verdict) = cap_script::run::eval_predicate(
        world,
        &task.success,
        &cap_script::sandbox::Limits::default(),
    );
    let held = verdict.map_err(|f| anyhow::anyhow!("{}: {}", task.name, f.message))?;
    let note = if missing > 0 {
        format!(
            "; {missing} object(s) not in the file stay where seed {} put them",
            args.seed
        )
    } else {
        String::new()
    };
    println!(
        "{}: {} (judged on the {} poses in {}{note})",
        task.name,
        if held { "success" } else { "failed" },
        placed.len(),
        args.poses.display()
    );
    Ok(if held { 0 } else { 1 })
}
