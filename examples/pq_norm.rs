//! Research tool (issue 15): does the pq table lose its order through the reconstructions' norms?
//! The item vectors are unit vectors; pq's reconstructions are not (each sub-space snaps to one of
//! 16 centroids), so an item whose reconstruction shrank more scores lower against every query.
//! Evaluates, each as the f32 table of its rows (histories included): f32, the export's pq table
//! read back, its rows rescaled to unit length (no extra bytes: the norms follow from the codes),
//! and rescaled by the least-squares factor `<x, x̂> / |x̂|²` (one value an item, ideal here).
//! Usage: pq_norm EXPORT_DIR DATA_DIR|synthetic:N
#[path = "shared/export.rs"]
mod export;
use localrec::train::eval::{evaluate_catalog, queries, query_vectors, Split};
use localrec::Catalog;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (model, f32c, ds) = export::load(&args[1], &args[2]);
    let pq = Catalog::decode(&std::fs::read(std::path::Path::new(&args[1]).join("items.pq.lrc")).unwrap()).unwrap();
    let q = queries(&ds, Split::Test, &model.config().history());
    let (n, d) = (f32c.len(), f32c.dim());
    assert_eq!(pq.len(), n, "the pq table of the same export");
    let ids: Vec<String> = f32c.ids().map(String::from).collect();
    let cats = f32c.categories().map(|c| c.to_vec());
    let x: Vec<f32> = (0..n as u32).flat_map(|r| f32c.vector(r)).collect();
    let rec: Vec<f32> = (0..n as u32).flat_map(|r| pq.vector(r)).collect();
    let eval = |name: &str, rows: Vec<f32>| {
        let c = Catalog::from_f32(&ids, d, rows, cats.clone()).unwrap();
        let v = query_vectors(&model, &c, &q);
        let m = evaluate_catalog(&c, &q, &v);
        println!("{name}: R@10 {:.4} NDCG@10 {:.4}", m.recall10, m.ndcg10);
    };
    let norms: Vec<f32> = rec.chunks(d).map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt()).collect();
    let mut sorted = norms.clone();
    sorted.sort_by(f32::total_cmp);
    println!(
        "reconstruction norms: min {:.3}, 10% {:.3}, median {:.3}, 90% {:.3}, max {:.3}",
        sorted[0],
        sorted[n / 10],
        sorted[n / 2],
        sorted[n * 9 / 10],
        sorted[n - 1]
    );
    eval("f32", x.clone());
    eval("pq (the export's, read back)", rec.clone());
    let unit: Vec<f32> =
        rec.chunks(d).zip(&norms).flat_map(|(r, &s)| r.iter().map(move |v| v / s.max(1e-12))).collect();
    eval("pq rows at unit length", unit);
    let fitted: Vec<f32> = rec
        .chunks(d)
        .zip(x.chunks(d))
        .flat_map(|(r, xi)| {
            let s = r.iter().zip(xi).map(|(a, b)| a * b).sum::<f32>() / r.iter().map(|v| v * v).sum::<f32>().max(1e-12);
            r.iter().map(move |v| v * s).collect::<Vec<_>>()
        })
        .collect();
    eval("pq rows scaled by <x, x̂>/|x̂|²", fitted);
}
