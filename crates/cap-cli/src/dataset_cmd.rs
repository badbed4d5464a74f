//! `cap dataset`: write labelled renders for the vision model, or (`--eval`) score a
//! vision model on directories of them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use cap_vision::dataset::{self, Family};

use crate::BadInput;

/// `cap dataset` arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct DatasetArgs {
    /// Output directory (images.u8, masks.u8, samples.jsonl, objects.jsonl,
    /// scenes.jsonl, meta.json, preview PNGs).
    #[arg(long, required_unless_present = "eval")]
    out: Option<PathBuf>,
    /// Stream seed: different seeds give disjoint scenes and placements.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of images.
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Which scenes: `train` (the training distribution), `nominal` (its part that
    /// looks like the shipped scenes), or a held-out family: `ood-camera`, `ood-size`,
    /// `ood-table`.
    #[arg(long, default_value = "train")]
    family: String,
    /// Score the vision model on these directories of labelled renders instead:
    /// accuracy, the share answered, the confident wrong answers and the calibration
    /// error, per relation.
    #[arg(long, num_args = 1.., value_name = "DIR", conflicts_with = "out")]
    eval: Vec<PathBuf>,
    /// With --eval: this ONNX model (its card is the .json beside it) instead of the
    /// embedded one.
    #[arg(long)]
    vision_model: Option<PathBuf>,
    /// With --eval: also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// Run `cap dataset`.
pub fn run(a: &DatasetArgs) -> Result<u8> {
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if !a.eval.is_empty() {
        return eval(a, threads);
    }
    let Some(out) = &a.out else {
        return Err(BadInput("give --out DIR (or --eval DIR ...)".into()).into());
    };
    let family = Family::parse(&a.family).ok_or_else(|| {
        let all: Vec<&str> = Family::ALL.iter().map(|f| f.label()).collect();
        BadInput(format!(
            "unknown --family `{}`; one of {}",
            a.family,
            all.join(", ")
        ))
    })?;
    generate(out, a.seed, a.images, family, threads)
}

fn bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

fn generate(out: &Path, seed: u64, images: usize, family: Family, threads: usize) -> Result<u8> {
    let pb = bar(
        images as u64,
        "{msg} [{bar:30}] {pos}/{len} images, {per_sec}, eta {eta}",
    );
    pb.set_message(format!("rendering {}", family.label()));
    let t = Instant::now();
    let n = dataset::generate(out, seed, images, family, threads, &|done| {
        pb.set_position(done as u64)
    })
    .with_context(|| format!("writing the dataset to {}", out.display()))?;
    pb.finish_and_clear();
    println!(
        "{n} images ({}) in {:.1} s -> {}",
        family.label(),
        t.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(0)
}

fn eval(a: &DatasetArgs, threads: usize) -> Result<u8> {
    let make = || match &a.vision_model {
        Some(p) => cap_vision::VisionInspector::from_file(p),
        None => cap_vision::VisionInspector::embedded(),
    };
    // Fail early, with the model's own error, before any directory is read.
    make().map_err(|e| BadInput(format!("vision inspector: {e}")))?;
    let mut reports = Vec::new();
    for dir in &a.eval {
        let pb = bar(0, "{msg} [{bar:30}] {pos}/{len} statements, eta {eta}");
        pb.set_message(format!("{}", dir.display()));
        let t = Instant::now();
        let report = dataset::eval::evaluate(dir, &make, threads, &|done, total| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        })
        .map_err(|e| BadInput(e.to_string()))?;
        pb.finish_and_clear();
        print!("{}", dataset::eval::table(&report));
        let secs = t.elapsed().as_secs_f64();
        let n = report.all.statements.max(1) as f64;
        println!(
            "({secs:.1} s on {threads} threads: {:.2} ms per statement per thread, with the \
             parse, encoding and the ONNX Runtime call)\n",
            1000.0 * secs * threads as f64 / n
        );
        reports.push(report);
    }
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&reports)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}
