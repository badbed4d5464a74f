//! IK figures for `cap bench`: µs per solve on the tabletop's top-down targets, and the
//! solve rate on poses that in-limit configurations reach (so every one is solvable):
//! general poses and top-down ones.

use std::time::Instant;

use cap_core::arm::ArmKinematics;
use cap_core::kinematics::{top_down, IkOptions, Panda, TargetSet, HOME};
use cap_core::nalgebra::{Isometry3, Translation3};

use super::stats;

/// Targets per reachable-by-construction set.
const SET_SIZE: usize = 1000;

/// One set's figures.
struct SetFigures {
    name: String,
    us_per_solve: Vec<f64>,
    solved: usize,
    tried: usize,
}

/// What [`measure`] found.
pub struct IkFigures {
    sets: Vec<SetFigures>,
    /// Each arm's reach band measured with the IK (None: no band), and how long that
    /// took, ms.
    bands: Vec<(String, Option<cap_sim::reach::ReachBand>, f64)>,
}

/// The 50 top-down tabletop targets `cap bench` has always timed.
fn tabletop_targets() -> Vec<Isometry3<f64>> {
    (0..50)
        .map(|i| {
            let f = i as f64 / 50.0;
            let x = 0.3 + 0.4 * ((f * 7.3).fract());
            let y = -0.3 + 0.6 * ((f * 3.7).fract());
            let z = 0.02 + 0.3 * ((f * 5.1).fract());
            Isometry3::from_parts(Translation3::new(x, y, z), top_down((f - 0.5) * 1.5))
        })
        .collect()
}

/// Time `solve` over `targets`, `reps` rounds: µs per solve each round, and how many
/// were solved.
fn time_set(
    name: String,
    targets: &[Isometry3<f64>],
    reps: usize,
    solve: impl Fn(&Isometry3<f64>) -> bool,
) -> SetFigures {
    let mut fig = SetFigures {
        name,
        us_per_solve: Vec::new(),
        solved: 0,
        tried: 0,
    };
    for _ in 0..reps {
        let t = Instant::now();
        for target in targets {
            fig.tried += 1;
            if solve(target) {
                fig.solved += 1;
            }
        }
        fig.us_per_solve
            .push(t.elapsed().as_secs_f64() * 1e6 / targets.len().max(1) as f64);
    }
    fig
}

/// Time IK from the ready pose on each set, `reps` rounds.
pub fn measure(kin: &Panda, reps: usize) -> IkFigures {
    let sets = [
        ("tabletop top-down targets", tabletop_targets()),
        (
            "reachable poses, general",
            kin.reachable_targets(TargetSet::General, 7, SET_SIZE),
        ),
        (
            "reachable poses, top-down",
            kin.reachable_targets(TargetSet::TopDown, 11, SET_SIZE),
        ),
    ];
    let opts = IkOptions::default();
    let mut sets: Vec<SetFigures> = sets
        .into_iter()
        .map(|(name, targets)| {
            time_set(name.to_owned(), &targets, reps, |t| {
                kin.ik(t, &HOME, &opts).is_ok()
            })
        })
        .collect();
    let mut bands = vec![band(
        "builtin panda".into(),
        &ArmKinematics::panda(kin.world_from_base),
    )];
    let (chain_sets, chain_bands) = chains(kin, reps);
    sets.extend(chain_sets);
    bands.extend(chain_bands);
    IkFigures { sets, bands }
}

/// `arm`'s reach band (tool down) and the milliseconds it took to measure.
fn band(name: String, arm: &ArmKinematics) -> (String, Option<cap_sim::reach::ReachBand>, f64) {
    let t = Instant::now();
    let radii = cap_sim::reach::measure_reach_band(arm);
    (name, radii, t.elapsed().as_secs_f64() * 1e3)
}

/// The same solver on chains: cap's Panda as a [`cap_core::chain::SerialChain`] on the
/// Panda's general set (the cost of the generic path against the Panda-specific one),
/// and each catalogue arm from its URDF on poses its own configurations reach.
#[allow(clippy::type_complexity)]
fn chains(
    kin: &Panda,
    reps: usize,
) -> (
    Vec<SetFigures>,
    Vec<(String, Option<cap_sim::reach::ReachBand>, f64)>,
) {
    let opts = IkOptions::default();
    let mut arms: Vec<(String, cap_core::chain::SerialChain, Vec<Isometry3<f64>>)> = Vec::new();
    if let Ok(c) = kin.chain() {
        arms.push((
            "panda as a chain, general".into(),
            c,
            kin.reachable_targets(TargetSet::General, 7, SET_SIZE),
        ));
    }
    let data = cap_core::paths::data_dir();
    let mut bands = Vec::new();
    for arm in &cap_robot::ARMS {
        match arm.load(&data, Isometry3::identity()) {
            Ok((_, c)) => {
                match ArmKinematics::chain(c.clone(), None) {
                    Ok(a) => bands.push(band(format!("{} (URDF)", arm.name), &a)),
                    Err(e) => println!("reach band {}: not measured: {e}", arm.name),
                }
                let (lo, hi) = c.limits();
                let mut rng = cap_core::ik::SplitMix(7);
                let targets = (0..SET_SIZE / 4)
                    .filter_map(|_| {
                        let q: Vec<f64> = lo
                            .iter()
                            .zip(&hi)
                            .map(|(l, h)| l + 0.02 + (h - l - 0.04) * rng.unit())
                            .collect();
                        c.tcp(&q).ok()
                    })
                    .collect();
                arms.push((
                    format!("{} (URDF, {} joints), general", arm.name, c.dof()),
                    c,
                    targets,
                ));
            }
            Err(e) => println!("IK {}: not measured: {e}", arm.name),
        }
    }
    let sets = arms
        .into_iter()
        .map(|(name, c, targets)| {
            let zero = c.zero();
            time_set(name, &targets, reps, |t| c.ik(t, &zero, &opts).is_ok())
        })
        .collect();
    (sets, bands)
}

impl IkFigures {
    /// Print one line per set.
    pub fn print(self) {
        for (name, radii, ms) in self.bands {
            match radii {
                Some(b) => println!(
                    "reach band {name:<22} tool down, 2-{:.0} cm above the base: {:.4}..{:.4} m from the base axis (bisected with the IK in {ms:.0} ms)",
                    b.top_z_m * 100.0, b.min_radius_m, b.max_radius_m
                ),
                None => println!("reach band {name:<22} none: the tool points down nowhere"),
            }
        }
        for s in self.sets {
            let (a, b, c) = stats(s.us_per_solve);
            let rate = 100.0 * s.solved as f64 / s.tried.max(1) as f64;
            println!(
                "IK {:<40} (µs/solve)  min {a:>9.2}  median {b:>9.2}  max {c:>9.2}   solved {rate:.2}% ({} of {})",
                s.name, s.solved, s.tried
            );
        }
    }
}
