use proptest::prelude::*;

use super::*;

const LIMITS: Limits = Limits {
    max_body_bytes: 64,
    max_subject_bytes: 16,
    max_unacked: 2,
};

fn draft(to: Recipient, subject: &str) -> Draft {
    Draft {
        from: "a".into(),
        actor: None,
        to,
        subject: subject.into(),
        body: "body".into(),
        thread: None,
        ack_required: false,
    }
}

fn worker(w: &str) -> Recipient {
    Recipient::Worker(w.into())
}

fn task(t: &str) -> Recipient {
    Recipient::Task(TaskId::from_trusted(t))
}

fn all_of(q: &Query) -> Query {
    Query {
        limit: 100,
        ..q.clone()
    }
}

#[test]
fn an_inbox_holds_messages_to_the_worker_its_held_tasks_and_all() {
    let mut t = MailboxTable::new(0);
    let to_b = t.send(draft(worker("b"), "to b"), 1, LIMITS).unwrap();
    let to_c = t.send(draft(worker("c"), "to c"), 2, LIMITS).unwrap();
    let to_t1 = t.send(draft(task("t1"), "to t1"), 3, LIMITS).unwrap();
    let to_all = t.send(draft(Recipient::All, "to all"), 4, LIMITS).unwrap();
    assert_eq!(
        [to_b.id, to_c.id, to_t1.id, to_all.id],
        [1, 2, 3, 4],
        "ids count up from the ceiling"
    );
    let held = [TaskId::from_trusted("t1")];
    let (page, written) = t.read("b", &held, &all_of(&Query::default()), 10);
    let ids: Vec<u64> = page.messages.iter().map(|v| v.message.id).collect();
    assert_eq!(ids, [1, 3, 4]);
    assert!(
        page.messages.iter().all(|v| v.read_at.is_none()),
        "unread when shown"
    );
    assert_eq!(written.len(), 3);
    // read again: the same messages, now marked read; unread_only shows none
    let (again, written) = t.read("b", &held, &all_of(&Query::default()), 11);
    assert!(again.messages.iter().all(|v| v.read_at == Some(10)));
    assert!(written.is_empty(), "nothing new to write");
    let unread = Query {
        unread_only: true,
        ..all_of(&Query::default())
    };
    assert!(t.read("b", &held, &unread, 12).0.messages.is_empty());
    // the task's next holder finds its message unread
    let (next, _) = t.read("d", &held, &unread, 13);
    let ids: Vec<u64> = next.messages.iter().map(|v| v.message.id).collect();
    assert_eq!(ids, [3, 4]);
}

#[test]
fn pages_continue_after_the_cursor_and_since_filters_by_time() {
    let mut t = MailboxTable::new(41);
    for at in 0..5 {
        t.send(draft(Recipient::All, "x"), at * 10, LIMITS).unwrap();
    }
    let q = Query {
        limit: 2,
        ..Query::default()
    };
    let p1 = t.list(&Scope::Everything, &q);
    assert_eq!(p1.messages.len(), 2);
    assert_eq!(p1.next, Some(43));
    let p2 = t.list(
        &Scope::Everything,
        &Query {
            after: p1.next,
            ..q.clone()
        },
    );
    assert_eq!(
        p2.messages.iter().map(|v| v.message.id).collect::<Vec<_>>(),
        [44, 45]
    );
    let recent = t.list(
        &Scope::Everything,
        &Query {
            since: Some(30),
            limit: 10,
            ..Query::default()
        },
    );
    assert_eq!(recent.messages.len(), 2);
    assert_eq!(recent.next, None);
}

#[test]
fn bad_input_is_refused_and_nothing_is_kept() {
    let mut t = MailboxTable::new(0);
    let long_body = Draft {
        body: "x".repeat(65),
        ..draft(worker("b"), "s")
    };
    let e = t.send(long_body, 1, LIMITS).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::TooLarge);
    assert!(e.to_string().contains("max_body_bytes (64 bytes)"), "{e}");
    assert!(e.to_string().contains("65 bytes"), "{e}");
    let e = t.send(draft(worker("b"), "  "), 1, LIMITS).unwrap_err();
    assert_eq!(e.field().as_deref(), Some("subject"));
    let e = t.send(draft(worker("b"), "a\nb"), 1, LIMITS).unwrap_err();
    assert_eq!(e.field().as_deref(), Some("subject"));
    let e = t
        .send(
            Draft {
                thread: Some(9),
                ..draft(worker("b"), "s")
            },
            1,
            LIMITS,
        )
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("thread"));
    assert!(t.is_empty());
    assert_eq!(t.last_id(), 0, "no id was used up");
}

