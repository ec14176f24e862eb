//! The manifest's first answer (`first_answer`): what a first visit shows before the wasm module and
//! the model arrive. It must be the model's own answer to an empty history, under the manifest's
//! rules, and stay so when the rules change (`localrec-train --first-answer`).
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use localrec::train::export::{first_answer, write_first_answer, FIRST_ANSWER_ITEMS};
use localrec::Manifest;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/artifacts/synthetic");

/// A copy of the demo export (its default files) in a fresh directory.
fn copy_demo(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("localrec-first-answer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["manifest.json", "tower.json", "tower.bin", "items.int8.lrc", "items.meta.lrc", "items.json"] {
        std::fs::copy(Path::new(DEMO).join(f), dir.join(f)).unwrap();
    }
    dir
}

#[test]
fn the_shipped_manifests_carry_the_models_own_first_answer() {
    for name in ["manifest.json", "experiment.json"] {
        let path = Path::new(DEMO).join(name);
        let shipped = Manifest::parse(&std::fs::read(&path).unwrap()).unwrap().first_answer;
        assert_eq!(shipped.len(), FIRST_ANSWER_ITEMS, "{name}");
        // Recomputed from the files: the same items, in the same order (not a stale list).
        assert_eq!(
            first_answer(&path).unwrap(),
            shipped,
            "{name}: run localrec-train --first-answer {}",
            path.display()
        );
        assert!(shipped.iter().all(|x| !x.pinned && x.score == 0.0 && !x.title.is_empty()), "{name}");
    }
}

#[test]
fn rules_edited_by_hand_are_kept_and_obeyed() {
    let dir = copy_demo("rules");
    let path = dir.join("manifest.json");
    let before = write_first_answer(&dir).unwrap().first_answer;
    let (top, pinned) = (before[0].id.clone(), before[5].id.clone());
    // Block the most popular item and pin the sixth at position 2, by hand.
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["rules"] = serde_json::json!({ "block": [top], "pin": [{ "id": pinned, "position": 2 }] });
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let after = write_first_answer(&path).unwrap();
    let ids: Vec<&str> = after.first_answer.iter().map(|x| x.id.as_str()).collect();
    assert!(!ids.contains(&top.as_str()), "the blocked item is out: {ids:?}");
    assert_eq!(ids[2], pinned, "the pin holds: {ids:?}");
    assert!(after.first_answer[2].pinned);
    assert_eq!(after.first_answer.iter().filter(|x| x.pinned).count(), 1);
    assert_eq!(ids.len(), FIRST_ANSWER_ITEMS);
    // The rules stay in the file, and a second run changes nothing.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(Manifest::parse(text.as_bytes()).unwrap().rules.is_some());
    write_first_answer(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_malformed_first_answer_is_an_invalid_manifest() {
    let shipped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(DEMO).join("manifest.json")).unwrap()).unwrap();
    let item = serde_json::json!({ "id": "sku-00001", "title": "t", "score": 0.0 });
    for bad in [
        serde_json::json!([{ "id": 7, "title": "t", "score": 0.0 }]),
        serde_json::json!([{ "id": "", "title": "t", "score": 0.0 }]),
        serde_json::json!([{ "id": "a", "score": 0.0 }]),
        serde_json::json!([{ "id": "a", "title": "t", "score": "high" }]),
        serde_json::json!([{ "id": "a", "title": "t", "score": 0.0, "pinned": "yes" }]),
        serde_json::json!({ "id": "a" }),
        serde_json::Value::Array(vec![item; 51]),
    ] {
        let mut m = shipped.clone();
        m["first_answer"] = bad.clone();
        let e = Manifest::parse(serde_json::to_string(&m).unwrap().as_bytes()).unwrap_err();
        assert_eq!(e.code(), "invalid-manifest", "{bad}");
    }
    // Absent or null: no first answer (an older export).
    let mut m = shipped.clone();
    m.as_object_mut().unwrap().remove("first_answer");
    assert!(Manifest::parse(serde_json::to_string(&m).unwrap().as_bytes()).unwrap().first_answer.is_empty());
}
