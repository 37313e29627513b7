//! Unit and property tests of trees in the DAG: roll-ups, failure and
//! cancel cascades through parents, inherited dependencies, depth and
//! cycle refusal, reset of a tree, pruning and deletion of trees, and
//! recovery (restore + recount) agreeing with the live graph.

use super::*;
use proptest::prelude::*;

fn id(s: &str) -> TaskId {
    TaskId::from_trusted(s)
}

fn n(s: &str, deps: &[&str], parent: Option<&str>) -> NewNode {
    NewNode {
        id: id(s),
        deps: deps.iter().map(|d| id(d)).collect(),
        parent: parent.map(id),
    }
}

fn ids(v: &[&str]) -> Vec<TaskId> {
    v.iter().map(|s| id(s)).collect()
}

fn ended(f: &Fallout) -> Vec<(String, NodeState)> {
    f.ended
        .iter()
        .map(|e| (e.id.to_string(), e.state))
        .collect()
}

#[test]
fn a_parent_waits_for_its_children_and_rolls_up_when_the_last_is_done() {
    let mut g = DependencyGraph::new();
    let r = g
        .insert_nodes(&[
            n("p", &[], None),
            n("a", &[], Some("p")),
            n("b", &[], Some("p")),
            n("q", &["p"], None),
        ])
        .unwrap();
    assert_eq!(
        r,
        vec![
            Readiness::Children { open: 2 },
            Readiness::Ready,
            Readiness::Ready,
            Readiness::Blocked { unmet: 1 },
        ]
    );
    assert!(!g.ready_set().contains(&id("p")), "a parent is never ready");
    let f = g.finish(&id("a"), NodeState::Done);
    assert_eq!(f, Fallout::default(), "one child left: nothing follows");
    assert_eq!(g.readiness(&id("p")), Readiness::Children { open: 1 });
    let f = g.finish(&id("b"), NodeState::Done);
    assert_eq!(ended(&f), vec![("p".into(), NodeState::Done)]);
    assert_eq!(f.ended[0].cause, Cause::Children);
    assert_eq!(
        f.ready,
        ids(&["q"]),
        "a dependency on a parent is on all of it"
    );
}

#[test]
fn a_failed_child_fails_its_parent_and_the_parents_dependents_while_siblings_keep_running() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[
        n("g", &[], None),
        n("p", &[], Some("g")),
        n("a", &[], Some("p")),
        n("b", &[], Some("p")),
        n("q", &["p"], None),
    ])
    .unwrap();
    let f = g.finish(&id("a"), NodeState::Failed);
    assert_eq!(
        ended(&f),
        vec![
            ("p".into(), NodeState::Failed),
            ("q".into(), NodeState::Failed),
            ("g".into(), NodeState::Failed),
        ]
    );
    assert_eq!(f.ended[0].cause, Cause::Child(id("a")));
    assert_eq!(f.ended[1].cause, Cause::Dependency(id("p")));
    assert_eq!(
        g.state(&id("b")),
        Some(NodeState::Pending),
        "b keeps running"
    );
    // b finishing later changes nothing above it
    assert_eq!(g.finish(&id("b"), NodeState::Done), Fallout::default());
}

#[test]
fn with_cancel_siblings_a_failed_child_cancels_its_unfinished_siblings() {
    let mut g = DependencyGraph::new().with_rules(TreeRules {
        max_depth: 8,
        cancel_siblings: true,
    });
    g.insert_nodes(&[
        n("p", &[], None),
        n("a", &[], Some("p")),
        n("b", &[], Some("p")),
        n("c", &[], Some("p")),
    ])
    .unwrap();
    g.finish(&id("c"), NodeState::Done);
    let f = g.finish(&id("a"), NodeState::Failed);
    assert_eq!(
        ended(&f),
        vec![
            ("p".into(), NodeState::Failed),
            ("b".into(), NodeState::Cancelled),
        ]
    );
    assert_eq!(f.ended[1].cause, Cause::Sibling(id("a")));
    assert_eq!(
        f.ended[1].cause.reason(NodeState::Cancelled).as_deref(),
        Some("subtask 'a' of the same parent failed")
    );
}

