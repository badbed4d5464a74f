//! The checkpoint monitor `cap exec` and `cap run` give the script runtime: render
//! every scene camera, save the frames as PNGs, ask the primary inspector, and ask the
//! geometric inspector too so a disagreement shows in the trace.

use std::path::PathBuf;

use cap_script::monitor::{CheckpointResult, Monitor};
use cap_sim::prelude::World;

use crate::{GeometricInspector, Inspector, Observation};

/// Renders, saves, inspects, cross-checks.
pub struct CheckpointMonitor {
    primary: Box<dyn Inspector>,
    cross_check: bool,
    image_dir: Option<(PathBuf, String)>,
}

impl CheckpointMonitor {
    /// A monitor asking `primary`; with `cross_check`, the geometric inspector too
    /// (skipped when the primary is the geometric inspector).
    pub fn new(primary: Box<dyn Inspector>, cross_check: bool) -> Self {
        let cross_check = cross_check && primary.name() != "geometric";
        Self {
            primary,
            cross_check,
            image_dir: None,
        }
    }

    /// Save each checkpoint's frames as `NNN_<camera>_{rgb,depth,seg}.png` in
    /// `run_dir/sub` (in `run_dir/sub/EPISODE` for a named episode); traces name them
    /// `sub/NNN_...` (relative to the run directory, so traces do not depend on where
    /// the run was written).
    pub fn with_images(mut self, run_dir: &std::path::Path, sub: &str) -> Self {
        self.image_dir = Some((run_dir.join(sub), sub.to_owned()));
        self
    }
}

impl Monitor for CheckpointMonitor {
    fn checkpoint(
        &self,
        world: &World,
        statement: &str,
        index: u32,
        episode: &str,
    ) -> CheckpointResult {
        let frames: Vec<_> = world
            .scene()
            .cameras
            .iter()
            .map(|c| world.render(c))
            .collect();
        let mut images = Vec::new();
        let mut write_error = None;
        if let Some((dir, sub)) = &self.image_dir {
            let (dir, sub) = if episode.is_empty() {
                (dir.clone(), sub.clone())
            } else {
                (dir.join(episode), format!("{sub}/{episode}"))
            };
            for f in &frames {
                match crate::png_io::write_pngs(f, &dir, &format!("{index:03}_{}", f.camera)) {
                    Ok(p) => images.extend([p.rgb, p.depth, p.seg].into_iter().map(|p| {
                        let file = p.file_name().map(|n| n.to_string_lossy().into_owned());
                        format!("{sub}/{}", file.unwrap_or_default())
                    })),
                    Err(e) => write_error = Some(e.to_string()),
                }
            }
        }
        let obs = Observation {
            world: Some(world),
            frames: &frames,
        };
        let mut verdicts = vec![self.primary.inspect(&obs, statement)];
        if let (Some(e), Some(v)) = (write_error, verdicts.first_mut()) {
            let d = v.detail.take().unwrap_or_default();
            v.detail = Some(format!("{d} (images not saved: {e})"));
        }
        if self.cross_check {
            verdicts.push(GeometricInspector.inspect(&obs, statement));
        }
        CheckpointResult { verdicts, images }
    }
}
