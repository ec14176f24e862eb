//! The ranker's conformance suite: every kernel, f32 and int8, against the scalar reference and
//! against a brute-force sort. Runs natively and, via `wasm-pack test`, in headless Chrome (V8) and
//! Firefox (SpiderMonkey), where the simd128 kernel is one of the kernels under test.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{base_seed, exact_values, gaussian_values, ids};
use localrec::catalog::{synthetic, Catalog, Vectors};
use localrec::rank::kernels::{quantize_query, Kernel};
use localrec::rank::{refined_score, Hit, Query, TopK};
use localrec::rng::Rng;
use localrec::Error;

const DIMS: &[usize] = &[1, 3, 4, 5, 15, 16, 17, 31, 63, 64, 65, 128, 130];
const ROWS: &[usize] = &[0, 1, 3, 4, 5, 7, 255, 256, 257, 600];

/// All scores of `query` against `catalog` computed by `kernel`, the way the ranker computes them.
fn all_scores(kernel: Kernel, catalog: &Catalog, query: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; catalog.len()];
    match catalog.vectors() {
        Vectors::F32(v) => kernel.scores_f32(query, v, &mut out),
        Vectors::Int8 { values, scales, .. } => {
            let mut q16 = Vec::new();
            let qs = quantize_query(query, &mut q16);
            kernel.scores_i8(&q16, qs, values, scales, &mut out);
        }
        Vectors::Pq(_) => unreachable!("pq scores are checked by the pq tests"),
    }
    out
}

/// The offset of row `i` under `q.offsets` (the last entry given for its code; 0 without codes).
fn offset(catalog: &Catalog, q: &Query, i: usize) -> f32 {
    let Some(codes) = catalog.categories() else { return 0.0 };
    q.offsets.iter().rev().find(|e| e.0 == codes[i]).map_or(0.0, |e| e.1)
}

/// Brute force: score everything, add the offsets, drop ineligible rows, sort by (score desc, index
/// asc), take k.
fn brute_force(kernel: Kernel, catalog: &Catalog, q: &Query) -> Vec<Hit> {
    let scores = all_scores(kernel, catalog, q.vector);
    let mut hits: Vec<Hit> = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| !q.exclude.contains(&(*i as u32)))
        .filter(|(i, _)| match q.categories {
            None => true,
            Some(allowed) => catalog.categories().is_some_and(|c| allowed.contains(&c[*i])),
        })
        .map(|(i, &s)| Hit {
            index: i as u32,
            score: if s.is_nan() { f32::NEG_INFINITY } else { s } + offset(catalog, q, i),
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    if let (Some(refine), Vectors::Int8 { values, scales }) = (catalog.refine(), catalog.vectors()) {
        // Two stages: the best 2k + 32 by int8 score, re-scored with both planes.
        hits.truncate(2 * q.k + 32);
        for h in hits.iter_mut() {
            let i = h.index as usize;
            h.score = refined_score(q.vector, i, catalog.dim(), values, scales, refine) + offset(catalog, q, i);
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    }
    hits.truncate(q.k);
    hits
}

/// Boosts and buries of categories 1, 2 and 4 (code 1 given twice: the last wins), as offsets.
const OFFSETS: &[(u32, f32)] = &[(1, 0.3), (4, -0.2), (2, 1.5), (1, 0.6)];

/// Query `q` for the best `k`: no filter (0), excluding `exclude` (1), categories 1 and 4 only (2),
/// excluding `exclude` with [`OFFSETS`] (3), categories 1 and 4 only with [`OFFSETS`] (4).
fn filtered<'a>(q: &'a [f32], k: usize, filter: usize, exclude: &'a [u32]) -> Query<'a> {
    match filter {
        1 => Query::new(q, k).exclude(exclude),
        2 => Query::new(q, k).categories(&[1, 4]),
        3 => Query::new(q, k).exclude(exclude).offsets(OFFSETS),
        4 => Query::new(q, k).categories(&[1, 4]).offsets(OFFSETS),
        _ => Query::new(q, k),
    }
}

/// The same rows in the same order with bit-identical scores.
fn assert_same_hits(got: &[Hit], want: &[Hit], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.index == w.index && g.score.to_bits() == w.score.to_bits(), "{context}: {g:?} != {w:?}");
    }
}