#[test]
fn cancelling_a_parent_cancels_its_unfinished_subtree_and_dependents() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[
        n("p", &[], None),
        n("a", &[], Some("p")),
        n("a1", &[], Some("a")),
        n("b", &[], Some("p")),
        n("q", &["p"], None),
    ])
    .unwrap();
    g.finish(&id("b"), NodeState::Done);
    let f = g.finish(&id("p"), NodeState::Cancelled);
    let mut got = ended(&f);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), NodeState::Cancelled),
            ("a1".into(), NodeState::Cancelled),
            ("q".into(), NodeState::Cancelled),
        ]
    );
    assert_eq!(
        g.state(&id("b")),
        Some(NodeState::Done),
        "finished children stay"
    );
}

#[test]
fn a_parent_whose_children_were_all_cancelled_is_cancelled_and_one_done_child_makes_it_done() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[
        n("p", &[], None),
        n("a", &[], Some("p")),
        n("b", &[], Some("p")),
        n("r", &[], None),
        n("c", &[], Some("r")),
        n("d", &[], Some("r")),
    ])
    .unwrap();
    g.finish(&id("a"), NodeState::Cancelled);
    let f = g.finish(&id("b"), NodeState::Cancelled);
    assert_eq!(ended(&f), vec![("p".into(), NodeState::Cancelled)]);
    g.finish(&id("c"), NodeState::Cancelled);
    let f = g.finish(&id("d"), NodeState::Done);
    assert_eq!(ended(&f), vec![("r".into(), NodeState::Done)]);
}

#[test]
fn a_subtask_waits_for_its_parents_dependencies() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[n("x", &[], None), n("p", &["x"], None)])
        .unwrap();
    let r = g
        .insert_nodes(&[n("c", &[], Some("p")), n("d", &[], Some("c"))])
        .unwrap();
    assert_eq!(
        r,
        vec![
            Readiness::Children { open: 1 },
            Readiness::Blocked { unmet: 1 }
        ]
    );
    assert_eq!(g.dependencies(&id("d")), ids(&["x"]), "inherited through c");
    let f = g.finish(&id("x"), NodeState::Done);
    assert_eq!(f.ready, ids(&["d"]), "only the leaf becomes ready");
}

#[test]
fn cycles_through_parent_links_are_refused_and_change_nothing() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[n("p", &[], None), n("q", &["p"], None)])
        .unwrap();
    // a child depending on its own parent: the parent waits for it
    let e = g.insert_nodes(&[n("c", &["p"], Some("p"))]).unwrap_err();
    assert!(matches!(e, GraphError::ParentCycle { .. }), "{e}");
    // a child of p depending on q, which depends on p
    let e = g.insert_nodes(&[n("c", &["q"], Some("p"))]).unwrap_err();
    match &e {
        GraphError::ParentCycle { path } => {
            assert_eq!(path.first(), path.last(), "{e}");
            assert!(path.contains(&id("q")) && path.contains(&id("p")), "{e}");
        }
        other => panic!("{other}"),
    }
    // parents naming each other inside a batch
    let e = g
        .insert_nodes(&[n("a", &[], Some("b")), n("b", &[], Some("a"))])
        .unwrap_err();
    assert!(matches!(e, GraphError::ParentCycle { .. }), "{e}");
    // an inherited edge closing a cycle: c inherits x from p, and x waits for c
    let e = g
        .insert_nodes(&[
            n("r", &["x"], None),
            n("c", &[], Some("r")),
            n("x", &["c"], None),
        ])
        .unwrap_err();
    assert!(matches!(e, GraphError::ParentCycle { .. }), "{e}");
    // a plain dependency cycle stays a dependency cycle
    let e = g
        .insert_nodes(&[n("a", &["b"], None), n("b", &["a"], None)])
        .unwrap_err();
    assert!(matches!(e, GraphError::Cycle { .. }), "{e}");
    assert_eq!(g.len(), 2);
    assert!(g.children(&id("p")).is_empty());
    assert_eq!(g.readiness(&id("p")), Readiness::Ready, "p is still a leaf");
}

