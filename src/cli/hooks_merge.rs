//! The JSON edits of `baton hooks install` / `uninstall`, pure: what baton
//! adds to a Claude Code settings file and an MCP server file, and the
//! record of each addition that lets `uninstall` take away exactly that.
//!
//! An install only ever *adds*: a matcher group appended to an event's
//! list under `hooks` (the user's own groups stay where they are), `baton`
//! appended to `enabledMcpjsonServers`, an `mcpServers.baton` entry (the
//! one key it may replace; the old value is kept in the record). Each
//! addition is written down as an [`Undo`]; `uninstall` applies them in
//! reverse, so each file is again equal as JSON to what it was before
//! (also when the user changed other keys meanwhile), and a file or
//! directory the install created is removed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One addition, as its undoing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Undo {
    /// Remove `item` (the first element equal to it) from the array at `at`.
    RemoveItem {
        /// Keys from the root to the array.
        at: Vec<String>,
        /// The element added.
        item: Value,
    },
    /// Remove the key at `at` if it holds an empty object or array (a
    /// container the install created).
    RemoveIfEmpty {
        /// Keys from the root to the container.
        at: Vec<String>,
    },
    /// Put back the value the key at `at` had (`None`: it had none) if it
    /// still holds `ours`, what the install wrote there.
    Restore {
        /// Keys from the root to the entry.
        at: Vec<String>,
        /// The value before the install.
        before: Option<Value>,
        /// The value the install wrote.
        ours: Value,
    },
}

/// The object at `at` under `root`, created (with its parents) if missing;
/// records a [`Undo::RemoveIfEmpty`] for each container it creates. `None`
/// when something on the way is not an object.
fn object_at<'a>(
    root: &'a mut Value,
    at: &[&str],
    undo: &mut Vec<Undo>,
) -> Option<&'a mut Map<String, Value>> {
    let mut cur = root;
    for (i, key) in at.iter().enumerate() {
        let obj = cur.as_object_mut()?;
        if !obj.contains_key(*key) {
            obj.insert((*key).to_owned(), Value::Object(Map::new()));
            undo.push(Undo::RemoveIfEmpty {
                at: at[..=i].iter().map(|k| (*k).to_owned()).collect(),
            });
        }
        cur = obj.get_mut(*key)?;
    }
    cur.as_object_mut()
}

/// Append `item` to the array `key` of the object at `at` (created if
/// missing), unless an equal element is there already. Errors name the key
/// that is not what Claude Code's files hold there.
pub(crate) fn append(
    root: &mut Value,
    at: &[&str],
    key: &str,
    item: Value,
    undo: &mut Vec<Undo>,
) -> Result<(), String> {
    let path: Vec<String> = at.iter().chain(&[key]).map(|k| (*k).to_owned()).collect();
    let obj =
        object_at(root, at, undo).ok_or_else(|| format!("{} is not an object", at.join(".")))?;
    if !obj.contains_key(key) {
        obj.insert(key.to_owned(), Value::Array(Vec::new()));
        undo.push(Undo::RemoveIfEmpty { at: path.clone() });
    }
    let list = obj
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{} is not a list", path.join(".")))?;
    if !list.contains(&item) {
        list.push(item.clone());
        undo.push(Undo::RemoveItem { at: path, item });
    }
    Ok(())
}

/// Set `key` of the object at `at` (created if missing) to `value`,
/// remembering what was there.
pub(crate) fn set(
    root: &mut Value,
    at: &[&str],
    key: &str,
    value: Value,
    undo: &mut Vec<Undo>,
) -> Result<(), String> {
    let obj =
        object_at(root, at, undo).ok_or_else(|| format!("{} is not an object", at.join(".")))?;
    let before = obj.insert(key.to_owned(), value.clone());
    if before.as_ref() != Some(&value) {
        undo.push(Undo::Restore {
            at: at.iter().chain(&[key]).map(|k| (*k).to_owned()).collect(),
            before,
            ours: value,
        });
    }
    Ok(())
}

/// The parent object of the key at `at`, and that key.
fn parent_of<'a>(
    root: &'a mut Value,
    at: &'a [String],
) -> Option<(&'a mut Map<String, Value>, &'a str)> {
    let (last, parents) = at.split_last()?;
    let mut cur = root;
    for k in parents {
        cur = cur.as_object_mut()?.get_mut(k)?;
    }
    Some((cur.as_object_mut()?, last.as_str()))
}

