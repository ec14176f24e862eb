//! The visitor's history: the one place where its rules live (what a valid event is, the kind names
//! and their aliases, the bounds on count and age, the export format), and the logic that reads,
//! appends, clears and imports it through a small [`HistoryStore`] trait.
//!
//! The logic is plain Rust: `tests/history.rs` runs it natively against [`MemoryHistoryStore`], and
//! in Chrome, Firefox and WebKit against the IndexedDB store of the wasm binding
//! (`src/wasm/history.rs`). The JS package only forwards calls.
//!
//! Trust rules:
//! * every stored record is validated when read; a bad one (not an object, no id, an unknown kind,
//!   a time that is not a finite number) is skipped, counted by reason, reported and removed from
//!   storage. It is never fatal;
//! * appends and clears are their own small store operations, so two tabs never overwrite each
//!   other's events: each tab appends its own, and a clear deletes what is stored at that moment;
//! * bounds are applied here and only here: the newest `max_events` events (by time) younger than
//!   `max_age_days` are kept.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::MAX_ID_BYTES;
use crate::error::{Error, Result};
use crate::kind::Kind;

/// Events kept by default (`maxEvents`).
pub const DEFAULT_MAX_EVENTS: usize = 500;
/// The most events a history may keep (`maxEvents` is validated against it); the recommender keeps
/// no more than this in memory either.
pub const MAX_EVENTS: usize = 2000;
/// Maximum age of a kept event by default (`maxAgeDays`).
pub const DEFAULT_MAX_AGE_DAYS: f64 = 90.0;
/// `format` field of an exported history.
pub const EXPORT_FORMAT: &str = "localrec-history";
/// `version` field of an exported history (the version this build writes and reads).
pub const EXPORT_VERSION: u32 = 1;
/// Largest exported history `import_json` accepts, in bytes (checked before parsing).
pub const MAX_IMPORT_BYTES: usize = 16 << 20;

/// One interaction as the browser stores it: the app's item id, what was done, and when (seconds
/// since the epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: String,
    pub kind: Kind,
    pub time: f64,
}

impl HistoryEvent {
    /// A validated event: `kind` by name or alias (see [`Kind::from_name`]), a non-empty id of at
    /// most [`MAX_ID_BYTES`] bytes, a finite time.
    pub fn new(id: &str, kind: &str, time: f64) -> Result<HistoryEvent> {
        let kind = Kind::from_name(kind)?;
        check_id(id)?;
        if !time.is_finite() {
            return Err(Error::NonFiniteTime(time));
        }
        Ok(HistoryEvent { id: id.to_owned(), kind, time })
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(Error::InvalidArgument(format!(
            "item id must be 1 to {MAX_ID_BYTES} bytes, got {} bytes",
            id.len()
        )));
    }
    Ok(())
}

/// A field of a stored record, before validation: whatever was stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Loose {
    Str(String),
    Num(f64),
    /// Anything else: null, a boolean, an object, an array.
    Other,
    #[default]
    Missing,
}

/// A stored record as read back: any field may be missing or of the wrong type. Extra fields (the
/// store's own `scope`, a key) are ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEvent {
    pub id: Loose,
    pub kind: Loose,
    pub time: Loose,
}

/// Any stored value: an object read as a [`RawEvent`], or `None` for anything else (a string, a
/// number, null, an array). Reading one never fails on content, so one bad record cannot hide the
/// others. (Hand-written visitors: serde's untagged enums cost the wasm package tens of KB.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawRecord(pub Option<RawEvent>);

impl RawRecord {
    pub fn validate(&self) -> std::result::Result<HistoryEvent, SkipReason> {
        self.0.as_ref().ok_or(SkipReason::NotAnObject)?.validate()
    }
}

struct LooseVisitor;