/// `int8`: 0 = f32, 1 = int8, 2 = int8 with a refine plane.
fn catalog_with(rng: &mut Rng, n: usize, dim: usize, exact: bool, int8: u8, cats: u32) -> Catalog {
    let values = if exact { exact_values(rng, n * dim) } else { gaussian_values(rng, n * dim) };
    let codes = (cats > 0).then(|| (0..n).map(|_| rng.below(cats as u64) as u32).collect());
    let c = Catalog::from_f32(&ids(n), dim, values, codes).unwrap();
    match int8 {
        0 => c,
        1 => c.to_int8(),
        _ => c.to_int8_refined(),
    }
}

#[test]
fn every_kernel_matches_the_scalar_reference() {
    let seed = base_seed();
    let mut rng = Rng::new(seed);
    for &kernel in Kernel::ALL {
        for &dim in DIMS {
            for &n in ROWS {
                for int8 in [false, true] {
                    let catalog = catalog_with(&mut rng, n, dim, false, int8 as u8, 0);
                    let query = gaussian_values(&mut rng, dim);
                    let got = all_scores(kernel, &catalog, &query);
                    let want = all_scores(Kernel::Scalar, &catalog, &query);
                    for (row, (g, w)) in got.iter().zip(&want).enumerate() {
                        if int8 {
                            // Integer sums are exact and the final multiplies happen in one order.
                            assert_eq!(
                                g.to_bits(),
                                w.to_bits(),
                                "{kernel:?} int8 dim={dim} n={n} row={row} seed={seed}"
                            );
                        } else {
                            let v = catalog.vector(row as u32);
                            let mag: f32 = v.iter().zip(&query).map(|(a, b)| (a * b).abs()).sum();
                            assert!(
                                (g - w).abs() <= 1e-5 * mag.max(1.0),
                                "{kernel:?} f32 dim={dim} n={n} row={row}: {g} vs {w} seed={seed}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_kernel_is_bit_identical_on_exactly_representable_data() {
    let seed = base_seed() ^ 1;
    let mut rng = Rng::new(seed);
    for &kernel in Kernel::ALL {
        for &dim in DIMS {
            let catalog = catalog_with(&mut rng, 300, dim, true, 0, 0);
            let query = exact_values(&mut rng, dim);
            let got = all_scores(kernel, &catalog, &query);
            let want = all_scores(Kernel::Scalar, &catalog, &query);
            assert_eq!(got, want, "{kernel:?} dim={dim} seed={seed}");
        }
    }
}

#[test]
fn top_k_equals_brute_force_for_random_queries_and_filters() {
    let seed = base_seed() ^ 2;
    let mut rng = Rng::new(seed);
    for &kernel in Kernel::ALL {
        let mut topk = TopK::with_kernel(kernel); // reused across every case: scratch must reset
        for case in 0..120 {
            let n = [0, 1, 2, 9, 100, 513, 1500][case % 7];
            let dim = [1, 8, 17, 64][(case / 7) % 4];
            // Exact data makes many equal scores, so tie-breaking is exercised on every case.
            let catalog = catalog_with(&mut rng, n, dim, case % 2 == 0, (case % 3) as u8, 6);
            let query = if case % 2 == 0 { exact_values(&mut rng, dim) } else { gaussian_values(&mut rng, dim) };
            let k = [0, 1, 5, 10, 64, n, n + 3][rng.below(7) as usize];
            let exclude: Vec<u32> = if n == 0 {
                vec![]
            } else {
                (0..rng.below(n as u64 + 1)).map(|_| rng.below(n as u64) as u32).collect()
            };
            let cats: Vec<u32> = (0..rng.below(4)).map(|_| rng.below(8) as u32).collect();
            // Boosts and buries of a few codes, some given twice, some the size of the scores.
            let offsets: Vec<(u32, f32)> = (0..rng.below(5))
                .map(|_| (rng.below(8) as u32, (rng.below(41) as f32 - 20.0) * [0.01, 0.5][rng.below(2) as usize]))
                .collect();
            let mut q = Query::new(&query, k).exclude(&exclude);
            if case % 4 == 1 {
                q = q.categories(&cats);
            }
            if case % 3 != 0 {
                q = q.offsets(&offsets);
            }
            let got = topk.search(&catalog, &q).unwrap().to_vec();
            let want = brute_force(kernel, &catalog, &q);
            assert_eq!(got, want, "{kernel:?} case={case} n={n} dim={dim} k={k} seed={seed}");
        }
    }
}

#[test]
fn edge_cases() {
    for &kernel in Kernel::ALL {
        let mut topk = TopK::with_kernel(kernel);
        let empty = Catalog::from_f32(&ids(0), 4, vec![], None).unwrap();
        let q4 = [1.0, 0.0, 0.0, 0.0];
        assert!(topk.search(&empty, &Query::new(&q4, 10)).unwrap().is_empty(), "{kernel:?} empty catalog");

        let c = synthetic::random_unit(50, 4, 3, 11);
        assert!(topk.search(&c, &Query::new(&q4, 0)).unwrap().is_empty(), "{kernel:?} k = 0");
        let all = topk.search(&c, &Query::new(&q4, 1000)).unwrap().to_vec();
        assert_eq!(all.len(), 50, "{kernel:?} k > n returns every item");
        assert!(all.windows(2).all(|w| w[0].score >= w[1].score), "{kernel:?} sorted");

        let everything: Vec<u32> = (0..50).collect();
        assert!(
            topk.search(&c, &Query::new(&q4, 10).exclude(&everything)).unwrap().is_empty(),
            "{kernel:?} all excluded"
        );
        let all_but_two: Vec<u32> = (0..50).filter(|&i| i != 7 && i != 30).collect();
        let two = topk.search(&c, &Query::new(&q4, 10).exclude(&all_but_two)).unwrap();
        let mut rows: Vec<u32> = two.iter().map(|h| h.index).collect();
        rows.sort();
        assert_eq!(rows, vec![7, 30], "{kernel:?} exactly the eligible items come back");

        assert!(
            topk.search(&c, &Query::new(&q4, 10).categories(&[99])).unwrap().is_empty(),
            "{kernel:?} no such category"
        );
        let cat1 = topk.search(&c, &Query::new(&q4, 100).categories(&[1])).unwrap().to_vec();
        let expected = c.categories().unwrap().iter().filter(|&&x| x == 1).count();
        assert_eq!(cat1.len(), expected, "{kernel:?} category filter keeps all of category 1");
        assert!(cat1.iter().all(|h| c.categories().unwrap()[h.index as usize] == 1));
        let no_codes = synthetic::random_unit(10, 4, 0, 1);
        assert!(
            topk.search(&no_codes, &Query::new(&q4, 5).categories(&[0])).unwrap().is_empty(),
            "{kernel:?} filter without codes"
        );

        // Ties: identical rows come back in index order.
        let tied =
            Catalog::from_f32(&ids(6), 2, vec![1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 1.0], None)
                .unwrap();
        let hits = topk.search(&tied, &Query::new(&[1.0, 0.0], 4)).unwrap();
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), vec![0, 2, 3, 1], "{kernel:?} tie-break");

        // Duplicate excludes are fine; errors are typed.
        assert_eq!(topk.search(&c, &Query::new(&q4, 3).exclude(&[1, 1, 1])).unwrap().len(), 3);
        assert_eq!(
            topk.search(&c, &Query::new(&[1.0; 3], 3)).unwrap_err(),
            Error::DimensionMismatch { expected: 4, got: 3 }
        );
        assert!(matches!(
            topk.search(&c, &Query::new(&[f32::NAN, 0.0, 0.0, 0.0], 3)),
            Err(Error::NonFiniteQuery { index: 0, .. })
        ));
        assert!(matches!(
            topk.search(&c, &Query::new(&[0.0, f32::INFINITY, 0.0, 0.0], 3)),
            Err(Error::NonFiniteQuery { index: 1, .. })
        ));
        assert_eq!(
            topk.search(&c, &Query::new(&q4, 3).exclude(&[50])).unwrap_err(),
            Error::IndexOutOfRange { index: 50, len: 50 }
        );

        // A zero query scores everything 0: the first k rows by index.
        let zero = topk.search(&c, &Query::new(&[0.0; 4], 3)).unwrap();
        assert_eq!(zero.iter().map(|h| h.index).collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}

#[test]
fn overflowing_scores_rank_last_not_randomly() {
    // Finite values whose products overflow: +inf + -inf = NaN, which must rank as -inf.
    let big = 3.0e38f32;
    let c = Catalog::from_f32(&ids(3), 2, vec![big, -big, 1.0, 1.0, 0.5, 0.5], None).unwrap();
    for &kernel in Kernel::ALL {
        let mut topk = TopK::with_kernel(kernel);
        let hits = topk.search(&c, &Query::new(&[big, big], 3)).unwrap();
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), vec![1, 2, 0], "{kernel:?}");
        assert_eq!(hits[2].score, f32::NEG_INFINITY);
    }
}

#[test]
fn int8_recall_at_10_against_f32_is_at_least_0_98() {
    // Unit-normalised random data, as in the benchmark; recall is measured against the f32 result.
    let seed = base_seed() ^ 3;
    let f32_catalog = synthetic::random_unit(20_000, 64, 0, seed);
    let int8_catalog = f32_catalog.to_int8();
    let refined_catalog = f32_catalog.to_int8_refined();
    let mut rng = Rng::new(seed ^ 0xABCD);
    let (mut a, mut b) = (TopK::new(), TopK::new());
    let (mut found, mut found_refined) = (0, 0);
    let queries = 40;
    for _ in 0..queries {
        let q = synthetic::random_unit_vector(64, &mut rng);
        let exact: Vec<u32> = a.search(&f32_catalog, &Query::new(&q, 10)).unwrap().iter().map(|h| h.index).collect();
        let approx = b.search(&int8_catalog, &Query::new(&q, 10)).unwrap();
        found += approx.iter().filter(|h| exact.contains(&h.index)).count();
        let refined = b.search(&refined_catalog, &Query::new(&q, 10)).unwrap();
        found_refined += refined.iter().filter(|h| exact.contains(&h.index)).count();
    }
    let recall = found as f64 / (10 * queries) as f64;
    let recall_refined = found_refined as f64 / (10 * queries) as f64;
    assert!(recall >= 0.98, "int8 recall@10 = {recall:.4} seed={seed}");
    assert!(recall_refined >= 0.995, "refined int8 recall@10 = {recall_refined:.4} seed={seed}");
}

/// The bounded scan of a large f32 catalog (int8 shadow, error radii, f32 re-score of the
/// shortlist) must return exactly what the plain f32 scan returns, hit for hit and bit for bit, with
/// every kernel: on random data and on data built to break a loose bound (exact ties, near-ties a
/// few ulps apart, rows of very different norms, zero rows, a zero and a huge query).
#[test]
fn bounded_scan_returns_exactly_the_plain_f32_scan() {
    let mut rng = Rng::new(base_seed() ^ 0xB0B0);
    // Small tables with a shadow built on request (the wasm suites run unoptimised): the bound does
    // not depend on the table's size.
    let random = synthetic::random_unit(3000, 128, 8, base_seed() ^ 17).with_shadow();
    // 1200 x 256: 48 base vectors, each repeated with scales 1, 1 + 1e-7 (near-ties), 0.5, 1e-3
    // and exact copies; every 97th row zero, every 401st row 1e3 times larger.
    let (n, dim) = (1200usize, 256usize);
    let bases: Vec<Vec<f32>> = (0..48).map(|_| synthetic::random_unit_vector(dim, &mut rng)).collect();
    let mut values = Vec::with_capacity(n * dim);
    for r in 0..n {
        let scale = [1.0f32, 1.0 + 1e-7, 0.5, 1e-3, 1.0][r % 5];
        let scale = if r % 97 == 0 {
            0.0
        } else if r % 401 == 0 {
            1e3
        } else {
            scale
        };
        values.extend(bases[r % 48].iter().map(|x| x * scale));
    }
    let cats: Vec<u32> = (0..n as u32).map(|r| r % 6).collect();
    let adversarial = Catalog::from_f32(&ids(n), dim, values, Some(cats)).unwrap().with_shadow();
    for catalog in [&random, &adversarial] {
        let d = catalog.dim();
        let mut queries = vec![
            synthetic::random_unit_vector(d, &mut rng),
            synthetic::random_unit_vector(d, &mut rng),
            catalog.vector(5),
            vec![0.0; d],
            synthetic::random_unit_vector(d, &mut rng).iter().map(|x| x * 1e4).collect(),
        ];
        let mut one_hot = vec![0.0; d];
        one_hot[3] = 1.0;
        queries.push(one_hot);
        let exclude: Vec<u32> = (0..catalog.len() as u32).step_by(3).collect();
        for &kernel in Kernel::ALL {
            let (mut bounded, mut plain) = (TopK::with_kernel(kernel), TopK::with_kernel(kernel).bounded(false));
            for q in &queries {
                for k in [1, 10, 100, catalog.len() + 5] {
                    for filter in 0..5 {
                        let query = filtered(q, k, filter, &exclude);
                        let want = plain.search(catalog, &query).unwrap().to_vec();
                        let got = bounded.search(catalog, &query).unwrap();
                        assert_same_hits(got, &want, &format!("{kernel:?} k {k} filter {filter}"));
                    }
                }
            }
        }
    }
    // Large tables get a shadow on their own; below the threshold the plain scan runs.
    assert!(synthetic::random_unit(8192, 128, 0, 1).shadow().is_some());
    assert!(synthetic::random_unit(8191, 128, 0, 1).shadow().is_none());
    assert!(synthetic::random_unit(65536, 16, 0, 1).shadow().is_none());
}

/// The radius of the bounded scan holds for every row, and is nearly reached by a row whose
/// rounding errors all point the same way as the query: the bound is valid and not loose.
#[test]
fn shadow_radius_bounds_every_row_and_is_tight() {
    let dim = 128;
    let mut rng = Rng::new(base_seed() ^ 0x5AD0);
    let mut values = gaussian_values(&mut rng, 2000 * dim);
    // Row 0: every value but the first sits 0.49 of a step above an integer step (max 127 steps),
    // so each rounds down by 0.49 steps; with an all-ones query the errors add up.
    let step = 1.0f32 / 127.0;
    values[0] = 1.0;
    for (c, x) in values[..dim].iter_mut().enumerate().skip(1) {
        *x = ((c % 100) as f32 + 0.49) * step;
    }
    let catalog = Catalog::from_f32(&ids(2000), dim, values, None).unwrap().with_shadow();
    let shadow = catalog.shadow().unwrap();
    let Vectors::F32(v) = catalog.vectors() else { unreachable!() };
    let ones = vec![1.0f32; dim];
    let queries = [ones.clone(), synthetic::random_unit_vector(dim, &mut rng), catalog.vector(7)];
    for &kernel in Kernel::ALL {
        for q in &queries {
            let mut q16 = Vec::new();
            let qs = quantize_query(q, &mut q16);
            let l1: f32 = q.iter().map(|x| x.abs()).sum();
            let (mut exact, mut approx) = (vec![0.0; catalog.len()], vec![0.0; catalog.len()]);
            kernel.scores_f32(q, v, &mut exact);
            kernel.scores_i8(&q16, qs, &shadow.values, &shadow.scales, &mut approx);
            for r in 0..catalog.len() {
                let (err, radius) = ((exact[r] - approx[r]).abs(), shadow.radius(r, l1, qs));
                assert!(err <= radius, "{kernel:?} row {r}: error {err} > radius {radius}");
            }
        }
        // The aligned row with the all-ones query: at least 90% of the value-rounding term.
        let (mut q16, mut e, mut a) = (Vec::new(), [0.0f32], [0.0f32]);
        let qs = quantize_query(&ones, &mut q16);
        kernel.scores_f32(&ones, &v[..dim], &mut e);
        kernel.scores_i8(&q16, qs, &shadow.values[..dim], &shadow.scales[..1], &mut a);
        let term = shadow.scales[0] / 2.0 * dim as f32;
        assert!((e[0] - a[0]).abs() >= 0.9 * term, "{kernel:?}: error {} < 0.9 x {term}", (e[0] - a[0]).abs());
    }
}

/// A pq catalog learnt from `values` (`dim` columns), `m` sub-spaces.
fn pq_catalog(values: Vec<f32>, dim: usize, m: usize, cats: Option<Vec<u32>>) -> Catalog {
    let n = values.len() / dim;
    Catalog::from_f32(&ids(n), dim, values, cats).unwrap().to_pq(m, 5).unwrap()
}

/// Brute force over a pq table: every eligible row scored with the float table, sorted.
fn pq_brute_force(catalog: &Catalog, q: &Query) -> Vec<Hit> {
    let Vectors::Pq(pq) = catalog.vectors() else { unreachable!() };
    let mut lut = Vec::new();
    pq.lut(q.vector, &mut lut);
    let mut hits: Vec<Hit> = (0..catalog.len())
        .filter(|i| !q.exclude.contains(&(*i as u32)))
        .filter(|i| q.categories.is_none_or(|allowed| catalog.categories().is_some_and(|c| allowed.contains(&c[*i]))))
        .map(|i| {
            let s = pq.score(&lut, i);
            Hit { index: i as u32, score: if s.is_nan() { f32::NEG_INFINITY } else { s } + offset(catalog, q, i) }
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    hits.truncate(q.k);
    hits
}

#[test]
fn every_kernel_scores_pq_codes_like_the_scalar_twin() {
    let seed = base_seed() ^ 0x5051;
    let mut rng = Rng::new(seed);
    for m in [2usize, 4, 6, 30, 96, 256] {
        for blocks in [0usize, 1, 3] {
            // Tables use the whole byte range; an all-255 table makes the largest sum, 256 x 255.
            let lut: Vec<u8> =
                if m == 256 { vec![255; 16 * m] } else { (0..16 * m).map(|_| rng.next_u64() as u8).collect() };
            let blocked: Vec<u8> = (0..blocks * m * 16).map(|_| rng.next_u64() as u8).collect();
            // The reference: each row's codes read nibble by nibble from the layout's definition.
            let want: Vec<u16> = (0..blocks * 32)
                .map(|r| {
                    (0..m)
                        .map(|j| {
                            let byte = blocked[((r / 32) * m + j) * 16 + r % 16];
                            let code = if r % 32 < 16 { byte & 15 } else { byte >> 4 };
                            lut[j * 16 + code as usize] as u16
                        })
                        .sum()
                })
                .collect();
            for &kernel in Kernel::ALL {
                let mut got = vec![0u16; blocks * 32];
                kernel.scores_pq(&lut, m, &blocked, &mut got);
                assert_eq!(got, want, "{kernel:?} m={m} blocks={blocks} seed={seed}");
            }
        }
    }
}

#[test]
fn pq_search_returns_exactly_the_float_table_scan() {
    let seed = base_seed() ^ 0x5052;
    let mut rng = Rng::new(seed);
    let mut tables = Vec::new();
    // Random rows, several shapes (a partial last block of 32 rows; sub-spaces of unequal width).
    for (n, dim, m) in [(1usize, 4usize, 2usize), (33, 8, 4), (700, 64, 16), (1000, 30, 12), (257, 17, 8)] {
        let cats = (0..n).map(|r| (r % 6) as u32).collect();
        tables.push(pq_catalog(gaussian_values(&mut rng, n * dim), dim, m, Some(cats)));
    }
    // Ties: 40 distinct rows repeated 15 times, so many rows share codes and scores exactly.
    let base = gaussian_values(&mut rng, 40 * 32);
    let tied: Vec<f32> = (0..600).flat_map(|r| base[(r % 40) * 32..(r % 40 + 1) * 32].to_vec()).collect();
    tables.push(pq_catalog(tied, 32, 8, Some((0..600).map(|r| (r % 6) as u32).collect())));
    // No spread in the table (every centroid equal): the byte table is unusable, the float one rules.
    tables.push(pq_catalog(vec![0.25; 300 * 16], 16, 4, None));
    // Products that overflow to infinity: scores become NaN or inf and rank deterministically.
    let huge: Vec<f32> = gaussian_values(&mut rng, 200 * 8).iter().map(|x| x * 1e30).collect();
    tables.push(pq_catalog(huge, 8, 4, None));
    for &kernel in Kernel::ALL {
        let mut topk = TopK::with_kernel(kernel); // reused: scratch must reset between tables
        for catalog in &tables {
            let d = catalog.dim();
            let n = catalog.len();
            let queries = [
                gaussian_values(&mut rng, d),
                gaussian_values(&mut rng, d).iter().map(|x| x * 1e4).collect(),
                catalog.vector(0),
                vec![0.0; d],
            ];
            let exclude: Vec<u32> = (0..n as u32).step_by(3).collect();
            for q in &queries {
                for k in [1, 10, 100, n + 5] {
                    for filter in 0..5 {
                        let query = filtered(q, k, filter, &exclude);
                        let want = pq_brute_force(catalog, &query);
                        let got = topk.search(catalog, &query).unwrap();
                        assert_same_hits(
                            got,
                            &want,
                            &format!("{kernel:?} n={n} d={d} k={k} filter={filter} seed={seed}"),
                        );
                    }
                }
            }
        }
    }
}

/// A catalog stored on principal axes (`pca`) is searched with the query projected once: the hits
/// are exactly those of its stored int8 table searched with the projected query, which is itself
/// checked against the brute force, with every kernel and filter; the scores are the query's inner
/// products with the rows read back.
#[test]
fn projected_search_is_the_stored_table_searched_with_the_projected_query() {
    let seed = base_seed() ^ 0x9ca;
    let mut rng = Rng::new(seed);
    // The tables are built once per case (learning axes and a codebook is the slow part in a debug
    // build in a browser), then searched with every kernel.
    let mut topks: Vec<TopK> = Kernel::ALL.iter().map(|&k| TopK::with_kernel(k)).collect();
    for case in 0..12 {
        let n = [1, 9, 100, 300][case % 4];
        let dim = [8, 17, 32][case % 3];
        let axes = [4, 7, dim][(case / 3) % 3].min(dim);
        let full = catalog_with(&mut rng, n, dim, false, 0, 6);
        let pca = full.to_projected_int8(axes).unwrap();
        assert_eq!((pca.dim(), pca.stored_dim(), pca.precision()), (dim, axes, "pca"));
        let Vectors::Int8 { values, scales } = pca.vectors() else { panic!("pca is int8") };
        let stored =
            Catalog::from_int8(&ids(n), axes, values.clone(), scales.clone(), pca.categories().map(<[u32]>::to_vec))
                .unwrap();
        let query = gaussian_values(&mut rng, dim);
        let mut projected = Vec::new();
        pca.projection().unwrap().project(&query, &mut projected);
        let exclude: Vec<u32> = (0..rng.below(n as u64 + 1)).map(|_| rng.below(n as u64) as u32).collect();
        // pq on the rotated table (even dimensions, up to 100 rows): the stored pq table searched
        // with the rotated query.
        let rot = (dim % 2 == 0 && n <= 100).then(|| {
            let rot = full.to_rotated_pq(localrec::catalog::pq::default_subspaces(dim), 3).unwrap();
            let Vectors::Pq(pq) = rot.vectors() else { panic!("rotated pq is pq") };
            let stored = Catalog::from_pq(&ids(n), pq.clone(), rot.categories().map(<[u32]>::to_vec)).unwrap();
            let mut rotated = Vec::new();
            rot.projection().unwrap().project(&query, &mut rotated);
            (rot, stored, rotated)
        });
        for topk in topks.iter_mut() {
            let kernel = topk.kernel();
            for filter in 0..5 {
                let k = [1, 5, 10, n][filter % 4];
                let got = topk.search(&pca, &filtered(&query, k, filter, &exclude)).unwrap().to_vec();
                let want = brute_force(kernel, &stored, &filtered(&projected, k, filter, &exclude));
                assert_same_hits(&got, &want, &format!("{kernel:?} case={case} filter={filter} seed={seed}"));
                for h in got.iter().filter(|_| filter == 0) {
                    let exact: f32 = pca.vector(h.index).iter().zip(&query).map(|(a, b)| a * b).sum();
                    assert!((h.score - exact).abs() <= 1e-3 * (1.0 + exact.abs()), "{h:?} vs {exact}");
                }
                if let Some((rot, stored, rotated)) = &rot {
                    let got = topk.search(rot, &filtered(&query, 10, filter, &exclude)).unwrap().to_vec();
                    let want = pq_brute_force(stored, &filtered(rotated, 10, filter, &exclude));
                    assert_same_hits(&got, &want, &format!("rotated pq {kernel:?} case={case} filter={filter}"));
                }
            }
            // A query of the stored dimension is not one of the catalog's.
            if axes != dim {
                assert!(matches!(topk.search(&pca, &Query::new(&projected, 3)), Err(Error::DimensionMismatch { .. })));
            }
        }
    }
}

/// A pq table with its refine plane ([`localrec::catalog::PqResidual`]): the hits are the best of
/// the pq scan's `2k + 32` (filters applied), re-scored with both levels, checked against a brute
/// force over those rows; the plane survives its file; the tower-facing rows include both levels.
#[test]
fn a_refined_pq_table_rescores_the_scan_shortlist_with_both_levels() {
    use localrec::catalog::PqResidual;
    let seed = base_seed() ^ 0x7265_6669;
    let mut rng = Rng::new(seed);
    for (n, dim, m) in [(1500usize, 24usize, 8usize), (300, 64, 20), (40, 6, 2)] {
        let cats: Vec<u32> = (0..n as u32).map(|i| i % 5).collect();
        let src = Catalog::from_f32(&ids(n), dim, gaussian_values(&mut rng, n * dim), Some(cats)).unwrap();
        let table = src.to_rotated_pq(m, 3).unwrap();
        let plane = PqResidual::decode(&PqResidual::learn(&table, &src, 5).unwrap().encode()).unwrap();
        let refined = table.clone().with_residual(plane).unwrap();
        let (mut a, mut b) = (TopK::new(), TopK::new());
        for trial in 0..12 {
            let q = gaussian_values(&mut rng, dim);
            let k = 1 + trial % 12;
            let exclude: Vec<u32> = (0..n as u32).step_by(7).collect();
            let allowed = [1u32, 3];
            let offsets = [(3u32, 0.5f32)];
            let mut query = Query::new(&q, k).exclude(&exclude);
            if trial % 2 == 0 {
                query = query.categories(&allowed);
            }
            if trial % 3 == 0 {
                query = query.offsets(&offsets);
            }
            let wide = Query { k: 2 * k + 32, ..query };
            let shortlist: Vec<u32> = a.search(&table, &wide).unwrap().iter().map(|h| h.index).collect();
            let boost = |r: u32| if trial % 3 == 0 && r % 5 == 3 { 0.5 } else { 0.0 };
            let mut want: Vec<(f32, u32)> = shortlist
                .iter()
                .map(|&r| (refined.vector(r).iter().zip(&q).map(|(x, y)| x * y).sum::<f32>() + boost(r), r))
                .collect();
            want.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            let got = b.search(&refined, &query).unwrap();
            let ctx = format!("seed {seed}, n {n}, dim {dim}, trial {trial}");
            assert_eq!(got.len(), k.min(want.len()), "{ctx}");
            for (h, w) in got.iter().zip(&want) {
                assert_eq!(h.index, w.1, "{ctx}");
                assert!((h.score - w.0).abs() < 1e-3 * (1.0 + w.0.abs()), "{ctx}: {} vs {}", h.score, w.0);
            }
        }
    }
}
