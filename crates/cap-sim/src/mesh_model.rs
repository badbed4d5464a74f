//! Mesh objects as the simulator sees them: the file's triangles, scaled and centred
//! on the bounding box (the object frame), decomposed into convex parts for collision
//! (parry's V-HACD), and sampled over their surface for grasp choice. Built once per
//! process for each file and scale.
//!
//! A mesh with a handle or a cavity (a mug) needs the decomposition: its convex hull
//! would fill the mug and the handle's loop. Robot links are hulled instead
//! ([`crate::link_shapes`]), as simulators do for them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use cap_core::mesh::{MeshError, TriMesh};
use cap_core::nalgebra::Point3;
use cap_core::scene::MeshObject;
use rapier3d::glamx::Vec3;
use rapier3d::parry::transformation::vhacd::VHACDParameters;
use rapier3d::prelude::SharedShape;

/// Spacing of the surface samples, metres.
const SAMPLE_SPACING_M: f64 = 0.0025;
/// At most this many surface samples per mesh.
const MAX_SAMPLES: usize = 40_000;
/// Voxel resolution of the decomposition along the longest axis.
const VHACD_RESOLUTION: u32 = 64;

/// A mesh object's collision shape and surface samples, in its object frame.
pub struct MeshModel {
    /// Convex parts, as one compound.
    pub shape: SharedShape,
    /// How many convex parts.
    pub pieces: usize,
    /// Points on the surface, about [`SAMPLE_SPACING_M`] apart.
    pub samples: Vec<Point3<f64>>,
    /// Triangles of the file.
    pub triangles: usize,
}

impl std::fmt::Debug for MeshModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshModel")
            .field("pieces", &self.pieces)
            .field("samples", &self.samples.len())
            .field("triangles", &self.triangles)
            .finish_non_exhaustive()
    }
}

/// The model of `m`, built on first use and kept for the process.
pub fn mesh_model(m: &MeshObject) -> Result<Arc<MeshModel>, MeshError> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Arc<MeshModel>>>> = OnceLock::new();
    let key = format!("{}|{:?}|{:?}", m.path.display(), m.scale, m.rotation);
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(found.clone());
    }
    let built = Arc::new(build(m)?);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, built.clone());
    Ok(built)
}

fn build(m: &MeshObject) -> Result<MeshModel, MeshError> {
    let mesh = cap_core::mesh::load_turned(&m.path, m.scale, &m.rotation)?;
    let c = m.center_in_mesh_m;
    let centred: Vec<[f64; 3]> = mesh
        .vertices
        .iter()
        .map(|v| [v[0] - c.x, v[1] - c.y, v[2] - c.z])
        .collect();
    let vertices: Vec<Vec3> = centred
        .iter()
        .map(|v| Vec3::new(v[0] as f32, v[1] as f32, v[2] as f32))
        .collect();
    let params = VHACDParameters {
        resolution: VHACD_RESOLUTION,
        ..VHACDParameters::default()
    };
    let decomposed =
        SharedShape::convex_decomposition_with_params(&vertices, &mesh.triangles, &params);
    let pieces = decomposed.as_compound().map_or(0, |c| c.shapes().len());
    let (shape, pieces) = if pieces > 0 {
        (decomposed, pieces)
    } else {
        // A mesh V-HACD cannot voxelise (open, or thinner than a voxel): its hull.
        let hull = SharedShape::convex_hull(&vertices).ok_or_else(|| MeshError::Invalid {
            path: m.path.clone(),
            message: "neither a convex decomposition nor a convex hull could be built".into(),
        })?;
        (hull, 1)
    };
    Ok(MeshModel {
        shape,
        pieces,
        samples: surface_samples(&TriMesh {
            vertices: centred,
            triangles: mesh.triangles.clone(),
        }),
        triangles: mesh.triangles.len(),
    })
}

/// Points over the surface of `mesh`: each triangle's vertices, and a barycentric
/// grid on it as fine as [`SAMPLE_SPACING_M`] (coarser if the mesh would give more
/// than [`MAX_SAMPLES`]). Deterministic.
fn surface_samples(mesh: &TriMesh) -> Vec<Point3<f64>> {
    let p = |i: u32| {
        let v = mesh.vertices[i as usize];
        Point3::new(v[0], v[1], v[2])
    };
    let area: f64 = mesh
        .triangles
        .iter()
        .map(|t| 0.5 * (p(t[1]) - p(t[0])).cross(&(p(t[2]) - p(t[0]))).norm())
        .sum();
    let spacing = SAMPLE_SPACING_M.max((area / MAX_SAMPLES as f64).sqrt());
    let mut out: Vec<Point3<f64>> = mesh
        .vertices
        .iter()
        .map(|v| Point3::new(v[0], v[1], v[2]))
        .collect();
    for t in &mesh.triangles {
        let (a, b, c) = (p(t[0]), p(t[1]), p(t[2]));
        let longest = (b - a).norm().max((c - b).norm()).max((a - c).norm());
        let n = (longest / spacing).ceil() as usize;
        if n < 2 {
            continue;
        }
        for i in 0..=n {
            for j in 0..=(n - i) {
                let (u, v) = (i as f64 / n as f64, j as f64 / n as f64);
                out.push(a + (b - a) * u + (c - a) * v);
            }
        }
        if out.len() > 4 * MAX_SAMPLES {
            break;
        }
    }
    out
}
