//! Validation: from the parsed file to a [`Scene`], refusing NaN, duplicates, unknown
//! colours, overlaps at spawn, objects off the table and malformed tasks, each error
//! naming the file and the key.

use super::file::*;
use super::*;

pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

pub(super) struct Validator {
    pub(super) path: PathBuf,
}

impl Validator {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> SceneError {
        SceneError::Invalid {
            path: self.path.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn finite(&self, key: &str, values: &[f64]) -> Result<(), SceneError> {
        for (i, v) in values.iter().enumerate() {
            if !v.is_finite() {
                let key = if values.len() > 1 {
                    format!("{key}[{i}]")
                } else {
                    key.to_owned()
                };
                return Err(self.err(key, format!("must be a finite number, got {v}")));
            }
        }
        Ok(())
    }

    fn in_range(&self, key: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<(), SceneError> {
        self.finite(key, &[v])?;
        if v < lo || v > hi {
            return Err(self.err(key, format!("{v} {unit} is outside [{lo}, {hi}]")));
        }
        Ok(())
    }

    fn name(&self, key: &str, name: &str) -> Result<(), SceneError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !ok {
            return Err(self.err(
                key,
                format!("`{name}` must be lower_snake_case ASCII, 1-64 chars"),
            ));
        }
        Ok(())
    }

    fn range(&self, key: &str, r: Option<[f64; 2]>, limit: f64) -> Result<Range, SceneError> {
        let Some([lo, hi]) = r else {
            return Ok(Range::default());
        };
        self.finite(key, &[lo, hi])?;
        if lo > hi {
            return Err(self.err(key, format!("lower bound {lo} is above upper bound {hi}")));
        }
        if lo.abs() > limit || hi.abs() > limit {
            return Err(self.err(key, format!("range [{lo}, {hi}] exceeds ±{limit}")));
        }
        Ok(Range { lo, hi })
    }

    pub(super) fn scene(&self, f: SceneFile) -> Result<Scene, SceneError> {
        self.name("scene.name", &f.scene.name)?;

        let t = &f.table;
        self.finite("table.size", &t.size)?;
        self.finite("table.center", &t.center)?;
        for (i, v) in t.size.iter().enumerate() {
            if !(0.01..=10.0).contains(v) {
                return Err(self.err(
                    format!("table.size[{i}]"),
                    format!("{v} m is outside [0.01, 10]"),
                ));
            }
        }
        self.in_range("table.friction", t.friction, 0.0, 2.0, "")?;
        let table_rgb = color_rgb(&t.color);
        if table_rgb.is_none() {
            return Err(self.err("table.color", unknown_color(&t.color)));
        }
        let table = TableSpec {
            size_m: Vector3::new(t.size[0], t.size[1], t.size[2]),
            center_m: Point3::new(t.center[0], t.center[1], 0.0),
            color: t.color.clone(),
            friction: t.friction,
        };

        let r = &f.robot;
        self.finite("robot.base", &r.base)?;
        self.finite("robot.workspace_min", &r.workspace_min)?;
        self.finite("robot.workspace_max", &r.workspace_max)?;
        for i in 0..3 {
            if r.workspace_min[i] >= r.workspace_max[i] {
                return Err(self.err(
                    format!("robot.workspace_min[{i}]"),
                    format!(
                        "must be below workspace_max[{i}] ({} >= {})",
                        r.workspace_min[i], r.workspace_max[i]
                    ),
                ));
            }
        }
        self.in_range("robot.speed", r.speed, 0.05, 1.0, "")?;
        self.in_range("robot.base_yaw_deg", r.base_yaw_deg, -360.0, 360.0, "°")?;
        if let Some(h) = &r.home {
            self.finite("robot.home", h)?;
        }
        let robot = RobotSpec {
            arm: self.arm_source(r)?,
            base_m: Point3::from(r.base),
            base_yaw_rad: r.base_yaw_deg.to_radians(),
            home: r.home.clone(),
            workspace_min_m: Point3::from(r.workspace_min),
            workspace_max_m: Point3::from(r.workspace_max),
            speed: r.speed,
        };

        let mut names = BTreeSet::new();
        let mut objects = Vec::with_capacity(f.objects.len());
        for (i, o) in f.objects.iter().enumerate() {
            let k = format!("objects[{i}]");
            self.name(&format!("{k}.name"), &o.name)?;
            let k = format!("objects[{i}] ({})", o.name);
            if o.name == "table" || !names.insert(o.name.clone()) {
                return Err(self.err(
                    format!("{k}.name"),
                    format!("duplicate object name `{}`", o.name),
                ));
            }
            objects.push(self.object(&k, o, &table)?);
        }
        self.no_overlaps(&objects)?;

        let mut task_names = BTreeSet::new();
        let mut tasks = Vec::with_capacity(f.tasks.len());
        for (i, tf) in f.tasks.iter().enumerate() {
            let k = format!("tasks[{i}]");
            self.name(&format!("{k}.name"), &tf.name)?;
            if !task_names.insert(tf.name.clone()) {
                return Err(self.err(
                    format!("{k}.name"),
                    format!("duplicate task name `{}`", tf.name),
                ));
            }
            if tf.instruction.trim().is_empty() {
                return Err(self.err(format!("{k}.instruction"), "must not be empty"));
            }
            if tf.success.trim().is_empty() {
                return Err(self.err(format!("{k}.success"), "must not be empty"));
            }
            self.in_range(
                &format!("{k}.time_limit_s"),
                tf.time_limit_s,
                1.0,
                3600.0,
                "s",
            )?;
            tasks.push(TaskSpec {
                name: tf.name.clone(),
                instruction: tf.instruction.trim().to_owned(),
                success: tf.success.trim().to_owned(),
                time_limit_s: tf.time_limit_s,
            });
        }

        let mut cameras = Vec::with_capacity(f.cameras.len());
        let mut camera_names = BTreeSet::new();
        for (i, c) in f.cameras.iter().enumerate() {
            let k = format!("cameras[{i}]");
            self.name(&format!("{k}.name"), &c.name)?;
            if !camera_names.insert(c.name.clone()) {
                return Err(self.err(
                    format!("{k}.name"),
                    format!("duplicate camera name `{}`", c.name),
                ));
            }
            let k = format!("cameras[{i}] ({})", c.name);
            self.finite(&format!("{k}.position"), &c.position)?;
            self.finite(&format!("{k}.look_at"), &c.look_at)?;
            let (p, l) = (Point3::from(c.position), Point3::from(c.look_at));
            let axis = l - p;
            if axis.norm() < 0.05 {
                return Err(self.err(
                    format!("{k}.look_at"),
                    "must be at least 5 cm from position",
                ));
            }
            // The image's up is world +z projected: the axis must not be vertical.
            if axis.normalize().z.abs() > 0.999 {
                return Err(self.err(
                    format!("{k}.look_at"),
                    "the optical axis must not be exactly vertical (tilt it slightly)",
                ));
            }
            self.in_range(&format!("{k}.fov_deg"), c.fov_deg, 10.0, 120.0, "deg")?;
            for (key, v) in [("width", c.width), ("height", c.height)] {
                if !(16..=2048).contains(&v) {
                    return Err(self.err(
                        format!("{k}.{key}"),
                        format!("{v} px is outside [16, 2048]"),
                    ));
                }
            }
            cameras.push(CameraSpec {
                name: c.name.clone(),
                position_m: p,
                look_at_m: l,
                fov_deg: c.fov_deg,
                width: c.width,
                height: c.height,
            });
        }
        if cameras.is_empty() {
            cameras.push(CameraSpec::default_front(&table));
        }

        Ok(Scene {
            path: self.path.clone(),
            name: f.scene.name,
            description: f.scene.description,
            table,
            robot,
            objects,
            tasks,
            cameras,
        })
    }

    /// A file a scene names: `data:REST` is REST in cap's data directory (where the
    /// set-up step puts fetched meshes and robots), anything else is relative to the
    /// scene's folder (or absolute).
    fn resolve(&self, file: &str) -> PathBuf {
        match file.strip_prefix("data:") {
            Some(rest) => crate::paths::data_dir().join(rest.trim_start_matches('/')),
            None => self.path.parent().unwrap_or(Path::new(".")).join(file),
        }
    }

    /// A mesh object's file, read for its bounding box (the object's size), its scale,
    /// noun and named points; `None` for the other kinds (which may not have them).
    fn mesh(&self, k: &str, o: &ObjectFile) -> Result<Option<(MeshObject, [f64; 3])>, SceneError> {
        if o.kind != ObjectKind::Mesh {
            for (key, set) in [
                ("mesh", o.mesh.is_some()),
                ("scale", o.scale.is_some()),
                ("rotation_deg", o.rotation_deg.is_some()),
                ("noun", o.noun.is_some()),
                ("grasp_points", !o.grasp_points.is_empty()),
            ] {
                if set {
                    return Err(self.err(format!("{k}.{key}"), "belongs to kind = \"mesh\""));
                }
            }
            return Ok(None);
        }
        let Some(file) = &o.mesh else {
            return Err(self.err(
                format!("{k}.mesh"),
                "is required for kind = \"mesh\" (an OBJ, STL or DAE file)",
            ));
        };
        if o.size.is_some() {
            return Err(self.err(
                format!("{k}.size"),
                "a mesh's size is its bounding box, read from the file; scale it with `scale`",
            ));
        }
        let scale = o.scale.map_or([1.0; 3], |s| s.per_axis());
        self.finite(&format!("{k}.scale"), &scale)?;
        if scale.iter().any(|s| !(1e-4..=100.0).contains(s)) {
            return Err(self.err(
                format!("{k}.scale"),
                format!("{scale:?} is outside [0.0001, 100]"),
            ));
        }
        let rpy = o.rotation_deg.unwrap_or([0.0; 3]);
        self.finite(&format!("{k}.rotation_deg"), &rpy)?;
        let rotation = crate::math::rpy(
            rpy[0].to_radians(),
            rpy[1].to_radians(),
            rpy[2].to_radians(),
        );
        let path = self.resolve(file);
        let mesh = crate::mesh::load_turned(&path, scale, &rotation)
            .map_err(|e| self.err(format!("{k}.mesh"), e.to_string()))?;
        let (lo, hi) = mesh.bounds();
        let size = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
        let center = Vector3::new(
            (lo[0] + hi[0]) / 2.0,
            (lo[1] + hi[1]) / 2.0,
            (lo[2] + hi[2]) / 2.0,
        );
        let noun = match &o.noun {
            Some(n) => {
                self.name(&format!("{k}.noun"), n)?;
                n.clone()
            }
            None => o.name.rsplit('_').next().unwrap_or(&o.name).to_owned(),
        };
        if ObjectKind::ALL
            .iter()
            .any(|k| k.synonyms().contains(&noun.as_str()))
            || PALETTE.iter().any(|(c, _)| *c == noun)
        {
            return Err(self.err(
                format!("{k}.noun"),
                format!("`{noun}` already names a colour or a kind; give the mesh a noun of its own (noun = \"mug\")"),
            ));
        }
        let mut grasp_points = Vec::new();
        for (name, p) in &o.grasp_points {
            let key = format!("{k}.grasp_points.{name}");
            self.name(&key, name)?;
            self.finite(&key, p)?;
            let scaled = rotation * Vector3::new(p[0] * scale[0], p[1] * scale[1], p[2] * scale[2]);
            let inside = (0..3).all(|i| scaled[i] >= lo[i] - 0.01 && scaled[i] <= hi[i] + 0.01);
            if !inside {
                return Err(self.err(
                    key,
                    format!(
                        "{p:?} (in the mesh file's coordinates) is outside the mesh's bounding box"
                    ),
                ));
            }
            grasp_points.push((name.clone(), Point3::from(scaled - center)));
        }
        Ok(Some((
            MeshObject {
                path,
                scale,
                rotation,
                noun,
                center_in_mesh_m: center,
                grasp_points,
            },
            size,
        )))
    }

    /// The arm: the built-in Panda, a catalogue name, or a URDF with its chain.
    fn arm_source(&self, r: &RobotFile) -> Result<ArmSource, SceneError> {
        let urdf_keys = [
            ("base_link", r.base_link.is_some()),
            ("tool_link", r.tool_link.is_some()),
            ("tcp", r.tcp.is_some()),
            ("gripper", r.gripper.is_some()),
            ("packages", !r.packages.is_empty()),
        ];
        match (&r.arm, &r.urdf) {
            (Some(_), Some(_)) => Err(self.err(
                "robot.urdf",
                "give either `arm` (an arm of the catalogue) or `urdf` (your own), not both",
            )),
            (Some(name), None) => {
                if let Some((k, _)) = urdf_keys.iter().find(|(_, set)| *set) {
                    return Err(self.err(
                        format!("robot.{k}"),
                        format!("belongs with `urdf = ...`; the catalogue's `{name}` has its own"),
                    ));
                }
                if name == "builtin" {
                    return Ok(ArmSource::Builtin);
                }
                self.name("robot.arm", name)?;
                Ok(ArmSource::Catalogue(name.clone()))
            }
            (None, None) => {
                if let Some((k, _)) = urdf_keys.iter().find(|(_, set)| *set) {
                    return Err(self.err(format!("robot.{k}"), "belongs with `urdf = ...`"));
                }
                Ok(ArmSource::Builtin)
            }
            (None, Some(urdf)) => {
                let need = |key: &str, v: &Option<String>| {
                    v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                        self.err(
                            format!("robot.{key}"),
                            "is required with `urdf` (the arm's chain runs from base_link to tool_link)",
                        )
                    })
                };
                let base_link = need("base_link", &r.base_link)?;
                let tool_link = need("tool_link", &r.tool_link)?;
                let tcp = r.tcp.unwrap_or([0.0; 3]);
                self.finite("robot.tcp", &tcp)?;
                let width = |w: f64| -> Result<f64, SceneError> {
                    self.in_range("robot.gripper.max_width", w, 0.005, 0.3, "m")?;
                    Ok(w)
                };
                let gripper = match &r.gripper {
                    None => {
                        return Err(self.err(
                            "robot.gripper",
                            r#"is required with `urdf`: { kind = "fingers", joints = [..], max_width = .. }, { kind = "jaw", joint = .., max_width = .. } or { kind = "mounted", max_width = .. }"#,
                        ))
                    }
                    Some(GripperFile::Fingers { joints, max_width }) => GripperSpec::Fingers {
                        joints: joints.clone(),
                        max_width_m: width(*max_width)?,
                    },
                    Some(GripperFile::Jaw { joint, max_width }) => GripperSpec::Jaw {
                        joint: joint.clone(),
                        max_width_m: width(*max_width)?,
                    },
                    Some(GripperFile::Mounted { max_width }) => GripperSpec::Mounted {
                        max_width_m: width(*max_width)?,
                    },
                };
                Ok(ArmSource::Urdf(UrdfArm {
                    urdf: self.resolve(urdf),
                    base_link,
                    tool_link,
                    tcp_m: Vector3::from(tcp),
                    gripper,
                    packages: r.packages.iter().map(|p| self.resolve(p)).collect(),
                }))
            }
        }
    }

