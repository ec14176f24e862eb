//! Catalog deltas (natively and in headless browsers): a delta between two versions turns the old
//! file into exactly the new file's bytes, carries only the changed rows, and a delta applied to the
//! wrong base or a damaged delta is a typed error.

mod common;

use common::subset;
use localrec::catalog::delta::{apply_delta_bytes, Delta};
use localrec::catalog::synthetic::random_unit;
use localrec::rng::Rng;
use localrec::Error;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn rows(r: std::ops::Range<u32>) -> Vec<u32> {
    r.collect()
}

#[test]
fn delta_reproduces_the_new_file_for_every_element_type() {
    let all = random_unit(300, 16, 5, 11);
    // Removed: 0..20 and 100..110; changed: 30, 31, 200; added: 250..300.
    let old_rows = rows(0..250);
    let new_rows: Vec<u32> = (20..100).chain(110..300).collect();
    for convert in
        [|c: localrec::Catalog| c, |c: localrec::Catalog| c.to_int8(), |c: localrec::Catalog| c.to_int8_refined()]
    {
        let old = convert(subset(&all, &old_rows, &[]));
        let new = convert(subset(&all, &new_rows, &[30, 31, 200]));
        let delta = old.diff(&new).unwrap();
        assert_eq!(delta.removed, (0..20).chain(100..110).collect::<Vec<u32>>());
        assert_eq!(delta.upserts.len(), 3 + 50, "3 changed rows and 50 added rows");
        let bytes = delta.encode();
        assert_eq!(Delta::decode(&bytes).unwrap(), delta);
        assert_eq!(apply_delta_bytes(&old.encode(), &bytes).unwrap(), new.encode());
        assert!(bytes.len() * 3 < new.encode().len(), "delta {} B vs full {} B", bytes.len(), new.encode().len());
    }
}

#[test]
fn random_edits_round_trip() {
    let seed = common::base_seed();
    let mut rng = Rng::new(seed);
    let all = random_unit(400, 8, 3, seed);
    for case in 0..30 {
        let old_rows: Vec<u32> = (0..200).filter(|_| rng.below(5) > 0).collect();
        let mut new_rows: Vec<u32> = old_rows.iter().copied().filter(|_| rng.below(4) > 0).collect();
        new_rows.extend((200..400).filter(|_| rng.below(3) == 0));
        let changed: Vec<u32> = new_rows.iter().copied().filter(|_| rng.below(6) == 0).collect();
        let old = subset(&all, &old_rows, &[]).to_int8();
        let new = subset(&all, &new_rows, &changed).to_int8();
        let delta = old.diff(&new).unwrap().encode();
        assert_eq!(apply_delta_bytes(&old.encode(), &delta).unwrap(), new.encode(), "seed {seed} case {case}");
    }
}

#[test]
fn no_change_gives_an_empty_delta() {
    let c = random_unit(50, 8, 0, 3).to_int8();
    let delta = c.diff(&c).unwrap();
    assert!(delta.removed.is_empty() && delta.upserts.is_empty());
    assert_eq!(delta.apply(&c).unwrap(), c);
}

