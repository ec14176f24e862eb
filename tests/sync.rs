//! The loader's policy (`localrec::sync`), natively, over an in-memory server, digest, lock and file
//! store: what a first visit downloads and stores, what a returning one reuses, what falls back to
//! what (a damaged cache, a delta that does not apply, a file that fails its checksum, a broken
//! manifest, no network, a full disk, another tab installing first), and the offline-first update
//! behind a cached answer. The browser's glue over the same functions is tested in Chrome, Firefox
//! and WebKit by `tests/e2e/sync.test.mjs` and `tests/engines`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use common::block_on;
use localrec::cache::{FileStore, MemoryFileStore};
use localrec::catalog::meta::ItemMeta;
use localrec::manifest::{MANIFEST_FORMAT, MANIFEST_VERSION};
use localrec::sync::{
    load, store, update, Digest, Env, Fetch, Fetched, Host, Io, LoadError, LoadEvent, LoadRequest, Loaded, Source,
};
use sha2::Digest as _;

fn hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

const URL: &str = "https://shop.example/model/manifest.json";
const ROLES: [&str; 3] = ["tower-weights", "items-int8", "item-metadata-lrc"];

/// What the server has: the manifest (`None`: unreachable) and files by name.
#[derive(Default, Clone)]
struct Server {
    manifest: Option<String>,
    files: BTreeMap<String, Vec<u8>>,
}

/// One export: `(role, name, bytes)` per file, and deltas `(role, name, base bytes)`.
fn publish(
    server: &mut Server,
    model_version: &str,
    files: &[(&str, &str, Vec<u8>)],
    deltas: &[(&str, &str, Vec<u8>, Vec<u8>)],
) {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|(role, name, bytes)| {
            let ds: Vec<serde_json::Value> = deltas
                .iter()
                .filter(|(r, ..)| r == role)
                .map(|(_, dname, base, delta)| {
                    serde_json::json!({ "from_sha256": hex(base), "name": dname, "bytes": delta.len(), "sha256": hex(delta) })
                })
                .collect();
            serde_json::json!({ "name": name, "role": role, "bytes": bytes.len(), "sha256": hex(bytes), "deltas": ds })
        })
        .collect();
    server.manifest = Some(
        serde_json::json!({
            "format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION, "model_version": model_version, "files": entries,
        })
        .to_string(),
    );
    for (_, name, bytes) in files {
        server.files.insert((*name).into(), bytes.clone());
    }
    for (_, name, _, delta) in deltas {
        server.files.insert((*name).into(), delta.clone());
    }
}

fn meta(titles: &[&str]) -> Vec<u8> {
    ItemMeta::new(titles, vec!["toys".into()], vec![0]).unwrap().encode()
}

fn v1() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("tower-weights", "tower.bin", b"weights of v1".to_vec()),
        ("items-int8", "items.int8.lrc", b"items of v1, a longer file".to_vec()),
        ("item-metadata-lrc", "items.meta.lrc", meta(&["a ball", "a kite"])),
    ]
}

/// v2: new weights and metadata, the same item table.
fn v2() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("tower-weights", "tower-v2.bin", b"weights of v2".to_vec()),
        ("items-int8", "items.int8.lrc", b"items of v1, a longer file".to_vec()),
        ("item-metadata-lrc", "items-v2.meta.lrc", meta(&["a ball", "a red kite", "a yo-yo"])),
    ]
}