    fn object(&self, k: &str, o: &ObjectFile, table: &TableSpec) -> Result<ObjectSpec, SceneError> {
        let mesh = self.mesh(k, o)?;
        let size = match (&mesh, o.size) {
            (Some((_, size)), _) => *size,
            (None, Some(size)) => size,
            (None, None) => return Err(self.err(format!("{k}.size"), "is required")),
        };
        let mesh = mesh.map(|(m, _)| m);
        self.finite(&format!("{k}.size"), &size)?;
        for (i, v) in size.iter().enumerate() {
            if !(0.005..=1.0).contains(v) {
                return Err(self.err(
                    format!("{k}.size[{i}]"),
                    format!("{v} m is outside [0.005, 1]"),
                ));
            }
        }
        let round = matches!(
            o.kind,
            ObjectKind::Cylinder | ObjectKind::Bowl | ObjectKind::Plate | ObjectKind::Sphere
        );
        if round && (size[0] - size[1]).abs() > 1e-9 {
            return Err(self.err(
                format!("{k}.size"),
                "a round object needs size[0] == size[1] (its diameter)",
            ));
        }
        if o.kind == ObjectKind::Sphere && (size[0] - size[2]).abs() > 1e-9 {
            return Err(self.err(format!("{k}.size"), "a sphere needs all three sizes equal"));
        }
        self.in_range(&format!("{k}.mass"), o.mass, 0.001, 10.0, "kg")?;
        self.in_range(&format!("{k}.friction"), o.friction, 0.0, 2.0, "")?;
        self.finite(&format!("{k}.yaw_deg"), &[o.yaw_deg])?;
        let rgb = color_rgb(&o.color)
            .ok_or_else(|| self.err(format!("{k}.color"), unknown_color(&o.color)))?;

        let pk = format!("{k}.position");
        self.finite(&pk, &o.position)?;
        let position_m = match o.position.as_slice() {
            // Two coordinates: the object rests on the table.
            [x, y] => Point3::new(*x, *y, size[2] / 2.0),
            [x, y, z] => Point3::new(*x, *y, *z),
            other => {
                return Err(self.err(
                    pk,
                    format!("needs [x, y] or [x, y, z], got {} numbers", other.len()),
                ));
            }
        };

        let randomize = match &o.randomize {
            None => Randomize::default(),
            Some(r) => Randomize {
                x_m: self.range(&format!("{k}.randomize.x"), r.x, 0.5)?,
                y_m: self.range(&format!("{k}.randomize.y"), r.y, 0.5)?,
                yaw_rad: {
                    let d = self.range(&format!("{k}.randomize.yaw_deg"), r.yaw_deg, 180.0)?;
                    Range {
                        lo: d.lo.to_radians(),
                        hi: d.hi.to_radians(),
                    }
                },
            },
        };

        let spec = ObjectSpec {
            name: o.name.clone(),
            kind: o.kind,
            color: o.color.clone(),
            rgb,
            size_m: Vector3::from(size),
            mass_kg: o.mass,
            friction: o.friction,
            position_m,
            yaw_rad: o.yaw_deg.to_radians(),
            randomize,
            mesh,
        };

        // On the table: the whole reachable footprint inside the table top, the bottom
        // not below it.
        let (hx, hy) = footprint_half_extents(&spec);
        let (tx, ty) = (table.size_m.x / 2.0, table.size_m.y / 2.0);
        if (position_m.x - table.center_m.x).abs() + hx > tx
            || (position_m.y - table.center_m.y).abs() + hy > ty
        {
            return Err(self.err(
                pk,
                "the object (with its randomisation range) is not fully on the table",
            ));
        }
        if position_m.z - size[2] / 2.0 < -OVERLAP_TOLERANCE_M {
            return Err(self.err(
                pk,
                format!(
                    "the object's bottom is below the table top (z = {:.4} m)",
                    position_m.z - size[2] / 2.0
                ),
            ));
        }
        Ok(spec)
    }

