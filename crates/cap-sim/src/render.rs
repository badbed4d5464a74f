//! Headless cameras: RGB, depth and object-id segmentation rendered from the
//! simulation's own collision geometry by a small z-buffer rasteriser.
//!
//! Every labelled collider is tessellated once (parry's `to_trimesh`) when the world is
//! built, into a [`RenderModel`]; a frame ([`RenderModel::render`], over the collider
//! set it was built from) transforms those meshes by the colliders' current poses, clips them at the
//! near plane and rasterises them with perspective-correct depth and flat Lambert
//! shading. Everything is `f32` arithmetic in a fixed order, so the same world state
//! gives the same bytes. A rasteriser rather than ray casting: a 224×224 frame is ~50k
//! rays but only ~3k triangles, and rasterising them costs well under a millisecond.

use cap_core::scene::CameraSpec;
use rapier3d::prelude::*;

use crate::labels::{Label, Labels, SEG_BACKGROUND};

const NEAR_M: f32 = 0.01;
const BACKGROUND_RGB: [u8; 3] = [214, 222, 230];
/// Direction towards the light (normalised at use).
const LIGHT: [f32; 3] = [0.35, 0.25, 0.9];
const AMBIENT: f32 = 0.38;

/// How a frame is lit: one directional light, an ambient term and the background
/// colour. Every camera uses [`Lighting::default`] unless a caller (the vision
/// dataset's domain randomisation) asks for another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lighting {
    /// Direction towards the light, world frame (normalised at use; a zero or
    /// non-finite vector falls back to the default direction).
    pub direction: [f32; 3],
    /// Share of the colour lit from everywhere, 0..1.
    pub ambient: f32,
    /// Colour of pixels that show no object.
    pub background: [u8; 3],
}

impl Default for Lighting {
    fn default() -> Self {
        Self {
            direction: LIGHT,
            ambient: AMBIENT,
            background: BACKGROUND_RGB,
        }
    }
}

/// A tessellated collider with its label.
#[derive(Debug, Clone)]
pub struct RenderMesh {
    /// The collider.
    pub collider: ColliderHandle,
    /// What it is: colour, segmentation id, entity path.
    pub label: Label,
    /// Vertices in the collider's frame.
    pub vertices: Vec<Vec3>,
    /// Triangles (indices into `vertices`).
    pub triangles: Vec<[u32; 3]>,
}

/// The tessellation of a whole world, built once and shared by forks: the renderer's
/// input, with the collider set whose poses it draws.
#[derive(Debug, Clone, Default)]
pub struct RenderModel {
    /// One mesh per labelled collider, in the collider set's order.
    pub meshes: Vec<RenderMesh>,
}

fn tessellate(shape: &dyn Shape, out_v: &mut Vec<Vec3>, out_t: &mut Vec<[u32; 3]>, pose: Pose3) {
    let (v, t) = if let Some(c) = shape.as_cuboid() {
        c.to_trimesh()
    } else if let Some(c) = shape.as_cylinder() {
        c.to_trimesh(20)
    } else if let Some(c) = shape.as_capsule() {
        c.to_trimesh(12, 6)
    } else if let Some(b) = shape.as_ball() {
        b.to_trimesh(16, 8)
    } else if let Some(c) = shape.as_convex_polyhedron() {
        // URDF links' hulls and the convex parts of mesh objects.
        c.to_trimesh()
    } else if let Some(c) = shape.as_compound() {
        for (p, s) in c.shapes() {
            tessellate(s.as_ref(), out_v, out_t, pose * *p);
        }
        return;
    } else {
        // Shapes cap does not build; nothing to draw.
        return;
    };
    let base = out_v.len() as u32;
    out_v.extend(v.into_iter().map(|p| pose * p));
    out_t.extend(
        t.into_iter()
            .map(|[a, b, c]| [a + base, b + base, c + base]),
    );
}

impl RenderModel {
    /// Tessellate every labelled collider of `colliders` (in the set's order, which
    /// fixes the draw order and so the bytes of a frame).
    pub fn build(colliders: &ColliderSet, labels: &Labels) -> Self {
        let mut meshes = Vec::new();
        for (h, c) in colliders.iter() {
            let Some(label) = labels.get(h) else {
                continue;
            };
            let mut vertices = Vec::new();
            let mut triangles = Vec::new();
            // Geometry is tessellated in the collider's own frame; the parent offset is
            // part of `position()` at render time.
            tessellate(c.shape(), &mut vertices, &mut triangles, Pose3::IDENTITY);
            meshes.push(RenderMesh {
                collider: h,
                label: label.clone(),
                vertices,
                triangles,
            });
        }
        Self { meshes }
    }

    /// Triangles across all meshes.
    pub fn triangle_count(&self) -> usize {
        self.meshes.iter().map(|m| m.triangles.len()).sum()
    }

