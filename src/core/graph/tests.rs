//! Unit and property tests of the DAG.

use std::collections::HashSet;

use super::*;
use proptest::prelude::*;

fn id(s: &str) -> TaskId {
    TaskId::from_trusted(s)
}

fn node(s: &str, deps: &[&str]) -> (TaskId, Vec<TaskId>) {
    (id(s), deps.iter().map(|d| id(d)).collect())
}

#[test]
fn prune_removes_a_chain_from_its_end_and_keeps_what_a_live_task_needs() {
    let mut g = DependencyGraph::new();
    g.insert(&[
        node("a", &[]),
        node("b", &["a"]),
        node("c", &["b"]),
        node("x", &["a"]),
    ])
    .unwrap();
    let mut removed = g.prune(&[id("a"), id("b"), id("c"), id("nope")], usize::MAX);
    removed.sort();
    assert_eq!(removed, vec![id("b"), id("c")]);
    assert!(g.dependents(&id("a")) == vec![id("x")]);
    assert_eq!(g.prune(&[id("x"), id("a")], usize::MAX).len(), 2);
    assert!(g.is_empty());
}

proptest! {
    /// Whatever the DAG and the candidates, pruning never leaves a node
    /// pointing at a missing dependency, removes only candidates, and
    /// keeps a candidate only when something that stays depends on it.
    #[test]
    fn prune_never_leaves_a_dangling_dependency(
        deps in proptest::collection::vec(any::<u32>(), 1..40),
        chosen in any::<u64>(),
    ) {
        let ids: Vec<TaskId> = (0..deps.len()).map(|i| id(&format!("t{i}"))).collect();
        let mut g = DependencyGraph::new();
        for (i, mask) in deps.iter().enumerate() {
            // up to the 32 previous tasks, picked by the mask's bits
            let ds: Vec<TaskId> = (0..i.min(32))
                .filter(|b| mask & (1 << b) != 0)
                .map(|b| ids[i - 1 - b].clone())
                .collect();
            g.insert(&[(ids[i].clone(), ds)]).unwrap();
        }
        let candidates: Vec<TaskId> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| chosen & (1 << (i % 64)) != 0)
            .map(|(_, t)| t.clone())
            .collect();
        let removed: HashSet<TaskId> = g.prune(&candidates, usize::MAX).into_iter().collect();
        prop_assert!(removed.iter().all(|r| candidates.contains(r)));
        for t in &ids {
            let present = g.state(t).is_some();
            prop_assert_eq!(present, !removed.contains(t));
            if present {
                for d in g.dependencies(t) {
                    prop_assert!(g.state(&d).is_some(), "{} points at removed {}", t, d);
                }
            }
        }
        for c in candidates.iter().filter(|c| !removed.contains(*c)) {
            prop_assert!(!g.dependents(c).is_empty(), "{} kept with no dependent", c);
        }
    }
}

/// Review: a chain longer than a pass's batch, whose oldest tasks are
/// the candidates, must still shrink every pass (from its end).
#[test]
fn prune_with_a_limit_takes_a_long_chain_from_its_end_in_bounded_steps() {
    let mut g = DependencyGraph::new();
    let ids: Vec<TaskId> = (0..2000).map(|i| id(&format!("c{i}"))).collect();
    g.insert(&[(ids[0].clone(), vec![])]).unwrap();
    for i in 1..ids.len() {
        g.insert(&[(ids[i].clone(), vec![ids[i - 1].clone()])])
            .unwrap();
    }
    let mut passes = 0;
    while !g.is_empty() {
        let removed = g.prune(&ids, 500);
        assert_eq!(removed.len(), 500.min(g.len() + removed.len()));
        passes += 1;
        for t in &ids {
            if g.state(t).is_some() {
                for d in g.dependencies(t) {
                    assert!(g.state(&d).is_some(), "{t} points at removed {d}");
                }
            }
        }
    }
    assert_eq!(passes, 4);
}