    fn no_overlaps(&self, objects: &[ObjectSpec]) -> Result<(), SceneError> {
        for (i, a) in objects.iter().enumerate() {
            for (j, b) in objects.iter().enumerate().skip(i + 1) {
                let (ax, ay) = footprint_half_extents(a);
                let (bx, by) = footprint_half_extents(b);
                let dx = (a.position_m.x - b.position_m.x).abs();
                let dy = (a.position_m.y - b.position_m.y).abs();
                let dz = (a.position_m.z - b.position_m.z).abs();
                let overlap_x = ax + bx - dx;
                let overlap_y = ay + by - dy;
                let overlap_z = (a.size_m.z + b.size_m.z) / 2.0 - dz;
                if overlap_x > OVERLAP_TOLERANCE_M
                    && overlap_y > OVERLAP_TOLERANCE_M
                    && overlap_z > OVERLAP_TOLERANCE_M
                {
                    return Err(self.err(
                        format!("objects[{j}] ({}).position", b.name),
                        format!(
                            "spawn volume overlaps `{}` (objects[{i}]) by {:.1} mm; move them apart or narrow their randomize ranges",
                            a.name,
                            overlap_x.min(overlap_y).min(overlap_z) * 1000.0
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

pub(super) fn unknown_color(c: &str) -> String {
    let names: Vec<&str> = PALETTE.iter().map(|(n, _)| *n).collect();
    format!("unknown colour `{c}`; known: {}", names.join(", "))
}
