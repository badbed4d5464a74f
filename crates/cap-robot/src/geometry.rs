//! A description's geometry, link by link: primitives and meshes, collision and
//! visual, with mesh URIs resolved to files (`package://PKG/...` against package
//! roots and the URDF's own ancestors, `file://`, absolute and relative paths).

use std::path::{Path, PathBuf};

use cap_core::nalgebra::Isometry3;

use crate::{pose, RobotDescription, RobotError};

/// A shape of a link.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A box of full extents `size`, metres.
    Box {
        /// Full extents.
        size: [f64; 3],
    },
    /// A cylinder along z.
    Cylinder {
        /// Radius, m.
        radius: f64,
        /// Length, m.
        length: f64,
    },
    /// A capsule along z.
    Capsule {
        /// Radius, m.
        radius: f64,
        /// Length of the cylinder part, m.
        length: f64,
    },
    /// A sphere.
    Sphere {
        /// Radius, m.
        radius: f64,
    },
    /// A mesh file (STL, OBJ, DAE), scaled.
    Mesh {
        /// The file, resolved.
        path: PathBuf,
        /// Scale per axis.
        scale: [f64; 3],
    },
}

/// One piece of a link's geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkGeometry {
    /// The link.
    pub link: String,
    /// Where the shape sits in the link's frame.
    pub origin: Isometry3<f64>,
    /// The shape.
    pub shape: Shape,
    /// Visual (drawn) rather than collision geometry.
    pub visual: bool,
    /// Its colour, when the description gives one.
    pub rgba: Option<[f64; 4]>,
}

impl RobotDescription {
    /// Every link's collision and visual geometry, meshes resolved against `packages`
    /// (directories that hold packages, or are one) and the URDF's location.
    pub fn geometry(&self, packages: &[PathBuf]) -> Result<Vec<LinkGeometry>, RobotError> {
        let mut out = Vec::new();
        for link in &self.urdf().links {
            let pieces = link
                .collision
                .iter()
                .map(|c| (&c.origin, &c.geometry, false, None))
                .chain(link.visual.iter().map(|v| {
                    let rgba = v
                        .material
                        .as_ref()
                        .and_then(|m| m.color.as_ref())
                        .map(|c| c.rgba.0)
                        .or_else(|| {
                            let name = v.material.as_ref()?.name.as_str();
                            self.urdf()
                                .materials
                                .iter()
                                .find(|m| m.name == name)
                                .and_then(|m| m.color.as_ref())
                                .map(|c| c.rgba.0)
                        });
                    (&v.origin, &v.geometry, true, rgba)
                }));
            for (origin, geometry, visual, rgba) in pieces {
                let shape = match geometry {
                    urdf_rs::Geometry::Box { size } => Shape::Box { size: size.0 },
                    urdf_rs::Geometry::Cylinder { radius, length } => Shape::Cylinder {
                        radius: *radius,
                        length: *length,
                    },
                    urdf_rs::Geometry::Capsule { radius, length } => Shape::Capsule {
                        radius: *radius,
                        length: *length,
                    },
                    urdf_rs::Geometry::Sphere { radius } => Shape::Sphere { radius: *radius },
                    urdf_rs::Geometry::Mesh { filename, scale } => Shape::Mesh {
                        path: self.resolve(filename, &link.name, packages)?,
                        scale: scale.as_ref().map_or([1.0; 3], |s| s.0),
                    },
                };
                out.push(LinkGeometry {
                    link: link.name.clone(),
                    origin: pose(origin),
                    shape,
                    visual,
                    rgba,
                });
            }
        }
        Ok(out)
    }

    /// Every link's collision meshes, read and checked (see [`crate::mesh::load`]),
    /// with the piece they belong to.
    pub fn collision_meshes(
        &self,
        packages: &[PathBuf],
    ) -> Result<Vec<(LinkGeometry, crate::mesh::TriMesh)>, RobotError> {
        let mut out = Vec::new();
        for g in self.geometry(packages)? {
            if g.visual {
                continue;
            }
            if let Shape::Mesh { path, scale } = &g.shape {
                let m = crate::mesh::load(path, *scale).map_err(|source| RobotError::Mesh {
                    path: self.path().to_path_buf(),
                    link: g.link.clone(),
                    source,
                })?;
                out.push((g, m));
            }
        }
        Ok(out)
    }

    /// The file a mesh URI of `link` points to.
    pub fn resolve(
        &self,
        uri: &str,
        link: &str,
        packages: &[PathBuf],
    ) -> Result<PathBuf, RobotError> {
        let here = self.path().parent().unwrap_or(Path::new("."));
        let mut tried: Vec<PathBuf> = Vec::new();
        if let Some(rest) = uri.strip_prefix("package://") {
            let (pkg, rel) = rest.split_once('/').unwrap_or((rest, ""));
            for root in packages {
                tried.push(root.join(pkg).join(rel));
                if root.file_name().is_some_and(|n| n == pkg) {
                    tried.push(root.join(rel));
                }
            }
            for a in here.ancestors() {
                if a.file_name().is_some_and(|n| n == pkg) {
                    tried.push(a.join(rel));
                }
                tried.push(a.join(pkg).join(rel));
            }
        } else if let Some(abs) = uri.strip_prefix("file://") {
            tried.push(PathBuf::from(abs));
        } else {
            tried.push(here.join(uri));
        }
        if let Some(found) = tried.iter().find(|p| p.is_file()) {
            return Ok(found.clone());
        }
        tried.dedup();
        let shown: Vec<String> = tried
            .iter()
            .take(4)
            .map(|p| p.display().to_string())
            .collect();
        Err(RobotError::MissingMesh {
            path: self.path().to_path_buf(),
            link: link.to_owned(),
            uri: uri.to_owned(),
            tried: shown.join(", ") + if tried.len() > 4 { ", ..." } else { "" },
        })
    }
}
