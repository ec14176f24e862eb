//! The trainer's readers on files written by other tools: the same synthetic shop as the trainer's
//! CSV and as Parquet written by DataFusion through `scripts/datafusion-recipe.py` (the documented
//! recipe for logs larger than one machine) must give the same dataset.
#![cfg(all(feature = "train", not(target_arch = "wasm32")))]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use localrec::train::data::Dedupe;
use localrec::train::input::read_dataset;
use localrec::train::synthetic::generate;
use localrec::train::SyntheticConfig;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("localrec-input-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The items as CSV under `header` (id, title, category).
fn write_items(path: &Path, header: &str, items: &[localrec::train::data::RawItem]) {
    let mut text = format!("{header}\n");
    for i in items {
        writeln!(text, "{},{},{}", i.id, csv_field(&i.title), csv_field(i.category.as_deref().unwrap_or(""))).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn datafusion_parquet_reads_like_the_trainers_csv() {
    let (rows, items) = generate(&SyntheticConfig { users: 300, items: 200, ..Default::default() });
    // The trainer's own CSV.
    let csv_dir = dir("csv");
    let mut text = String::from("user_id,item_id,timestamp,kind\n");
    for r in &rows {
        writeln!(text, "{},{},{},{}", r.user, r.item, r.time, r.kind.name()).unwrap();
    }
    std::fs::write(csv_dir.join("interactions.csv"), text).unwrap();
    write_items(&csv_dir.join("items.csv"), "item_id,title,category", &items);

    // A raw log in another shape (other names, milliseconds, the shop's event names, noise rows).
    let raw = dir("raw");
    let mut text = String::from("visitor,product,ts_ms,event\n");
    for (k, r) in rows.iter().enumerate() {
        let event = match r.kind.name() {
            "view" => "detail",
            "cart" => "addtocart",
            _ => "transaction",
        };
        writeln!(text, "{},{},{},{event}", r.user, r.item, (r.time * 1000.0) as i64).unwrap();
        if k % 50 == 0 {
            writeln!(text, "{},{},{},removefromcart", r.user, r.item, (r.time * 1000.0) as i64 + 1).unwrap();
        }
    }
    std::fs::write(raw.join("events.csv"), text).unwrap();
    write_items(&raw.join("catalog.csv"), "sku,name,dept", &items);

    let parquet_dir = dir("parquet");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/datafusion-recipe.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&raw)
        .arg(&parquet_dir)
        .output()
        .expect("python3 runs (scripts/setup.sh installs it with DataFusion)");
    assert!(
        out.status.success(),
        "the DataFusion recipe failed (scripts/setup.sh installs datafusion from PyPI):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(parquet_dir.join("interactions.parquet").exists());

    let a = read_dataset("csv", &csv_dir, Dedupe::Last).unwrap();
    let b = read_dataset("parquet", &parquet_dir, Dedupe::Last).unwrap();
    assert!(a.stats().events > 10_000, "{:?}", a.stats());
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.item_ids, b.item_ids);
    assert_eq!(a.user_ids, b.user_ids);
    assert_eq!(a.titles, b.titles);
    assert_eq!(a.categories, b.categories);
    assert_eq!(a.category_names, b.category_names);
    for (u, v) in a.users.iter().zip(&b.users) {
        assert_eq!(u.events.len(), v.events.len());
        for (x, y) in u.events.iter().zip(&v.events) {
            assert_eq!((x.item, x.kind, x.time), (y.item, y.kind, y.time));
        }
        assert_eq!(u.firsts, v.firsts);
    }
}

/// Spark's defaults, written by pyarrow: a directory of snappy parts with a `_SUCCESS` marker,
/// timestamps as INT96, integer ids.
#[test]
fn spark_style_parts_with_int96_timestamps() {
    let out = dir("spark");
    let script = r#"
import sys, os, datetime
import pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
base = datetime.datetime(2024, 3, 1, 12, 0, 0)
for part in range(2):
    users = [u for u in range(6) for _ in range(6)]
    items = [i for _ in range(6) for i in range(6)]
    times = [base + datetime.timedelta(seconds=60 * i + 3600 * part) for i in items]
    t = pa.table({"USER_ID": pa.array(users, pa.int64()), "item_id": pa.array(items, pa.int32()),
                  "timestamp": pa.array(times, pa.timestamp("us")),
                  "kind": ["view" if part == 0 else "purchase"] * 36})
    pq.write_table(t, os.path.join(out, "interactions", f"part-{part:05}-x.snappy.parquet"),
                   compression="snappy", use_deprecated_int96_timestamps=True)
open(os.path.join(out, "interactions", "_SUCCESS"), "w").close()
pq.write_table(pa.table({"item_id": list(range(6)), "title": [f"T{i}" for i in range(6)]}),
               os.path.join(out, "items.parquet"))
"#;
    std::fs::create_dir_all(out.join("interactions")).unwrap();
    let run = Command::new("python3").arg("-c").arg(script).arg(&out).output().expect("python3 runs");
    assert!(run.status.success(), "pyarrow failed:\n{}", String::from_utf8_lossy(&run.stderr));
    let raw = localrec::train::input::read_interactions(&out.join("interactions")).unwrap();
    assert_eq!(raw.len(), 72);
    // 2024-03-01T12:00:00 is 1709294400; part 1 is an hour later and all purchases.
    assert_eq!((raw[0].user.as_str(), raw[0].item.as_str(), raw[0].time), ("0", "0", 1_709_294_400.0));
    assert_eq!(raw[36 + 7].time, 1_709_294_400.0 + 3600.0 + 60.0);
    assert_eq!(raw[36].kind, localrec::model::Kind::Purchase);
    let ds = read_dataset("spark", &out, Dedupe::Last).unwrap();
    assert_eq!((ds.stats().users, ds.stats().items, ds.stats().events), (6, 6, 72));
    assert_eq!(ds.titles[5], "T5");
}
