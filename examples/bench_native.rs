//! Native half of the ranker benchmark (`scripts/bench.sh` runs it beside the browser half and prints
//! one table). Scores exactly the data the browser scores: `random_unit` is bit-identical on every
//! platform. Prints one JSON object per configuration on stdout.
//!
//! Usage: cargo run --release --example bench_native [-- --quick]

use std::time::Instant;

use localrec::catalog::synthetic::random_unit;
use localrec::rank::{Kernel, Query, TopK};
use localrec::Catalog;

const CATALOG_SEED: u64 = 1;
const QUERY_SEED: u64 = 2;
const K: usize = 10;

/// Times `queries` top-k searches; each sample is the mean of `reps` back-to-back searches.
fn time_queries(catalog: &Catalog, queries: &Catalog, samples: usize) -> (f64, f64) {
    let mut topk = TopK::with_kernel(Kernel::BEST);
    let q = |i: usize| queries.vector((i % queries.len()) as u32);
    let qs: Vec<Vec<f32>> = (0..queries.len()).map(q).collect();
    for v in qs.iter().take(5) {
        topk.search(catalog, &Query::new(v, K)).unwrap();
    }
    let t = Instant::now();
    topk.search(catalog, &Query::new(&qs[0], K)).unwrap();
    let one = t.elapsed().as_secs_f64();
    let reps = ((1e-3 / one).ceil() as usize).clamp(1, 1000);
    let mut ms = Vec::with_capacity(samples);
    for s in 0..samples {
        let t = Instant::now();
        for r in 0..reps {
            std::hint::black_box(topk.search(catalog, &Query::new(&qs[(s * reps + r) % qs.len()], K)).unwrap());
        }
        ms.push(t.elapsed().as_secs_f64() * 1e3 / reps as f64);
    }
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[(ms.len() * 95).div_ceil(100) - 1])
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let configs: &[(usize, usize)] = if quick {
        &[(10_000, 64), (100_000, 64)]
    } else {
        &[(10_000, 64), (100_000, 64), (1_000_000, 64), (100_000, 128)]
    };
    for &(n, dim) in configs {
        let f32_catalog = random_unit(n, dim, 0, CATALOG_SEED);
        let int8_catalog = f32_catalog.to_int8();
        let refined_catalog = f32_catalog.to_int8_refined();
        let queries = random_unit(50, dim, 0, QUERY_SEED);
        for (name, c) in [("f32", &f32_catalog), ("int8", &int8_catalog), ("int8+refine", &refined_catalog)] {
            let (median, p95) = time_queries(c, &queries, 40);
            println!(
                "{{\"side\":\"native\",\"kernel\":\"{}\",\"n\":{n},\"dim\":{dim},\"type\":\"{name}\",\"median_ms\":{median:.5},\"p95_ms\":{p95:.5}}}",
                Kernel::BEST.name()
            );
        }
    }
}
