//! What an Alertmanager keeps on disk, in `<data dir>/alertmanager/<tenant>/`: its silences
//! (`silences.json`, replaced atomically on every change) and its notification log
//! (`nflog.jsonl`, appended and fsynced): a notification is recorded as pending, with its
//! payload and id, before it is sent, and as sent once the receiver took it. After a restart
//! the log tells which groups were notified of what (so nothing is sent twice), and every
//! notification still pending is sent again with the same id (so nothing is dropped, and a
//! receiver can drop the one copy a crash between delivery and its record may cause).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde_json::{json, Value as Json};

use super::matchers::{MatchOp, Matcher};
use super::silence::Silence;

/// How long the notification log keeps an entry: Alertmanager's `--data.retention` default
/// (120 h). A group quiet for longer notifies as new.
pub const LOG_RETENTION_MS: i64 = 120 * 3600 * 1000;

/// The key of a notification log entry: group key, receiver, integration index.
pub type LogKey = (String, String, usize);

/// What the log holds of the last notification of a group to an integration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// Fingerprints of the firing alerts notified.
    pub firing: Vec<u64>,
    /// Fingerprints of the resolved alerts notified.
    pub resolved: Vec<u64>,
    /// When (ms).
    pub at: i64,
}

/// A notification recorded as pending and not (yet) as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Its id, sent with it.
    pub id: String,
    /// Where it goes.
    pub key: LogKey,
    /// What the log holds once it is sent.
    pub entry: LogEntry,
    /// What is sent.
    pub payload: Json,
}

/// What a store held when it was opened.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The silences.
    pub silences: Vec<Silence>,
    /// The last notification of each group and integration.
    pub log: BTreeMap<LogKey, LogEntry>,
    /// Notifications recorded but not known to be sent.
    pub pending: Vec<Pending>,
}

/// The files of one tenant's Alertmanager.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    log: Mutex<File>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

fn key_json(k: &LogKey) -> Json {
    json!([k.0, k.1, k.2])
}

fn key_of(v: &Json) -> Option<LogKey> {
    Some((
        v.get(0)?.as_str()?.to_string(),
        v.get(1)?.as_str()?.to_string(),
        usize::try_from(v.get(2)?.as_u64()?).ok()?,
    ))
}

fn entry_json(e: &LogEntry) -> Json {
    json!({"firing": e.firing, "resolved": e.resolved, "at": e.at})
}

fn entry_of(v: &Json) -> LogEntry {
    let fps = |k: &str| {
        v.get(k)
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_u64).collect())
            .unwrap_or_default()
    };
    LogEntry {
        firing: fps("firing"),
        resolved: fps("resolved"),
        at: v.get("at").and_then(Json::as_i64).unwrap_or(0),
    }
}

fn silence_json(s: &Silence) -> Json {
    json!({
        "id": s.id,
        "matchers": s.matchers.iter().map(|m| json!([m.name, m.op.as_str(), m.value])).collect::<Vec<_>>(),
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "updated_at": s.updated_at,
        "created_by": s.created_by,
        "comment": s.comment,
    })
}

fn silence_of(v: &Json) -> Option<Silence> {
    let mut matchers = Vec::new();
    for m in v.get("matchers")?.as_array()? {
        let op = match m.get(1)?.as_str()? {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::Regex,
            _ => MatchOp::NotRegex,
        };
        matchers.push(Matcher::new(m.get(0)?.as_str()?, op, m.get(2)?.as_str()?).ok()?);
    }
    let text = |k: &str| v.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let num = |k: &str| v.get(k).and_then(Json::as_i64).unwrap_or(0);
    Some(Silence {
        id: text("id"),
        matchers,
        starts_at: num("starts_at"),
        ends_at: num("ends_at"),
        updated_at: num("updated_at"),
        created_by: text("created_by"),
        comment: text("comment"),
    })
}

/// Fsyncs the directory `dir`, so that a file created or renamed in it survives a crash.
fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("failed to fsync", dir, e))
}

