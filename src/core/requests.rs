//! `RequestTable`: the remembered first answers of requests sent with an
//! idempotency key (`request_id`), pure and synchronous.
//!
//! Each record answers one request and names what it handed out (a lease,
//! a slot hold); no two records name the same thing, since one lease or
//! hold is the answer to one request. The owner of that lease or hold (the
//! registry, the slot allocator) looks a key up before it acts
//! ([`RequestTable::get`]), remembers a new answer in the same step as the
//! claim ([`RequestTable::remember`]), and forgets it when what it names
//! ends ([`RequestTable::forget_answer`]); each of those changes is written
//! to the store in the same batch as the change it follows.

use std::collections::HashMap;

use crate::model::{RequestAnswer, RequestKey, RequestRecord};

/// Remembered answers by key, with an index from answer to key.
#[derive(Debug, Default, Clone)]
pub struct RequestTable {
    by_key: HashMap<RequestKey, RequestRecord>,
    by_answer: HashMap<RequestAnswer, RequestKey>,
}

impl RequestTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of remembered requests.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The first answer to `key`, if remembered.
    pub fn get(&self, key: &RequestKey) -> Option<&RequestRecord> {
        self.by_key.get(key)
    }

    /// Remember `rec`. Returns the records it displaced (the key's earlier
    /// record, and one that named the same answer), for the caller to
    /// remove from the store.
    pub fn remember(&mut self, rec: RequestRecord) -> Vec<RequestRecord> {
        let mut displaced = Vec::new();
        if let Some(old) = self.by_key.remove(&rec.key) {
            self.by_answer.remove(&old.answer);
            displaced.push(old);
        }
        if let Some(other) = self.by_answer.remove(&rec.answer) {
            if let Some(old) = self.by_key.remove(&other) {
                displaced.push(old);
            }
        }
        self.by_answer.insert(rec.answer.clone(), rec.key.clone());
        self.by_key.insert(rec.key.clone(), rec);
        displaced
    }

    /// Forget the request answered with `answer` (its lease or hold ended);
    /// the record forgotten, if there was one.
    pub fn forget_answer(&mut self, answer: &RequestAnswer) -> Option<RequestRecord> {
        let key = self.by_answer.remove(answer)?;
        self.by_key.remove(&key)
    }

    /// Forget every record whose answer `gone` says has ended; the records
    /// forgotten (start-up drops records whose lease or hold is not there).
    pub fn forget_where(&mut self, gone: impl Fn(&RequestAnswer) -> bool) -> Vec<RequestRecord> {
        let keys: Vec<RequestKey> = self
            .by_key
            .values()
            .filter(|r| gone(&r.answer))
            .map(|r| r.key.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let rec = self.by_key.remove(&k)?;
                self.by_answer.remove(&rec.answer);
                Some(rec)
            })
            .collect()
    }

    /// Every remembered record (no order).
    pub fn records(&self) -> impl Iterator<Item = &RequestRecord> {
        self.by_key.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RequestKind, TaskId};
    use proptest::prelude::*;

    fn key(worker: &str, id: &str) -> RequestKey {
        RequestKey {
            kind: RequestKind::ClaimNext,
            owner: None,
            worker: worker.into(),
            request_id: id.into(),
        }
    }

    fn lease(task: &str, lease_id: u64) -> RequestAnswer {
        RequestAnswer::Lease {
            task_id: TaskId::from_trusted(task),
            lease_id,
        }
    }

    #[test]
    fn an_answer_is_found_by_its_key_until_what_it_names_ends() {
        let mut t = RequestTable::new();
        let rec = RequestRecord {
            key: key("w", "r1"),
            at: 5,
            answer: lease("a", 7),
        };
        assert!(t.remember(rec.clone()).is_empty());
        assert_eq!(t.get(&key("w", "r1")), Some(&rec));
        assert_eq!(t.get(&key("v", "r1")), None, "another worker's key");
        assert_eq!(t.forget_answer(&lease("a", 8)), None);
        assert_eq!(t.forget_answer(&lease("a", 7)), Some(rec));
        assert!(t.is_empty());
    }

    proptest! {
        /// Against a map: every key finds its latest answer, no answer is
        /// named by two keys, and what is displaced or forgotten is exactly
        /// what leaves the map.
        #[test]
        fn keys_and_answers_stay_one_to_one(
            ops in prop::collection::vec((any::<bool>(), 0u8..4, 0u8..4, 0u64..6), 0..200),
        ) {
            let mut t = RequestTable::new();
            let mut model: HashMap<RequestKey, RequestAnswer> = HashMap::new();
            for (forget, w, r, l) in ops {
                let answer = lease("t", l);
                if forget {
                    let gone = t.forget_answer(&answer);
                    let k = model.iter().find(|(_, a)| **a == answer).map(|(k, _)| k.clone());
                    prop_assert_eq!(gone.map(|g| g.key), k.clone());
                    if let Some(k) = k { model.remove(&k); }
                } else {
                    let k = key(&format!("w{w}"), &format!("r{r}"));
                    let displaced = t.remember(RequestRecord { key: k.clone(), at: 0, answer: answer.clone() });
                    for d in displaced {
                        prop_assert_eq!(model.remove(&d.key), Some(d.answer));
                    }
                    model.retain(|_, a| *a != answer);
                    model.insert(k, answer);
                }
                prop_assert_eq!(t.len(), model.len());
                for (k, a) in &model {
                    prop_assert_eq!(t.get(k).map(|r| &r.answer), Some(a));
                }
            }
        }
    }
}
