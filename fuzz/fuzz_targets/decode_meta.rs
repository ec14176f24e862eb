//! Fuzz target: compact item metadata (`items.meta.lrc`) and its deltas. `ItemMeta::decode` and
//! `MetaDelta::decode` on arbitrary bytes, and a fixed delta applied to arbitrary base bytes, must
//! return Ok or a typed error, never panic, hang or allocate without bound. What decodes re-encodes
//! to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::catalog::delta::apply_delta_bytes;
use localrec::catalog::meta::{ItemMeta, MetaDelta};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ItemMeta::decode(data) {
        assert_eq!(m.encode(), data, "metadata decode/encode is not a round trip");
    }
    let base = ItemMeta::new(&["a", "bé", "", "d"], vec!["K".into()], vec![1]).unwrap();
    if let Ok(d) = MetaDelta::decode(data) {
        assert_eq!(d.encode(), data, "metadata delta decode/encode is not a round trip");
        let _ = d.apply(&base);
    }
    let new = ItemMeta::new(&["a", "x", "d", "e"], vec!["K".into()], vec![0]).unwrap();
    let d = base.diff(&["1", "2", "3", "4"], &new, &["1", "2", "4", "5"]).unwrap();
    let _ = apply_delta_bytes(data, &d.encode());
});
