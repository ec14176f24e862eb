//! Writes small valid catalogue files as a starting corpus for the fuzz target (scripts/fuzz.sh).
//! Usage: cargo run --example fuzz_seeds -- DIR
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
    }
    let unicode = Catalog::from_f32(&["ä", "日本", "x"], 1, vec![1.0, 2.0, 3.0], Some(vec![0, 1, 2])).unwrap();
    files.push(("unicode".into(), unicode));
    for (name, c) in files {
        std::fs::write(format!("{dir}/{name}.lrc"), c.encode()).unwrap();
    }
}