#[test]
fn more_unacknowledged_ack_required_messages_than_the_limit_are_refused_with_the_count() {
    let mut t = MailboxTable::new(0);
    let ask = |to: Recipient| Draft {
        ack_required: true,
        ..draft(to, "ack me")
    };
    let first = t.send(ask(worker("b")), 1, LIMITS).unwrap();
    t.send(ask(worker("b")), 2, LIMITS).unwrap();
    let e = t.send(ask(worker("b")), 3, LIMITS).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::TooManyUnacked);
    assert!(
        e.to_string().contains("worker 'b' has 2 unacknowledged"),
        "{e}"
    );
    // without ack_required, and to another worker, it goes through
    t.send(draft(worker("b"), "fyi"), 3, LIMITS).unwrap();
    t.send(ask(worker("c")), 3, LIMITS).unwrap();
    // an acknowledgement makes room
    let (_, receipt) = t.ack("b", &[], first.id, 4).unwrap();
    assert_eq!(receipt.unwrap().acked_at, Some(4));
    assert_eq!(t.unacked(&worker("b")), 1);
    t.send(ask(worker("b")), 5, LIMITS).unwrap();
}

#[test]
fn acknowledging_needs_the_message_in_the_inbox_or_read_before_and_is_idempotent() {
    let mut t = MailboxTable::new(0);
    let m = t
        .send(
            Draft {
                ack_required: true,
                ..draft(task("t1"), "rebase")
            },
            1,
            LIMITS,
        )
        .unwrap();
    let held = [TaskId::from_trusted("t1")];
    assert_eq!(
        t.ack("x", &[], m.id, 2).unwrap_err(),
        MessageError::NotInInbox {
            id: m.id,
            worker: "x".into()
        }
    );
    assert_eq!(
        t.ack("b", &held, 99, 2).unwrap_err(),
        MessageError::NotFound(99)
    );
    // b read it while holding the task, then lost the task: it may still acknowledge
    t.read("b", &held, &all_of(&Query::default()), 2);
    let (_, r) = t.ack("b", &[], m.id, 3).unwrap();
    assert!(r.is_some());
    let (_, again) = t.ack("b", &[], m.id, 4).unwrap();
    assert!(again.is_none(), "a second acknowledgement writes nothing");
    let v = t.view(&m, None);
    assert!(v.acknowledged);
    assert_eq!(v.acks.len(), 1);
    assert_eq!(v.acks[0].at, 3);
}

#[test]
fn replies_join_the_thread_of_the_first_message() {
    let mut t = MailboxTable::new(0);
    let first = t.send(draft(worker("b"), "q"), 1, LIMITS).unwrap();
    let reply = t
        .send(
            Draft {
                thread: Some(first.id),
                ..draft(worker("a"), "re: q")
            },
            2,
            LIMITS,
        )
        .unwrap();
    let reply2 = t
        .send(
            Draft {
                thread: Some(reply.id),
                ..draft(worker("b"), "re: re: q")
            },
            3,
            LIMITS,
        )
        .unwrap();
    assert_eq!(first.thread, first.id);
    assert_eq!(reply.thread, first.id);
    assert_eq!(reply2.thread, first.id);
}

#[test]
fn retention_keeps_the_threads_of_live_tasks_and_never_reuses_an_id() {
    let mut t = MailboxTable::new(0);
    t.send(draft(task("live"), "a"), 1, LIMITS).unwrap();
    t.send(draft(task("gone"), "b"), 2, LIMITS).unwrap();
    t.send(draft(worker("w"), "c"), 3, LIMITS).unwrap();
    t.send(draft(Recipient::All, "d"), 100, LIMITS).unwrap();
    t.read("w", &[], &all_of(&Query::default()), 4);
    assert_eq!(
        t.prune_candidates(50),
        [TaskId::from_trusted("gone"), TaskId::from_trusted("live")]
    );
    let removed = t.prune(50, 10, |task| task.as_str() == "live");
    assert_eq!(removed, vec![(2, vec![]), (3, vec!["w".to_owned()])]);
    assert_eq!(t.len(), 2);
    let next = t.send(draft(worker("w"), "e"), 101, LIMITS).unwrap();
    assert_eq!(next.id, 5);
    // a receipt of a removed message is handed back for deletion at start-up
    let mut fresh = MailboxTable::new(t.last_id());
    let stale = Receipt {
        message: 3,
        worker: "w".into(),
        read_at: Some(4),
        acked_at: None,
    };
    assert_eq!(fresh.restore_receipt(stale.clone()), Some(stale));
}

