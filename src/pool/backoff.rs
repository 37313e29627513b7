//! Exponential, jittered, capped delays: between restarts of a server and
//! between attempts of an idempotent call.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Exponential delays from `initial`, doubling, with up to 100% jitter, each
/// capped at `max`; `times` delays at most (`None`: no end).
pub(super) fn backoff(
    initial: Duration,
    max: Duration,
    times: Option<usize>,
) -> impl Iterator<Item = Duration> + Send + Sync + Unpin {
    let builder = ExponentialBuilder::default()
        .with_min_delay(initial)
        .with_max_delay(max)
        .with_jitter();
    let builder = match times {
        Some(n) => builder.with_max_times(n),
        None => builder.without_max_times(),
    };
    backon::BackoffBuilder::build(builder).map(move |d| d.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_millis(1_000);
        for _ in 0..50 {
            let d: Vec<Duration> = backoff(initial, max, Some(8)).collect();
            assert_eq!(d.len(), 8);
            assert!(d[0] >= initial && d[0] < initial * 2, "{d:?}");
            assert!(d[1] >= initial * 2 && d[1] < initial * 4, "{d:?}");
            assert!(d.windows(2).take(3).all(|w| w[0] <= w[1]), "{d:?}");
            assert!(d.iter().all(|x| *x <= max), "{d:?}");
        }
        assert!(backoff(initial, max, None).take(1000).count() == 1000);
    }
}