/// A lock shared by "tabs": `taken` counts guards alive; `on_lock` runs once the lock is granted
/// (another tab's work done while this one waited).
struct Guard(Rc<Cell<u32>>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// One page visit: the server as it is, the origin's store (shared between visits), and what the
/// loader did.
struct Visit {
    server: RefCell<Server>,
    store: Rc<MemoryFileStore>,
    /// Names a download fails for (`network`).
    failing: RefCell<Vec<String>>,
    /// Names served with wrong bytes (same length).
    tampered: RefCell<Vec<String>>,
    downloads: RefCell<Vec<String>>,
    events: RefCell<Vec<LoadEvent<LoadError>>>,
    progress: RefCell<Vec<(Option<String>, u64, u64)>>,
    aborted: Cell<bool>,
    room: Cell<Option<f64>>,
    locks: Rc<Cell<u32>>,
    on_lock: RefCell<Option<Box<dyn FnOnce()>>>,
    manifests: Cell<u32>,
}

impl Visit {
    fn new(server: &Server, store: &Rc<MemoryFileStore>) -> Visit {
        Visit {
            server: RefCell::new(server.clone()),
            store: store.clone(),
            failing: RefCell::default(),
            tampered: RefCell::default(),
            downloads: RefCell::default(),
            events: RefCell::default(),
            progress: RefCell::default(),
            aborted: Cell::new(false),
            room: Cell::new(None),
            locks: Rc::new(Cell::new(0)),
            on_lock: RefCell::new(None),
            manifests: Cell::new(0),
        }
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.events.borrow().iter().map(LoadEvent::kind).collect()
    }

    fn downloaded(&self) -> Vec<String> {
        let mut d = self.downloads.borrow().clone();
        d.sort();
        d
    }
}

type Prepared = BTreeMap<String, Vec<u8>>;

impl Io for Visit {
    type Bytes = Vec<u8>;
    type Error = LoadError;
}

impl Fetch for Visit {
    type ManifestFetch = std::future::Ready<Result<Fetched<LoadError>, LoadError>>;

    fn fetch_manifest(&self, url: &str) -> Self::ManifestFetch {
        assert_eq!(url, URL);
        self.manifests.set(self.manifests.get() + 1);
        std::future::ready(Ok(match &self.server.borrow().manifest {
            Some(t) => Fetched::Text(t.clone()),
            None => Fetched::Unreachable(LoadError::new("network", "no connection")),
        }))
    }

    async fn download(&self, base: &str, name: &str, bytes: u64, on_chunk: &dyn Fn(u64)) -> Result<Vec<u8>, LoadError> {
        assert_eq!(base, URL);
        self.downloads.borrow_mut().push(name.into());
        if self.aborted.get() {
            return Err(LoadError::new("aborted", "the signal aborted"));
        }
        if self.failing.borrow().iter().any(|n| n == name) {
            return Err(LoadError::new("network", format!("download of {name} failed: connection reset")));
        }
        let mut b =
            self.server.borrow().files.get(name).cloned().ok_or_else(|| LoadError::new("network", "HTTP 404"))?;
        if self.tampered.borrow().iter().any(|n| n == name) {
            b[0] ^= 1;
        }
        if b.len() as u64 != bytes {
            return Err(LoadError::new("size-mismatch", format!("{name}: got {} bytes", b.len())));
        }
        // Two chunks, as a stream would deliver them.
        on_chunk(bytes / 2);
        on_chunk(bytes - bytes / 2);
        Ok(b)
    }

    fn aborted(&self) -> bool {
        self.aborted.get()
    }
}

impl Digest for Visit {
    async fn sha256(&self, bytes: &Vec<u8>) -> Result<String, LoadError> {
        Ok(hex(bytes))
    }
}

impl Host for Visit {
    type Prepared = Prepared;
    type Guard = Guard;

    fn prepare(&self, files: &[(&str, &Vec<u8>)]) -> Result<Prepared, LoadError> {
        if files.iter().any(|(_, b)| b.starts_with(b"undecodable")) {
            return Err(LoadError::new("invalid-model", "the tower does not decode"));
        }
        Ok(files.iter().map(|(r, b)| ((*r).to_owned(), (*b).clone())).collect())
    }
    fn error(&self, e: LoadError) -> LoadError {
        e
    }
    fn message(&self, e: &LoadError) -> String {
        e.message.clone()
    }
    fn emit(&self, event: LoadEvent<LoadError>) {
        self.events.borrow_mut().push(event);
    }
    fn progress(&self, file: Option<&str>, done: u64, total: u64) {
        self.progress.borrow_mut().push((file.map(str::to_owned), done, total));
    }
    async fn lock(&self, url: &str) -> Option<Guard> {
        assert_eq!(url, URL);
        if let Some(other_tab) = self.on_lock.borrow_mut().take() {
            other_tab();
        }
        self.locks.set(self.locks.get() + 1);
        Some(Guard(self.locks.clone()))
    }
    async fn room(&self) -> Option<f64> {
        self.room.get()
    }
    fn now(&self) -> f64 {
        1.0e12
    }
}

impl Env for Visit {
    type Store = MemoryFileStore;
    fn store(&self) -> &MemoryFileStore {
        &self.store
    }
}

fn request(background: bool) -> LoadRequest {
    LoadRequest { url: URL.into(), roles: ROLES.map(String::from).to_vec(), device: None, variant: None, background }
}

/// Loads and, like the page, stores what is new: `(source, prepared, stored)`.
fn open(visit: &Visit) -> Result<(Source, Prepared, bool, Option<LoadError>), LoadError> {
    let (loaded, pending) = block_on(load(visit, &request(false)))?;
    assert!(pending.is_none(), "nothing is left behind without background");
    Ok(finish(visit, loaded))
}

fn finish(visit: &Visit, loaded: Loaded<Visit>) -> (Source, Prepared, bool, Option<LoadError>) {
    let stored = match loaded.store {
        Some(job) => {
            assert!(visit.locks.get() <= 1);
            block_on(store(visit, job))
        }
        None => true,
    };
    assert_eq!(visit.locks.get(), 0, "the lock is released once the version is stored");
    (loaded.source, loaded.prepared, stored, loaded.update_error)
}

/// A server with v1 published.
fn published_v1() -> Server {
    let mut server = Server::default();
    publish(&mut server, "v1", &v1(), &[]);
    server
}

/// A server with v1 published, and a store after one visit to it.
fn visited_v1() -> (Server, Rc<MemoryFileStore>) {
    let server = published_v1();
    let store = Rc::new(MemoryFileStore::new());
    open(&Visit::new(&server, &store)).unwrap();
    (server, store)
}

fn expected(files: &[(&str, &str, Vec<u8>)]) -> Prepared {
    files.iter().map(|(r, _, b)| ((*r).to_owned(), b.clone())).collect()
}

fn cached_version(store: &MemoryFileStore) -> Option<String> {
    let v = block_on(store.version(URL)).unwrap()?;
    let m: serde_json::Value = serde_json::from_str(&v.manifest_json).unwrap();
    Some(m["model_version"].as_str().unwrap().to_owned())
}

#[test]
fn a_first_visit_downloads_verifies_and_stores_then_a_second_reads_the_cache_only() {
    let server = published_v1();
    let store = Rc::new(MemoryFileStore::new());

    let first = Visit::new(&server, &store);
    let (source, prepared, stored, _) = open(&first).unwrap();
    assert_eq!(source, Source::Network);
    assert_eq!(prepared, expected(&v1()));
    assert!(stored);
    assert_eq!(first.downloaded(), ["items.int8.lrc", "items.meta.lrc", "tower.bin"]);
    let total: u64 = v1().iter().map(|f| f.2.len() as u64).sum();
    let progress = first.progress.borrow();
    assert_eq!(progress.first(), Some(&(None, 0, total)), "progress starts at 0 of the planned bytes");
    assert_eq!(progress.last().map(|p| (p.1, p.2)), Some((total, total)), "and ends at all of them");
    assert!(first.kinds().is_empty(), "{:?}", first.kinds());
    assert_eq!(cached_version(&store).as_deref(), Some("v1"));
    assert_eq!(store.stored().len(), 3);

    let second = Visit::new(&server, &store);
    let (source, prepared, _, _) = open(&second).unwrap();
    assert_eq!(source, Source::Cache);
    assert_eq!(prepared, expected(&v1()));
    assert!(second.downloaded().is_empty());
}

#[test]
fn offline_the_cached_version_answers_and_without_one_the_error_says_so() {
    let mut server = Server::default();
    publish(&mut server, "v1", &v1(), &[]);
    let store = Rc::new(MemoryFileStore::new());
    let mut offline = server.clone();
    offline.manifest = None;

    let err = open(&Visit::new(&offline, &store)).unwrap_err();
    assert_eq!(err.code, "offline-no-cache");
    assert!(err.message.contains("no connection"), "{err}");

    open(&Visit::new(&server, &store)).unwrap();
    let visit = Visit::new(&offline, &store);
    let (source, prepared, _, _) = open(&visit).unwrap();
    assert_eq!((source, prepared), (Source::Cache, expected(&v1())));
    assert_eq!(visit.kinds(), ["offline"]);
    assert!(visit.downloaded().is_empty());
}

#[test]
fn a_damaged_cached_file_is_reported_deleted_and_fetched_again() {
    let (server, store) = visited_v1();
    assert!(store.damage(&hex(&v1()[1].2), 3));

    let visit = Visit::new(&server, &store);
    let (source, prepared, stored, _) = open(&visit).unwrap();
    assert_eq!((source, stored), (Source::Network, true));
    assert_eq!(prepared, expected(&v1()), "the damaged bytes never reach the decoder");
    assert_eq!(visit.kinds(), ["corrupt-cache"]);
    assert!(matches!(&visit.events.borrow()[0], LoadEvent::CorruptCache { file, .. } if file == "items.int8.lrc"));
    assert_eq!(visit.downloaded(), ["items.int8.lrc"], "only the damaged file is fetched");

    let healed = Visit::new(&server, &store);
    assert_eq!(open(&healed).unwrap().0, Source::Cache);
}

#[test]
fn a_new_version_reuses_shared_files_and_applies_deltas_to_cached_bases() {
    let (mut server, store) = visited_v1();

    let old = ItemMeta::decode(&v1()[2].2).unwrap();
    let new = ItemMeta::decode(&v2()[2].2).unwrap();
    let delta = old.diff(&["ball", "kite"], &new, &["ball", "kite", "yo-yo"]).unwrap().encode();
    publish(
        &mut server,
        "v2",
        &v2(),
        &[("item-metadata-lrc", "items-v1-to-v2.meta.delta", v1()[2].2.clone(), delta.clone())],
    );

    let visit = Visit::new(&server, &store);
    let (source, prepared, stored, _) = open(&visit).unwrap();
    assert_eq!((source, stored), (Source::Delta, true));
    assert_eq!(prepared, expected(&v2()), "the rebuilt file is the new version's, byte for byte");
    assert_eq!(visit.downloaded(), ["items-v1-to-v2.meta.delta", "tower-v2.bin"], "the shared table is not fetched");
    let total = (delta.len() + v2()[0].2.len()) as u64;
    assert_eq!(visit.progress.borrow().last().map(|p| (p.1, p.2)), Some((total, total)));
    assert_eq!(cached_version(&store).as_deref(), Some("v2"));
    assert_eq!(store.stored().len(), 3, "v1's own files are gone: no version references them");

    // A delta the server broke: reported, and the whole file is fetched instead.
    let store = Rc::new(MemoryFileStore::new());
    let mut v1_server = Server::default();
    publish(&mut v1_server, "v1", &v1(), &[]);
    open(&Visit::new(&v1_server, &store)).unwrap();
    let visit = Visit::new(&server, &store);
    visit.tampered.borrow_mut().push("items-v1-to-v2.meta.delta".into());
    let (source, prepared, _, _) = open(&visit).unwrap();
    assert_eq!((source, prepared), (Source::Network, expected(&v2())));
    assert_eq!(visit.kinds(), ["delta-failed"]);
    assert_eq!(visit.downloaded(), ["items-v1-to-v2.meta.delta", "items-v2.meta.lrc", "tower-v2.bin"]);
}

#[test]
fn a_new_version_that_cannot_be_installed_leaves_the_cached_one_in_use() {
    let mut server = Server::default();
    publish(&mut server, "v1", &v1(), &[]);
    let store = Rc::new(MemoryFileStore::new());
    // First visit, a file fails its checksum: an error, and nothing is cached.
    let visit = Visit::new(&server, &store);
    visit.tampered.borrow_mut().push("tower.bin".into());
    let err = open(&visit).unwrap_err();
    assert_eq!(err.code, "checksum-mismatch");
    assert!(err.message.contains("tower.bin"), "{err}");
    assert!(cached_version(&store).is_none() && store.stored().is_empty());

    open(&Visit::new(&server, &store)).unwrap();
    publish(&mut server, "v2", &v2(), &[]);
    for (what, break_it) in [
        (
            "a checksum",
            Box::new(|v: &Visit| v.tampered.borrow_mut().push("tower-v2.bin".into())) as Box<dyn Fn(&Visit)>,
        ),
        ("the network", Box::new(|v: &Visit| v.failing.borrow_mut().push("items-v2.meta.lrc".into()))),
        (
            "the decoder",
            Box::new(|v: &Visit| {
                let mut s = v.server.borrow_mut();
                let mut files = v2();
                files[0].2 = b"undecodable weights".to_vec();
                publish(&mut s, "v2", &files, &[]);
            }),
        ),
    ] {
        let visit = Visit::new(&server, &store);
        break_it(&visit);
        let (source, prepared, _, update_error) = open(&visit).unwrap();
        assert_eq!((source, prepared), (Source::Cache, expected(&v1())), "{what}");
        assert_eq!(visit.kinds(), ["update-failed"], "{what}");
        assert!(update_error.is_some(), "{what}");
        assert_eq!(cached_version(&store).as_deref(), Some("v1"), "{what}: the cache is as it was");
    }
}

#[test]
fn a_broken_manifest_keeps_the_cached_version_and_is_an_error_without_one() {
    let mut server = Server::default();
    publish(&mut server, "v1", &v1(), &[]);
    let mut broken = server.clone();
    broken.manifest = Some("<html>maintenance</html>".into());
    let store = Rc::new(MemoryFileStore::new());
    assert_eq!(open(&Visit::new(&broken, &store)).unwrap_err().code, "invalid-manifest");

    open(&Visit::new(&server, &store)).unwrap();
    let visit = Visit::new(&broken, &store);
    let (source, _, _, update_error) = open(&visit).unwrap();
    assert_eq!(source, Source::Cache);
    assert_eq!(update_error.map(|e| e.code), Some("invalid-manifest"));
    assert_eq!(visit.kinds(), ["update-failed"]);
}

#[test]
fn a_full_disk_answers_from_memory_and_leaves_the_cache_as_it_was() {
    let (mut server, store) = visited_v1();
    publish(&mut server, "v2", &v2(), &[]);

    let visit = Visit::new(&server, &store);
    visit.room.set(Some(10.0));
    let (source, prepared, stored, _) = open(&visit).unwrap();
    assert_eq!((source, prepared, stored), (Source::Network, expected(&v2()), false));
    assert!(matches!(&visit.events.borrow()[..], [LoadEvent::Degraded { quota: true, .. }]));
    assert_eq!(cached_version(&store).as_deref(), Some("v1"));

    // The store itself refusing (no estimate) is the same.
    let quota_store = Rc::new(MemoryFileStore::with_quota(5));
    let visit = Visit::new(&server, &quota_store);
    let (_, _, stored, _) = open(&visit).unwrap();
    assert!(!stored);
    assert_eq!(visit.kinds(), ["degraded"]);
    assert!(cached_version(&quota_store).is_none());
}

#[test]
fn background_mode_answers_from_the_cache_and_installs_the_update_behind_it() {
    let (mut server, store) = visited_v1();

    // Nothing new: the update finds the cached version current.
    let visit = Visit::new(&server, &store);
    let (loaded, pending) = block_on(load(&visit, &request(true))).unwrap();
    assert_eq!(loaded.source, Source::Cache);
    assert!(block_on(update(&visit, &request(true), pending.expect("the manifest check is left behind"))).is_none());
    assert!(visit.downloaded().is_empty() && visit.kinds().is_empty());

    publish(&mut server, "v2", &v2(), &[]);
    let visit = Visit::new(&server, &store);
    let (loaded, pending) = block_on(load(&visit, &request(true))).unwrap();
    assert_eq!((loaded.source, &loaded.prepared), (Source::Cache, &expected(&v1())), "answers at once");
    assert!(visit.downloaded().is_empty(), "nothing is downloaded before the first answer");
    let newer = block_on(update(&visit, &request(true), pending.unwrap())).expect("v2 is installed behind");
    assert_eq!(newer.manifest.model_version, "v2");
    let (source, prepared, stored, _) = finish(&visit, newer);
    assert_eq!((source, prepared, stored), (Source::Network, expected(&v2()), true));
    assert_eq!(cached_version(&store).as_deref(), Some("v2"));

    // Offline behind a cached answer: reported, nothing changes.
    let mut offline = server.clone();
    offline.manifest = None;
    let visit = Visit::new(&offline, &store);
    let (_, pending) = block_on(load(&visit, &request(true))).unwrap();
    assert!(block_on(update(&visit, &request(true), pending.unwrap())).is_none());
    assert_eq!(visit.kinds(), ["offline"]);
}

#[test]
fn an_abort_is_returned_as_is_with_no_fallback() {
    let (mut server, store) = visited_v1();
    publish(&mut server, "v2", &v2(), &[]);
    let visit = Visit::new(&server, &store);
    visit.aborted.set(true);
    let err = open(&visit).unwrap_err();
    assert_eq!(err.code, "aborted");
    assert!(visit.kinds().is_empty(), "an abort is not an update failure: {:?}", visit.kinds());
}

#[test]
fn a_tab_that_waited_for_the_lock_reads_what_the_other_tab_installed() {
    let mut server = Server::default();
    publish(&mut server, "v1", &v1(), &[]);
    let store = Rc::new(MemoryFileStore::new());
    let waiting = Visit::new(&server, &store);
    // While this tab waits for the lock, another installs the same version.
    let (other_server, other_store) = (server.clone(), store.clone());
    *waiting.on_lock.borrow_mut() = Some(Box::new(move || {
        open(&Visit::new(&other_server, &other_store)).unwrap();
    }));
    let (source, prepared, _, _) = open(&waiting).unwrap();
    assert_eq!((source, prepared), (Source::Cache, expected(&v1())));
    assert!(waiting.downloaded().is_empty(), "nothing is downloaded twice");
}

#[test]
fn a_variant_loads_its_own_files_under_the_base_roles() {
    let mut server = Server::default();
    let mut files = v1();
    files.push(("tower-weights@b", "tower-b.bin", b"weights of variant b".to_vec()));
    publish(&mut server, "v1", &files, &[]);
    let store = Rc::new(MemoryFileStore::new());
    let visit = Visit::new(&server, &store);
    let req = LoadRequest { variant: Some("b".into()), ..request(false) };
    let (loaded, _) = block_on(load(&visit, &req)).unwrap();
    assert_eq!(loaded.prepared["tower-weights"], b"weights of variant b");
    assert_eq!(visit.downloaded(), ["items.int8.lrc", "items.meta.lrc", "tower-b.bin"]);
}

#[test]
fn a_cached_part_is_read_from_the_cache_alone_never_the_network() {
    use localrec::sync::load_cached;
    // Nothing cached: nothing, and no request of any kind.
    let server = published_v1();
    let empty = Rc::new(MemoryFileStore::new());
    let cold = Visit::new(&server, &empty);
    assert!(block_on(load_cached(&cold, &request(true))).unwrap().is_none());
    assert_eq!((cold.manifests.get(), cold.downloaded().len()), (0, 0));
    // Cached: the version, verified, with the cache as its source; still no request.
    let (server, store) = visited_v1();
    let warm = Visit::new(&server, &store);
    let loaded = block_on(load_cached(&warm, &request(true))).unwrap().expect("cached");
    assert_eq!(loaded.source, Source::Cache);
    assert_eq!(loaded.prepared, expected(&v1()));
    assert!(loaded.store.is_none());
    assert_eq!((warm.manifests.get(), warm.downloaded().len()), (0, 0));
    // A cached file damaged: reported, deleted, and nothing (the caller loads it behind the first answer).
    let sha = block_on(store.version(URL)).unwrap().unwrap().files[1].1.clone();
    assert!(store.damage(&sha, 0));
    let damaged = Visit::new(&server, &store);
    assert!(block_on(load_cached(&damaged, &request(true))).unwrap().is_none());
    assert_eq!(damaged.kinds(), ["corrupt-cache"]);
    assert_eq!((damaged.manifests.get(), damaged.downloaded().len()), (0, 0));
}
