//! Per-server metrics of the MCP server pool for `/metrics`
//! (`baton_downstream_*`), rendered from [`ServerStatus`] rows.

use super::state::ServerState;
use super::status::ServerStatus;
use crate::core::breaker::BreakerState;

/// Per-server metrics of the MCP server pool, in the OpenMetrics text format
/// (empty when there is no server). Server names are `[A-Za-z0-9_-]`
/// (checked when the file is read), so they need no escaping as label
/// values; invalid entries carry their raw names and are left out.
pub fn render(servers: &[ServerStatus]) -> String {
    use std::fmt::Write;
    let servers: Vec<&ServerStatus> = servers
        .iter()
        .filter(|s| s.state != ServerState::Invalid)
        .collect();
    let mut out = String::new();
    if servers.is_empty() {
        return out;
    }
    let mut family =
        |name: &str, kind: &str, help: &str, rows: &mut dyn Iterator<Item = String>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for r in rows {
                out.push_str(&r);
                out.push('\n');
            }
        };
    family(
        "baton_downstream_up",
        "gauge",
        "1 while the downstream MCP server is ready.",
        &mut servers.iter().map(|s| {
            format!(
                "baton_downstream_up{{server=\"{}\"}} {}",
                s.name,
                u8::from(s.state == ServerState::Ready)
            )
        }),
    );
    family(
        "baton_downstream_breaker_state",
        "gauge",
        "Circuit breaker state of the downstream MCP server (1 for the current state).",
        &mut servers.iter().flat_map(|s| {
            [
                BreakerState::Closed,
                BreakerState::Open,
                BreakerState::HalfOpen,
            ]
            .into_iter()
            .map(move |b| {
                format!(
                    "baton_downstream_breaker_state{{server=\"{}\",state=\"{}\"}} {}",
                    s.name,
                    serde_json::to_value(b)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    u8::from(s.breaker.state == b)
                )
            })
        }),
    );
    type Get = fn(&ServerStatus) -> u64;
    let counters: [(&str, &str, Get); 4] = [
        (
            "baton_downstream_calls",
            "Tool calls answered or failed.",
            |s| s.calls,
        ),
        (
            "baton_downstream_failed_calls",
            "Tool calls that failed in transport or timed out.",
            |s| s.failed_calls,
        ),
        (
            "baton_downstream_restarts",
            "Restarts of the downstream MCP server.",
            |s| s.restarts,
        ),
        (
            "baton_downstream_breaker_opened",
            "Times the circuit breaker opened.",
            |s| s.breaker.times_opened,
        ),
    ];
    for (name, help, get) in counters {
        family(
            name,
            "counter",
            help,
            &mut servers
                .iter()
                .map(|s| format!("{name}_total{{server=\"{}\"}} {}", s.name, get(s))),
        );
    }
    family(
        "baton_downstream_tools",
        "gauge",
        "Tools the downstream MCP server offers.",
        &mut servers.iter().map(|s| {
            format!(
                "baton_downstream_tools{{server=\"{}\"}} {}",
                s.name, s.tools
            )
        }),
    );
    family(
        "baton_downstream_latency_ms",
        "gauge",
        "Call latency percentiles over the recent window, in milliseconds.",
        &mut servers.iter().flat_map(|s| {
            let p = s.latency;
            [
                ("0.5", p.as_ref().map(|p| p.p50_ms)),
                ("0.95", p.as_ref().map(|p| p.p95_ms)),
                ("0.99", p.as_ref().map(|p| p.p99_ms)),
            ]
            .into_iter()
            .filter_map(move |(q, v)| {
                v.map(|v| {
                    format!(
                        "baton_downstream_latency_ms{{server=\"{}\",quantile=\"{q}\"}} {v}",
                        s.name
                    )
                })
            })
        }),
    );
    out
}