    /// Render `camera`'s RGB, depth and segmentation images of `colliders` at their
    /// current poses (the pipeline of a frame: transform, clip, rasterise, shade).
    pub fn render(&self, colliders: &ColliderSet, camera: &CameraSpec) -> Frame {
        self.render_lit(colliders, camera, &Lighting::default())
    }

    /// [`RenderModel::render`] under `lighting`.
    pub fn render_lit(
        &self,
        colliders: &ColliderSet,
        camera: &CameraSpec,
        lighting: &Lighting,
    ) -> Frame {
        let (w, h) = (camera.width as usize, camera.height as usize);
        let proj = Projection::new(camera);
        let mut rgb = vec![0u8; w * h * 3];
        for px in rgb.chunks_exact_mut(3) {
            px.copy_from_slice(&lighting.background);
        }
        let mut inv_z = vec![0.0f32; w * h];
        let mut seg = vec![SEG_BACKGROUND; w * h];
        let mut target = Target {
            w,
            h,
            rgb: &mut rgb,
            inv_z: &mut inv_z,
            seg: &mut seg,
        };
        let light = Vec3::from(lighting.direction);
        let light = if light.is_finite() && light.length() > 1e-6 {
            light.normalize()
        } else {
            Vec3::from(LIGHT).normalize()
        };
        let ambient = lighting.ambient.clamp(0.0, 1.0);
        let mut cam_v: Vec<Vec3> = Vec::new();
        let mut world_v: Vec<Vec3> = Vec::new();
        let mut clipped = Vec::with_capacity(4);
        for mesh in &self.meshes {
            let Some(collider) = colliders.get(mesh.collider) else {
                continue;
            };
            let pose = *collider.position();
            world_v.clear();
            world_v.extend(mesh.vertices.iter().map(|&v| pose * v));
            cam_v.clear();
            cam_v.extend(world_v.iter().map(|&v| proj.to_camera(v)));
            for &[i, j, k] in &mesh.triangles {
                let (i, j, k) = (i as usize, j as usize, k as usize);
                let tri = [cam_v[i], cam_v[j], cam_v[k]];
                if tri.iter().all(|v| v.z < NEAR_M) {
                    continue;
                }
                // Flat shading from the world-space face normal, lit on the side facing
                // the camera (so winding does not matter).
                let (a, b, c) = (world_v[i], world_v[j], world_v[k]);
                let mut n = (b - a).cross(c - a);
                let len = n.length();
                if len < 1e-12 {
                    continue;
                }
                n /= len;
                if n.dot(proj.eye - a) < 0.0 {
                    n = -n;
                }
                let shade = ambient + (1.0 - ambient) * n.dot(light).max(0.0);
                let color = [
                    (mesh.label.rgb[0] * shade * 255.0).clamp(0.0, 255.0) as u8,
                    (mesh.label.rgb[1] * shade * 255.0).clamp(0.0, 255.0) as u8,
                    (mesh.label.rgb[2] * shade * 255.0).clamp(0.0, 255.0) as u8,
                ];
                let to_s = |v: Vec3| {
                    let (x, y) = proj.to_pixel(v);
                    SVert {
                        x,
                        y,
                        inv_z: 1.0 / v.z,
                    }
                };
                if tri.iter().all(|v| v.z >= NEAR_M) {
                    target.triangle(
                        [to_s(tri[0]), to_s(tri[1]), to_s(tri[2])],
                        color,
                        mesh.label.seg,
                    );
                } else {
                    clip_near(&tri, &mut clipped);
                    for t in 1..clipped.len().saturating_sub(1) {
                        target.triangle(
                            [to_s(clipped[0]), to_s(clipped[t]), to_s(clipped[t + 1])],
                            color,
                            mesh.label.seg,
                        );
                    }
                }
            }
        }
        let depth_m = inv_z
            .iter()
            .map(|&iz| if iz > 0.0 { 1.0 / iz } else { 0.0 })
            .collect();
        Frame {
            camera: camera.name.clone(),
            width: camera.width,
            height: camera.height,
            rgb,
            depth_m,
            seg,
        }
    }
}

/// One rendered camera frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The camera's name.
    pub camera: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGB, 3 bytes a pixel, top row first.
    pub rgb: Vec<u8>,
    /// Distance along the optical axis, metres; 0 where nothing was hit.
    pub depth_m: Vec<f32>,
    /// Segmentation ids ([`crate::labels`]: background, table, robot, first object +
    /// object index).
    pub seg: Vec<u16>,
}

impl Frame {
    /// Pixels showing segmentation id `id`.
    pub fn pixels_of(&self, id: u16) -> usize {
        self.seg.iter().filter(|&&s| s == id).count()
    }
}

/// A camera's view transform and intrinsics.
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    eye: Vec3,
    right: Vec3,
    up: Vec3,
    forward: Vec3,
    focal_px: f32,
    cx: f32,
    cy: f32,
}

