//! The writer thread: everything that touches the rerun stream runs there, in the
//! order sent; the episodes' rows wait for their place on the timelines.

use super::*;

/// Physics steps between the end of an episode and the start of the next one on the
/// recording's timelines (one second).
pub(crate) fn episode_gap() -> u64 {
    (1.0 / cap_sim::world::DT_S).round() as u64
}

/// A recording being closed ([`Recorder::finish_in_background`]).
#[must_use = "`wait` says whether the recording was written"]
pub struct Finishing<'a> {
    pub(crate) recorder: &'a Recorder,
    pub(crate) wait: mpsc::Receiver<Result<(), VizError>>,
}

impl Finishing<'_> {
    /// Wait until the recording is closed; the first error of any sink, or why the
    /// stream never opened.
    pub fn wait(self) -> Result<(), VizError> {
        self.wait.recv().unwrap_or_else(|_| {
            Err(self
                .recorder
                .failed
                .lock()
                .ok()
                .and_then(|mut f| f.take())
                .unwrap_or_else(|| VizError::Flush("the recording is closed already".into())))
        })
    }
}

/// Work for the writer thread: everything that touches the rerun stream.
pub(crate) type Job = Box<dyn FnOnce(&RecordingStream) + Send>;

/// Work on an episode's rows: given where the episode starts on the `step` timeline.
pub(crate) type EpisodeJob = Box<dyn FnOnce(&RecordingStream, u64) + Send>;

/// What the writer thread is asked to do.
pub(crate) enum Msg {
    /// Log something that belongs to no episode (meshes, a report).
    Job(Job),
    /// Episode `id` began (ids are sent in the order the episodes began).
    Begin(u64),
    /// Log rows of episode `id`.
    Episode(u64, EpisodeJob),
    /// Episode `id` ended after `steps` physics steps; nothing more comes for it.
    End { id: u64, steps: u64 },
    /// Close the recording and report how it went.
    Finish(mpsc::Sender<Result<(), VizError>>),
}

/// An episode waiting for its place on the timelines.
pub(crate) struct Waiting {
    pub(crate) id: u64,
    /// Its rows so far.
    pub(crate) jobs: Vec<EpisodeJob>,
    /// Its length, once it ended.
    pub(crate) steps: Option<u64>,
}

/// Where the episodes of a recording go on the `step` (and `sim_time`) timeline: one
/// after the other in the order they began, each [`episode_gap`] after the previous
/// one ended, so scrubbing plays them in turn. Episodes that run at the same time (the
/// seeds of an eval task) are placed all the same: the rows of an episode whose start
/// is not known yet (the one before it still runs) wait on the writer thread.
pub(crate) struct Placement {
    /// Where the next episode starts, once known (`None` while [`Self::current`] runs).
    pub(crate) next_start: Option<u64>,
    /// The episode placed last, still running: its id and start.
    pub(crate) current: Option<(u64, u64)>,
    /// Episodes not placed yet, in the order they began.
    pub(crate) waiting: std::collections::VecDeque<Waiting>,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            next_start: Some(0),
            current: None,
            waiting: std::collections::VecDeque::new(),
        }
    }
}

impl Placement {
    pub(crate) fn begin(&mut self, rec: &RecordingStream, id: u64) {
        self.waiting.push_back(Waiting {
            id,
            jobs: Vec::new(),
            steps: None,
        });
        self.place(rec);
    }

    pub(crate) fn job(&mut self, rec: &RecordingStream, id: u64, job: EpisodeJob) {
        match self.current {
            Some((current, start)) if current == id => job(rec, start),
            _ => {
                if let Some(w) = self.waiting.iter_mut().find(|w| w.id == id) {
                    w.jobs.push(job);
                }
            }
        }
    }

    pub(crate) fn end(&mut self, rec: &RecordingStream, id: u64, steps: u64) {
        match self.current {
            Some((current, start)) if current == id => {
                self.current = None;
                self.next_start = Some(start + steps + episode_gap());
                self.place(rec);
            }
            _ => {
                if let Some(w) = self.waiting.iter_mut().find(|w| w.id == id) {
                    w.steps = Some(steps);
                }
            }
        }
    }

