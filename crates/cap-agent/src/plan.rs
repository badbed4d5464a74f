//! Plan, then code (HyCodePolicy's first step): a first reply lists the steps, and the
//! program is then asked for with them as the comments to write it under, CaP-style.

use super::{Agent, AttemptReport, Progress, RunConfig};
use crate::prompt::{extract_plan, fill};

/// Most tokens of a plan reply.
const PLAN_TOKENS: u32 = 200;

/// An attempt's report before anything was asked.
pub(super) fn attempt(attempt: u32, kind: &'static str) -> AttemptReport {
    AttemptReport {
        attempt,
        kind,
        candidates: Vec::new(),
        best: None,
        tokens_in: 0,
        tokens_out: 0,
        llm_latency_s: 0.0,
        cached_replies: 0,
        llm_error: None,
        repeats: 0,
    }
}

impl Agent<'_> {
    /// Ask for the plan and append its steps to the first request `first`; the steps
    /// read (none when the reply held none, or the provider failed: then `acc` says so).
    pub(super) fn with_plan(
        &self,
        mut first: String,
        cfg: &RunConfig,
        progress: &dyn Fn(Progress),
        acc: &mut AttemptReport,
    ) -> (String, Option<Vec<String>>) {
        progress(Progress::Asking {
            attempt: 1,
            what: "plan".into(),
        });
        let user = fill(
            &self.prompts.plan,
            &[("scene", &self.facts), ("instruction", &self.instruction)],
        );
        let plan_cfg = RunConfig {
            max_tokens: PLAN_TOKENS,
            ..cfg.clone()
        };
        match self.ask(user, 0, false, &plan_cfg, acc) {
            Ok(reply) => {
                let steps = extract_plan(&reply);
                if !steps.is_empty() {
                    let lines: Vec<String> = steps
                        .iter()
                        .enumerate()
                        .map(|(i, s)| format!("// {}. {s}", i + 1))
                        .collect();
                    first.push_str(&format!(
                        "\n\nPlan (write the program step by step, each step's comment above its code):\n{}",
                        lines.join("\n")
                    ));
                }
                (first, Some(steps))
            }
            Err(e) => {
                acc.llm_error = Some(e.to_string());
                (first, None)
            }
        }
    }
}
