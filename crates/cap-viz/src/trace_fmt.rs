//! Trace events as log lines (level and text) and checkpoints as images and verdicts.

use super::*;

pub(crate) fn level(ev: &TraceEvent) -> &'static str {
    match &ev.event {
        EventKind::Abort { .. } => rerun::TextLogLevel::ERROR,
        EventKind::End {
            success: Some(false),
            ..
        } => rerun::TextLogLevel::ERROR,
        EventKind::Call {
            failure: Some(_), ..
        } => rerun::TextLogLevel::WARN,
        EventKind::Checkpoint {
            verdicts,
            disagreement,
            ..
        } => {
            if *disagreement
                || verdicts
                    .first()
                    .is_some_and(|v| v.answer == Answer::DoesNotHold)
            {
                rerun::TextLogLevel::WARN
            } else {
                rerun::TextLogLevel::INFO
            }
        }
        EventKind::Call { function, .. } if function == "print" || function == "say" => {
            rerun::TextLogLevel::INFO
        }
        EventKind::Call { .. } => rerun::TextLogLevel::DEBUG,
        EventKind::Start { .. } | EventKind::End { .. } => rerun::TextLogLevel::INFO,
    }
}

/// One line for a trace event.
pub(crate) fn describe(ev: &TraceEvent) -> String {
    let at = match (ev.line, &ev.subgoal) {
        (Some(l), Some(s)) => format!("line {l} [{s}] "),
        (Some(l), None) => format!("line {l} "),
        (None, Some(s)) => format!("[{s}] "),
        (None, None) => String::new(),
    };
    let body = match &ev.event {
        EventKind::Start {
            scene, task, seed, ..
        } => format!(
            "start: scene {scene}, task {}, seed {seed}",
            task.as_deref().unwrap_or("-")
        ),
        EventKind::Call {
            function,
            args,
            result,
            failure,
            ..
        } => {
            let args: Vec<String> = args.iter().map(ToString::to_string).collect();
            match failure {
                Some(f) => format!(
                    "{function}({}) failed: {}: {}",
                    args.join(", "),
                    f.kind,
                    f.message
                ),
                None => format!("{function}({}) -> {result}", args.join(", ")),
            }
        }
        EventKind::Abort { failure } => format!("abort: {}: {}", failure.kind, failure.message),
        EventKind::Checkpoint {
            statement,
            verdicts,
            disagreement,
            ..
        } => {
            let v: Vec<String> = verdicts
                .iter()
                .map(|v| format!("{} {} ({:.2})", v.inspector, v.answer.label(), v.confidence))
                .collect();
            format!(
                "checkpoint \"{statement}\": {}{}",
                v.join(", "),
                if *disagreement {
                    " — inspectors disagree"
                } else {
                    ""
                }
            )
        }
        EventKind::End {
            success, failure, ..
        } => match (success, failure) {
            (_, Some(f)) => format!("end: failed: {}: {}", f.kind, f.message),
            (Some(true), None) => "end: success".into(),
            _ => "end".into(),
        },
    };
    format!("{at}{body}")
}

/// Log the checkpoint images and verdicts of `ev` (images relative to `dir`).
pub(crate) fn log_checkpoint(rec: &RecordingStream, ev: &TraceEvent, dir: Option<&Path>) {
    let EventKind::Checkpoint {
        statement,
        verdicts,
        images,
        disagreement,
        ..
    } = &ev.event
    else {
        return;
    };
    let mut cameras: Vec<String> = Vec::new();
    for rel in images {
        // `checkpoints/[EPISODE/]NNN_CAM_rgb.png`: camera between the index and the kind.
        let Some(stem) = Path::new(rel).file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Some((head, kind)) = stem.rsplit_once('_') else {
            continue;
        };
        let cam = head.split_once('_').map_or(head, |(_, c)| c).to_string();
        let kind = match kind {
            "rgb" => "rgb",
            "depth" => "depth",
            "seg" => "segmentation",
            _ => continue,
        };
        let path = dir.map_or_else(|| PathBuf::from(rel), |d| d.join(rel));
        if let Ok(img) = rerun::EncodedImage::from_file(&path) {
            logged(
                "a checkpoint frame",
                rec.log(format!("camera/{cam}/{kind}"), &img),
            );
        }
        if !cameras.contains(&cam) {
            cameras.push(cam);
        }
    }
    let verdict_text = {
        let v: Vec<String> = verdicts
            .iter()
            .map(|v| {
                format!(
                    "{}: {} (confidence {:.2}{})",
                    v.inspector,
                    v.answer.label(),
                    v.confidence,
                    if v.model.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", v.model)
                    }
                )
            })
            .collect();
        format!(
            "\"{statement}\" — {}{}",
            v.join("; "),
            if *disagreement {
                " — inspectors disagree"
            } else {
                ""
            }
        )
    };
    if cameras.is_empty() {
        cameras.push("none".into());
    }
    for cam in cameras {
        logged(
            "checkpoint verdicts",
            rec.log(
                format!("camera/{cam}/verdicts"),
                &rerun::TextLog::new(verdict_text.clone()).with_level(level(ev)),
            ),
        );
    }
}
