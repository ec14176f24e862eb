//! Fuzz target: `PqResidual::decode` (`items.pq.refine.lrc`, a pq table's refine plane) on arbitrary
//! bytes must return Ok or a typed error, never panic, hang or allocate without bound; whatever
//! decodes must re-encode to the same bytes, be refused by a table it was not learnt for, and, given
//! to a table whose fingerprint it names, rank without panicking, exactly k under filters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::catalog::PqResidual;
use localrec::rank::{Query, TopK};
use localrec::{Catalog, Error};

fuzz_target!(|data: &[u8]| {
    let Ok(plane) = PqResidual::decode(data) else { return };
    assert_eq!(plane.encode(), data, "decode/encode is not a round trip");
    let p = plane.plane();
    let n = p.rows();
    if n == 0 || n > 512 {
        return;
    }
    // A table of the plane's shape (its own codes as the first level): another table, refused...
    let ids: Vec<String> = (0..n).map(|i| format!("i{i}")).collect();
    let table = Catalog::from_pq(&ids, p.clone(), None).expect("a valid pq table");
    let localrec::catalog::Vectors::Pq(first) = table.vectors() else { unreachable!() };
    let fingerprint = first.fingerprint();
    if fingerprint != plane.base_fingerprint() {
        assert!(matches!(table.clone().with_residual(plane.clone()), Err(Error::RefineMismatch(_))));
    }
    // ...and the same bytes naming it: attached, then searched.
    let mut named = data.to_vec();
    named[24..32].copy_from_slice(&fingerprint.to_le_bytes());
    let refined = table.with_residual(PqResidual::decode(&named).expect("only the fingerprint changed")).unwrap();
    let q: Vec<f32> = (0..p.dim()).map(|i| ((i % 7) as f32 - 3.0) * 0.25).collect();
    let exclude = [0u32];
    let k = 5.min(n);
    let hits = TopK::new().search(&refined, &Query::new(&q, k).exclude(&exclude)).expect("valid query").to_vec();
    assert_eq!(hits.len(), k.min(n - 1));
    assert!(hits.iter().all(|h| h.index != 0 && (h.index as usize) < n && !h.score.is_nan()));
});
