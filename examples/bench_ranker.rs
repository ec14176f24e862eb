//! Writes a ranking stage (`ranker.bin`) of the shape the trainer ships, for the benchmarks' random
//! catalogs: `M` seeded random neighbours per item, a scorer with 16 hidden units, random
//! popularity. Only its size and its cost matter there, not its quality.
//!
//! `cargo run --profile trainer --features train --example bench_ranker -- ITEMS NEIGHBOURS OUT [--time]`
//!
//! With `--time`, also times natively, side by side over a random 64-dimension int8 catalog and a
//! history of 220 events: the tower's top 10, its top 200, and both stages (median of 200 runs).

use localrec::rerank::{Neighbours, RankingStage, Scorer, Scratch, StageConfig, StageInput, NUM_FEATURES};
use localrec::rng::Rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(n), Some(m), Some(out)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: bench_ranker ITEMS NEIGHBOURS OUT");
        std::process::exit(2);
    };
    let (n, m): (usize, usize) = (n.parse().expect("ITEMS"), m.parse().expect("NEIGHBOURS"));
    let mut rng = Rng::new(17);
    let rows: Vec<Vec<(u32, f32)>> = (0..n)
        .map(|i| {
            let mut row: Vec<(u32, f32)> = Vec::with_capacity(m);
            while row.len() < m.min(n - 1) {
                let j = rng.below(n as u64) as u32;
                if j as usize != i && !row.iter().any(|r| r.0 == j) {
                    row.push((j, 0.3 * rng.next_f32()));
                }
            }
            row.sort_by(|a, b| b.1.total_cmp(&a.1));
            row
        })
        .collect();
    let hidden = 16;
    let mut w = || rng.next_f32() * 2.0 - 1.0;
    let scorer = Scorer {
        mean: vec![0.0; NUM_FEATURES],
        scale: vec![1.0; NUM_FEATURES],
        linear: (0..NUM_FEATURES).map(|_| w()).collect(),
        hidden,
        w1: (0..hidden * NUM_FEATURES).map(|_| w()).collect(),
        b1: (0..hidden).map(|_| w()).collect(),
        w2: (0..hidden).map(|_| w()).collect(),
    };
    let mut rng = Rng::new(18);
    let ranker = RankingStage {
        config: StageConfig::default(),
        scorer,
        popularity: (0..n).map(|_| 5.0 * rng.next_f32()).collect(),
        neighbours: Neighbours::from_rows(&rows).expect("valid rows"),
        check: None,
    };
    let bytes = ranker.encode();
    std::fs::write(out, &bytes).expect("write");
    println!(
        "wrote {out}: {n} items x {m} neighbours, {} bytes ({:.2} bytes per item per neighbour)",
        bytes.len(),
        bytes.len() as f64 / (n * m) as f64
    );
    if args.iter().any(|a| a == "--time") {
        time_stages(&ranker, n);
    }
}

fn time_stages(ranker: &RankingStage, n: usize) {
    use localrec::rank::{Query, TopK};
    use localrec::{Event, Kind};
    use std::time::Instant;
    let catalog = localrec::catalog::synthetic::random_unit(n, 64, 8, 1).to_int8();
    let embedding = localrec::catalog::synthetic::random_unit(1, 64, 0, 2).vector(0);
    let mut rng = Rng::new(3);
    let events: Vec<Event> = (0..220)
        .map(|i| Event {
            item: rng.below(n as u64) as u32,
            kind: Kind::from_code((i % 3) as u8).unwrap(),
            time: i as f64,
        })
        .collect();
    let mut exclude: Vec<u32> = events.iter().map(|e| e.item).collect();
    exclude.sort_unstable();
    exclude.dedup();
    let mut topk = TopK::new();
    let mut scratch = Scratch::default();
    let mut candidates = Vec::new();
    let median = |f: &mut dyn FnMut()| {
        let mut ms: Vec<f64> = (0..200)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[100]
    };
    let top10 = median(&mut || {
        std::hint::black_box(topk.search(&catalog, &Query::new(&embedding, 10).exclude(&exclude)).unwrap());
    });
    let top200 = median(&mut || {
        std::hint::black_box(topk.search(&catalog, &Query::new(&embedding, 200).exclude(&exclude)).unwrap());
    });
    let input = StageInput {
        catalog: &catalog,
        embedding: &embedding,
        events: &events,
        exclude: &exclude,
        categories: None,
        min_tower: 10,
    };
    let both = median(&mut || {
        std::hint::black_box(ranker.rank(&mut scratch, &mut topk, &input, &mut candidates).unwrap());
    });
    println!(
        "native, median ms: tower top 10 {top10:.3}, tower top 200 {top200:.3}, both stages {both:.3} ({} candidates; the stage beyond the top-200 scan {:.3})",
        candidates.len(),
        both - top200
    );
}
