//! The render and viewer pipelines on the tabletop scene: every object is seen in its
//! colour at its depth, frames are deterministic and follow motion, the viewer's bodies
//! are named by their labels and posed where the physics has them, and the observer
//! hears every step and plan.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::{Arc, Mutex};

use cap_core::kinematics::Joints;
use cap_core::nalgebra::{Point3, Vector3};
use cap_core::scene::{ObjectKind, Scene};
use cap_sim::labels::{SEG_OBJECT0, SEG_ROBOT, SEG_TABLE};
use cap_sim::observer::{StepObserver, StepView};
use cap_sim::prelude::*;
use cap_sim::rapier3d::prelude::Vec3;
use cap_sim::render::Projection;

fn world() -> World {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
    let scene = Scene::load(path).expect("scene loads");
    World::new(Arc::new(scene), 0).expect("world builds")
}

#[test]
fn every_object_is_seen_with_its_colour_and_depth() {
    let w = world();
    let cam = w.scene().cameras[0].clone();
    let f = w.render(&cam);
    assert_eq!(f.rgb.len(), (cam.width * cam.height * 3) as usize);
    assert!(
        f.pixels_of(SEG_TABLE) > 5000,
        "table fills much of the view"
    );
    assert!(f.pixels_of(SEG_ROBOT) > 200, "the arm is in view");
    let proj = Projection::new(&cam);
    for (i, o) in w.scene().objects.iter().enumerate() {
        let id = SEG_OBJECT0 + i as u16;
        let n = f.pixels_of(id);
        assert!(n > 30, "{} covers {n} px", o.name);
        // The object's centre projects onto a pixel of that object (or of something in
        // front of it, nearer the camera).
        let p = w.object(&o.name).unwrap().position();
        let c = Vec3::new(
            p.x as f32,
            p.y as f32,
            (p.z + o.size_m.z / 2.0 - 0.004) as f32,
        );
        let (x, y) = proj.project(c).unwrap();
        let i_px = y as usize * cam.width as usize + x as usize;
        let cam_pt = proj.to_camera(c);
        assert!(
            f.seg[i_px] == id || f.depth_m[i_px] < cam_pt.z,
            "{}: seg {} at its centre",
            o.name,
            f.seg[i_px]
        );
        if f.seg[i_px] == id && o.kind == ObjectKind::Box {
            assert!((f.depth_m[i_px] - cam_pt.z).abs() < 0.03);
            // Its colour dominates: the palette's strongest channel stays strongest.
            let rgb = &f.rgb[3 * i_px..3 * i_px + 3];
            let strongest = (0..3)
                .max_by(|&a, &b| o.rgb[a].total_cmp(&o.rgb[b]))
                .unwrap();
            assert_eq!(
                (0..3).max_by_key(|&a| rgb[a]).unwrap(),
                strongest,
                "{}: {rgb:?}",
                o.name
            );
        }
    }
}

#[test]
fn rendering_is_deterministic_and_tracks_motion() {
    let mut w = world();
    let cam = w.scene().cameras[0].clone();
    let a = w.render(&cam);
    assert_eq!(a, w.fork().render(&cam));
    // The pipeline over the sets is the world's frame.
    assert_eq!(a, w.render_model().render(w.colliders(), &cam));
    w.move_by(Vector3::new(0.0, 0.0, -0.2)).unwrap();
    let b = w.render(&cam);
    assert_ne!(a.seg, b.seg, "the arm moved in the image");
}

#[test]
fn near_plane_clipping_keeps_geometry_behind_the_camera_out() {
    let w = world();
    // A camera inside the table's volume edge looks along it: nothing explodes and depth
    // is positive wherever something was drawn.
    let mut cam = w.scene().cameras[0].clone();
    cam.position_m = Point3::new(0.45, 0.0, 0.02);
    cam.look_at_m = Point3::new(1.0, 0.0, 0.0);
    let f = w.render(&cam);
    assert!(f.depth_m.iter().all(|d| *d == 0.0 || *d >= 0.0099));
}

#[test]
fn bodies_are_named_coloured_and_posed() {
    let w = world();
    let v = w.visual_bodies();
    let paths: Vec<&str> = v.iter().map(|b| b.path.as_str()).collect();
    for p in [
        "table",
        "objects/red_block",
        "objects/yellow_bowl",
        "robot/link3",
        "robot/hand",
        "robot/base",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    // One entry per body: the bowl's ring segments are one entity.
    assert_eq!(
        paths
            .iter()
            .filter(|p| **p == "objects/yellow_bowl")
            .count(),
        1
    );
    let i = paths
        .iter()
        .position(|p| *p == "objects/red_block")
        .unwrap();
    let red = &v[i];
    assert!(red.dynamic && !red.triangles.is_empty());
    assert_eq!(red.colors.len(), red.vertices.len());
    let [r, g, b] = red.colors[0];
    assert!(r > 150 && g < 100 && b < 100, "{:?}", red.colors[0]);
    let table = &v[paths.iter().position(|p| *p == "table").unwrap()];
    assert!(!table.dynamic);
    // The block's pose is its world position, from the world and from a step view.
    let poses = w.visual_poses(&v);
    assert_eq!(poses, w.view().poses(&v));
    let p = w.object("red_block").unwrap().position();
    let t = poses[i].translation;
    assert!(
        ((t[0] as f64 - p.x).abs() + (t[1] as f64 - p.y).abs()) < 1e-3,
        "{t:?} vs {p:?}"
    );
}

struct Count(Mutex<(u64, usize, f64)>);

impl StepObserver for Count {
    fn on_step(&self, view: &StepView<'_>) {
        if let Ok(mut c) = self.0.lock() {
            c.0 += 1;
            c.2 = view.gripper_opening_m();
        }
    }
    fn on_plan(&self, view: &StepView<'_>, path: &[Joints]) {
        if let Ok(mut c) = self.0.lock() {
            c.1 += path.len();
        }
        let tcp = view.tcp_path(path);
        assert_eq!(tcp.len(), path.len());
        assert!(tcp.iter().flatten().all(|c| c.is_finite()));
    }
}

#[test]
fn the_observer_hears_steps_and_plans() {
    let mut w = world();
    let count = Arc::new(Count(Mutex::new((0, 0, -1.0))));
    w.set_observer(Some(count.clone()));
    let before = w.steps();
    let r = w.pick("red_block");
    assert!(r.is_ok(), "{r:?}");
    let (steps, planned, width) = count.0.lock().map(|c| *c).unwrap();
    assert_eq!(steps, w.steps() - before);
    assert!(planned > 10, "{planned}");
    // The last step it saw had the gripper closed on the block (4 cm).
    assert!((0.02..0.06).contains(&width), "{width}");
    assert_eq!(w.view().steps(), w.steps());
    assert!((w.view().tcp().translation.vector - w.tcp().translation.vector).norm() < 1e-12);
}
