//! Fuzz target: `Catalog::decode` on arbitrary bytes must return Ok or a typed error, never panic,
//! hang or allocate without bound; whatever decodes must re-encode to the same bytes and be searchable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::rank::{Query, TopK};
use localrec::Catalog;

fuzz_target!(|data: &[u8]| {
    if let Ok(catalog) = Catalog::decode(data) {
        assert_eq!(catalog.encode(), data, "decode/encode is not a round trip");
        let query = vec![0.5f32; catalog.dim()];
        let mut topk = TopK::new();
        let hits = topk.search(&catalog, &Query::new(&query, 3)).expect("valid query on a valid catalog");
        assert_eq!(hits.len(), catalog.len().min(3));
    }
});
