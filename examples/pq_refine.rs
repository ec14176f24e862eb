//! Research tool (issue 15): how much of the tower's Recall@10 does the pq table get back when its
//! shortlist is re-scored from a higher-precision plane? The pq scan (the export's rotated table)
//! keeps its best `R` rows; they are re-scored with, in turn: the f32 rows (the upper bound), the
//! int8 table (388 bytes an item), and a second pq level trained on the first level's residuals
//! (pq + residual pq: another 64 bytes an item). The tower reads its histories from the same rows
//! that re-score (the table the browser would hold).
//! Usage: pq_refine EXPORT_DIR DATA_DIR|synthetic:N
#[path = "shared/export.rs"]
mod export;
use localrec::catalog::pq::Pq;
use localrec::rank::{Query, TopK};
use localrec::train::eval::{evaluate_catalog, queries, query_vectors, MetricsAcc, Split};
use localrec::Catalog;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (model, f32c, ds) = export::load(&args[1], &args[2]);
    let pq = Catalog::decode(&std::fs::read(std::path::Path::new(&args[1]).join("items.pq.lrc")).unwrap()).unwrap();
    let q = queries(&ds, Split::Test, &model.config().history());
    let (n, d) = (f32c.len(), f32c.dim());
    let ids: Vec<String> = f32c.ids().map(String::from).collect();
    let cats = f32c.categories().map(|c| c.to_vec());
    let table = |c: &Catalog| -> Vec<f32> { (0..n as u32).flat_map(|r| c.vector(r)).collect() };
    let x = table(&f32c);
    let int8 = table(&f32c.to_int8());
    let first = table(&pq);
    // The second level, in the rotated space where the first was learnt.
    let proj = pq.projection().expect("a rotated pq export");
    let rotated = proj.project_rows(&x);
    let stored: Vec<f32> = (0..n as u32).flat_map(|r| pq.stored_vector(r)).collect();
    let residual: Vec<f32> = rotated.iter().zip(&stored).map(|(a, b)| a - b).collect();
    let m = match pq.vectors() {
        localrec::catalog::Vectors::Pq(p) => p.subspaces(),
        _ => unreachable!(),
    };
    let second = Pq::train(&residual, d, m, 20, 1 << 16, 7).unwrap();
    let two: Vec<f32> = (0..n)
        .flat_map(|r| {
            let s: Vec<f32> =
                stored[r * d..(r + 1) * d].iter().zip(second.reconstruct(r)).map(|(a, b)| a + b).collect();
            proj.lift(&s)
        })
        .collect();
    let err = |t: &[f32]| t.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / n as f32;
    println!(
        "mean squared error a row: int8 {:.5}, pq {:.5}, pq + residual pq {:.5}",
        err(&int8),
        err(&first),
        err(&two)
    );
    let full = |name: &str, rows: &[f32]| {
        let c = Catalog::from_f32(&ids, d, rows.to_vec(), cats.clone()).unwrap();
        let v = query_vectors(&model, &c, &q);
        let met = evaluate_catalog(&c, &q, &v);
        println!("{name}, full scan: R@10 {:.4} NDCG@10 {:.4}", met.recall10, met.ndcg10);
    };
    full("f32", &x);
    full("int8", &int8);
    full("pq", &first);
    full("pq + residual pq (128 bytes)", &two);
    for (name, rows) in [("f32", &x), ("int8", &int8), ("pq + residual pq", &two)] {
        let c = Catalog::from_f32(&ids, d, rows.to_vec(), cats.clone()).unwrap();
        let v = query_vectors(&model, &c, &q);
        for r in [50usize, 100, 200, 400] {
            let mut acc = MetricsAcc::new(n);
            let mut topk = TopK::new();
            for (i, qq) in q.iter().enumerate() {
                let qv = &v[i * d..(i + 1) * d];
                let hits = topk.search(&pq, &Query::new(qv, r).exclude(&qq.exclude)).unwrap();
                let mut s: Vec<(f32, u32)> = hits
                    .iter()
                    .map(|h| {
                        let row = &rows[h.index as usize * d..][..d];
                        (row.iter().zip(qv).map(|(a, b)| a * b).sum::<f32>(), h.index)
                    })
                    .collect();
                s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let ranked: Vec<u32> = s.iter().take(50).map(|p| p.1).collect();
                acc.add(&ranked, qq.target);
            }
            let met = acc.finish();
            println!("pq scan, best {r} re-scored with {name}: R@10 {:.4} NDCG@10 {:.4}", met.recall10, met.ndcg10);
        }
    }
}
