//! Grasps of mesh objects: top-down grasps whose closing line, at the height of the
//! pads, meets the mesh within the gripper's opening. Candidates are centred on the
//! object's named points (`grasp_points`: a mug's handle, its rim), then on its
//! centre; each is tried at twelve wrist yaws.
//!
//! A candidate is checked on the mesh's surface samples ([`crate::mesh_model`]): the
//! samples between the pads (the slab the pads sweep while closing) must lie on both
//! sides of the centre and span no more than the opening, the pads must come down
//! beside the object rather than into it, and the palm must stay clear of it. The
//! grasp is centred on the chord it closes on, so both pads touch at once.

use std::f64::consts::PI;

use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::top_down;
use cap_core::nalgebra::{Isometry3, Point3, Translation3, Vector3};
use cap_core::scene::ObjectSpec;

use crate::geometry::{
    FINGER_CENTER_Z_M, FINGER_HALF_LENGTH_M, FINGER_HALF_THICKNESS_M, FINGER_HALF_WIDTH_M,
    HAND_ALONG_FINGERS_M,
};
use crate::grasp::{wrap, Grasp, GraspRequest};
use crate::query::ObjectState;
use crate::world::World;

/// Wrist yaws tried at each centre (a parallel gripper's yaw and yaw + 180° close alike).
const YAW_STEPS: usize = 12;
/// Height of the pads' centre above the TCP, metres (the TCP is at the fingertips).
const PAD_CENTER_ABOVE_TCP_M: f64 = cap_core::kinematics::FLANGE_TO_TCP_M - FINGER_CENTER_Z_M;
/// Lowest TCP height above the table: the fingertips stay clear of it.
const MIN_TCP_Z_M: f64 = crate::geometry::FINGERTIP_BEYOND_TCP_M + 0.004;
/// Slack around the pads' footprint when collecting the samples between them.
const SLAB_SLACK_M: f64 = 0.002;

impl World {
    /// The grasps of mesh object `o` (specified by `spec`) that fit `request`, in the
    /// order `pick` tries them.
    pub(crate) fn mesh_grasps(
        &self,
        o: &ObjectState,
        spec: &ObjectSpec,
        request: &GraspRequest,
    ) -> Result<Vec<Grasp>, Failure> {
        let Some(mesh) = &spec.mesh else {
            return Ok(Vec::new());
        };
        let model = crate::mesh_model::mesh_model(mesh).map_err(|e| {
            Failure::with_object(FailureKind::NoGrasp, e.to_string(), o.name.as_str())
        })?;
        let samples: Vec<Point3<f64>> = model.samples.iter().map(|s| o.pose * s).collect();
        // Centres: the asked-for point, or every named point and then the centre.
        let mut centres: Vec<(String, Point3<f64>)> = Vec::new();
        match &request.point {
            Some(name) => {
                let p = spec.grasp_point(name).ok_or_else(|| {
                    let known: Vec<&str> =
                        mesh.grasp_points.iter().map(|(n, _)| n.as_str()).collect();
                    Failure::with_object(
                        FailureKind::InvalidArgument,
                        format!(
                            "pick({}): no grasp point `{name}`; it has: {}",
                            o.name,
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                        o.name.as_str(),
                    )
                })?;
                centres.push((name.clone(), o.pose * p));
            }
            None => {
                for (name, p) in &mesh.grasp_points {
                    centres.push((name.clone(), o.pose * p));
                }
                let c = o.position();
                centres.push(("centre".into(), c));
                // A tall object is also taken high up.
                let high = o.aabb_max.z - FINGER_HALF_LENGTH_M;
                if high > c.z + 0.01 {
                    centres.push(("centre, high".into(), Point3::new(c.x, c.y, high)));
                }
                // Then anywhere over its footprint: a narrow part of a wide object.
                centres.extend(
                    footprint_centres(&samples, o)
                        .into_iter()
                        .map(|p| ("part".to_owned(), p)),
                );
            }
        }
        let widest = self.max_grasp_width_m();
        let open = self.robot.gripper_max_width_m();
        let palm = self.robot.palm_across_m();
        let mut out = Vec::new();
        for (label, g) in centres {
            let mut here: Vec<(f64, Grasp)> = Vec::new();
            let tcp_z = (g.z - PAD_CENTER_ABOVE_TCP_M).max(MIN_TCP_Z_M);
            let mut yaws: Vec<f64> = (0..YAW_STEPS)
                .map(|k| wrap(PI * k as f64 / YAW_STEPS as f64))
                .collect();
            if let Some(want) = request.yaw_rad {
                yaws = vec![wrap(want)];
            }
            for yaw in yaws {
                let chord = Chord {
                    centre: Point3::new(g.x, g.y, tcp_z),
                    yaw,
                    open,
                    palm,
                };
                if let Some((offset, across)) = chord.fits(&samples) {
                    if across > widest {
                        continue;
                    }
                    let c = chord.closing();
                    let at = Point3::new(g.x, g.y, tcp_z) + c * offset;
                    // The chord nearest the point and the narrowest first: what the
                    // point names (a handle's bar), not the handle with the wall beside it.
                    here.push((
                        offset.abs() + across,
                        Grasp {
                            tcp: Isometry3::from_parts(
                                Translation3::from(at.coords),
                                top_down(yaw),
                            ),
                            across_m: across,
                            yaw_rad: yaw,
                            label: format!(
                                "{label}, yaw {}° across {:.0} mm",
                                yaw.to_degrees().round() as i64,
                                across * 1000.0
                            ),
                        },
                    ));
                }
            }
            here.sort_by(|a, b| a.0.total_cmp(&b.0));
            out.extend(here.into_iter().map(|(_, g)| g));
        }
        if out.is_empty() {
            let points: Vec<&str> = mesh.grasp_points.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Failure::with_object(
                FailureKind::NoGrasp,
                format!(
                    "{}: no top-down grasp fits: at {} the closing line meets the mesh wider than the gripper opens ({widest:.3} m), or the pads or the palm would come down on it{}",
                    o.name,
                    if points.is_empty() { "its centre".to_owned() } else { format!("its points ({}) and its centre", points.join(", ")) },
                    if points.is_empty() { "; name a graspable part in the scene with `grasp_points`" } else { "" }
                ),
                o.name.as_str(),
            ));
        }
        Ok(out)
    }
}

