//! Writes small valid catalog files as a starting corpus for the fuzz target (scripts/fuzz.sh),
//! and, given a second directory, small ranking stages (`ranker.bin`) for the `ranker` target, and
//! given a third, small pq refine planes (`items.pq.refine.lrc`) for the `decode_pq_refine` target.
//! Usage: cargo run --example fuzz_seeds -- DIR [RANKER_DIR [PQ_REFINE_DIR]]
use localrec::catalog::synthetic::random_unit;
use localrec::Catalog;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fuzz_seeds DIR");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files: Vec<(String, Catalog)> = Vec::new();
    for (n, dim, cats) in [(0, 1, 0), (1, 1, 0), (3, 2, 4), (5, 7, 0), (9, 16, 3)] {
        let c = random_unit(n, dim, cats, 1);
        files.push((format!("f32-{n}x{dim}-c{cats}"), c.clone()));
        files.push((format!("int8-{n}x{dim}-c{cats}"), c.to_int8()));
        files.push((format!("int8r-{n}x{dim}-c{cats}"), c.to_int8_refined()));
        if dim >= 2 {
            files.push((format!("pq-{n}x{dim}-c{cats}"), c.to_pq(2, 1).unwrap()));
            files.push((format!("pqrot-{n}x{dim}-c{cats}"), c.to_rotated_pq(2, 1).unwrap()));
            files.push((format!("pca-{n}x{dim}-c{cats}"), c.to_projected_int8(dim / 2).unwrap()));
        }
    }
    let unicode = Catalog::from_f32(&["ä", "日本", "x"], 1, vec![1.0, 2.0, 3.0], Some(vec![0, 1, 2])).unwrap();
    files.push(("unicode".into(), unicode));
    for (name, c) in files {
        std::fs::write(format!("{dir}/{name}.lrc"), c.encode()).unwrap();
    }
    if let Some(pdir) = std::env::args().nth(3) {
        std::fs::create_dir_all(&pdir).unwrap();
        for (n, dim, m) in [(1, 2, 2), (5, 6, 2), (9, 16, 4), (40, 12, 4)] {
            let c = random_unit(n, dim, 0, 2);
            let table = c.to_rotated_pq(m, 1).unwrap();
            let plane = localrec::catalog::PqResidual::learn(&table, &c, 3).unwrap();
            std::fs::write(format!("{pdir}/plane-{n}x{dim}-m{m}.lrc"), plane.encode()).unwrap();
        }
    }
    if let Some(rdir) = std::env::args().nth(2) {
        use localrec::rerank::{Neighbours, RankingStage, Scorer, SelfCheck, StageConfig, NUM_FEATURES};
        use localrec::{Event, Kind};
        std::fs::create_dir_all(&rdir).unwrap();
        // The self-check's table byte: not recorded, int8, pq.
        for (n, m, hidden, table) in [(1usize, 0usize, 0usize, None), (4, 2, 0, Some("int8")), (9, 3, 2, Some("pq"))] {
            let rows: Vec<Vec<(u32, f32)>> =
                (0..n).map(|i| (1..=m.min(n - 1)).map(|d| (((i + d) % n) as u32, 0.1 * d as f32)).collect()).collect();
            let mut scorer = Scorer::linear([0.5; NUM_FEATURES]);
            scorer.hidden = hidden;
            scorer.w1 = vec![0.1; hidden * NUM_FEATURES];
            scorer.b1 = vec![0.0; hidden];
            scorer.w2 = vec![1.0; hidden];
            let r = RankingStage {
                config: StageConfig {
                    tower_candidates: 3,
                    neighbour_candidates: 2,
                    session_seconds: 60.0,
                    max_history: 5,
                },
                scorer,
                popularity: vec![1.0; n],
                neighbours: Neighbours::from_rows(&rows).unwrap(),
                check: Some(SelfCheck {
                    events: vec![Event { item: 0, kind: Kind::Cart, time: 1.0 }],
                    expected: vec![(0, 0.5)],
                    table,
                }),
            };
            std::fs::write(format!("{rdir}/ranker-{n}x{m}-h{hidden}.bin"), r.encode()).unwrap();
        }
    }
}
