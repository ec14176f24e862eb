//! Fuzz target: catalog deltas. `Delta::decode` on arbitrary bytes, and `apply_delta_bytes` of an
//! arbitrary delta to a fixed small catalog and of a fixed delta to arbitrary base bytes, must
//! return Ok or a typed error, never panic, hang or allocate without bound. A delta that decodes
//! re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::catalog::delta::{apply_delta_bytes, Delta};
use localrec::catalog::synthetic::random_unit;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Delta::decode(data) {
        assert_eq!(d.encode(), data, "delta decode/encode is not a round trip");
    }
    let base = random_unit(12, 4, 3, 7).to_int8();
    let _ = apply_delta_bytes(&base.encode(), data);
    let other = random_unit(14, 4, 3, 8).to_int8();
    if let Ok(d) = base.diff(&other) {
        let _ = apply_delta_bytes(data, &d.encode());
    }
});
