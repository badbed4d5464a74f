//! `cap robots`: the arms cap drives — the built-in Panda and the catalogue's arms as
//! their URDFs describe them — with their joints and limits, ready pose, where they
//! reach straight down, and their gripper; or why one cannot be loaded.

use anyhow::Result;
use cap_core::nalgebra::Point3;
use cap_core::scene::{ArmSource, RobotSpec};
use cap_robot::ARMS;
use cap_sim::robot::Robot;

use crate::BadInput;

/// Print every arm (or `only`); exit 0, or 2 for an unknown name, 1 if one failed to load.
pub fn run(only: Option<&str>) -> Result<u8> {
    let mut names: Vec<&str> = vec!["builtin"];
    names.extend(ARMS.iter().map(|a| a.name));
    if let Some(name) = only {
        if !names.contains(&name) {
            return Err(BadInput(format!("no arm `{name}`; arms: {}", names.join(", "))).into());
        }
        names = vec![name];
    }
    let data = cap_core::paths::data_dir();
    let mut failed = false;
    for name in names {
        let spec = RobotSpec {
            arm: if name == "builtin" {
                ArmSource::Builtin
            } else {
                ArmSource::Catalogue(name.to_owned())
            },
            base_m: Point3::origin(),
            base_yaw_rad: 0.0,
            home: None,
            workspace_min_m: Point3::new(-1.0, -1.0, 0.0),
            workspace_max_m: Point3::new(1.0, 1.0, 1.0),
            speed: 1.0,
        };
        match Robot::load(&spec, &data) {
            Err(e) => {
                failed = true;
                println!("{name}: cannot load: {e}");
            }
            Ok(r) => print_robot(&r),
        }
    }
    Ok(u8::from(failed))
}

fn print_robot(r: &Robot) {
    let k = r.kinematics();
    println!("{}: {}", r.name(), r.about());
    if let Some(p) = r.source() {
        println!("  urdf: {}", p.display());
    }
    let revolute = |i: usize| {
        k.serial_chain().is_none_or(|c| {
            c.joints()
                .get(i)
                .is_none_or(|j| j.kind == cap_core::chain::JointKind::Revolute)
        })
    };
    println!(
        "  {} joints (position limits, velocity, effort, ready pose):",
        k.dof()
    );
    for i in 0..k.dof() {
        let (unit, scale, vunit) = if revolute(i) {
            ("°", 180.0 / std::f64::consts::PI, "rad/s")
        } else {
            (" mm", 1000.0, "m/s")
        };
        println!(
            "    {:<22} {:>8.1}..{:<8.1}{unit}  {:>6.2} {vunit}  effort {:<6}  ready {:>7.1}{unit}",
            k.joint_names()[i],
            k.q_min()[i] * scale,
            k.q_max()[i] * scale,
            k.v_max()[i],
            k.effort()[i],
            k.home()[i] * scale,
        );
    }
    let tcp = k.tcp(k.home()).translation.vector;
    println!(
        "  ready pose: tool at [{:.3}, {:.3}, {:.3}] m from the base, pointing down",
        tcp.x, tcp.y, tcp.z
    );
    let b = r.reach_band();
    println!(
        "  reaches straight down between {:.3} and {:.3} m from the base axis, {:.0} to {:.0} cm above the base",
        b.min_radius_m,
        b.max_radius_m,
        cap_sim::robot::REACH_LOW_Z_M * 100.0,
        b.top_z_m * 100.0
    );
    if k.dof() < 6 {
        println!(
            "  {} joints: the tool can point straight down at any wrist yaw its roll joint allows, but not take every orientation",
            k.dof()
        );
    }
    println!(
        "  gripper: {}; hand {:.0} cm across the fingers; {} collision parts",
        r.gripper().describe(),
        r.palm_across_m() * 100.0,
        r.parts().len() + r.fixed_parts().len()
    );
}
