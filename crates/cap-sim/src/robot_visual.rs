//! A URDF arm's visual meshes, for viewers (the rerun recording): each link's
//! `<visual>` meshes in the frame of the body that carries the link, merged per link
//! and thinned by vertex clustering to at most [`TRIANGLE_BUDGET`] triangles a link
//! (UR5's visual DAE files are 6 MB; a recording carries them once). Read when a viewer
//! first asks, not when the arm is loaded: episodes that are not recorded never read
//! them. A visual mesh that cannot be read leaves its link drawn by its collision hull.
//! Cameras keep rendering the collision hulls, what the simulation collides with.

use std::collections::HashMap;
use std::path::PathBuf;

use cap_core::nalgebra::{Isometry3, Point3};

/// Most triangles one link's visual mesh keeps.
pub const TRIANGLE_BUDGET: usize = 5000;

/// Where a visual mesh comes from and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct VisualSource {
    /// The viewer entity (`robot/LINK`, or `robot/base` for links fixed to the base).
    pub(crate) entity: String,
    /// The mesh file's frame in that entity's body frame.
    pub(crate) body_from_mesh: Isometry3<f64>,
    /// The mesh file.
    pub(crate) file: PathBuf,
    /// Its scale.
    pub(crate) scale: [f64; 3],
    /// Its colour.
    pub(crate) rgb: [u8; 3],
}

/// One entity's visual mesh, in its body's frame.
#[derive(Debug, Clone, PartialEq)]
pub struct VisualMesh {
    /// The viewer entity it replaces the collision geometry of.
    pub entity: String,
    /// Vertices, metres.
    pub vertices: Vec<[f32; 3]>,
    /// Triangles.
    pub triangles: Vec<[u32; 3]>,
    /// One colour per vertex.
    pub colors: Vec<[u8; 3]>,
}

/// Read, place, merge and thin the meshes of `sources`.
pub(crate) fn load(sources: &[VisualSource]) -> Vec<VisualMesh> {
    let mut by_entity: Vec<VisualMesh> = Vec::new();
    for s in sources {
        let Ok(mesh) = cap_core::mesh::load(&s.file, s.scale) else {
            continue;
        };
        let placed: Vec<Point3<f64>> = mesh
            .vertices
            .iter()
            .map(|v| s.body_from_mesh * Point3::new(v[0], v[1], v[2]))
            .collect();
        let (vertices, triangles) = thin(&placed, &mesh.triangles, TRIANGLE_BUDGET);
        let entry = match by_entity.iter_mut().position(|m| m.entity == s.entity) {
            Some(i) => &mut by_entity[i],
            None => {
                by_entity.push(VisualMesh {
                    entity: s.entity.clone(),
                    vertices: Vec::new(),
                    triangles: Vec::new(),
                    colors: Vec::new(),
                });
                let n = by_entity.len() - 1;
                &mut by_entity[n]
            }
        };
        let base = entry.vertices.len() as u32;
        entry
            .colors
            .extend(std::iter::repeat_n(s.rgb, vertices.len()));
        entry.vertices.extend(vertices);
        entry
            .triangles
            .extend(triangles.into_iter().map(|t| t.map(|i| i + base)));
    }
    by_entity
}

/// Vertex clustering: vertices in the same cube of a grid become their mean, and
/// triangles that collapse are dropped; the cube grows from 1 mm until at most
/// `budget` triangles are left.
fn thin(
    vertices: &[Point3<f64>],
    triangles: &[[u32; 3]],
    budget: usize,
) -> (Vec<[f32; 3]>, Vec<[u32; 3]>) {
    let as_f32 = |p: &Point3<f64>| [p.x as f32, p.y as f32, p.z as f32];
    if triangles.len() <= budget {
        return (vertices.iter().map(as_f32).collect(), triangles.to_vec());
    }
    let mut cell = 0.001;
    loop {
        let mut index: HashMap<[i64; 3], u32> = HashMap::new();
        let mut sums: Vec<(Point3<f64>, f64)> = Vec::new();
        let remap: Vec<u32> = vertices
            .iter()
            .map(|v| {
                let key = [
                    (v.x / cell).floor() as i64,
                    (v.y / cell).floor() as i64,
                    (v.z / cell).floor() as i64,
                ];
                let i = *index.entry(key).or_insert_with(|| {
                    sums.push((Point3::origin(), 0.0));
                    (sums.len() - 1) as u32
                });
                let s = &mut sums[i as usize];
                s.0 += v.coords;
                s.1 += 1.0;
                i
            })
            .collect();
        let mut kept: Vec<[u32; 3]> = triangles
            .iter()
            .filter_map(|t| {
                let [a, b, c] = t.map(|i| remap.get(i as usize).copied().unwrap_or(0));
                (a != b && b != c && a != c).then_some([a, b, c])
            })
            .collect();
        kept.sort_unstable();
        kept.dedup();
        if kept.len() <= budget || cell > 0.05 {
            let verts = sums
                .iter()
                .map(|(sum, n)| as_f32(&Point3::from(sum.coords / *n)))
                .collect();
            return (verts, kept);
        }
        cell *= 1.5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_shape_within_budget() {
        // A fine grid of a 10 cm square: 2 * 100 * 100 triangles.
        let n = 100;
        let mut v = Vec::new();
        for i in 0..=n {
            for j in 0..=n {
                v.push(Point3::new(i as f64 * 0.001, j as f64 * 0.001, 0.0));
            }
        }
        let mut t = Vec::new();
        let at = |i: u32, j: u32| i * (n + 1) + j;
        for i in 0..n {
            for j in 0..n {
                t.push([at(i, j), at(i + 1, j), at(i + 1, j + 1)]);
                t.push([at(i, j), at(i + 1, j + 1), at(i, j + 1)]);
            }
        }
        let (verts, tris) = thin(&v, &t, 2000);
        assert!(tris.len() <= 2000 && tris.len() > 200, "{}", tris.len());
        let max = verts.iter().map(|p| p[0].max(p[1])).fold(0.0f32, f32::max);
        assert!(
            max > 0.095 && max <= 0.1001,
            "the square keeps its size: {max}"
        );
        assert!(tris
            .iter()
            .all(|t| t.iter().all(|&i| (i as usize) < verts.len())));
        let (v2, t2) = thin(&v[..4], &[[0, 1, 2]], 10);
        assert_eq!((v2.len(), t2.len()), (4, 1), "under budget: unchanged");
    }
}
