//! The manifest and item metadata checks (natively and in Chrome, Firefox and WebKit): a good
//! export passes; another format or version, a duplicated role, a file name that leaves the
//! manifest's directory or origin, an oversized file, a bad digest, a missing role are each an
//! `invalid-manifest` error naming the problem; items.json is checked against its catalog.

use localrec::manifest::{check_name, ItemsJson, Manifest, MAX_FILE_BYTES};
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
fn the_manifests_compact_table_comes_first_among_the_compact_alternatives() {
    let pick = |m: &Manifest, role: &str| m.entries(&[role.to_string()]).unwrap()[0].role.clone();
    // The shipped export names the compact table its trainer chose on validation; a manifest
    // written before the exporter did names none, and the request's order stands.
    assert_eq!(Manifest::parse(MANIFEST).unwrap().compact_table.as_deref(), Some("items-pq"));
    let m = Manifest::parse(&edited(|v| {
        v.as_object_mut().unwrap().remove("compact_table");
    }))
    .unwrap();
    assert_eq!(m.compact_table, None);
    assert_eq!(pick(&m, "items-pq|items-pca|items-f32"), "items-pq");
    assert_eq!(pick(&m, "items-pca|items-pq|items-f32"), "items-pca");
    let pca = Manifest::parse(&edited(|v| v["compact_table"] = "items-pca".into())).unwrap();
    assert_eq!(pca.compact_table.as_deref(), Some("items-pca"));
    // Among the compact tables only: int8 first stays first, the rest keep their order.
    assert_eq!(pick(&pca, "items-pq|items-pca|items-int8|items-f32"), "items-pca");
    assert_eq!(pick(&pca, "items-int8|items-pq|items-pca|items-f32"), "items-int8");
    assert_eq!(pick(&pca, "items-pq|items-f32"), "items-pq");
    // Variant roles keep their precedence over base roles of the same table.
    let v = localrec::manifest::variant_roles(&["items-pq|items-pca".to_string()], Some("b"));
    assert_eq!(pca.entries(&v).unwrap()[0].role, "items-pca");
    let pq = Manifest::parse(&edited(|v| v["compact_table"] = "items-pq".into())).unwrap();
    assert_eq!(pick(&pq, "items-pca|items-pq"), "items-pq");
    rejects(&edited(|v| v["compact_table"] = "items-f32".into()), "compact_table");
    rejects(&edited(|v| v["compact_table"] = 3.into()), "compact_table");
}

#[test]
fn an_optional_role_with_a_size_limit_is_left_out_above_it() {
    let m = Manifest::parse(MANIFEST).unwrap();
    let ranker = m.files.iter().find(|f| f.role == "ranker").unwrap().bytes;
    let names = |roles: &[&str]| -> Vec<String> {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        m.entries(&roles).unwrap().iter().map(|f| f.role.clone()).collect()
    };
    assert_eq!(names(&["tower-config", &format!("ranker<={ranker}")]), ["tower-config", "ranker"]);
    assert_eq!(names(&["tower-config", &format!("ranker<={}", ranker - 1)]), ["tower-config"]);
    // With a variant, the limit stays at the end and still applies.
    let v = localrec::manifest::variant_roles(&[format!("ranker<={}", ranker - 1)], Some("b"));
    assert_eq!(v, [format!("ranker@b|ranker<={}", ranker - 1)]);
    assert!(m.entries(&v).unwrap().is_empty());
    let v = localrec::manifest::variant_roles(&[format!("ranker<={ranker}")], Some("b"));
    assert_eq!(m.entries(&v).unwrap()[0].role, "ranker");
    // A required role is never left out for its size.
    assert_eq!(names(&["tower-config<=1"]), ["tower-config"]);
}

#[test]
fn names_inside_the_manifest_directory_are_accepted() {
    for name in ["items.int8.lrc", "v2/items.json", "a-b_c.1/x.delta"] {
        check_name(name).unwrap();
    }
}

#[test]
fn item_metadata_is_checked_against_its_catalog() {
    let catalog = Catalog::decode(ITEMS_INT8).unwrap();
    let meta = ItemsJson::parse(ITEMS_JSON).unwrap();
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
    assert_eq!(ItemsJson::parse(b"{\"items\": 3}").unwrap_err().code(), "corrupt-file");
}

