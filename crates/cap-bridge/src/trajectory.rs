//! A goal's trajectory as the robot side uses it: the position commanded at any time
//! (cubic Hermite between the points, from their positions and velocities, as
//! ros2_control's joint trajectory controller interpolates), and the largest jerk it
//! asks for (a server that is stricter than the limits its `hello` states refuses it).

use crate::protocol::Execute;

/// The commanded positions at `t` seconds into `goal`, which starts at rest at `from`.
/// Past the last point: the last point.
pub fn sample(goal: &Execute, from: &[f64], t: f64) -> Vec<f64> {
    let pts = &goal.trajectory.points;
    let Some(last) = pts.last() else {
        return from.to_vec();
    };
    let mut prev_t = 0.0;
    let mut prev_q = from;
    let zeros = vec![0.0; from.len()];
    let mut prev_v: &[f64] = &zeros;
    for p in pts {
        let at = p.time_from_start.as_secs();
        if t <= at {
            let h = (at - prev_t).max(1e-9);
            let s = ((t - prev_t) / h).clamp(0.0, 1.0);
            let (s2, s3) = (s * s, s * s * s);
            let (h00, h10, h01, h11) = (
                2.0 * s3 - 3.0 * s2 + 1.0,
                s3 - 2.0 * s2 + s,
                -2.0 * s3 + 3.0 * s2,
                s3 - s2,
            );
            return (0..from.len())
                .map(|i| {
                    let (q0, q1) = (prev_q[i], p.positions[i]);
                    let (v0, v1) = (
                        prev_v.get(i).copied().unwrap_or(0.0),
                        p.velocities.get(i).copied().unwrap_or(0.0),
                    );
                    h00 * q0 + h10 * h * v0 + h01 * q1 + h11 * h * v1
                })
                .collect();
        }
        prev_t = at;
        prev_q = &p.positions;
        prev_v = &p.velocities;
    }
    last.positions.clone()
}

/// The largest |jerk| the goal's velocities imply (second differences over the
/// points, from rest), as (joint index, rad/s³); `None` for fewer than two points.
pub fn worst_jerk(goal: &Execute, n: usize) -> Option<(usize, f64)> {
    let pts = &goal.trajectory.points;
    if pts.len() < 2 {
        return None;
    }
    // Velocities at (time, v), starting and ending at rest.
    let mut samples: Vec<(f64, &[f64])> = Vec::with_capacity(pts.len() + 1);
    let zeros = vec![0.0; n];
    samples.push((0.0, &zeros));
    for p in pts {
        samples.push((p.time_from_start.as_secs(), &p.velocities));
    }
    let mut worst: Option<(usize, f64)> = None;
    for w in samples.windows(3) {
        let (t0, v0) = w[0];
        let (t1, v1) = w[1];
        let (t2, v2) = w[2];
        let (h1, h2) = ((t1 - t0).max(1e-9), (t2 - t1).max(1e-9));
        for j in 0..n {
            let a1 = (v1.get(j).copied().unwrap_or(0.0) - v0.get(j).copied().unwrap_or(0.0)) / h1;
            let a2 = (v2.get(j).copied().unwrap_or(0.0) - v1.get(j).copied().unwrap_or(0.0)) / h2;
            let jerk = ((a2 - a1) / (0.5 * (h1 + h2))).abs();
            if worst.is_none_or(|(_, w)| jerk > w) {
                worst = Some((j, jerk));
            }
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{RosDuration, Trajectory, TrajectoryPoint};

    fn goal(points: &[(f64, f64, f64)]) -> Execute {
        Execute {
            goal_id: "g".into(),
            trajectory: Trajectory {
                joint_names: vec!["j".into()],
                points: points
                    .iter()
                    .map(|&(t, q, v)| TrajectoryPoint {
                        positions: vec![q],
                        velocities: vec![v],
                        time_from_start: RosDuration::from_secs(t),
                    })
                    .collect(),
            },
            path_tolerance: Vec::new(),
            goal_tolerance: Vec::new(),
            goal_time_tolerance: RosDuration::from_secs(0.0),
            expires_at: 1e9,
        }
    }

    #[test]
    fn samples_pass_through_the_points_and_stay_at_the_last() {
        let g = goal(&[(0.5, 0.5, 1.0), (1.0, 1.0, 0.0)]);
        assert!((sample(&g, &[0.0], 0.0)[0]).abs() < 1e-12);
        assert!((sample(&g, &[0.0], 0.5)[0] - 0.5).abs() < 1e-12);
        assert!((sample(&g, &[0.0], 1.0)[0] - 1.0).abs() < 1e-12);
        assert!((sample(&g, &[0.0], 3.0)[0] - 1.0).abs() < 1e-12);
        // Between points the Hermite curve follows the velocities: a unit-speed
        // segment from rest bulges below the chord at first.
        let q = sample(&g, &[0.0], 0.25)[0];
        assert!(q > 0.0 && q < 0.25, "{q}");
    }

    #[test]
    fn jerk_grows_with_a_sharper_velocity_change() {
        let soft = goal(&[(0.5, 0.25, 1.0), (1.0, 0.75, 1.0), (1.5, 1.0, 0.0)]);
        let sharp = goal(&[(0.05, 0.025, 1.0), (1.0, 0.975, 1.0), (1.05, 1.0, 0.0)]);
        let (_, js) = worst_jerk(&soft, 1).unwrap_or((0, f64::NAN));
        let (_, jh) = worst_jerk(&sharp, 1).unwrap_or((0, f64::NAN));
        assert!(js.is_finite() && jh > 5.0 * js, "{js} {jh}");
    }
}
