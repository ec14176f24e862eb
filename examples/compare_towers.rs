//! Research tool: several exported towers (each with its f32 item table) evaluated on the same
//! test split in one run, the tower alone, every item ranked.
//! Usage: compare_towers DATA_DIR|synthetic|synthetic:N EXPORT_DIR...
#[path = "shared/export.rs"]
#[allow(dead_code)] // `load` serves the other examples
mod export;
use localrec::train::eval::{evaluate_catalog, queries, query_vectors, Split};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert!(args.len() >= 3, "usage: compare_towers DATA_DIR|synthetic|synthetic:N EXPORT_DIR...");
    let ds = export::load_data(&args[1]);
    for dir in &args[2..] {
        let (model, f32c) = export::load_export(dir);
        let same = f32c.len() == ds.item_ids.len() && f32c.ids().zip(&ds.item_ids).all(|(a, b)| a == b);
        assert!(same, "{dir} was exported from another dataset");
        let q = queries(&ds, Split::Test, &model.config().history());
        let m = evaluate_catalog(&f32c, &q, &query_vectors(&model, &f32c, &q));
        println!("{dir}: test R@10 {:.4} NDCG@10 {:.4} ({} users)", m.recall10, m.ndcg10, q.len());
    }
}
