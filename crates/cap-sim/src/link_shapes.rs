//! Collision shapes of a robot description's links, for the physics and the planner:
//! each link's collision geometry (boxes, cylinders, spheres, capsules from the URDF,
//! and the convex hull of each collision mesh, built with parry) as one compound
//! shape in the link's frame.
//!
//! A convex hull per mesh is what simulators do for robot links (PyBullet, Isaac
//! Sim's default), and links' collision meshes are drawn near-convex for it; objects
//! with handles and cavities are decomposed instead (the mesh objects of scenes).

use std::path::PathBuf;

use cap_robot::{RobotDescription, RobotError, Shape};
use rapier3d::glamx::{Quat, Vec3};
use rapier3d::prelude::SharedShape;

use crate::convert::to_pose;

/// One link's collision shape.
#[derive(Clone)]
pub struct LinkShape {
    /// The link.
    pub link: String,
    /// Its geometry as one compound, in the link's frame.
    pub shape: SharedShape,
    /// Pieces in the compound.
    pub pieces: usize,
}

impl std::fmt::Debug for LinkShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkShape")
            .field("link", &self.link)
            .field("pieces", &self.pieces)
            .finish_non_exhaustive()
    }
}

/// The collision shape of every link of `desc` that has collision geometry, meshes
/// resolved against `packages`. A mesh whose hull is degenerate is an error naming
/// the URDF, the link and the file.
pub fn link_shapes(
    desc: &RobotDescription,
    packages: &[PathBuf],
) -> Result<Vec<LinkShape>, RobotError> {
    let mut hulls = desc.collision_meshes(packages)?.into_iter();
    let mut by_link: Vec<(String, Vec<(rapier3d::glamx::Pose3, SharedShape)>)> = Vec::new();
    // parry's cylinders and capsules stand along y; a URDF's along z.
    let upright = Quat::from_rotation_x(std::f32::consts::FRAC_PI_2);
    for g in desc.geometry(packages)? {
        if g.visual {
            continue;
        }
        let pose = to_pose(&g.origin);
        let (pose, shape) = match &g.shape {
            Shape::Box { size } => (
                pose,
                SharedShape::cuboid(
                    size[0] as f32 / 2.0,
                    size[1] as f32 / 2.0,
                    size[2] as f32 / 2.0,
                ),
            ),
            Shape::Sphere { radius } => (pose, SharedShape::ball(*radius as f32)),
            Shape::Cylinder { radius, length } => (
                pose * rapier3d::glamx::Pose3::from_parts(Vec3::ZERO, upright),
                SharedShape::cylinder(*length as f32 / 2.0, *radius as f32),
            ),
            Shape::Capsule { radius, length } => (
                pose,
                SharedShape::capsule_z(*length as f32 / 2.0, *radius as f32),
            ),
            Shape::Mesh { path, .. } => {
                // collision_meshes lists the same meshes in the same order.
                let Some((_, mesh)) = hulls.next() else {
                    continue;
                };
                let points = hull_points(&mesh.vertices);
                let hull = SharedShape::convex_hull(&points).ok_or_else(|| RobotError::Mesh {
                    path: desc.path().to_path_buf(),
                    link: g.link.clone(),
                    source: cap_robot::mesh::MeshError::Invalid {
                        path: path.clone(),
                        message: "its convex hull is degenerate".into(),
                    },
                })?;
                (pose, hull)
            }
        };
        match by_link.iter_mut().find(|(l, _)| *l == g.link) {
            Some((_, parts)) => parts.push((pose, shape)),
            None => by_link.push((g.link.clone(), vec![(pose, shape)])),
        }
    }
    Ok(by_link
        .into_iter()
        .map(|(link, parts)| LinkShape {
            link,
            pieces: parts.len(),
            shape: SharedShape::compound(parts),
        })
        .collect())
}

/// Grid a hull's input points are thinned to: one point per cube (the hull moves by
/// less than a cube's diagonal, 3.5 mm), so that a dense link mesh (the SO-101's STLs)
/// does not give a hull of thousands of faces for the renderer and the planner.
const HULL_GRID_M: f64 = 0.002;

/// The first vertex of each [`HULL_GRID_M`] cube, in file order (deterministic).
fn hull_points(vertices: &[[f64; 3]]) -> Vec<Vec3> {
    let mut seen = std::collections::HashSet::new();
    vertices
        .iter()
        .filter(|v| seen.insert(v.map(|c| (c / HULL_GRID_M).floor() as i64)))
        .map(|v| Vec3::new(v[0] as f32, v[1] as f32, v[2] as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_core::nalgebra::Isometry3;

    #[test]
    fn the_catalogue_arms_links_become_convex_pieces_of_their_size() {
        let data = cap_core::paths::data_dir();
        let probe = cap_robot::ARMS[0].urdf_path(&data);
        assert!(
            probe.is_file(),
            "{} is missing: run `bash scripts/fetch-robots.sh` (setup.sh does)",
            probe.display()
        );
        for arm in &cap_robot::ARMS {
            let (d, chain) = arm
                .load(&data, Isometry3::identity())
                .unwrap_or_else(|e| panic!("{}: {e}", arm.name));
            let shapes = link_shapes(&d, &[arm.package_root(&data)])
                .unwrap_or_else(|e| panic!("{}: {e}", arm.name));
            // Every moving link of the chain has a shape (the tool link may not).
            let moving: Vec<&str> = chain
                .joints()
                .iter()
                .filter_map(|j| d.urdf().joints.iter().find(|u| u.name == j.name))
                .map(|u| u.child.link.as_str())
                .collect();
            let with_shape = moving
                .iter()
                .filter(|l| shapes.iter().any(|s| s.link == **l))
                .count();
            assert!(
                with_shape + 1 >= moving.len(),
                "{}: {with_shape} of {:?}",
                arm.name,
                moving
            );
            for s in &shapes {
                let aabb = s.shape.compute_local_aabb();
                let size = (aabb.maxs - aabb.mins).max_element();
                assert!(
                    (0.01..1.2).contains(&size),
                    "{}: {}: {size} m",
                    arm.name,
                    s.link
                );
                let mp = s.shape.mass_properties(1000.0);
                assert!(mp.mass() > 0.0, "{}: {} has no volume", arm.name, s.link);
            }
        }
    }
}