fn with_experiment(variants: serde_json::Value) -> Vec<u8> {
    edited(|v| {
        v["experiment"] = serde_json::json!({ "name": "tower-v2", "variants": variants });
        let files = v["files"].as_array_mut().unwrap();
        let mut pq = files.iter().find(|f| f["role"] == "items-pq").unwrap().clone();
        pq["role"] = "items-int8@b".into();
        files.push(pq);
    })
}

#[test]
fn experiments_assign_each_device_stably_in_the_stated_proportions() {
    use localrec::manifest::variant_roles;
    let json = with_experiment(serde_json::json!([
        { "name": "a", "weight": 3 }, { "name": "b", "weight": 1 }, { "name": "s", "shadow": true }
    ]));
    let m = Manifest::parse(&json).unwrap();
    let x = m.experiment.as_ref().unwrap();
    // Random device ids, as the browser makes them (UUIDs): a 3:1 split, the shadow never assigned.
    let mut rng = localrec::rng::Rng::new(7);
    let n = 20_000;
    let mut b = 0;
    for _ in 0..n {
        let id = format!("{:016x}-{:016x}", rng.next_u64(), rng.next_u64());
        let v = x.assign(&id);
        assert_ne!(v.name, "s", "a shadow is never shown");
        assert_eq!(x.assign(&id).name, v.name, "stable for one device");
        b += usize::from(v.name == "b");
    }
    let share = b as f64 / n as f64;
    // 0.25 expected; the binomial standard deviation at n = 20,000 is 0.0031.
    assert!((share - 0.25).abs() < 0.012, "variant b got {share}");
    // The variant's own file first, the base file where it has none.
    let roles = variant_roles(&roles(), Some("b"));
    let names: Vec<&str> = m.entries(&roles).unwrap().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["tower.json", "tower.bin", "items.pq.lrc", "items.json"]);
    assert_eq!(m.entries(&variant_roles(&roles_with_ranker(), Some("a"))).unwrap().len(), 5);
    // Another experiment name reshuffles: not every device keeps its variant.
    let renamed = localrec::manifest::Experiment { name: "tower-v3".into(), ..x.clone() };
    let moved = (0..2000).filter(|i| renamed.assign(&i.to_string()).name != x.assign(&i.to_string()).name).count();
    assert!(moved > 300, "{moved} of 2000 moved");
}

fn roles_with_ranker() -> Vec<String> {
    let mut r = roles();
    r.push("ranker".into());
    r
}

#[test]
fn bad_experiments_and_rules_are_named() {
    rejects(&with_experiment(serde_json::json!([{ "name": "a", "weight": 0 }])), "no variant with a positive weight");
    rejects(&with_experiment(serde_json::json!([{ "name": "a", "weight": -1 }])), "weight");
    rejects(&with_experiment(serde_json::json!([{ "name": "a b", "weight": 1 }])), "letters, digits");
    rejects(&with_experiment(serde_json::json!([{ "name": "a", "weight": 1 }, { "name": "a", "weight": 1 }])), "twice");
    rejects(&with_experiment(serde_json::json!("a")), "experiment");
    rejects(&edited(|v| v["rules"] = serde_json::json!({ "pin": [{ "id": "x", "position": -1 }] })), "rules");
    rejects(&edited(|v| v["rules"] = serde_json::json!({ "boost": { "Kitchen": "high" } })), "rules");
    rejects(&edited(|v| v["rules"] = serde_json::json!({ "boost": { "Kitchen": 1e60 } })), "rules");
    rejects(&edited(|v| v["files"].as_array_mut().unwrap()[0]["role"] = "tower-config@".into()), "letters, digits");
    let ok = edited(
        |v| v["rules"] = serde_json::json!({ "block": ["sku-1"], "boost": { "Kitchen": 0.2 }, "pin": [{ "id": "sku-2", "position": 0 }] }),
    );
    let m = Manifest::parse(&ok).unwrap();
    let r = m.rules.unwrap();
    assert_eq!((r.block.len(), r.boost[0].clone(), r.pin[0].position), (1, ("Kitchen".to_owned(), 0.2), 0));
}