impl<'de> serde::de::Visitor<'de> for LooseVisitor {
    type Value = Loose;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Loose, E> {
        Ok(Loose::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Loose, E> {
        Ok(Loose::Str(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Loose, E> {
        Ok(Loose::Num(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Loose, E> {
        Ok(Loose::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Loose, E> {
        Ok(Loose::Num(v as f64))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Loose, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E>(self) -> std::result::Result<Loose, E> {
        Ok(Loose::Other)
    }
    fn visit_none<E>(self) -> std::result::Result<Loose, E> {
        Ok(Loose::Other)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Loose, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Loose, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Loose, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Loose, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

struct RecordVisitor;

impl<'de> serde::de::Visitor<'de> for RecordVisitor {
    type Value = RawRecord;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawRecord, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(key) = map.next_key::<Loose>()? {
            match key {
                Loose::Str(k) if k == "id" => raw.id = map.next_value()?,
                Loose::Str(k) if k == "kind" => raw.kind = map.next_value()?,
                Loose::Str(k) if k == "time" => raw.time = map.next_value()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(RawRecord(Some(raw)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> std::result::Result<RawRecord, A::Error> {
        LooseVisitor.visit_seq(seq).map(|_| RawRecord(None))
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_unit<E>(self) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_none<E>(self) -> std::result::Result<RawRecord, E> {
        Ok(RawRecord(None))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<RawRecord, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

impl<'de> Deserialize<'de> for RawRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<RawRecord, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

/// Why a stored record was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Not an object with fields (a string, a number, null, an array).
    NotAnObject,
    /// No id, an empty or over-long id, or an id that is not a string.
    BadId,
    /// A kind that is not a string naming view, cart or purchase (or an alias).
    BadKind,
    /// A time that is not a finite number (missing, a string, NaN, an infinity).
    BadTime,
}

impl SkipReason {
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NotAnObject => "not-an-object",
            SkipReason::BadId => "bad-id",
            SkipReason::BadKind => "bad-kind",
            SkipReason::BadTime => "bad-time",
        }
    }
}

impl RawEvent {
    /// The event, or why it cannot be one.
    pub fn validate(&self) -> std::result::Result<HistoryEvent, SkipReason> {
        let Loose::Str(id) = &self.id else { return Err(SkipReason::BadId) };
        check_id(id).map_err(|_| SkipReason::BadId)?;
        let Loose::Str(kind) = &self.kind else { return Err(SkipReason::BadKind) };
        let kind = Kind::from_name(kind).map_err(|_| SkipReason::BadKind)?;
        let Loose::Num(time) = self.time else { return Err(SkipReason::BadTime) };
        if !time.is_finite() {
            return Err(SkipReason::BadTime);
        }
        Ok(HistoryEvent { id: id.clone(), kind, time })
    }
}

impl From<&HistoryEvent> for RawEvent {
    fn from(e: &HistoryEvent) -> RawEvent {
        RawEvent { id: Loose::Str(e.id.clone()), kind: Loose::Str(e.kind.name().to_owned()), time: Loose::Num(e.time) }
    }
}

/// How much history is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub max_events: usize,
    /// Seconds; `f64::INFINITY` keeps events of any age.
    pub max_age_secs: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { max_events: DEFAULT_MAX_EVENTS, max_age_secs: DEFAULT_MAX_AGE_DAYS * 86_400.0 }
    }
}

impl Bounds {
    /// `maxEvents` (an integer in 1..=[`MAX_EVENTS`]) and `maxAgeDays` (a positive number, or
    /// infinity), each defaulted when `None`.
    pub fn new(max_events: Option<f64>, max_age_days: Option<f64>) -> Result<Bounds> {
        let mut b = Bounds::default();
        if let Some(n) = max_events {
            if !(n.fract() == 0.0 && (1.0..=MAX_EVENTS as f64).contains(&n)) {
                return Err(Error::InvalidArgument(format!(
                    "maxEvents must be an integer in 1..={MAX_EVENTS}, got {n}"
                )));
            }
            b.max_events = n as usize;
        }
        if let Some(d) = max_age_days {
            if d.is_nan() || d <= 0.0 {
                return Err(Error::InvalidArgument(format!("maxAgeDays must be a positive number, got {d}")));
            }
            b.max_age_secs = d * 86_400.0;
        }
        Ok(b)
    }

    /// Whether an event of `time` is young enough at `now`.
    pub fn fresh(&self, time: f64, now: f64) -> bool {
        now - time <= self.max_age_secs
    }
}

/// Where a stored record is, to remove it later. Stores choose their keys (IndexedDB's are numbers).
pub type StoreKey = f64;

/// A failed store operation. `quota` marks a full disk or origin quota.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError {
    pub message: String,
    pub quota: bool,
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Storage { message: e.message, quota: e.quota }
    }
}

/// Where a history is kept: IndexedDB in browsers, memory in tests and where IndexedDB is missing.
/// Each operation is one small transaction of its own.
#[allow(async_fn_in_trait)] // single-threaded (wasm) futures: no Send bound wanted
pub trait HistoryStore {
    /// Every record of `scope`, in the order it was stored, validated (see [`RawEvent::validate`]).
    async fn load(
        &self,
        scope: &str,
    ) -> std::result::Result<Vec<(StoreKey, std::result::Result<HistoryEvent, SkipReason>)>, StoreError>;
    /// Appends events to `scope`.
    async fn append(&self, scope: &str, events: &[HistoryEvent]) -> std::result::Result<(), StoreError>;
    /// Removes records by key (unknown keys are ignored: another tab may have removed them).
    async fn remove(&self, keys: &[StoreKey]) -> std::result::Result<(), StoreError>;
    /// Removes every record of `scope`.
    async fn clear(&self, scope: &str) -> std::result::Result<(), StoreError>;
}

/// What [`History::load`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Events kept.
    pub kept: usize,
    /// Records skipped as invalid (and removed from the store), by reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// Valid events dropped by the bounds (and removed from the store).
    pub pruned: usize,
}

impl LoadReport {
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// What [`History::import_json`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Events added to the history.
    pub added: usize,
    /// Events already in the history.
    pub duplicates: usize,
    /// Events of the file that were invalid, by reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// Valid events outside the bounds (too old, or beyond `maxEvents`).
    pub pruned: usize,
}

/// A visitor's history in memory (ordered by time, oldest first; ties in the order recorded) and
/// the operations that keep its store in step.
#[derive(Debug, Clone)]
pub struct History {
    scope: String,
    bounds: Bounds,
    events: Vec<HistoryEvent>,
}

impl History {
    pub fn new(scope: &str, bounds: Bounds) -> History {
        History { scope: scope.to_owned(), bounds, events: Vec::new() }
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The kept events, oldest first.
    pub fn events(&self) -> &[HistoryEvent] {
        &self.events
    }

    /// Sorts by time (stable) and keeps what the bounds allow; returns how many were dropped.
    fn bound(events: &mut Vec<HistoryEvent>, bounds: Bounds, now: f64) -> usize {
        let before = events.len();
        let times: Vec<f64> = events.iter().map(|e| e.time).collect();
        let mut order: Vec<u32> = (0..events.len() as u32).collect();
        crate::codec::order_by_time(&mut order, &times);
        *events = order.iter().map(|&i| events[i as usize].clone()).collect();
        events.retain(|e| bounds.fresh(e.time, now));
        let extra = events.len().saturating_sub(bounds.max_events);
        events.drain(..extra);
        before - events.len()
    }

    /// Replaces the in-memory events with what a store returned (see [`HistoryStore::load`]) and
    /// returns the report and the keys of the records to remove from the store: invalid ones and
    /// events outside the bounds. (The I/O-free half of [`History::load`], for callers that must
    /// not hold the history borrowed across an await.)
    pub fn apply_loaded(
        &mut self,
        records: Vec<(StoreKey, std::result::Result<HistoryEvent, SkipReason>)>,
        now: f64,
    ) -> (LoadReport, Vec<StoreKey>) {
        let mut report = LoadReport::default();
        let mut valid: Vec<(StoreKey, HistoryEvent)> = Vec::with_capacity(records.len());
        let mut remove = Vec::new();
        for (key, rec) in records {
            match rec {
                Ok(e) => valid.push((key, e)),
                Err(why) => {
                    *report.skipped.entry(why).or_insert(0) += 1;
                    remove.push(key);
                }
            }
        }
        let times: Vec<f64> = valid.iter().map(|(_, e)| e.time).collect();
        let mut order: Vec<u32> = (0..valid.len() as u32).collect();
        crate::codec::order_by_time(&mut order, &times);
        let mut valid: Vec<(StoreKey, HistoryEvent)> = order.iter().map(|&i| valid[i as usize].clone()).collect();
        let young = valid.iter().position(|(_, e)| self.bounds.fresh(e.time, now)).unwrap_or(valid.len());
        let start = young.max(valid.len().saturating_sub(self.bounds.max_events));
        remove.extend(valid[..start].iter().map(|(k, _)| *k));
        report.pruned = start;
        self.events = valid.drain(start..).map(|(_, e)| e).collect();
        report.kept = self.events.len();
        (report, remove)
    }

    /// Replaces the in-memory events with what `store` holds: invalid records and events outside
    /// the bounds are removed from the store (best effort: a failed removal is retried at the next
    /// load). A store that cannot be read is an error; the in-memory events are then unchanged.
    pub async fn load<S: HistoryStore>(&mut self, store: &S, now: f64) -> Result<LoadReport> {
        let records = store.load(&self.scope).await?;
        let (report, remove) = self.apply_loaded(records, now);
        if !remove.is_empty() {
            let _ = store.remove(&remove).await;
        }
        Ok(report)
    }

    /// Adds an event in memory (at its place in time) and returns it for [`History::store_event`];
    /// the caller stores it in the background so that a click never waits for the disk.
    pub fn push(&mut self, event: HistoryEvent, now: f64) -> HistoryEvent {
        let at = self.events.partition_point(|e| e.time <= event.time);
        self.events.insert(at, event.clone());
        Self::bound(&mut self.events, self.bounds, now);
        event
    }

    /// Stores one event recorded with [`History::push`]: one small append of its own.
    pub async fn store_event<S: HistoryStore>(store: &S, scope: &str, event: &HistoryEvent) -> Result<()> {
        store.append(scope, std::slice::from_ref(event)).await.map_err(Error::from)
    }

    /// Forgets every event, here and in the store.
    pub async fn clear<S: HistoryStore>(&mut self, store: &S) -> Result<()> {
        self.events.clear();
        store.clear(&self.scope).await.map_err(Error::from)
    }

    /// The history as the JSON document `import_json` reads (`exported_at`: an ISO 8601 time).
    pub fn export_json(&self, exported_at: &str) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Export<'a> {
            format: &'a str,
            version: u32,
            exported_at: &'a str,
            events: &'a [HistoryEvent],
        }
        let doc = Export { format: EXPORT_FORMAT, version: EXPORT_VERSION, exported_at, events: &self.events };
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| String::from("{}"))
    }

    /// Reads an exported history (what `export_json` wrote; the way back after a browser wiped
    /// site data) and adds the events this history lacks, in memory and in the store. A file of
    /// another format or version is an [`Error::InvalidHistory`] and changes nothing; invalid events
    /// in it are skipped and counted.
    pub async fn import_json<S: HistoryStore>(&mut self, store: &S, json: &str, now: f64) -> Result<ImportReport> {
        let (report, added) = self.merge_import(json, now)?;
        store.append(&self.scope, &added).await?;
        Ok(report)
    }

    /// The I/O-free half of [`History::import_json`]: merges the file's new events in memory and
    /// returns them for the store.
    pub fn merge_import(&mut self, json: &str, now: f64) -> Result<(ImportReport, Vec<HistoryEvent>)> {
        let mut report = ImportReport::default();
        let mut valid = Vec::new();
        for raw in parse_export(json)? {
            match raw.validate() {
                Err(why) => *report.skipped.entry(why).or_insert(0) += 1,
                Ok(e) => valid.push(e),
            }
        }
        let offered = valid.len();
        // Bounded first, so the duplicate checks below compare at most maxEvents events each way
        // (plain scans: hashing ids would cost the wasm package more than it saves here).
        Self::bound(&mut valid, self.bounds, now);
        let mut fresh: Vec<HistoryEvent> = Vec::with_capacity(valid.len());
        for e in valid {
            if self.events.contains(&e) || fresh.contains(&e) {
                report.duplicates += 1;
            } else {
                fresh.push(e);
            }
        }
        let mut merged: Vec<HistoryEvent> = self.events.iter().chain(&fresh).cloned().collect();
        Self::bound(&mut merged, self.bounds, now);
        fresh.retain(|e| merged.contains(e));
        report.added = fresh.len();
        report.pruned = offered - report.duplicates - report.added;
        self.events = merged;
        Ok((report, fresh))
    }

    /// Forgets the events in memory only (the caller clears the store; see [`History::clear`]).
    pub fn forget(&mut self) {
        self.events.clear();
    }
}

/// The events of an exported history, unvalidated (each is validated by the caller).
fn parse_export(json: &str) -> Result<Vec<RawRecord>> {
    use serde_json::Value;
    if json.len() > MAX_IMPORT_BYTES {
        return Err(Error::InvalidHistory(format!(
            "{} bytes is more than the {MAX_IMPORT_BYTES} an export can be",
            json.len()
        )));
    }
    // from_slice, as the manifest and tower.json are read: one instantiation of the parser in wasm.
    let doc: Value = serde_json::from_slice(json.as_bytes())
        .map_err(|e| Error::InvalidHistory(format!("not a JSON object: {e}")))?;
    let format = doc.get("format").and_then(Value::as_str);
    if format != Some(EXPORT_FORMAT) {
        return Err(Error::InvalidHistory(format!("format is {format:?}, expected {EXPORT_FORMAT:?}")));
    }
    let version = doc.get("version").and_then(Value::as_f64);
    if version != Some(f64::from(EXPORT_VERSION)) {
        return Err(Error::InvalidHistory(format!(
            "unsupported version {version:?} (this build reads {EXPORT_VERSION})"
        )));
    }
    let events = doc
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::InvalidHistory("no events array".to_owned()))?;
    let loose = |v: Option<&Value>| match v {
        None => Loose::Missing,
        Some(Value::String(s)) => Loose::Str(s.clone()),
        Some(Value::Number(n)) => n.as_f64().map_or(Loose::Other, Loose::Num),
        Some(_) => Loose::Other,
    };
    Ok(events
        .iter()
        .map(|e| {
            RawRecord(e.as_object().map(|o| RawEvent {
                id: loose(o.get("id")),
                kind: loose(o.get("kind")),
                time: loose(o.get("time")),
            }))
        })
        .collect())
}

/// The scope under which a device keeps its random id (what assigns an experiment's variant; the
/// library never sends it anywhere).
pub const DEVICE_SCOPE: &str = "localrec:device";

/// The device's random id kept in `store`: the newest one stored, or `fresh()`, stored for the next
/// visit. A store that cannot be read or written gives `fresh()` for this page only: never an error.
pub async fn device_id<S: HistoryStore>(store: &S, fresh: impl FnOnce() -> String, now: f64) -> String {
    if let Ok(records) = store.load(DEVICE_SCOPE).await {
        let kept = records.into_iter().filter_map(|(_, r)| r.ok()).max_by(|a, b| a.time.total_cmp(&b.time));
        if let Some(e) = kept {
            return e.id;
        }
    }
    let id = fresh();
    if let Ok(e) = HistoryEvent::new(&id, Kind::View.name(), now) {
        let _ = store.append(DEVICE_SCOPE, &[e]).await;
    }
    id
}

/// A [`HistoryStore`] in memory: the test double of the IndexedDB store, and the fallback where
/// IndexedDB is missing, blocked or refuses to open. Records are kept raw, so tests can store
/// anything a damaged disk could hold.
#[derive(Debug, Default)]
pub struct MemoryHistoryStore {
    records: RefCell<Vec<(StoreKey, String, RawRecord)>>,
    next: RefCell<StoreKey>,
    /// When set, every write fails with this error (a full disk, for tests).
    pub fail_writes: RefCell<Option<StoreError>>,
}

impl MemoryHistoryStore {
    pub fn new() -> MemoryHistoryStore {
        MemoryHistoryStore::default()
    }

    /// Stores a raw record as is (`None`: a record that is not an object at all).
    pub fn put_raw(&self, scope: &str, raw: Option<RawEvent>) {
        let mut next = self.next.borrow_mut();
        *next += 1.0;
        self.records.borrow_mut().push((*next, scope.to_owned(), RawRecord(raw)));
    }

    /// Number of records stored for `scope`, valid or not.
    pub fn len(&self, scope: &str) -> usize {
        self.records.borrow().iter().filter(|r| r.1 == scope).count()
    }

    fn check_write(&self) -> std::result::Result<(), StoreError> {
        match &*self.fail_writes.borrow() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl HistoryStore for MemoryHistoryStore {
    async fn load(
        &self,
        scope: &str,
    ) -> std::result::Result<Vec<(StoreKey, std::result::Result<HistoryEvent, SkipReason>)>, StoreError> {
        Ok(self.records.borrow().iter().filter(|r| r.1 == scope).map(|(k, _, raw)| (*k, raw.validate())).collect())
    }

    async fn append(&self, scope: &str, events: &[HistoryEvent]) -> std::result::Result<(), StoreError> {
        self.check_write()?;
        for e in events {
            self.put_raw(scope, Some(RawEvent::from(e)));
        }
        Ok(())
    }

    async fn remove(&self, keys: &[StoreKey]) -> std::result::Result<(), StoreError> {
        self.check_write()?;
        self.records.borrow_mut().retain(|r| !keys.contains(&r.0));
        Ok(())
    }

    async fn clear(&self, scope: &str) -> std::result::Result<(), StoreError> {
        self.check_write()?;
        self.records.borrow_mut().retain(|r| r.1 != scope);
        Ok(())
    }
}
