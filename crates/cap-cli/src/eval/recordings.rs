//! `cap eval --record`: one rerun recording per task, holding the episodes the
//! `--record` values pick, opened when the first of them starts and closed, with a
//! table of their results as its report, when the last one ends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use cap_core::scene::Scene;

use super::Result1;

/// The recordings of an eval: one per task, holding the task's recorded episodes one
/// after the other in the order they began (episodes of a task running on several
/// workers at once included: `cap-viz` places each when the one before it ends). A
/// recording opens when its first episode starts and closes, with the task's results
/// as its report, when its last one ends, so a long eval keeps few files open and an
/// interrupted one keeps the tasks it finished.
pub(super) struct Recordings {
    dir: PathBuf,
    /// Send each episode's samples in one batch (every core runs episodes: see
    /// [`cap_viz::Recorder::set_sample_batch`]).
    whole_episodes: bool,
    /// Which episodes are recorded: `all`, `TASK` or `TASK:SEED`.
    select: Vec<String>,
    /// Per (scene, task) recorded: the open recording (once its first episode began),
    /// the recorded episodes still to end, and the results of those that did.
    open: Mutex<BTreeMap<(String, String), TaskRecording>>,
}

struct TaskRecording {
    recorder: Option<Arc<cap_viz::Recorder>>,
    remaining: usize,
    results: Vec<Result1>,
}

impl Recordings {
    pub(super) fn new(
        dir: PathBuf,
        select: &[String],
        episodes: &[(Arc<Scene>, String, u64)],
        whole_episodes: bool,
    ) -> Self {
        let mut open = BTreeMap::new();
        for (scene, task, seed) in episodes {
            if selects(select, task, *seed) {
                open.entry((scene.name.clone(), task.clone()))
                    .or_insert(TaskRecording {
                        recorder: None,
                        remaining: 0,
                        results: Vec::new(),
                    })
                    .remaining += 1;
            }
        }
        Self {
            dir,
            whole_episodes,
            select: select.to_vec(),
            open: Mutex::new(open),
        }
    }

    fn selects(&self, task: &str, seed: u64) -> bool {
        selects(&self.select, task, seed)
    }

    fn path(&self, scene: &str, task: &str) -> PathBuf {
        self.dir.join(scene).join(format!("{task}.rrd"))
    }

    /// The recording episode `task`/`seed` goes to (opened by the task's first
    /// episode), or `None` when it is not recorded.
    pub(super) fn recorder(
        &self,
        scene: &Scene,
        task: &str,
        seed: u64,
    ) -> Result<Option<Arc<cap_viz::Recorder>>> {
        if !self.selects(task, seed) {
            return Ok(None);
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = open.get_mut(&(scene.name.clone(), task.to_owned())) else {
            return Ok(None);
        };
        if let Some(r) = &t.recorder {
            return Ok(Some(Arc::clone(r)));
        }
        let path = self.path(&scene.name, task);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let r = cap_viz::Recorder::new(
            &format!("cap eval {} {task}", scene.name),
            &[cap_viz::Sink::Save(path)],
        )?;
        if self.whole_episodes {
            r.set_sample_batch(usize::MAX);
        }
        t.recorder = Some(Arc::clone(&r));
        Ok(Some(r))
    }

    /// Episode `task`/`seed` ended (`result`: how, if it ran). The task's last
    /// recorded episode closes its recording: its report lists the episodes, and a
    /// write error names the file.
    pub(super) fn done(
        &self,
        scene: &Scene,
        task: &str,
        seed: u64,
        result: Option<&Result1>,
    ) -> Result<(), cap_viz::VizError> {
        if !self.selects(task, seed) {
            return Ok(());
        }
        let key = (scene.name.clone(), task.to_owned());
        let finished = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let Some(t) = open.get_mut(&key) else {
                return Ok(());
            };
            t.remaining = t.remaining.saturating_sub(1);
            t.results.extend(result.cloned());
            if t.remaining > 0 {
                return Ok(());
            }
            open.remove(&key)
        };
        let Some(TaskRecording {
            recorder: Some(recorder),
            mut results,
            ..
        }) = finished
        else {
            return Ok(());
        };
        results.sort_by_key(|r| r.seed);
        recorder.log_document("report", &task_report(&results));
        recorder.finish()
    }
}

/// Whether `--record` values `select` name episode `task`/`seed`.
pub(super) fn selects(select: &[String], task: &str, seed: u64) -> bool {
    select
        .iter()
        .any(|r| r == "all" || r == task || *r == format!("{task}:{seed}"))
}

/// The report of a task's recording: its recorded episodes, a row each, then their
/// results as JSON lines.
pub(super) fn task_report(results: &[Result1]) -> String {
    let mut md = String::from(
        "| seed | success | failure | line | attempts | sim s |\n|---|---|---|---|---|---|\n",
    );
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} |\n",
            r.seed,
            if r.success { "yes" } else { "no" },
            match (&r.failure_class, &r.failure_kind) {
                (Some(c), Some(k)) => format!("{c}: {k}"),
                (Some(c), None) => c.clone(),
                _ => String::new(),
            },
            r.line.map(|l| l.to_string()).unwrap_or_default(),
            r.attempts,
            r.sim_time_s
        ));
    }
    md.push_str("\n```json\n");
    for r in results {
        if let Ok(line) = serde_json::to_string(r) {
            md.push_str(&line);
            md.push('\n');
        }
    }
    md.push_str("```\n");
    md
}