impl Projection {
    /// The projection of `cam`.
    pub fn new(cam: &CameraSpec) -> Self {
        let eye = Vec3::new(
            cam.position_m.x as f32,
            cam.position_m.y as f32,
            cam.position_m.z as f32,
        );
        let target = Vec3::new(
            cam.look_at_m.x as f32,
            cam.look_at_m.y as f32,
            cam.look_at_m.z as f32,
        );
        let forward = (target - eye).normalize();
        // Scene validation keeps the axis off vertical, so `right` is well defined.
        let right = forward.cross(Vec3::Z).normalize();
        let up = right.cross(forward);
        let focal_px =
            cam.height as f32 / 2.0 / cap_core::math::tan(cam.fov_deg.to_radians() / 2.0) as f32;
        Self {
            eye,
            right,
            up,
            forward,
            focal_px,
            cx: cam.width as f32 / 2.0,
            cy: cam.height as f32 / 2.0,
        }
    }

    /// World point → camera frame (x right, y up, z along the optical axis).
    pub fn to_camera(&self, p: Vec3) -> Vec3 {
        let d = p - self.eye;
        Vec3::new(d.dot(self.right), d.dot(self.up), d.dot(self.forward))
    }

    /// Camera-frame point (z > 0) → pixel coordinates (x right, y down).
    pub fn to_pixel(&self, c: Vec3) -> (f32, f32) {
        (
            self.cx + self.focal_px * c.x / c.z,
            self.cy - self.focal_px * c.y / c.z,
        )
    }

    /// World point → pixel, or `None` behind the camera.
    pub fn project(&self, p: Vec3) -> Option<(f32, f32)> {
        let c = self.to_camera(p);
        (c.z > NEAR_M).then(|| self.to_pixel(c))
    }
}

/// Screen-space vertex: pixel position and 1/z.
#[derive(Clone, Copy)]
struct SVert {
    x: f32,
    y: f32,
    inv_z: f32,
}

struct Target<'a> {
    w: usize,
    h: usize,
    rgb: &'a mut [u8],
    inv_z: &'a mut [f32],
    seg: &'a mut [u16],
}

impl Target<'_> {
    fn triangle(&mut self, v: [SVert; 3], color: [u8; 3], seg: u16) {
        let [a, b, c] = v;
        let area = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
        if area.abs() < 1e-9 {
            return;
        }
        let min_x = a.x.min(b.x).min(c.x).floor().max(0.0) as usize;
        let max_x = (a.x.max(b.x).max(c.x).ceil() as isize).min(self.w as isize - 1);
        let min_y = a.y.min(b.y).min(c.y).floor().max(0.0) as usize;
        let max_y = (a.y.max(b.y).max(c.y).ceil() as isize).min(self.h as isize - 1);
        if max_x < 0 || max_y < 0 {
            return;
        }
        let (max_x, max_y) = (max_x as usize, max_y as usize);
        let inv_area = 1.0 / area;
        // Edge functions as affine functions of the pixel centre: e = e0 + dx*x + dy*y.
        let edge = |p: SVert, q: SVert| {
            let dx = -(q.y - p.y) * inv_area;
            let dy = (q.x - p.x) * inv_area;
            let e0 = ((q.x - p.x) * (-p.y) - (q.y - p.y) * (-p.x)) * inv_area;
            (e0, dx, dy)
        };
        // Barycentric weight of a = edge(b, c), of b = edge(c, a), of c = edge(a, b).
        let (wa0, wadx, wady) = edge(b, c);
        let (wb0, wbdx, wbdy) = edge(c, a);
        let (wc0, wcdx, wcdy) = edge(a, b);
        for y in min_y..=max_y {
            let py = y as f32 + 0.5;
            let row = y * self.w;
            let px0 = min_x as f32 + 0.5;
            let mut wa = wa0 + wadx * px0 + wady * py;
            let mut wb = wb0 + wbdx * px0 + wbdy * py;
            let mut wc = wc0 + wcdx * px0 + wcdy * py;
            for x in min_x..=max_x {
                if wa >= 0.0 && wb >= 0.0 && wc >= 0.0 {
                    let iz = wa * a.inv_z + wb * b.inv_z + wc * c.inv_z;
                    let i = row + x;
                    if iz > self.inv_z[i] {
                        self.inv_z[i] = iz;
                        self.seg[i] = seg;
                        self.rgb[3 * i..3 * i + 3].copy_from_slice(&color);
                    }
                }
                wa += wadx;
                wb += wbdx;
                wc += wcdx;
            }
        }
    }
}

/// Clip a camera-space polygon against z = NEAR (Sutherland–Hodgman, one plane).
fn clip_near(poly: &[Vec3; 3], out: &mut Vec<Vec3>) {
    out.clear();
    for i in 0..3 {
        let (p, q) = (poly[i], poly[(i + 1) % 3]);
        let (pin, qin) = (p.z >= NEAR_M, q.z >= NEAR_M);
        if pin {
            out.push(p);
        }
        if pin != qin {
            let t = (NEAR_M - p.z) / (q.z - p.z);
            out.push(p + (q - p) * t);
        }
    }
}
