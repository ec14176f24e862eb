//! Fuzz target: the JSON the browser reads besides the model: `Manifest::parse` (then `entries`),
//! `ItemsJson::parse`, and an exported history given to `History::merge_import`. Each must be
//! Ok or a typed error, never a panic; a manifest that parses passes its own validation again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::history::{Bounds, History};
use localrec::manifest::{ItemsJson, Manifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        m.validate().expect("a parsed manifest is valid");
        let _ = m.entries(&["tower-config".to_string(), "items-int8".to_string()]);
    }
    let _ = ItemsJson::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut h = History::new("fuzz", Bounds::default());
        if let Ok((report, added)) = h.merge_import(text, 1.8e9) {
            assert_eq!(report.added, added.len());
            assert!(h.events().len() <= Bounds::default().max_events);
        }
    }
});
