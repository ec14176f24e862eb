//! Research tool (issue 15): pq on the raw columns against pq on the table's principal axes, and a
//! truncated rotation with int8, at the same bytes per item. Each variant is evaluated as the f32
//! table of its reconstructions (the exact order of its float-table scores), histories included.
//! Usage: pq_rotation EXPORT_DIR DATA_DIR|synthetic:N
#[path = "shared/export.rs"]
mod export;
use localrec::catalog::pq::Pq;
use localrec::catalog::rotation::principal_axes;
use localrec::train::eval::{evaluate_catalog, queries, query_vectors, Split};
use localrec::Catalog;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (model, f32c, ds) = export::load(&args[1], &args[2]);
    let q = queries(&ds, Split::Test, &model.config().history());
    let (n, d) = (f32c.len(), f32c.dim());
    let ids: Vec<String> = f32c.ids().map(String::from).collect();
    let cats = f32c.categories().map(|c| c.to_vec());
    let x: Vec<f32> = (0..n as u32).flat_map(|r| f32c.vector(r)).collect();
    let eval = |name: &str, rec: Vec<f32>| {
        let c = Catalog::from_f32(&ids, d, rec, cats.clone()).unwrap();
        let v = query_vectors(&model, &c, &q);
        let m = evaluate_catalog(&c, &q, &v);
        println!("{name}: R@10 {:.4} NDCG@10 {:.4}", m.recall10, m.ndcg10);
    };
    eval("f32", x.clone());
    let t = std::time::Instant::now();
    let (values, axes) = principal_axes(&x, d);
    let total: f64 = values.iter().sum();
    let mut acc = 0.0;
    let mut marks = String::new();
    for (k, v) in values.iter().enumerate() {
        acc += v;
        if [8, 16, 32, 48, 64, 96, 128, 192, 256].contains(&(k + 1)) {
            marks.push_str(&format!(" {}:{:.3}", k + 1, acc / total));
        }
    }
    println!("axes in {:.1} s; energy kept by the first k axes:{marks}", t.elapsed().as_secs_f64());
    // Rotated table (all axes): y = A x.
    let rot = |r: usize| -> Vec<f32> {
        let mut y = vec![0.0f32; n * r];
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            for k in 0..r {
                y[i * r + k] = axes[k * d..(k + 1) * d].iter().zip(xi).map(|(a, b)| a * b).sum();
            }
        }
        y
    };
    let back = |y: &[f32], r: usize| -> Vec<f32> {
        let mut out = vec![0.0f32; n * d];
        for i in 0..n {
            let o = &mut out[i * d..(i + 1) * d];
            for k in 0..r {
                let c = y[i * r + k];
                o.iter_mut().zip(&axes[k * d..(k + 1) * d]).for_each(|(a, b)| *a += c * b);
            }
        }
        out
    };
    let pq_rec = |v: &[f32], dim: usize, m: usize| -> Vec<f32> {
        let pq = Pq::train(v, dim, m, 20, 1 << 16, 1).unwrap();
        (0..n).flat_map(|r| pq.reconstruct(r)).collect()
    };
    let m_default = localrec::catalog::pq::default_subspaces(d);
    let bytes = m_default / 2;
    println!("budget {bytes} B an item");
    eval(&format!("pq raw m={m_default}"), pq_rec(&x, d, m_default));
    for r in [m_default, 2 * m_default, d] {
        if r > d {
            continue;
        }
        let y = rot(r);
        let rec = pq_rec(&y, r, m_default);
        eval(&format!("rotated to {r} axes, pq m={m_default} ({} per sub-space)", r / m_default), back(&rec, r));
        if r == d {
            // Interleaved: sub-space j takes axes j, j+m, j+2m (balanced energy, OPQ-style).
            let per = r / m_default;
            let mut z = vec![0.0f32; n * r];
            for i in 0..n {
                for j in 0..m_default {
                    for t in 0..per {
                        z[i * r + j * per + t] = y[i * r + j + t * m_default];
                    }
                }
            }
            let zr = pq_rec(&z, r, m_default);
            let mut yr = vec![0.0f32; n * r];
            for i in 0..n {
                for j in 0..m_default {
                    for t in 0..per {
                        yr[i * r + j + t * m_default] = zr[i * r + j * per + t];
                    }
                }
            }
            eval("rotated, all axes, interleaved sub-spaces", back(&yr, r));
        }
    }
    // Truncated rotation stored as int8 with a per-row scale (r + 4 bytes).
    for r in [bytes - 4, bytes * 2 - 4] {
        let y = rot(r);
        let mut q8 = vec![0.0f32; n * r];
        for i in 0..n {
            let row = &y[i * r..(i + 1) * r];
            let s = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
            for k in 0..r {
                q8[i * r + k] = if s > 0.0 { (row[k] / s).round() * s } else { 0.0 };
            }
        }
        eval(&format!("rotated to {r} axes, f32 (no quantization)"), back(&y, r));
        eval(&format!("rotated to {r} axes, int8 ({} B)", r + 4), back(&q8, r));
    }
}