#[test]
fn depth_missing_and_finished_parents_are_refused() {
    let mut g = DependencyGraph::new().with_rules(TreeRules {
        max_depth: 2,
        cancel_siblings: false,
    });
    g.insert_nodes(&[n("p", &[], None), n("c", &[], Some("p")), n("f", &[], None)])
        .unwrap();
    let e = g.insert_nodes(&[n("gc", &[], Some("c"))]).unwrap_err();
    assert_eq!(
        e,
        GraphError::TooDeep {
            task: id("gc"),
            depth: 3,
            max: 2
        }
    );
    let e = g
        .insert_nodes(&[
            n("x", &[], None),
            n("y", &[], Some("x")),
            n("z", &[], Some("y")),
        ])
        .unwrap_err();
    assert!(matches!(e, GraphError::TooDeep { depth: 3, .. }), "{e}");
    let e = g.insert_nodes(&[n("o", &[], Some("nope"))]).unwrap_err();
    assert!(matches!(e, GraphError::MissingParent { .. }), "{e}");
    g.finish(&id("f"), NodeState::Done);
    let e = g.insert_nodes(&[n("o", &[], Some("f"))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "task 'o' names parent 'f', which is done; only an unfinished task can take subtasks"
    );
    assert_eq!(g.len(), 3);
}

#[test]
fn a_subtask_whose_dependency_failed_is_refused_instead_of_failing_its_parent() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[n("p", &[], None), n("x", &[], None)])
        .unwrap();
    g.finish(&id("x"), NodeState::Failed);
    let e = g.insert_nodes(&[n("c", &["x"], Some("p"))]).unwrap_err();
    assert!(matches!(e, GraphError::SubtaskWouldFail { .. }), "{e}");
    let e = g
        .insert_nodes(&[n("b", &["x"], None), n("c", &["b"], Some("p"))])
        .unwrap_err();
    assert!(matches!(e, GraphError::SubtaskWouldFail { .. }), "{e}");
    assert_eq!(g.state(&id("p")), Some(NodeState::Pending));
    // a flat task still fails with its dependency, as before
    assert_eq!(
        g.insert_nodes(&[n("b", &["x"], None)]).unwrap(),
        vec![Readiness::DependencyFailed(id("x"))]
    );
}

#[test]
fn reset_of_a_child_or_its_parent_brings_back_the_failed_part_of_the_tree() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[
        n("p", &[], None),
        n("a", &[], Some("p")),
        n("b", &[], Some("p")),
        n("c", &[], Some("p")),
        n("q", &["p"], None),
    ])
    .unwrap();
    g.finish(&id("c"), NodeState::Done);
    g.finish(&id("a"), NodeState::Failed);
    g.finish(&id("b"), NodeState::Failed);
    let mut reset: Vec<(TaskId, Readiness)> = g.reset(&id("a")).unwrap();
    reset.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        reset,
        vec![
            (id("a"), Readiness::Ready),
            (id("b"), Readiness::Ready),
            (id("p"), Readiness::Children { open: 2 }),
            (id("q"), Readiness::Blocked { unmet: 1 }),
        ]
    );
    g.finish(&id("a"), NodeState::Done);
    let f = g.finish(&id("b"), NodeState::Done);
    assert_eq!(ended(&f), vec![("p".into(), NodeState::Done)]);
    assert_eq!(f.ready, ids(&["q"]));
}

#[test]
fn retention_prunes_a_tree_from_its_leaves_and_only_as_a_whole() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[
        n("p", &[], None),
        n("a", &[], Some("p")),
        n("b", &[], Some("p")),
    ])
    .unwrap();
    for t in ["a", "b"] {
        g.finish(&id(t), NodeState::Done);
    }
    assert!(
        g.prune(&ids(&["a", "b"]), usize::MAX).is_empty(),
        "the parent stays: so do they"
    );
    let removed = g.prune(&ids(&["a", "b", "p"]), usize::MAX);
    assert_eq!(
        removed.last(),
        Some(&id("p")),
        "children first: {removed:?}"
    );
    assert_eq!(removed.len(), 3);
    assert!(g.is_empty() && g.trees.is_empty());
}

