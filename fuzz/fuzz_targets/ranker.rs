//! Fuzz target: `RankingStage::decode` (`ranker.bin`, the ranking stage) on arbitrary bytes must return Ok
//! or a typed error, never panic, hang or allocate without bound; whatever decodes must re-encode to
//! the same bytes (the current version; versions 1 and 2 to the same ranker) and rank a catalog
//! of its size without panicking, exactly k under filters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::catalog::synthetic::random_unit;
use localrec::rank::TopK;
use localrec::rerank::{RankingStage, Scratch, StageInput, RANKER_VERSION};
use localrec::{Event, Kind};

fuzz_target!(|data: &[u8]| {
    if let Ok(ranker) = RankingStage::decode(data) {
        // The current version is what encode writes; an older file (version 1 or 2, read as 1 to
        // RANKER_VERSION) re-encodes as the current version, the same ranker.
        let version = u32::from_le_bytes(data[4..8].try_into().unwrap());
        if version == RANKER_VERSION {
            assert_eq!(ranker.encode(), data, "decode/encode is not a round trip");
        } else {
            assert!(version < RANKER_VERSION, "version {version} decoded");
            assert_eq!(RankingStage::decode(&ranker.encode()).unwrap(), ranker, "an older version changed the ranker");
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
