//! `cap robots`: the arms of the catalogue as their URDFs describe them — joints and
//! limits, how far they reach, their gripper — or why one cannot be loaded.

use anyhow::Result;
use cap_core::chain::JointKind;
use cap_core::nalgebra::Isometry3;
use cap_robot::{Arm, Gripper, ARMS};

use crate::BadInput;

/// Print every arm (or `only`); exit 0, or 2 for an unknown name, 1 if one failed to load.
pub fn run(only: Option<&str>) -> Result<u8> {
    let arms: Vec<&Arm> = match only {
        None => ARMS.iter().collect(),
        Some(name) => match Arm::named(name) {
            Some(a) => vec![a],
            None => {
                let known: Vec<&str> = ARMS.iter().map(|a| a.name).collect();
                return Err(
                    BadInput(format!("no arm `{name}`; arms: {}", known.join(", "))).into(),
                );
            }
        },
    };
    let data = cap_core::paths::data_dir();
    let mut failed = false;
    for arm in arms {
        println!("{}: {}", arm.name, arm.about);
        let path = arm.urdf_path(&data);
        match arm.load(&data, Isometry3::identity()) {
            Err(e) => {
                failed = true;
                println!("  cannot load: {e}");
                if !path.is_file() {
                    println!("  (run `bash scripts/fetch-robots.sh`; setup.sh does)");
                }
            }
            Ok((d, c)) => {
                println!(
                    "  urdf: {} (robot `{}`), chain {} -> {}",
                    path.display(),
                    d.name(),
                    arm.base,
                    arm.tool
                );
                println!(
                    "  {} joints; reach from the first joint at most {:.3} m",
                    c.dof(),
                    c.reach_bound_m()
                );
                for j in c.joints() {
                    let (unit, scale) = match j.kind {
                        JointKind::Revolute => ("°", 180.0 / std::f64::consts::PI),
                        JointKind::Prismatic => (" mm", 1000.0),
                    };
                    println!(
                        "    {:<22} {:?} {:>8.1}..{:<8.1}{unit}  {:>6.2} {}/s  effort {}",
                        j.name,
                        j.kind,
                        j.lower * scale,
                        j.upper * scale,
                        j.velocity,
                        if j.kind == JointKind::Revolute {
                            "rad"
                        } else {
                            "m"
                        },
                        j.effort
                    );
                }
                let g = match arm.gripper {
                    Gripper::Fingers { joints, max_width_m } => {
                        format!("two fingers ({}, {}), up to {:.0} mm", joints[0], joints[1], max_width_m * 1e3)
                    }
                    Gripper::Jaw { joint, max_width_m } => {
                        format!("one jaw ({joint}), up to {:.0} mm", max_width_m * 1e3)
                    }
                    Gripper::Mounted { max_width_m, length_m } => format!(
                        "a mounted parallel gripper (not in the URDF), up to {:.0} mm, {:.0} mm long",
                        max_width_m * 1e3,
                        length_m * 1e3
                    ),
                };
                println!("  gripper: {g}");
            }
        }
    }
    Ok(u8::from(failed))
}