impl Store {
    /// Opens (creating) the store in `dir` and reads what it holds. A torn last line of the
    /// log (a crash while appending) is ignored; it was never acknowledged as written.
    pub fn open(dir: &Path) -> Result<(Store, Loaded), String> {
        fs::create_dir_all(dir).map_err(|e| io("failed to create", dir, e))?;
        let mut loaded = Loaded::default();
        let silences_path = dir.join("silences.json");
        match fs::read_to_string(&silences_path) {
            Ok(text) => {
                let v: Json = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: {e}", silences_path.display()))?;
                loaded.silences = v
                    .as_array()
                    .map(|a| a.iter().filter_map(silence_of).collect())
                    .unwrap_or_default();
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("failed to read", &silences_path, e)),
        }
        let log_path = dir.join("nflog.jsonl");
        let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
        if let Ok(file) = File::open(&log_path) {
            for line in BufReader::new(file).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str::<Json>(&line) else {
                    continue;
                };
                let Some(key) = v.get("key").and_then(key_of) else {
                    continue;
                };
                let id = v.get("id").and_then(Json::as_str).unwrap_or("").to_string();
                let entry = entry_of(v.get("entry").unwrap_or(&Json::Null));
                match v.get("state").and_then(Json::as_str) {
                    Some("pending") => {
                        let payload = v.get("payload").cloned().unwrap_or(Json::Null);
                        pending.insert(
                            id.clone(),
                            Pending {
                                id,
                                key,
                                entry,
                                payload,
                            },
                        );
                    }
                    Some("sent") => {
                        pending.remove(&id);
                        // A later notification of the same group supersedes older pending ones.
                        pending.retain(|_, p| p.key != key || p.entry.at > entry.at);
                        loaded.log.insert(key, entry);
                    }
                    Some("abandoned") => {
                        pending.remove(&id);
                    }
                    _ => {}
                }
            }
        }
        loaded.pending = pending.into_values().collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        loaded.log.retain(|_, e| e.at >= now - LOG_RETENTION_MS);
        // Start a fresh log holding what matters: the last entry per key within the retention,
        // and what is pending.
        let tmp = dir.join("nflog.jsonl.tmp");
        {
            let mut f = File::create(&tmp).map_err(|e| io("failed to create", &tmp, e))?;
            let mut text = String::new();
            for (k, e) in &loaded.log {
                text.push_str(
                    &json!({"state": "sent", "id": "", "key": key_json(k), "entry": entry_json(e)})
                        .to_string(),
                );
                text.push('\n');
            }
            for p in &loaded.pending {
                text.push_str(&pending_line(p));
                text.push('\n');
            }
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| io("failed to write", &tmp, e))?;
        }
        fs::rename(&tmp, &log_path).map_err(|e| io("failed to rename", &tmp, e))?;
        sync_dir(dir)?;
        let log = OpenOptions::new()
            .append(true)
            .open(&log_path)
            .map_err(|e| io("failed to open", &log_path, e))?;
        Ok((
            Store {
                dir: dir.to_path_buf(),
                log: Mutex::new(log),
            },
            loaded,
        ))
    }

    fn append(&self, line: &str) -> Result<(), String> {
        let mut f = self.log.lock();
        f.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| io("failed to append to", &self.dir.join("nflog.jsonl"), e))
    }

    /// Records `p` as pending, durably, before it is sent.
    pub fn pending(&self, p: &Pending) -> Result<(), String> {
        self.append(&pending_line(p))
    }

    /// Records the notification `id` as sent.
    pub fn sent(&self, id: &str, key: &LogKey, entry: &LogEntry) -> Result<(), String> {
        self.append(
            &json!({"state": "sent", "id": id, "key": key_json(key), "entry": entry_json(entry)})
                .to_string(),
        )
    }

    /// Records that the notification `id` was given up (its retries ran out): it is not sent
    /// again after a restart; the group's next flush carries its news instead.
    pub fn abandoned(&self, id: &str, key: &LogKey) -> Result<(), String> {
        self.append(&json!({"state": "abandoned", "id": id, "key": key_json(key)}).to_string())
    }

    /// Replaces the silences on disk with `silences`, atomically and durably.
    pub fn save_silences(&self, silences: &[Silence]) -> Result<(), String> {
        let path = self.dir.join("silences.json");
        let tmp = self.dir.join("silences.json.tmp");
        let text = Json::Array(silences.iter().map(silence_json).collect()).to_string();
        let mut f = File::create(&tmp).map_err(|e| io("failed to create", &tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io("failed to write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io("failed to rename", &tmp, e))?;
        sync_dir(&self.dir)
    }
}

fn pending_line(p: &Pending) -> String {
    json!({
        "state": "pending",
        "id": p.id,
        "key": key_json(&p.key),
        "entry": entry_json(&p.entry),
        "payload": p.payload,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_notifications_and_silences_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (store, loaded) = Store::open(dir.path()).expect("open");
        assert!(loaded.pending.is_empty() && loaded.log.is_empty());
        let key: LogKey = ("{}:{a=\"1\"}".into(), "hook".into(), 0);
        let t0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64
            - 10_000;
        let entry = LogEntry {
            firing: vec![7],
            resolved: vec![],
            at: t0,
        };
        let sent = Pending {
            id: "one".into(),
            key: key.clone(),
            entry: entry.clone(),
            payload: json!({"n": 1}),
        };
        store.pending(&sent).expect("pending");
        store.sent("one", &key, &entry).expect("sent");
        let open = Pending {
            id: "two".into(),
            payload: json!({"n": 2}),
            ..sent.clone()
        };
        store.pending(&open).expect("pending");
        store
            .save_silences(&[Silence {
                id: "s".into(),
                matchers: vec![Matcher::new("a", MatchOp::Regex, "1|2").expect("matcher")],
                starts_at: 1,
                ends_at: 2,
                updated_at: 1,
                created_by: "me".into(),
                comment: "c".into(),
            }])
            .expect("silences");
        drop(store);
        // A torn last line, as a crash in the middle of an append leaves it.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("nflog.jsonl"))
            .expect("log");
        f.write_all(b"{\"state\":\"sent\",\"id\":\"tw")
            .expect("write");
        drop(f);
        let (_, loaded) = Store::open(dir.path()).expect("reopen");
        assert_eq!(loaded.log.get(&key), Some(&entry));
        assert_eq!(loaded.pending, vec![open]);
        assert_eq!(loaded.silences.len(), 1);
        assert!(loaded.silences[0].matchers[0].matches("2"));
        // Given up, or superseded by a later notification sent: not sent again.
        let (store, _) = Store::open(dir.path()).expect("reopen");
        store.abandoned("two", &key).expect("abandoned");
        let three = Pending {
            id: "three".into(),
            entry: LogEntry {
                at: t0 + 1000,
                ..entry.clone()
            },
            ..sent.clone()
        };
        store.pending(&three).expect("pending");
        let newer = LogEntry {
            at: t0 + 2000,
            ..entry.clone()
        };
        store
            .pending(&Pending {
                id: "four".into(),
                entry: newer.clone(),
                ..sent.clone()
            })
            .expect("pending");
        store.sent("four", &key, &newer).expect("sent");
        drop(store);
        let (_, loaded) = Store::open(dir.path()).expect("reopen");
        assert!(loaded.pending.is_empty(), "{:?}", loaded.pending);
        assert_eq!(loaded.log.get(&key), Some(&newer));
        // An entry older than the retention is dropped on open.
        let (store, _) = Store::open(dir.path()).expect("reopen");
        let old_key: LogKey = ("{}:{a=\"2\"}".into(), "hook".into(), 0);
        let old = LogEntry {
            at: t0 - LOG_RETENTION_MS - 1,
            ..entry.clone()
        };
        store.sent("five", &old_key, &old).expect("sent");
        drop(store);
        let (_, loaded) = Store::open(dir.path()).expect("reopen");
        assert!(!loaded.log.contains_key(&old_key));
        // Reopening again keeps the same state (the log was rewritten, not lost).
        let (_, again) = Store::open(dir.path()).expect("reopen");
        assert_eq!(again.log.len(), 1);
        assert!(again.pending.is_empty());
    }
}