#[test]
fn cycle_in_batch_is_rejected_and_graph_unchanged() {
    let mut g = DependencyGraph::new();
    g.insert(&[node("a", &[])]).unwrap();
    let err = g
        .insert(&[node("b", &["a", "d"]), node("c", &["b"]), node("d", &["c"])])
        .unwrap_err();
    match err {
        GraphError::Cycle { path } => {
            assert_eq!(path.first(), path.last());
            assert!(path.len() >= 4, "{path:?}");
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
    assert_eq!(g.len(), 1);
    assert!(g.dependents(&id("a")).is_empty());
}

#[test]
fn the_error_for_a_10000_task_cycle_is_short_and_names_its_length_and_ends() {
    // t0 depends on t9999, every other ti on t(i-1): one cycle through all
    let n = 10_000;
    let batch: Vec<_> = (0..n)
        .map(|i| {
            let dep = if i == 0 { n - 1 } else { i - 1 };
            (id(&format!("t{i}")), vec![id(&format!("t{dep}"))])
        })
        .collect();
    let err = DependencyGraph::new().insert(&batch).unwrap_err();
    let GraphError::Cycle { path } = &err else {
        panic!("expected a cycle, got {err:?}");
    };
    assert_eq!(path.len(), n + 1, "the error keeps the whole path");
    let msg = err.to_string();
    assert!(msg.len() < 1024, "{} bytes: {msg}", msg.len());
    assert!(
        msg.starts_with("dependency cycle of 10000 tasks: "),
        "{msg}"
    );
    assert!(msg.contains(&format!("… {} more …", n - 8)), "{msg}");
    let shown: Vec<&str> = msg["dependency cycle of 10000 tasks: ".len()..]
        .split(" -> ")
        .filter(|s| !s.starts_with('…'))
        .collect();
    let ends: Vec<&str> = path[..4]
        .iter()
        .chain(&path[path.len() - 5..])
        .map(TaskId::as_str)
        .collect();
    assert_eq!(
        shown, ends,
        "the first four and the last five ids (back to the first)"
    );
}

#[test]
fn a_short_cycle_is_listed_in_full_and_long_ids_are_cut() {
    let err = DependencyGraph::new()
        .insert(&[node("a", &["b"]), node("b", &["a"])])
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg == "dependency cycle of 2 tasks: a -> b -> a"
            || msg == "dependency cycle of 2 tasks: b -> a -> b",
        "{msg}"
    );
    let own = DependencyGraph::new()
        .insert(&[node("a", &["a"])])
        .unwrap_err();
    assert_eq!(own.to_string(), "dependency cycle of 1 task: a -> a");
    let long = "x".repeat(300);
    let err = DependencyGraph::new()
        .insert(&[node(&long, &[&long])])
        .unwrap_err()
        .to_string();
    assert!(err.len() < 200, "{err}");
    assert!(err.contains('…'), "a long id is cut: {err}");
}

#[test]
fn self_dependency_and_missing_dependency_are_named() {
    let mut g = DependencyGraph::new();
    assert!(matches!(
        g.insert(&[node("a", &["a"])]),
        Err(GraphError::Cycle { .. })
    ));
    let e = g.insert(&[node("a", &["zzz"])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "task 'a' depends on 'zzz', which does not exist"
    );
    assert!(g.is_empty());
}

#[test]
fn failure_cascades_and_reset_restores() {
    let mut g = DependencyGraph::new();
    g.insert(&[
        node("a", &[]),
        node("b", &["a"]),
        node("c", &["b"]),
        node("x", &[]),
    ])
    .unwrap();
    assert_eq!(g.mark_failed(&id("a")), vec![id("b"), id("c")]);
    assert_eq!(g.state(&id("c")), Some(NodeState::Failed));
    // a new task on a failed dependency fails at once
    let r = g.insert(&[node("d", &["a"])]).unwrap();
    assert_eq!(r, vec![Readiness::DependencyFailed(id("a"))]);
    let reset = g.reset(&id("a")).unwrap();
    let ids: Vec<_> = reset.iter().map(|(i, _)| i.as_str().to_owned()).collect();
    assert_eq!(ids, vec!["a", "b", "d", "c"]);
    assert_eq!(reset[0].1, Readiness::Ready);
    assert_eq!(g.mark_done(&id("a")), vec![id("b"), id("d")]);
}

#[test]
fn reset_keeps_nodes_with_another_failed_dependency_failed() {
    let mut g = DependencyGraph::new();
    g.insert(&[node("a", &[]), node("z", &[]), node("b", &["a", "z"])])
        .unwrap();
    g.mark_failed(&id("a"));
    g.mark_failed(&id("z"));
    let reset = g.reset(&id("a")).unwrap();
    assert_eq!(reset, vec![(id("a"), Readiness::Ready)]);
    assert_eq!(g.state(&id("b")), Some(NodeState::Failed));
}

#[test]
fn reset_refuses_a_task_whose_dependency_is_still_failed() {
    let mut g = DependencyGraph::new();
    g.insert(&[node("f", &[]), node("n", &["f"])]).unwrap();
    assert_eq!(g.mark_failed(&id("f")), vec![id("n")]);
    assert_eq!(
        g.reset(&id("n")),
        Err(GraphError::DependencyFailed {
            task: id("n"),
            dependency: id("f")
        })
    );
    assert_eq!(g.state(&id("n")), Some(NodeState::Failed), "unchanged");
    assert_eq!(g.reset(&id("f")).unwrap().len(), 2);
}

#[test]
fn batch_cascade_does_not_depend_on_batch_order() {
    for order in [["b", "n"], ["n", "b"]] {
        let mut g = DependencyGraph::new();
        g.insert(&[node("f", &[])]).unwrap();
        g.mark_failed(&id("f"));
        let batch: Vec<_> = order
            .iter()
            .map(|n| {
                if *n == "b" {
                    node("b", &["n"])
                } else {
                    node("n", &["f"])
                }
            })
            .collect();
        let r = g.insert(&batch).unwrap();
        for ((n, _), r) in batch.iter().zip(r) {
            let cause = if n.as_str() == "b" { "n" } else { "f" };
            assert_eq!(r, Readiness::DependencyFailed(id(cause)), "{order:?}");
        }
    }
}

proptest! {
    /// Random DAGs (edges only from later to earlier nodes) worked by a
    /// random schedule: the ready set never contains a node with an
    /// unfinished dependency, and every pending node whose dependencies
    /// are all done is in it.
    #[test]
    fn ready_set_respects_every_edge(
        n in 1usize..40,
        edges in prop::collection::vec((0usize..40, 0usize..40), 0..120),
        ops in prop::collection::vec((0u8..4, 0usize..40), 0..200),
    ) {
        let ids: Vec<TaskId> = (0..n).map(|i| id(&format!("n{i}"))).collect();
        let mut batch: Vec<(TaskId, Vec<TaskId>)> = ids.iter().map(|i| (i.clone(), vec![])).collect();
        for (a, b) in edges {
            let (a, b) = (a % n, b % n);
            if a > b && !batch[a].1.contains(&ids[b]) {
                batch[a].1.push(ids[b].clone());
            }
        }
        let mut g = DependencyGraph::new();
        g.insert(&batch).unwrap();
        let deps: HashMap<TaskId, Vec<TaskId>> = batch.iter().cloned().collect();
        for (op, k) in ops {
            let target = &ids[k % n];
            let ready = g.ready_set();
            match op {
                0 | 1 => if ready.contains(target) { g.mark_done(target); },
                2 => if ready.contains(target) { g.mark_failed(target); },
                _ => { let _ = g.reset(target); },
            }
            let ready: HashSet<TaskId> = g.ready_set().into_iter().collect();
            for (node, ds) in &deps {
                let all_done = ds.iter().all(|d| g.state(d) == Some(NodeState::Done));
                if ready.contains(node) {
                    prop_assert!(all_done, "{node} ready with unfinished deps");
                }
                if g.state(node) == Some(NodeState::Pending) && all_done {
                    prop_assert!(ready.contains(node), "{node} pending, deps done, not ready");
                }
                if g.state(node) == Some(NodeState::Done) {
                    prop_assert!(all_done, "{node} done before its deps");
                }
            }
        }
    }

    /// Any batch containing a back edge is rejected and changes nothing.
    #[test]
    fn cycles_are_always_rejected(n in 2usize..20, extra in prop::collection::vec((0usize..20, 0usize..20), 0..30)) {
        // a chain 0 <- 1 <- ... <- n-1 plus the back edge n-1 -> 0 closes a cycle
        let ids: Vec<TaskId> = (0..n).map(|i| id(&format!("c{i}"))).collect();
        let mut batch: Vec<(TaskId, Vec<TaskId>)> = ids.iter().map(|i| (i.clone(), vec![])).collect();
        for i in 1..n { batch[i].1.push(ids[i - 1].clone()); }
        batch[0].1.push(ids[n - 1].clone());
        for (a, b) in extra { let (a, b) = (a % n, b % n); if a != b { batch[a].1.push(ids[b].clone()); } }
        let mut g = DependencyGraph::new();
        g.insert(&[node("keep", &[])]).unwrap();
        let is_cycle = matches!(g.insert(&batch), Err(GraphError::Cycle { .. }));
        prop_assert!(is_cycle);
        prop_assert_eq!(g.len(), 1);
    }
}
