//! What a page's options ask the loader for (`localrec::request`): the files the first answer
//! waits for, what follows it, and when a cached ranking stage is attached first.

use localrec::request::{DeviceClass, FileRequest};
use localrec::Manifest;

const MANIFEST: &[u8] = include_bytes!("../www/artifacts/synthetic/manifest.json");

fn request(ranking: Option<&str>, auto_stage_bytes: Option<f64>) -> FileRequest {
    FileRequest::parse(None, ranking, None, auto_stage_bytes, DeviceClass::default()).unwrap()
}

fn manifest() -> Manifest {
    Manifest::parse(MANIFEST).unwrap()
}

#[test]
fn only_two_stage_waits_for_the_ranking_stage() {
    let m = manifest();
    let ranker = m.files.iter().find(|f| f.role == "ranker").expect("the demo ships a ranking stage");
    for (mode, waits, behind) in [
        (None, false, true),
        (Some("auto"), false, true),
        (Some("progressive"), false, true),
        (Some("two-stage"), true, false),
        (Some("tower"), false, false),
    ] {
        let r = request(mode, None);
        let roles = r.roles();
        assert_eq!(roles.iter().any(|x| x.starts_with("ranker")), waits, "{mode:?}: {roles:?}");
        assert_eq!(r.stage_behind(&m).is_some(), behind, "{mode:?}");
        // The first answer's files resolve in the manifest either way: the tower's and one table.
        let files = m.entries(&roles).unwrap();
        assert_eq!(files.iter().any(|f| f.role == "ranker"), waits, "{mode:?}");
        assert!(files.iter().any(|f| f.role == "items-int8"), "{mode:?}");
    }
    // The full model (a shadow variant's) always includes it.
    assert!(request(Some("tower"), None).full_roles().iter().any(|x| x == "ranker"));
    assert!(ranker.bytes > 1000);
}

#[test]
fn auto_attaches_a_cached_stage_first_up_to_its_size_limit() {
    let m = manifest();
    let bytes = m.files.iter().find(|f| f.role == "ranker").unwrap().bytes;
    assert!(request(None, None).stage_first_if_cached(&m), "the default");
    assert!(request(Some("auto"), Some(bytes as f64)).stage_first_if_cached(&m), "a limit of exactly its size");
    assert!(!request(Some("auto"), Some((bytes - 1) as f64)).stage_first_if_cached(&m), "one byte over the limit");
    for mode in ["progressive", "two-stage", "tower"] {
        assert!(!request(Some(mode), None).stage_first_if_cached(&m), "{mode}");
    }
    // A manifest without a stage: nothing to attach, nothing behind.
    let mut none = m.clone();
    none.files.retain(|f| f.role != "ranker");
    assert!(!request(None, None).stage_first_if_cached(&none));
    assert!(request(None, None).stage_behind(&none).is_none());
}

#[test]
fn a_constrained_device_never_downloads_a_large_stage_unless_asked() {
    let m = manifest();
    let bytes = m.files.iter().find(|f| f.role == "ranker").unwrap().bytes as f64;
    for device in
        [DeviceClass { save_data: true, memory_gb: None }, DeviceClass { save_data: false, memory_gb: Some(2.0) }]
    {
        let req =
            |ranking: Option<&str>, limit: f64| FileRequest::parse(None, ranking, None, Some(limit), device).unwrap();
        assert!(req(None, bytes).stage_behind(&m).is_some(), "{device:?}: a stage within the limit follows");
        assert!(req(None, bytes - 1.0).stage_behind(&m).is_none(), "{device:?}: a larger one is never fetched");
        assert!(req(Some("progressive"), bytes - 1.0).stage_behind(&m).is_some(), "{device:?}: unless the app asks");
        assert!(req(Some("two-stage"), bytes - 1.0).roles().iter().any(|r| r == "ranker"), "{device:?}");
    }
    // An ordinary device (4 GB) loads it behind whatever its size.
    let ordinary = DeviceClass { save_data: false, memory_gb: Some(4.0) };
    let r = FileRequest::parse(None, None, None, Some(bytes - 1.0), ordinary).unwrap();
    assert!(r.stage_behind(&m).is_some());
}

#[test]
fn bad_options_are_typed_errors() {
    for (ranking, bytes) in [(Some("fast"), None), (None, Some(-1.0)), (None, Some(1.5)), (None, Some(f64::NAN))] {
        let e = FileRequest::parse(None, ranking, None, bytes, DeviceClass::default()).unwrap_err();
        assert_eq!(e.code(), "invalid-argument", "{ranking:?} {bytes:?}");
    }
}