#[test]
fn a_digest_takes_the_oldest_unread_within_the_byte_budget_and_marks_them_read() {
    let mut t = MailboxTable::new(0);
    for i in 0..3 {
        t.send(draft(worker("b"), &format!("m{i}")), i, LIMITS)
            .unwrap();
    }
    let render = |m: &Message, room: usize| {
        let s = format!("[{}] {}\n", m.id, m.subject);
        crate::core::text::clip(s, room.max(8))
    };
    let (texts, left, written) = t.take_unread("b", &[], 16, 10, render);
    assert_eq!(texts, ["[1] m0\n", "[2] m1\n"]);
    assert_eq!(left, 1);
    assert_eq!(written.len(), 2);
    let (texts, left, _) = t.take_unread("b", &[], 16, 11, render);
    assert_eq!(texts, ["[3] m2\n"]);
    assert_eq!(left, 0);
    let (texts, _, written) = t.take_unread("b", &[], 16, 12, render);
    assert!(texts.is_empty() && written.is_empty());
}

/// One step of a random mailbox life.
#[derive(Debug, Clone)]
enum Step {
    Send { to: u8, ack: bool },
    Read { worker: u8, hold: bool },
    Ack { worker: u8, id: u64, hold: bool },
    Prune { before: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..4, any::<bool>()).prop_map(|(to, ack)| Step::Send { to, ack }),
        (0u8..3, any::<bool>()).prop_map(|(worker, hold)| Step::Read { worker, hold }),
        (0u8..3, 1u64..20, any::<bool>()).prop_map(|(worker, id, hold)| Step::Ack {
            worker,
            id,
            hold
        }),
        (0u64..40).prop_map(|before| Step::Prune { before }),
    ]
}

proptest! {
    /// Whatever happens, the unacknowledged counts equal a recount from
    /// the messages and receipts, no addressee ever exceeds the limit, and
    /// a table rebuilt from what was written (messages, receipts, the id
    /// ceiling) agrees with the live one.
    #[test]
    fn counts_limits_and_rebuilds_agree(steps in proptest::collection::vec(step(), 1..60)) {
        let mut t = MailboxTable::new(0);
        let mut stored_messages: BTreeMap<u64, Message> = BTreeMap::new();
        let mut stored_receipts: BTreeMap<(u64, String), Receipt> = BTreeMap::new();
        let workers = ["w0", "w1", "w2"];
        let recipient = |n: u8| match n {
            0 => Recipient::All,
            1 => task("t"),
            n => worker(workers[usize::from(n) - 1]),
        };
        for (at, s) in steps.into_iter().enumerate() {
            let at = at as u64;
            let held = |hold: bool| if hold { vec![TaskId::from_trusted("t")] } else { vec![] };
            match s {
                Step::Send { to, ack } => {
                    let d = Draft { ack_required: ack, ..draft(recipient(to), "s") };
                    if let Ok(m) = t.send(d, at, LIMITS) {
                        stored_messages.insert(m.id, m);
                    }
                }
                Step::Read { worker, hold } => {
                    let w = workers[usize::from(worker)];
                    let (_, written) = t.read(w, &held(hold), &all_of(&Query::default()), at);
                    for r in written { stored_receipts.insert((r.message, r.worker.clone()), r); }
                }
                Step::Ack { worker, id, hold } => {
                    let w = workers[usize::from(worker)];
                    if let Ok((_, Some(r))) = t.ack(w, &held(hold), id, at) {
                        stored_receipts.insert((r.message, r.worker.clone()), r);
                    }
                }
                Step::Prune { before } => {
                    for (id, ws) in t.prune(before, 3, |_| false) {
                        stored_messages.remove(&id);
                        for w in ws { stored_receipts.remove(&(id, w)); }
                    }
                }
            }
            for to in 0..4u8 {
                let r = recipient(to);
                let recount = stored_messages.values().filter(|m| {
                    m.to == r && m.ack_required && !stored_receipts.values()
                        .any(|x| x.message == m.id && x.acked_at.is_some())
                }).count();
                prop_assert_eq!(t.unacked(&r), recount);
                prop_assert!(recount <= LIMITS.max_unacked);
            }
        }
        let mut rebuilt = MailboxTable::new(t.last_id());
        for m in stored_messages.values() { rebuilt.restore(m.clone()); }
        for r in stored_receipts.values() {
            prop_assert!(rebuilt.restore_receipt(r.clone()).is_none());
        }
        let everything = Query { limit: usize::MAX, ..Query::default() };
        prop_assert_eq!(rebuilt.list(&Scope::Everything, &everything), t.list(&Scope::Everything, &everything));
        for w in workers {
            let inbox = Scope::Inbox { worker: w.into(), held: vec![TaskId::from_trusted("t")] };
            prop_assert_eq!(rebuilt.list(&inbox, &everything), t.list(&inbox, &everything));
        }
        prop_assert_eq!(rebuilt.last_id(), t.last_id());
    }
}
