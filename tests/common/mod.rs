//! Helpers shared by the integration tests, which run natively (`cargo test`) and in headless
//! Chrome and Firefox (`wasm-pack test`). Property tests derive every case from a seed and put it in
//! each assertion message; set `LOCALREC_TEST_SEED` (native) to replay or vary a run.
#![allow(dead_code)]

use localrec::rng::Rng;

/// The base seed: `LOCALREC_TEST_SEED` natively if set, else a fixed default (also in browsers).
pub fn base_seed() -> u64 {
    let default = 0x5EED_2026;
    #[cfg(not(target_arch = "wasm32"))]
    {
        let seed = std::env::var("LOCALREC_TEST_SEED")
            .map_or(default, |s| s.parse().expect("LOCALREC_TEST_SEED must be a u64"));
        eprintln!("property test seed: LOCALREC_TEST_SEED={seed}");
        seed
    }
    #[cfg(target_arch = "wasm32")]
    {
        wasm_bindgen_test::console_log!("property test seed: {default}");
        default
    }
}

/// Random f32 values that are multiples of 1/8 in [-1, 1]: their products and sums of up to
/// thousands of them are exact in f32, so every kernel must give bit-identical scores (and ties).
pub fn exact_values(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| (rng.below(17) as f32 - 8.0) / 8.0).collect()
}

/// Random Gaussian values.
pub fn gaussian_values(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gaussian()).collect()
}

pub fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("sku-{i:05}")).collect()
}

/// An f32 catalog made of the given rows of `c` (same ids, categories and vectors); rows listed in
/// `perturb` get their first coordinate changed (a "changed row" for delta tests).
pub fn subset(c: &localrec::Catalog, rows: &[u32], perturb: &[u32]) -> localrec::Catalog {
    let ids: Vec<&str> = rows.iter().map(|&r| c.id(r)).collect();
    let mut values = Vec::with_capacity(rows.len() * c.dim());
    for &r in rows {
        let mut v = c.vector(r);
        if perturb.contains(&r) {
            v[0] += 0.25;
        }
        values.extend(v);
    }
    let cats = c.categories().map(|cats| rows.iter().map(|&r| cats[r as usize]).collect());
    localrec::Catalog::from_f32(&ids, c.dim(), values, cats).expect("rows of a valid catalog")
}

/// A database `name` opened empty, with the crate's schema: deleted first, so each browser test
/// starts from nothing.
#[cfg(target_arch = "wasm32")]
pub async fn fresh_database(name: &str) -> web_sys::IdbDatabase {
    use wasm_bindgen::JsCast;
    let factory: web_sys::IdbFactory =
        js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap().unchecked_into();
    let _ = localrec::wasm::idb::request(&factory.delete_database(name).unwrap()).await;
    localrec::wasm::idb::open_database(name, 5000).await.unwrap().0
}

/// Runs a future of the in-memory stores to completion: they never wait, so one poll finishes it.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the memory store's futures are always ready"),
    }
}