    /// Place the waiting episodes whose start is known, logging their rows.
    pub(crate) fn place(&mut self, rec: &RecordingStream) {
        while let Some(start) = self.next_start {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            for job in w.jobs {
                job(rec, start);
            }
            match w.steps {
                Some(steps) => self.next_start = Some(start + steps + episode_gap()),
                None => {
                    self.current = Some((w.id, start));
                    self.next_start = None;
                }
            }
        }
    }

    /// Closing the recording: episodes still waiting behind one that never ended
    /// (every episode handle ends on drop, so only a leaked one) are placed after its
    /// start rather than lost.
    pub(crate) fn close(&mut self, rec: &RecordingStream) {
        if let Some((_, start)) = self.current.take() {
            self.next_start = Some(start + episode_gap());
        }
        for w in &mut self.waiting {
            w.steps.get_or_insert(0);
        }
        self.place(rec);
    }
}

/// An open recording: the stream, and where its files report write errors.
pub(crate) struct Opened {
    pub(crate) rec: RecordingStream,
    pub(crate) files: Vec<rrd_file::WriteError>,
    /// Whether a viewer is among the sinks (a gRPC connection can fail while the
    /// recording runs; only a flush finds out).
    pub(crate) network: bool,
}

impl Opened {
    pub(crate) fn new(
        rec: RecordingStream,
        files: Vec<rrd_file::WriteError>,
        network: bool,
    ) -> Self {
        // rerun stamps rows with the wall-clock time they were logged (`log_time`) unless
        // told not to; a run's times are its sim time, step and attempt (and every
        // timeline costs a set of columns in the file's footer).
        rec.set_log_time_enabled(false);
        Self {
            rec,
            files,
            network,
        }
    }

    /// Flush a viewer's connection (to learn whether it still holds), then close the
    /// stream: rerun sends what is pending and drops the sinks, and a file gets its
    /// footer. The first error of any sink.
    pub(crate) fn close(self) -> Result<(), VizError> {
        let flushed = if self.network {
            self.rec
                .flush_blocking()
                .map_err(|e| VizError::Flush(e.to_string()))
        } else {
            Ok(())
        };
        drop(self.rec);
        let written = self
            .files
            .iter()
            .find_map(|e| e.lock().ok().and_then(|e| e.clone()))
            .map_or(Ok(()), |e| Err(VizError::Flush(e)));
        let logging = LOG_ERROR
            .with(|slot| slot.borrow_mut().take())
            .map_or(Ok(()), |e| Err(VizError::Flush(e)));
        flushed.and(written).and(logging)
    }
}

thread_local! {
    /// The first error of a `log` call on this writer thread (each recorder has its own
    /// writer thread, and every call that touches its stream runs there).
    static LOG_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Keep the first error of logging `what` (rerun refusing a row: a bug of ours, not a
/// sink's), so that closing the recording reports it instead of the row silently going
/// missing.
pub(crate) fn logged<E: std::fmt::Display>(what: &str, result: Result<(), E>) {
    if let Err(e) = result {
        LOG_ERROR.with(|slot| {
            slot.borrow_mut()
                .get_or_insert_with(|| format!("logging {what}: {e}"));
        });
    }
}

/// Opens the stream, on the writer thread.
pub(crate) type Open = Box<dyn FnOnce() -> Result<Opened, VizError> + Send>;

/// Set all three timelines on the calling thread (rerun's time context is per thread).
/// `step` is on the recording's timeline (the episode's start included); `sim_time` is
/// `step` physics steps.
pub(crate) fn set_time(rec: &RecordingStream, step: u64, attempt: i64) {
    rec.set_time_sequence("step", step as i64);
    rec.set_duration_secs("sim_time", step as f64 * cap_sim::world::DT_S);
    rec.set_time_sequence("attempt", attempt);
}