/// Spacing of the grid of grasp centres over a mesh object's footprint, metres.
const FOOTPRINT_GRID_M: f64 = 0.015;
/// At most this many footprint centres are tried.
const MAX_FOOTPRINT_CENTRES: usize = 48;

/// Grasp centres over the object's footprint: the points of a [`FOOTPRINT_GRID_M`]
/// grid that have material under them, each at the middle height of the material in
/// its column, nearest the object's centre first (at most [`MAX_FOOTPRINT_CENTRES`]).
fn footprint_centres(samples: &[Point3<f64>], o: &ObjectState) -> Vec<Point3<f64>> {
    let c = o.position();
    let (x0, y0) = (o.aabb_min.x, o.aabb_min.y);
    let nx = ((o.aabb_max.x - x0) / FOOTPRINT_GRID_M).ceil().max(1.0) as usize;
    let ny = ((o.aabb_max.y - y0) / FOOTPRINT_GRID_M).ceil().max(1.0) as usize;
    let mut columns: Vec<Option<(f64, f64)>> = vec![None; nx * ny];
    for s in samples {
        let i = (((s.x - x0) / FOOTPRINT_GRID_M) as usize).min(nx - 1);
        let j = (((s.y - y0) / FOOTPRINT_GRID_M) as usize).min(ny - 1);
        let col = &mut columns[i * ny + j];
        *col = Some(col.map_or((s.z, s.z), |(lo, hi)| (lo.min(s.z), hi.max(s.z))));
    }
    let mut out: Vec<Point3<f64>> = columns
        .iter()
        .enumerate()
        .filter_map(|(k, col)| {
            let (lo, hi) = (*col)?;
            let (i, j) = (k / ny, k % ny);
            Some(Point3::new(
                x0 + (i as f64 + 0.5) * FOOTPRINT_GRID_M,
                y0 + (j as f64 + 0.5) * FOOTPRINT_GRID_M,
                0.5 * (lo + hi),
            ))
        })
        .collect();
    out.sort_by(|a, b| {
        let (da, db) = ((a - c).xy().norm(), (b - c).xy().norm());
        da.total_cmp(&db)
            .then(a.x.total_cmp(&b.x))
            .then(a.y.total_cmp(&b.y))
    });
    out.truncate(MAX_FOOTPRINT_CENTRES);
    out
}

/// A top-down closing line: the TCP at `centre`, fingers closing along the yaw's
/// closing axis from `open` apart.
struct Chord {
    centre: Point3<f64>,
    yaw: f64,
    open: f64,
    palm: f64,
}

impl Chord {
    /// The fingers' closing axis, world: `(−sin yaw, cos yaw, 0)` (see [`top_down`]).
    fn closing(&self) -> Vector3<f64> {
        Vector3::new(
            -cap_core::math::sin(self.yaw),
            cap_core::math::cos(self.yaw),
            0.0,
        )
    }

    /// Whether the pads close on the mesh here: the offset along the closing axis that
    /// centres the grasp on the material between the pads, and its width; `None` if
    /// there is no material on both sides, a pad would come down on the mesh, or the
    /// palm would.
    fn fits(&self, samples: &[Point3<f64>]) -> Option<(f64, f64)> {
        let c = self.closing();
        let d = Vector3::new(c.y, -c.x, 0.0);
        let pad_lo = self.centre.z - crate::geometry::FINGERTIP_BEYOND_TCP_M;
        let pad_hi = self.centre.z + PAD_CENTER_ABOVE_TCP_M + FINGER_HALF_LENGTH_M;
        let palm_hi = pad_hi + 0.06;
        let half_open = self.open / 2.0;
        let pad_outer = half_open + 2.0 * FINGER_HALF_THICKNESS_M;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut any = false;
        for s in samples {
            let r = s - self.centre;
            let (t, side) = (r.dot(&c), r.dot(&d));
            if s.z >= pad_lo && s.z <= pad_hi && side.abs() <= FINGER_HALF_WIDTH_M + SLAB_SLACK_M {
                if t.abs() <= half_open {
                    lo = lo.min(t);
                    hi = hi.max(t);
                    any = true;
                } else if t.abs() <= pad_outer {
                    return None; // a pad would come down on it
                }
            }
            if s.z > pad_hi
                && s.z <= palm_hi
                && t.abs() <= self.palm / 2.0
                && side.abs() <= HAND_ALONG_FINGERS_M / 2.0
            {
                return None; // the palm would
            }
        }
        (any && lo < 0.0 && hi > 0.0).then_some((0.5 * (lo + hi), hi - lo))
    }
}