/// Undo `ops` (in reverse order) on `root`. What is no longer there, or no
/// longer what the install wrote, is left alone.
pub(crate) fn undo_all(root: &mut Value, ops: &[Undo]) {
    for op in ops.iter().rev() {
        match op {
            Undo::RemoveItem { at, item } => {
                if let Some((obj, key)) = parent_of(root, at) {
                    if let Some(list) = obj.get_mut(key).and_then(Value::as_array_mut) {
                        if let Some(i) = list.iter().position(|v| v == item) {
                            list.remove(i);
                        }
                    }
                }
            }
            Undo::RemoveIfEmpty { at } => {
                if let Some((obj, key)) = parent_of(root, at) {
                    let empty = match obj.get(key) {
                        Some(Value::Object(m)) => m.is_empty(),
                        Some(Value::Array(a)) => a.is_empty(),
                        _ => false,
                    };
                    if empty {
                        obj.remove(key);
                    }
                }
            }
            Undo::Restore { at, before, ours } => {
                if let Some((obj, key)) = parent_of(root, at) {
                    if obj.get(key) == Some(ours) {
                        match before {
                            Some(v) => obj.insert(key.to_owned(), v.clone()),
                            None => obj.remove(key),
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_install_adds_beside_the_users_own_and_its_undo_restores_the_original() {
        let original = json!({
            "model": "x",
            "hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}]},
            "enabledMcpjsonServers": ["other"],
        });
        let mut doc = original.clone();
        let mut undo = Vec::new();
        let ours = json!({"matcher": "*", "hooks": [{"type": "http", "url": "u"}]});
        append(&mut doc, &["hooks"], "PostToolUse", ours.clone(), &mut undo).unwrap();
        append(
            &mut doc,
            &["hooks"],
            "Stop",
            json!({"hooks": []}),
            &mut undo,
        )
        .unwrap();
        append(
            &mut doc,
            &[],
            "enabledMcpjsonServers",
            json!("baton"),
            &mut undo,
        )
        .unwrap();
        set(
            &mut doc,
            &["mcpServers"],
            "baton",
            json!({"url": "u"}),
            &mut undo,
        )
        .unwrap();
        assert_eq!(
            doc["hooks"]["PostToolUse"][0]["hooks"][0]["command"],
            "mine"
        );
        assert_eq!(doc["hooks"]["PostToolUse"][1], ours);
        assert_eq!(doc["enabledMcpjsonServers"], json!(["other", "baton"]));
        // the user changes a key meanwhile: the undo keeps that change
        doc["model"] = json!("y");
        undo_all(&mut doc, &undo);
        let mut want = original;
        want["model"] = json!("y");
        assert_eq!(doc, want);
    }

    #[test]
    fn an_entry_already_there_is_neither_added_twice_nor_removed() {
        let original =
            json!({"enabledMcpjsonServers": ["baton"], "mcpServers": {"baton": {"url": "u"}}});
        let mut doc = original.clone();
        let mut undo = Vec::new();
        append(
            &mut doc,
            &[],
            "enabledMcpjsonServers",
            json!("baton"),
            &mut undo,
        )
        .unwrap();
        set(
            &mut doc,
            &["mcpServers"],
            "baton",
            json!({"url": "u"}),
            &mut undo,
        )
        .unwrap();
        assert!(undo.is_empty(), "{undo:?}");
        // a different entry of the user's is replaced, and put back
        set(
            &mut doc,
            &["mcpServers"],
            "baton",
            json!({"url": "v"}),
            &mut undo,
        )
        .unwrap();
        undo_all(&mut doc, &undo);
        assert_eq!(doc, original);
    }

    #[test]
    fn a_key_of_the_wrong_shape_is_refused_by_name() {
        let mut doc = json!({"hooks": []});
        let e = append(&mut doc, &["hooks"], "Stop", json!({}), &mut Vec::new()).unwrap_err();
        assert_eq!(e, "hooks is not an object");
        let mut doc = json!({"hooks": {"Stop": {}}});
        let e = append(&mut doc, &["hooks"], "Stop", json!({}), &mut Vec::new()).unwrap_err();
        assert_eq!(e, "hooks.Stop is not a list");
    }
}
