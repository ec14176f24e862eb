//! Fuzz target: `Ranker::decode` (`ranker.bin`, the ranking stage) on arbitrary bytes must return Ok
//! or a typed error, never panic, hang or allocate without bound; whatever decodes must re-encode to
//! the same bytes (version 2; version 1 to the same ranker) and rank a catalogue of its size without panicking, exactly k under filters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::catalog::synthetic::random_unit;
use localrec::rank::TopK;
use localrec::rerank::{Ranker, Scratch, StageInput};
use localrec::{Event, Kind};

fuzz_target!(|data: &[u8]| {
    if let Ok(ranker) = Ranker::decode(data) {
        // Version 2 is what encode writes; a version 1 file re-encodes as version 2, the same ranker.
        if data[4] == 2 {
            assert_eq!(ranker.encode(), data, "decode/encode is not a round trip");
        } else {
            assert_eq!(Ranker::decode(&ranker.encode()).unwrap(), ranker, "version 1 -> 2 changed the ranker");
        }
        let n = ranker.popularity.len();
        if n == 0 || n > 512 {
            return;
        }
        let catalog = random_unit(n, 4, 3, 1);
        ranker.check_catalog(&catalog).expect("sizes match");
        let events: Vec<Event> = (0..n.min(7))
            .map(|i| Event { item: i as u32, kind: Kind::from_code((i % 3) as u8).unwrap(), time: i as f64 })
            .collect();
        let exclude = [0u32];
        let input = StageInput {
            catalog: &catalog,
            embedding: &[0.5, -0.25, 0.125, 1.0],
            events: &events,
            exclude: &exclude,
            categories: None,
            min_tower: 3,
        };
        let (mut scratch, mut topk, mut cands) = (Scratch::default(), TopK::new(), Vec::new());
        let (ranked, _) = ranker.rank(&mut scratch, &mut topk, &input, &mut cands).expect("valid input");
        assert!(ranked.len() >= (n - 1).min(3) && ranked.iter().all(|r| r.row != 0 && (r.row as usize) < n));
    }
});