#[test]
fn bad_deltas_are_typed_errors() {
    let all = random_unit(80, 8, 2, 5);
    let old = subset(&all, &rows(0..60), &[]).to_int8();
    let new = subset(&all, &rows(10..80), &[15]).to_int8();
    let bytes = old.diff(&new).unwrap().encode();
    // Applied to another base (the new version itself, or a truncated old one).
    assert!(matches!(
        apply_delta_bytes(&new.encode(), &bytes),
        Err(Error::DeltaBaseMismatch { expected: 60, got: 70 })
    ));
    // Truncated anywhere, bad magic, unknown version: errors, never a panic.
    for cut in [0, 7, 19, 25, bytes.len() / 2, bytes.len() - 1] {
        assert!(apply_delta_bytes(&old.encode(), &bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut b = bytes.clone();
    b[3] = b'C';
    assert!(matches!(Delta::decode(&b), Err(Error::InvalidDelta(m)) if m.contains("magic")));
    let mut b = bytes.clone();
    b[8] = 9;
    assert!(matches!(Delta::decode(&b), Err(Error::InvalidDelta(m)) if m.contains("version 9")));
    // Removed rows out of order.
    let d = Delta { base_rows: 60, removed: vec![5, 3], upserts: subset(&all, &[], &[]).to_int8() };
    assert!(matches!(Delta::decode(&d.encode()), Err(Error::InvalidDelta(_))));
    // Upserts of another shape (f32 rows for an int8 base).
    let d = Delta { base_rows: 60, removed: vec![], upserts: subset(&all, &[1], &[]) };
    assert!(matches!(d.apply(&old), Err(Error::InvalidDelta(m)) if m.contains("element type")));
}

#[test]
fn diff_refuses_reordered_rows() {
    let all = random_unit(20, 4, 0, 9);
    let old = subset(&all, &rows(0..10), &[]);
    let new = subset(&all, &[1, 0, 2, 3], &[]);
    assert!(matches!(old.diff(&new), Err(Error::InvalidDelta(m)) if m.contains("moved")));
    assert!(matches!(old.diff(&old.to_int8()), Err(Error::InvalidDelta(m)) if m.contains("shape")));
}

#[test]
fn pq_deltas_carry_codes_under_one_codebook() {
    use localrec::catalog::{Catalog, Pq};
    let mut rng = Rng::new(21);
    let codebook: Vec<f32> = (0..16 * 8).map(|_| rng.gaussian()).collect();
    let codes: Vec<u8> = (0..300 * 2).map(|_| rng.next_u64() as u8).collect();
    let ids: Vec<String> = (0..300).map(|r| format!("sku-{r}")).collect();
    let make = |rows: &[usize], codes: &[u8], codebook: Vec<f32>| {
        let picked: Vec<u8> = rows.iter().flat_map(|&r| codes[2 * r..2 * r + 2].to_vec()).collect();
        let ids: Vec<&str> = rows.iter().map(|&r| ids[r].as_str()).collect();
        Catalog::from_pq(&ids, Pq::new(8, 4, codebook, &picked).unwrap(), None).unwrap()
    };
    let old_rows: Vec<usize> = (0..250).collect();
    let new_rows: Vec<usize> = (20..300).collect();
    let mut changed = codes.clone();
    changed[2 * 40] ^= 0x31; // row 40's codes change
    let old = make(&old_rows, &codes, codebook.clone());
    let new = make(&new_rows, &changed, codebook.clone());
    let delta = old.diff(&new).unwrap();
    assert_eq!(delta.removed, rows(0..20));
    assert_eq!(delta.upserts.len(), 1 + 50); // one changed row, 50 added
    assert_eq!(apply_delta_bytes(&old.encode(), &delta.encode()).unwrap(), new.encode());
    // Another codebook: the codes mean something else, so no delta (the whole file ships).
    let mut other = codebook.clone();
    other[0] += 1.0;
    let retrained = make(&new_rows, &changed, other);
    assert!(matches!(old.diff(&retrained), Err(Error::InvalidDelta(_))));
    let foreign =
        Delta { base_rows: 250, removed: vec![], upserts: make(&[7], &codes, retrained_codebook(&retrained)) };
    assert!(matches!(foreign.apply(&old), Err(Error::InvalidDelta(_))));
}

fn retrained_codebook(c: &localrec::catalog::Catalog) -> Vec<f32> {
    match c.vectors() {
        localrec::catalog::Vectors::Pq(pq) => pq.codebook().to_vec(),
        _ => unreachable!(),
    }
}

#[test]
fn pca_deltas_carry_rows_under_one_projection() {
    let all = random_unit(300, 16, 5, 13);
    let old_rows = rows(0..250);
    let new_rows: Vec<u32> = (20..300).collect();
    let old = subset(&all, &old_rows, &[]).to_projected_int8(6).unwrap();
    let axes = old.projection().unwrap().clone();
    // The new version stored on the old version's axes: shared rows keep their bytes.
    let new = subset(&all, &new_rows, &[]).to_projected_int8_like(&axes).unwrap();
    let delta = old.diff(&new).unwrap();
    assert_eq!(delta.removed, rows(0..20));
    assert_eq!(delta.upserts.len(), 50);
    assert_eq!(apply_delta_bytes(&old.encode(), &delta.encode()).unwrap(), new.encode());
    // New axes: the stored rows mean something else, so no delta (the whole file ships), and a delta
    // whose rows carry other axes is refused.
    let relearnt = subset(&all, &new_rows, &[]).to_projected_int8(6).unwrap();
    assert_ne!(relearnt.projection(), old.projection());
    assert!(matches!(old.diff(&relearnt), Err(Error::InvalidDelta(_))));
    let foreign = Delta {
        base_rows: 250,
        removed: vec![],
        upserts: subset(&all, &[270], &[]).to_projected_int8_like(relearnt.projection().unwrap()).unwrap(),
    };
    assert!(matches!(foreign.apply(&old), Err(Error::InvalidDelta(_))));
    // Nor does a delta turn a plain int8 table into a projected one.
    let plain = subset(&all, &old_rows, &[]).to_int8();
    assert!(plain.diff(&old).is_err());
}