#[test]
fn remove_tree_is_all_or_nothing() {
    let mut g = DependencyGraph::new();
    g.insert_nodes(&[
        n("p", &[], None),
        n("a", &[], Some("p")),
        n("b", &[], Some("p")),
        n("x", &["b"], None),
    ])
    .unwrap();
    assert_eq!(
        g.remove_tree(&id("p")),
        Err((id("b"), ids(&["x"]))),
        "x outside the tree depends on b"
    );
    assert_eq!(g.len(), 4);
    assert_eq!(g.remove_tree(&id("x")), Ok(ids(&["x"])));
    let removed = g.remove_tree(&id("p")).unwrap();
    assert_eq!(removed.last(), Some(&id("p")));
    assert!(g.is_empty() && g.trees.is_empty());
}

/// Rebuild a graph as recovery does: every node with its own dependencies
/// and state, then the parent links, then one recount.
fn reloaded(g: &DependencyGraph, own: &HashMap<TaskId, Vec<TaskId>>) -> DependencyGraph {
    let mut r = DependencyGraph::new().with_rules(g.rules);
    for (id, node) in &g.nodes {
        r.restore(id.clone(), own[id].clone(), node.state);
    }
    for id in g.nodes.keys() {
        if let Some(p) = g.parent(id) {
            r.restore_parent(id.clone(), p.clone());
        }
    }
    r.recount();
    r
}

proptest! {
    /// Whatever forest and dependencies are built and however tasks end,
    /// a parent is never ready, its open count is its pending children,
    /// every pending node's readiness follows from its edges' states, and
    /// a graph rebuilt from the nodes' own dependencies, parents and
    /// states (a restart) agrees with the live one on every node.
    #[test]
    fn trees_agree_with_their_states_and_survive_a_reload(
        shape in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 1..30),
        ends in proptest::collection::vec((any::<u8>(), 0u8..3), 0..40),
        cancel_siblings in any::<bool>(),
    ) {
        let mut g = DependencyGraph::new().with_rules(TreeRules { max_depth: 4, cancel_siblings });
        let mut own: HashMap<TaskId, Vec<TaskId>> = HashMap::new();
        let mut made: Vec<TaskId> = Vec::new();
        for (i, (dep, parent, has_parent)) in shape.iter().enumerate() {
            let me = id(&format!("t{i}"));
            let deps = if made.is_empty() || dep % 3 != 0 {
                Vec::new()
            } else {
                vec![made[*dep as usize % made.len()].clone()]
            };
            let parent = (*has_parent && !made.is_empty())
                .then(|| made[*parent as usize % made.len()].clone());
            let node = NewNode { id: me.clone(), deps: deps.clone(), parent };
            if g.insert_nodes(std::slice::from_ref(&node)).is_ok() {
                own.insert(me.clone(), deps);
                made.push(me);
            }
        }
        for (pick, how) in ends {
            let t = made[pick as usize % made.len()].clone();
            // only a pending leaf ends by itself (a parent ends by roll-up or cancel)
            if g.state(&t) != Some(NodeState::Pending) || (g.is_container(&t) && how != 2) {
                continue;
            }
            let state = [NodeState::Done, NodeState::Failed, NodeState::Cancelled][how as usize];
            if state == NodeState::Done && g.readiness(&t) != Readiness::Ready {
                continue;
            }
            g.finish(&t, state);
        }
        for t in &made {
            let kids = g.children(t);
            if !kids.is_empty() {
                prop_assert!(!g.ready_set().contains(t), "parent {t} ready");
                let pending = kids.iter().filter(|c| g.state(c) == Some(NodeState::Pending)).count();
                prop_assert_eq!(g.trees[t].open, pending, "open of {}", t);
                if g.state(t) == Some(NodeState::Pending) {
                    prop_assert!(pending > 0, "pending parent {} without pending children", t);
                }
            }
            if let Some(p) = g.parent(t) {
                if g.state(t) == Some(NodeState::Failed) && g.readiness(t) == Readiness::Ready {
                    prop_assert_ne!(g.state(p), Some(NodeState::Pending), "failed {} under pending {}", t, p);
                }
            }
        }
        let r = reloaded(&g, &own);
        for t in &made {
            prop_assert_eq!(r.state(t), g.state(t));
            prop_assert_eq!(r.children(t).len(), g.children(t).len());
            if g.state(t) == Some(NodeState::Pending) {
                prop_assert_eq!(r.readiness(t), g.readiness(t), "readiness of {}", t);
            }
        }
    }
}
