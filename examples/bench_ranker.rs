//! Writes a ranking stage (`ranker.bin`) of the shape the trainer ships, for the benchmarks' random
//! catalogues: `M` seeded random neighbours per item, a scorer with 16 hidden units, random
//! popularity. Only its size and its cost matter there, not its quality.
//!
//! `cargo run --release --example bench_ranker -- ITEMS NEIGHBOURS OUT`

use localrec::rerank::{Neighbours, Ranker, Scorer, StageConfig, NUM_FEATURES};
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
    let ranker = Ranker {
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
}
