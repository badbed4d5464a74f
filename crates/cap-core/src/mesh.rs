//! Triangle meshes from files (STL, OBJ, COLLADA/DAE, read with the `mesh-loader`
//! crate), scaled, merged into one vertex and triangle list, and checked: a mesh with
//! no triangles, a vertex that is not finite, an index out of range or no volume (flat
//! in some direction) is refused naming the file.

use std::path::{Path, PathBuf};

/// A triangle mesh in its file's frame (scaled), metres.
#[derive(Debug, Clone, PartialEq)]
pub struct TriMesh {
    /// Vertices.
    pub vertices: Vec<[f64; 3]>,
    /// Triangles, indices into `vertices`.
    pub triangles: Vec<[u32; 3]>,
}

impl TriMesh {
    /// The axis-aligned bounds: (min, max).
    pub fn bounds(&self) -> ([f64; 3], [f64; 3]) {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for v in &self.vertices {
            for k in 0..3 {
                lo[k] = lo[k].min(v[k]);
                hi[k] = hi[k].max(v[k]);
            }
        }
        (lo, hi)
    }
}

/// A mesh file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The file cannot be read or parsed.
    #[error("mesh {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file reads, but is not a usable solid.
    #[error("mesh {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Thinner than this in some direction, a mesh has no volume to collide with.
const MIN_EXTENT_M: f64 = 1e-5;

/// Read the mesh at `path`, scaled by `scale`, then turned by `rotation` (a scene's
/// `rotation_deg` for a file that is not z up).
pub fn load_turned(
    path: &Path,
    scale: [f64; 3],
    rotation: &nalgebra::UnitQuaternion<f64>,
) -> Result<TriMesh, MeshError> {
    let mut m = load(path, scale)?;
    for v in &mut m.vertices {
        let p = rotation * nalgebra::Vector3::new(v[0], v[1], v[2]);
        *v = [p.x, p.y, p.z];
    }
    Ok(m)
}

/// Read the mesh at `path`, scaled by `scale`.
pub fn load(path: &Path, scale: [f64; 3]) -> Result<TriMesh, MeshError> {
    let invalid = |message: String| MeshError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if !scale.iter().all(|s| s.is_finite() && *s != 0.0) {
        return Err(invalid(format!(
            "scale {scale:?} is not finite and non-zero"
        )));
    }
    let scene = mesh_loader::Loader::default()
        .merge_meshes(true)
        .load(path)
        .map_err(|e| MeshError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let mut out = TriMesh {
        vertices: Vec::new(),
        triangles: Vec::new(),
    };
    for m in &scene.meshes {
        let base =
            u32::try_from(out.vertices.len()).map_err(|_| invalid("too many vertices".into()))?;
        let n = m.vertices.len();
        for v in &m.vertices {
            let p = [
                f64::from(v[0]) * scale[0],
                f64::from(v[1]) * scale[1],
                f64::from(v[2]) * scale[2],
            ];
            if !p.iter().all(|c| c.is_finite()) {
                return Err(invalid(format!("vertex {v:?} is not finite")));
            }
            out.vertices.push(p);
        }
        for f in &m.faces {
            if f.iter().any(|&i| i as usize >= n) {
                return Err(invalid(format!(
                    "triangle {f:?} indexes past its {n} vertices"
                )));
            }
            out.triangles.push([f[0] + base, f[1] + base, f[2] + base]);
        }
    }
    if out.triangles.is_empty() {
        return Err(invalid("has no triangles".into()));
    }
    let (lo, hi) = out.bounds();
    let extent: Vec<f64> = (0..3).map(|k| hi[k] - lo[k]).collect();
    if extent.iter().any(|e| *e < MIN_EXTENT_M) {
        return Err(invalid(format!(
            "has no volume: it is {:.6} x {:.6} x {:.6} m",
            extent[0], extent[1], extent[2]
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("cap-mesh-{}-{name}", std::process::id()));
        std::fs::write(&p, text).ok();
        p
    }

    const CUBE_OBJ: &str = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\nf 1 2 3\nf 1 3 4\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n";

    #[test]
    fn an_obj_is_read_and_scaled() {
        let p = write("cube.obj", CUBE_OBJ);
        let m = load(&p, [0.1, 0.2, 0.3]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.triangles.len(), 12);
        let (lo, hi) = m.bounds();
        assert_eq!(lo, [0.0; 3]);
        assert!(
            (hi[0] - 0.1).abs() < 1e-9 && (hi[1] - 0.2).abs() < 1e-9 && (hi[2] - 0.3).abs() < 1e-9
        );
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn flat_empty_and_broken_meshes_are_refused_naming_the_file() {
        let flat = write("flat.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 3\n");
        let e = load(&flat, [1.0; 3])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("flat.obj") && e.contains("no volume"), "{e}");
        let empty = write("empty.obj", "# nothing\n");
        let e = load(&empty, [1.0; 3])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("empty.obj") && e.contains("no triangles"), "{e}");
        let nan = write("nan.obj", &CUBE_OBJ.replace("v 1 1 1", "v nan 1 1"));
        assert!(load(&nan, [1.0; 3]).is_err());
        let cube = write("cube2.obj", CUBE_OBJ);
        let e = load(&cube, [1.0, 0.0, 1.0])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("scale"), "{e}");
        let missing = load(Path::new("/nonexistent/cap/m.stl"), [1.0; 3]);
        assert!(missing
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("/nonexistent/cap/m.stl"));
        for p in [flat, empty, nan, cube] {
            std::fs::remove_file(p).ok();
        }
    }
}
