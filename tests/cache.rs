//! The cache of downloaded files: one suite, run natively against the in-memory store and in
//! Chrome, Firefox and WebKit against the real IndexedDB store (`wasm-pack test`). A commit is all
//! or nothing; two manifests of one origin (two precisions, two models) never evict each other's
//! files; a file shared by two versions is kept once and dropped when the last version using it
//! goes; a deleted (damaged) file reads as missing; a malformed version record reads as none.

use localrec::cache::{FileStore, NewFile, VersionRecord};

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn version(url: &str, files: &[(&str, u8)]) -> VersionRecord {
    VersionRecord {
        manifest_url: url.to_owned(),
        manifest_json: format!(r#"{{"model_version":"{url}"}}"#),
        files: files.iter().map(|(role, n)| (role.to_string(), sha(*n))).collect(),
        stored_at: 1.0,
    }
}

/// A version whose manifest is a real one, giving each file's size (file `n` has `10 + n` bytes).
fn sized_version(url: &str, files: &[(&str, u8)]) -> VersionRecord {
    let entries: Vec<String> = files
        .iter()
        .map(|(role, n)| {
            format!(r#"{{"name":"f{n}","role":"{role}","bytes":{},"sha256":"{}"}}"#, 10 + *n as u64, sha(*n))
        })
        .collect();
    let manifest_json = format!(
        r#"{{"format":"localrec-manifest","format_version":1,"model_version":"m-{}","files":[{}]}}"#,
        url.len(),
        entries.join(",")
    );
    VersionRecord { manifest_json, ..version(url, files) }
}

/// What the suite needs beyond [`FileStore`]: bytes in and out, and the stored digests.
#[allow(async_fn_in_trait)]
trait TestStore: FileStore {
    fn bytes(v: Vec<u8>) -> Self::Bytes;
    fn vec(b: &Self::Bytes) -> Vec<u8>;
    async fn stored(&self) -> Vec<String>;
}

fn file<S: TestStore>(n: u8) -> NewFile<S::Bytes> {
    NewFile { sha256: sha(n), name: format!("file-{n}"), bytes: S::bytes(vec![n; 10 + n as usize]) }
}

async fn commit_then_read<S: TestStore>(store: &S) {
    assert_eq!(store.version("https://x/a.json").await.unwrap(), None);
    let a = version("https://x/a.json", &[("tower", 1), ("items", 2)]);
    store.commit(&a, vec![file::<S>(1), file::<S>(2)]).await.unwrap();
    assert_eq!(store.version("https://x/a.json").await.unwrap(), Some(a));
    let got = store.files(&[sha(2), sha(9), sha(1)]).await.unwrap();
    let got: Vec<Option<Vec<u8>>> = got.iter().map(|b| b.as_ref().map(S::vec)).collect();
    assert_eq!(got, vec![Some(vec![2; 12]), None, Some(vec![1; 11])]);
}

async fn manifests_never_evict_each_other<S: TestStore>(store: &S) {
    // Two manifests (say int8 and f32, or two models) sharing the tower (file 2).
    store.commit(&version("https://x/a.json", &[("t", 2), ("i", 1)]), vec![file::<S>(1), file::<S>(2)]).await.unwrap();
    store.commit(&version("https://x/b.json", &[("t", 2), ("i", 3)]), vec![file::<S>(3)]).await.unwrap();
    assert_eq!(store.stored().await, [sha(1), sha(2), sha(3)]);
    // a moves to a new table: its old one goes, the shared tower stays (b uses it).
    store.commit(&version("https://x/a.json", &[("t", 4), ("i", 5)]), vec![file::<S>(4), file::<S>(5)]).await.unwrap();
    assert_eq!(store.stored().await, [sha(2), sha(3), sha(4), sha(5)]);
    // b moves too: nothing uses file 2 any more.
    store.commit(&version("https://x/b.json", &[("t", 4), ("i", 3)]), vec![]).await.unwrap();
    assert_eq!(store.stored().await, [sha(3), sha(4), sha(5)]);
    assert_eq!(store.version("https://x/a.json").await.unwrap().unwrap().files[0].1, sha(4));
}

async fn a_deleted_file_reads_as_missing<S: TestStore>(store: &S) {
    store.commit(&version("https://x/c.json", &[("t", 6), ("i", 7)]), vec![file::<S>(6), file::<S>(7)]).await.unwrap();
    store.delete_file(&sha(7)).await.unwrap();
    store.delete_file(&sha(8)).await.unwrap(); // unknown: nothing to do
    let got = store.files(&[sha(6), sha(7)]).await.unwrap();
    assert!(got[0].is_some() && got[1].is_none());
    assert!(store.version("https://x/c.json").await.unwrap().is_some(), "the version stays; its file is fetched again");
}

async fn a_malformed_version_is_refused_and_changes_nothing<S: TestStore>(store: &S) {
    store.commit(&version("https://x/d.json", &[("t", 10)]), vec![file::<S>(10)]).await.unwrap();
    let before = store.stored().await;
    let mut bad = version("https://x/d.json", &[("t", 11)]);
    bad.files[0].1 = "not-a-digest".into();
    assert!(store.commit(&bad, vec![file::<S>(11)]).await.is_err());
    let twice = version("https://x/d.json", &[("t", 11), ("t", 12)]);
    assert!(store.commit(&twice, vec![file::<S>(11)]).await.is_err());
    assert_eq!(store.stored().await, before);
    assert_eq!(store.version("https://x/d.json").await.unwrap().unwrap().files, vec![("t".to_owned(), sha(10))]);
}

async fn summary_then_clear<S: TestStore>(store: &S) {
    use localrec::cache::summarize;
    let a = sized_version("https://x/s.json", &[("t", 1), ("i", 2)]);
    store.commit(&a, vec![file::<S>(1), file::<S>(2)]).await.unwrap();
    let b = sized_version("https://x/long.json", &[("t", 1), ("i", 3)]);
    store.commit(&b, vec![file::<S>(3)]).await.unwrap();
    let (versions, stored) = store.contents().await.unwrap();
    let mut s = summarize(&versions, &stored);
    s.versions.sort_by(|x, y| x.manifest_url.cmp(&y.manifest_url));
    assert_eq!(s.files, 3, "the shared file counts once");
    assert_eq!(s.bytes, 11 + 12 + 13);
    let got: Vec<(&str, &str, u64)> =
        s.versions.iter().map(|v| (v.manifest_url.as_str(), v.model_version.as_str(), v.bytes)).collect();
    assert_eq!(got, [("https://x/long.json", "m-19", 11 + 13), ("https://x/s.json", "m-16", 11 + 12)]);
    // Cleared at once: no version, no file; and the store works as before afterwards.
    store.clear().await.unwrap();
    assert!(store.stored().await.is_empty());
    assert_eq!(store.version("https://x/s.json").await.unwrap(), None);
    assert_eq!(summarize(&store.contents().await.unwrap().0, &[]).versions.len(), 0);
    store.commit(&a, vec![file::<S>(1), file::<S>(2)]).await.unwrap();
    assert_eq!(store.version("https://x/s.json").await.unwrap(), Some(a));
}

#[test]
#[cfg(not(target_arch = "wasm32"))]
fn unreferenced_lists_what_no_version_uses() {
    let v = [version("a", &[("t", 1), ("i", 2)]), version("b", &[("t", 2)])];
    use localrec::cache::unreferenced;
    assert_eq!(unreferenced(v.iter(), &[sha(1), sha(2), sha(3)]), vec![sha(3)]);
    assert_eq!(unreferenced([].iter(), &[sha(1)]), vec![sha(1)]);
}

// ---- native: the in-memory store ------------------------------------------------------------

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use crate::common::block_on;
    use localrec::cache::MemoryFileStore;

    impl TestStore for MemoryFileStore {
        fn bytes(v: Vec<u8>) -> Vec<u8> {
            v
        }
        fn vec(b: &Vec<u8>) -> Vec<u8> {
            b.clone()
        }
        async fn stored(&self) -> Vec<String> {
            MemoryFileStore::stored(self)
        }
    }

    #[test]
    fn commit_and_read() {
        block_on(commit_then_read(&MemoryFileStore::new()));
    }

    #[test]
    fn two_manifests() {
        block_on(manifests_never_evict_each_other(&MemoryFileStore::new()));
    }

    #[test]
    fn deleted_file() {
        block_on(a_deleted_file_reads_as_missing(&MemoryFileStore::new()));
    }

    #[test]
    fn malformed_version() {
        block_on(a_malformed_version_is_refused_and_changes_nothing(&MemoryFileStore::new()));
    }

    #[test]
    fn summary_and_clear() {
        block_on(summary_then_clear(&MemoryFileStore::new()));
    }

    #[test]
    fn a_full_store_refuses_the_commit_whole() {
        let store = MemoryFileStore::with_quota(15);
        block_on(store.commit(&version("u", &[("t", 1)]), vec![file::<MemoryFileStore>(1)])).unwrap();
        let err = block_on(store.commit(
            &version("u", &[("t", 2), ("i", 3)]),
            vec![file::<MemoryFileStore>(2), file::<MemoryFileStore>(3)],
        ))
        .unwrap_err();
        assert!(err.quota, "{err:?}");
        assert_eq!(store.stored(), [sha(1)]);
        assert_eq!(block_on(store.version("u")).unwrap().unwrap().files, vec![("t".to_owned(), sha(1))]);
    }

    #[test]
    fn damage_flips_a_stored_byte() {
        let store = MemoryFileStore::new();
        block_on(store.commit(&version("u", &[("t", 1)]), vec![file::<MemoryFileStore>(1)])).unwrap();
        assert!(store.damage(&sha(1), 3));
        assert!(!store.damage(&sha(9), 0));
        assert_eq!(block_on(store.files(&[sha(1)])).unwrap()[0].as_ref().unwrap()[3], 1 ^ 1);
    }
}

// ---- in browsers: IndexedDB ------------------------------------------------------------------

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::*;
    use js_sys::{Array, Object, Reflect, Uint8Array};
    use localrec::history::StoreError;
    use localrec::wasm::cache::IdbFileStore;
    use localrec::wasm::idb;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;

    struct Db(web_sys::IdbDatabase, IdbFileStore);

    impl FileStore for Db {
        type Bytes = Uint8Array;
        async fn version(&self, url: &str) -> Result<Option<VersionRecord>, StoreError> {
            self.1.version(url).await
        }
        async fn files(&self, shas: &[String]) -> Result<Vec<Option<Uint8Array>>, StoreError> {
            self.1.files(shas).await
        }
        async fn delete_file(&self, sha: &str) -> Result<(), StoreError> {
            self.1.delete_file(sha).await
        }
        async fn commit(&self, v: &VersionRecord, files: Vec<NewFile<Uint8Array>>) -> Result<(), StoreError> {
            self.1.commit(v, files).await
        }
        async fn contents(&self) -> Result<(Vec<VersionRecord>, Vec<String>), StoreError> {
            self.1.contents().await
        }
        async fn clear(&self) -> Result<(), StoreError> {
            self.1.clear().await
        }
    }

    impl TestStore for Db {
        fn bytes(v: Vec<u8>) -> Uint8Array {
            Uint8Array::from(&v[..])
        }
        fn vec(b: &Uint8Array) -> Vec<u8> {
            b.to_vec()
        }
        async fn stored(&self) -> Vec<String> {
            let tx = self.0.transaction_with_str(idb::FILES).unwrap();
            let keys = idb::request(&tx.object_store(idb::FILES).unwrap().get_all_keys().unwrap()).await.unwrap();
            Array::from(&keys).iter().map(|k| k.as_string().unwrap()).collect()
        }
    }

    async fn fresh_db(name: &str) -> Db {
        let db = crate::common::fresh_database(name).await;
        Db(db.clone(), IdbFileStore::new(db))
    }

    #[wasm_bindgen_test]
    async fn commit_and_read() {
        commit_then_read(&fresh_db("c-read").await).await;
    }

    #[wasm_bindgen_test]
    async fn two_manifests() {
        manifests_never_evict_each_other(&fresh_db("c-two").await).await;
    }

    #[wasm_bindgen_test]
    async fn summary_and_clear() {
        summary_then_clear(&fresh_db("c-summary").await).await;
    }

    #[wasm_bindgen_test]
    async fn deleted_file() {
        a_deleted_file_reads_as_missing(&fresh_db("c-deleted").await).await;
    }

    #[wasm_bindgen_test]
    async fn malformed_version() {
        a_malformed_version_is_refused_and_changes_nothing(&fresh_db("c-malformed").await).await;
    }

    #[wasm_bindgen_test]
    async fn a_damaged_version_record_reads_as_none() {
        let db = fresh_db("c-damaged").await;
        // What an older version, another tool or a damaged disk could leave.
        let records: Vec<JsValue> = vec![
            JsValue::from_str("just a string"),
            {
                let o = Object::new();
                Reflect::set(&o, &"manifestUrl".into(), &"https://x/m.json".into()).unwrap();
                Reflect::set(&o, &"files".into(), &"nope".into()).unwrap();
                o.into()
            },
            {
                let o = Object::new();
                let files = Object::new();
                Reflect::set(&files, &"t".into(), &JsValue::from_f64(5.0)).unwrap();
                Reflect::set(&o, &"manifestUrl".into(), &"https://x/n.json".into()).unwrap();
                Reflect::set(&o, &"manifest".into(), &Object::new()).unwrap();
                Reflect::set(&o, &"files".into(), &files).unwrap();
                o.into()
            },
        ];
        for (i, rec) in records.iter().enumerate() {
            let tx = db.0.transaction_with_str_and_mode(idb::VERSIONS, web_sys::IdbTransactionMode::Readwrite).unwrap();
            let store = tx.object_store(idb::VERSIONS).unwrap();
            if rec.is_object() {
                store.put(rec).unwrap();
            } else {
                // Out-of-line: the store's key path cannot read a string.
                let o = Object::new();
                Reflect::set(&o, &"manifestUrl".into(), &format!("https://x/{i}.json").into()).unwrap();
                Reflect::set(&o, &"raw".into(), rec).unwrap();
                store.put(&o).unwrap();
            }
            idb::done(&tx).await.unwrap();
        }
        for url in ["https://x/0.json", "https://x/m.json", "https://x/n.json"] {
            assert_eq!(db.version(url).await.unwrap(), None, "{url}");
        }
        // And a commit next to them still works, dropping no file a valid version uses.
        commit_then_read(&db).await;
    }

    #[wasm_bindgen_test]
    async fn the_js_class_round_trips() {
        use localrec::wasm::JsFileCache;
        // Through the JS-facing class, as js/store.js uses it: memory and IndexedDB alike.
        let db = fresh_db("c-js").await;
        for cache in [JsFileCache::memory(), JsFileCache::indexed_db(db.0.clone())] {
            let v = Object::new();
            let files = Object::new();
            Reflect::set(&files, &"items".into(), &sha(1).into()).unwrap();
            Reflect::set(&v, &"manifestUrl".into(), &"https://x/js.json".into()).unwrap();
            Reflect::set(&v, &"manifest".into(), &js_sys::JSON::parse(r#"{"model_version":"m1"}"#).unwrap()).unwrap();
            Reflect::set(&v, &"files".into(), &files).unwrap();
            let f = Object::new();
            Reflect::set(&f, &"sha256".into(), &sha(1).into()).unwrap();
            Reflect::set(&f, &"name".into(), &"items.lrc".into()).unwrap();
            Reflect::set(&f, &"bytes".into(), &Uint8Array::from(&[1u8, 2, 3][..])).unwrap();
            let commit = cache.commit_version(v.into(), Array::of1(&f)).unwrap();
            wasm_bindgen_futures::JsFuture::from(commit).await.unwrap();
            let got =
                wasm_bindgen_futures::JsFuture::from(cache.get_version("https://x/js.json".into())).await.unwrap();
            let manifest = Reflect::get(&got, &"manifest".into()).unwrap();
            assert_eq!(Reflect::get(&manifest, &"model_version".into()).unwrap().as_string().as_deref(), Some("m1"));
            let list = wasm_bindgen_futures::JsFuture::from(cache.get_files(vec![sha(1), sha(2)])).await.unwrap();
            let list = Array::from(&list);
            assert_eq!(list.get(0).unchecked_into::<Uint8Array>().to_vec(), vec![1, 2, 3]);
            assert!(list.get(1).is_null());
            // Hostile arguments: a typed error, never a panic.
            assert!(cache.commit_version(JsValue::from_f64(1.0), Array::new()).is_err());
            assert!(cache.commit_version(JsValue::NULL, Array::of1(&JsValue::from_str("x"))).is_err());
        }
    }
}
