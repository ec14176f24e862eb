//! Research tool: how much of a quantized table's quality loss comes from the history's item vectors
//! (the tower's input) and how much from scoring. Usage: pq_quality EXPORT_DIR DATA_DIR|synthetic[:N] M...
//! (`synthetic:N`: the shop with N items and N users, as `scripts/bench-scale.sh` trains it).
#[path = "shared/export.rs"]
mod export;
use localrec::train::eval::{evaluate_catalog, queries, query_vectors, Split};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (model, f32c, ds) = export::load(&args[1], &args[2]);
    let q = queries(&ds, Split::Test, &model.config().history());
    let vf = query_vectors(&model, &f32c, &q);
    let base = evaluate_catalog(&f32c, &q, &vf);
    println!("f32: R@10 {:.4} NDCG {:.4}", base.recall10, base.ndcg10);
    for m in args[3..].iter().map(|m| m.parse::<usize>().unwrap()) {
        let t = std::time::Instant::now();
        let pq = f32c.to_pq(m, 1).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let vp = query_vectors(&model, &pq, &q);
        let a = evaluate_catalog(&pq, &q, &vf);
        let b = evaluate_catalog(&f32c, &q, &vp);
        let c = evaluate_catalog(&pq, &q, &vp);
        // The pq scan's best `c`, re-scored with the f32 table.
        let mut shortlists = String::new();
        for c in [50usize, 200, 1000] {
            let mut topk = localrec::TopK::new();
            let mut acc = localrec::train::eval::MetricsAcc::new(f32c.len());
            let d = f32c.dim();
            for (i, qq) in q.iter().enumerate() {
                let v = &vp[i * d..(i + 1) * d];
                let hits = topk.search(&pq, &localrec::Query::new(v, c).exclude(&qq.exclude)).unwrap().to_vec();
                let mut rescored: Vec<(f32, u32)> = hits
                    .iter()
                    .map(|h| (f32c.vector(h.index).iter().zip(v).map(|(a, b)| a * b).sum::<f32>(), h.index))
                    .collect();
                rescored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let ranked: Vec<u32> = rescored.iter().take(50).map(|x| x.1).collect();
                acc.add(&ranked, qq.target);
            }
            shortlists.push_str(&format!(" / re-scored top {c}: {:.4}", acc.finish().recall10));
        }
        println!("{shortlists}");
        println!(
            "m {m} ({} B): scoring only {:.4} / history only {:.4} / both {:.4} NDCG {:.4} ({secs:.1} s)",
            m / 2,
            a.recall10,
            b.recall10,
            c.recall10,
            c.ndcg10
        );
    }
}
