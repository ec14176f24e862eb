//! The manifest and item metadata checks (natively and in Chrome, Firefox and WebKit): a good
//! export passes; another format or version, a duplicated role, a file name that leaves the
//! manifest's directory or origin, an oversized file, a bad digest, a missing role are each an
//! `invalid-manifest` error naming the problem; items.json is checked against its catalogue.

use localrec::manifest::{check_name, ItemMetadata, Manifest, MAX_FILE_BYTES};
use localrec::Catalog;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const MANIFEST: &[u8] = include_bytes!("../www/artifacts/synthetic/manifest.json");
const ITEMS_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/items.json");
const ITEMS_INT8: &[u8] = include_bytes!("../www/artifacts/synthetic/items.int8.lrc");

fn roles() -> Vec<String> {
    ["tower-config", "tower-weights", "items-int8", "item-metadata"].map(String::from).to_vec()
}

fn edited(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(MANIFEST).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn rejects(json: &[u8], needle: &str) {
    let err = Manifest::parse(json).and_then(|m| m.entries(&roles()).map(|_| ())).unwrap_err();
    assert_eq!(err.code(), "invalid-manifest", "{err}");
    assert!(err.to_string().contains(needle), "{err} should mention {needle:?}");
}

#[test]
fn the_shipped_manifest_is_valid() {
    let m = Manifest::parse(MANIFEST).unwrap();
    let e = m.entries(&roles()).unwrap();
    assert_eq!(
        e.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["tower.json", "tower.bin", "items.int8.lrc", "items.json"]
    );
}

#[test]
fn bad_manifests_are_named() {
    rejects(b"<html>", "not JSON");
    rejects(b"[]", "not a JSON object");
    rejects(&edited(|v| v["format"] = "other".into()), "not a localrec manifest");
    rejects(&edited(|v| v["format_version"] = 2.into()), "unsupported manifest version 2");
    rejects(&edited(|v| v["model_version"] = "".into()), "model_version");
    rejects(&edited(|v| v["files"][1]["role"] = "tower-config".into()), "listed twice");
    rejects(&edited(|v| v["files"][0]["sha256"] = "ABC".into()), "sha256");
    rejects(&edited(|v| v["files"][0]["bytes"] = (MAX_FILE_BYTES + 1).into()), "more than");
    rejects(&edited(|v| v["files"][0]["bytes"] = (-1).into()), "bytes must be a whole number");
    rejects(
        &edited(|v| {
            v["files"].as_array_mut().unwrap().remove(1);
        }),
        "tower-weights",
    );
    for name in [
        "https://evil.example/tower.json",
        "//evil.example/t",
        "/abs/tower.json",
        "../tower.json",
        "a/../../t",
        "a\\b",
        "t.json?x=1",
        "",
        "a//b",
    ] {
        rejects(&edited(|v| v["files"][0]["name"] = name.into()), "not a plain relative path");
    }
    rejects(
        &edited(|v| {
            v["files"][2]["deltas"] =
                serde_json::json!([{ "from_sha256": "00", "name": "d.delta", "bytes": 10, "sha256": "00" }])
        }),
        "sha256",
    );
}

#[test]
fn alternative_roles_take_the_first_listed() {
    let m = Manifest::parse(MANIFEST).unwrap();
    let pick = |role: &str| {
        let roles = vec!["tower-config".to_string(), role.to_string()];
        m.entries(&roles).map(|e| e[1].role.clone())
    };
    // The shipped demo lists int8, pq and f32 tables.
    assert_eq!(pick("items-pq|items-int8").unwrap(), "items-pq");
    assert_eq!(pick("items-int8|items-pq").unwrap(), "items-int8");
    assert_eq!(pick("items-none|items-f32").unwrap(), "items-f32");
    let err = pick("items-none|items-other").unwrap_err();
    assert!(err.to_string().contains("items-none|items-other"), "{err}");
    // Without a pq table, a pq-first request falls back to the next.
    let no_pq = edited(|v| v["files"].as_array_mut().unwrap().retain(|f| f["role"] != "items-pq"));
    let m = Manifest::parse(&no_pq).unwrap();
    let roles = vec!["items-pq|items-int8|items-f32".to_string()];
    assert_eq!(m.entries(&roles).unwrap()[0].role, "items-int8");
    // A role cannot itself contain the separator.
    rejects(&edited(|v| v["files"][0]["role"] = "a|b".into()), "contains '|'");
}

#[test]
fn names_inside_the_manifest_directory_are_accepted() {
    for name in ["items.int8.lrc", "v2/items.json", "a-b_c.1/x.delta"] {
        check_name(name).unwrap();
    }
}

#[test]
fn item_metadata_is_checked_against_its_catalogue() {
    let catalog = Catalog::decode(ITEMS_INT8).unwrap();
    let meta = ItemMetadata::parse(ITEMS_JSON).unwrap();
    meta.check_against(&catalog).unwrap();
    let mut bad = meta.clone();
    bad.popular.push("sku-that-left".into());
    let err = bad.check_against(&catalog).unwrap_err();
    assert!(err.to_string().contains("sku-that-left"), "{err}");
    let mut bad = meta.clone();
    bad.categories.truncate(2);
    let err = bad.check_against(&catalog).unwrap_err();
    assert!(err.to_string().contains("category code"), "{err}");
    assert_eq!(err.code(), "corrupt-file");
    assert_eq!(ItemMetadata::parse(b"{\"items\": 3}").unwrap_err().code(), "corrupt-file");
}
