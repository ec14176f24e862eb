//! The built-in, seeded synthetic shop: named items in categories, visitors whose tastes drift,
//! sessions of views, carts and purchases. Its structure is what a model must recover:
//!
//! * every item has a hidden 16-d "style" near its category's centre; its title names the category
//!   (the noun) and the strongest style direction (the adjective), so words carry signal;
//! * a visitor has a taste vector that drifts a little between sessions; each session stays in one
//!   category (mostly one of the visitor's two favourites) and picks items by popularity and by
//!   style closeness to the current taste, so the last items say most about the next one;
//! * a viewed item is put in the cart 30% of the time, and a carted item bought 60% of the time.
//!
//! Popularity alone scores low on it; a model that reads the history's order and recency scores
//! far higher (the tests assert a wide margin).

use super::data::{RawInteraction, RawItem};
use crate::model::Kind;
use crate::rng::Rng;

const CATEGORIES: [(&str, [&str; 6]); 8] = [
    ("Kitchen", ["Teapot", "Mug", "Skillet", "Whisk", "Colander", "Kettle"]),
    ("Garden", ["Planter", "Trowel", "Watering Can", "Seed Tray", "Birdhouse", "Hose"]),
    ("Books", ["Novel", "Atlas", "Cookbook", "Journal", "Anthology", "Field Guide"]),
    ("Toys", ["Puzzle", "Kite", "Robot", "Yo-Yo", "Plush Bear", "Train Set"]),
    ("Lighting", ["Lantern", "Desk Lamp", "String Lights", "Candle", "Sconce", "Night Light"]),
    ("Stationery", ["Notebook", "Fountain Pen", "Sticky Notes", "Planner", "Stamp Set", "Envelope"]),
    ("Outdoor", ["Tent", "Hammock", "Cooler", "Compass", "Camp Chair", "Headlamp"]),
    ("Bath", ["Towel", "Soap Dish", "Bath Mat", "Loofah", "Robe", "Toothbrush Cup"]),
];
const ADJECTIVES: [&str; 8] = ["Rustic", "Modern", "Vintage", "Playful", "Minimal", "Bold", "Cosy", "Classic"];
const COLOURS: [&str; 6] = ["Red", "Blue", "Green", "Ivory", "Black", "Amber"];
const STYLE_DIM: usize = 16;
/// Items of one category scored per session; larger categories are sampled first (see `generate`).
/// Up to 8 × 2,048 items the shop is the one every earlier version generated.
const POOL: usize = 2048;

/// Sizes of the synthetic shop.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticConfig {
    pub items: usize,
    pub users: usize,
    pub sessions_min: usize,
    pub sessions_max: usize,
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig { items: 2000, users: 3000, sessions_min: 3, sessions_max: 9, seed: 42 }
    }
}

fn unit(rng: &mut Rng, v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = rng.gaussian();
    }
    normalize(v);
}

fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Generates the shop: (interactions in time order, items).
pub fn generate(cfg: &SyntheticConfig) -> (Vec<RawInteraction>, Vec<RawItem>) {
    let mut rng = Rng::new(cfg.seed);
    let n_cat = CATEGORIES.len();
    let mut centres = vec![vec![0.0f32; STYLE_DIM]; n_cat];
    for c in centres.iter_mut() {
        unit(&mut rng, c);
    }
    let mut items = Vec::with_capacity(cfg.items);
    let mut style = Vec::with_capacity(cfg.items);
    let mut category = Vec::with_capacity(cfg.items);
    let mut weight = Vec::with_capacity(cfg.items);
    // Titles are unique: a repeated adjective-colour-noun gets a model number (no random draw, so the
    // shop's items and interactions do not depend on it).
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for i in 0..cfg.items {
        let c = i % n_cat;
        let mut s = vec![0.0f32; STYLE_DIM];
        unit(&mut rng, &mut s);
        for (x, m) in s.iter_mut().zip(&centres[c]) {
            *x = 0.6 * *x + *m;
        }
        normalize(&mut s);
        let adjective = (0..ADJECTIVES.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap_or(0);
        let noun = CATEGORIES[c].1[rng.below(6) as usize];
        let colour = COLOURS[rng.below(COLOURS.len() as u64) as usize];
        let title = format!("{} {} {}", ADJECTIVES[adjective], colour, noun);
        let count = seen.entry(title.clone()).or_insert(0);
        *count += 1;
        let title = if *count == 1 { title } else { format!("{title} No. {count}") };
        items.push(RawItem { id: format!("sku-{i:05}"), title, category: Some(CATEGORIES[c].0.to_string()) });
        style.push(s);
        category.push(c);
        // Long-tailed popularity.
        weight.push(1.0 / (1.0 + rng.below(cfg.items as u64) as f32).powf(0.7));
    }
    let by_category: Vec<Vec<usize>> =
        (0..n_cat).map(|c| (0..cfg.items).filter(|&i| category[i] == c).collect()).collect();
    // Running sums of popularity within each category (used by categories larger than POOL).
    let cumulative: Vec<Vec<f32>> = by_category
        .iter()
        .map(|items| {
            let mut sum = 0.0f32;
            items
                .iter()
                .map(|&i| {
                    sum += weight[i];
                    sum
                })
                .collect()
        })
        .collect();

    let mut out = Vec::new();
    let start = 1_700_000_000.0f64;
    let mut taste = vec![0.0f32; STYLE_DIM];
    let mut noise = vec![0.0f32; STYLE_DIM];
    for u in 0..cfg.users {
        let user = format!("visitor-{u:05}");
        let favourites = [rng.below(n_cat as u64) as usize, rng.below(n_cat as u64) as usize];
        unit(&mut rng, &mut taste);
        let mut t = start + rng.below(30 * 86_400) as f64;
        let sessions = cfg.sessions_min + rng.below((cfg.sessions_max - cfg.sessions_min + 1) as u64) as usize;
        for _ in 0..sessions {
            // Drift.
            unit(&mut rng, &mut noise);
            for (x, n) in taste.iter_mut().zip(&noise) {
                *x += 0.35 * n;
            }
            normalize(&mut taste);
            let c =
                if rng.next_f32() < 0.8 { favourites[rng.below(2) as usize] } else { rng.below(n_cat as u64) as usize };
            // Each view picks item i of the category with probability ∝ popularity × exp(5 <style, taste>).
            // A category of more than POOL items is first sampled (POOL draws ∝ popularity, with
            // replacement) and the draw made among those ∝ exp(5 <style, taste>): sampling-importance
            // resampling, the same distribution in the limit, at a cost per session that does not grow
            // with the catalog (scoring all 12,500 items of a category at 100,000 items made the
            // generator the slowest part of a scale run).
            let all = &by_category[c];
            let sampled: Vec<usize>;
            let (pool, scores): (&[usize], Vec<f32>) = if all.len() <= POOL {
                (all, all.iter().map(|&i| weight[i] * (5.0 * dot(&style[i], &taste)).exp()).collect())
            } else {
                let cumulative = &cumulative[c];
                let total = cumulative[cumulative.len() - 1];
                sampled = (0..POOL)
                    .map(|_| {
                        let r = rng.next_f32() * total;
                        all[cumulative.partition_point(|&x| x < r).min(all.len() - 1)]
                    })
                    .collect();
                (&sampled, sampled.iter().map(|&i| (5.0 * dot(&style[i], &taste)).exp()).collect())
            };
            let total: f32 = scores.iter().sum();
            let views = 3 + rng.below(6) as usize;
            for _ in 0..views {
                let mut r = rng.next_f32() * total;
                let mut pick = pool[pool.len() - 1];
                for (k, s) in scores.iter().enumerate() {
                    r -= s;
                    if r <= 0.0 {
                        pick = pool[k];
                        break;
                    }
                }
                let item = items[pick].id.clone();
                t += 10.0 + rng.below(110) as f64;
                out.push(RawInteraction { user: user.clone(), item: item.clone(), time: t, kind: Kind::View });
                if rng.next_f32() < 0.3 {
                    t += 5.0 + rng.below(30) as f64;
                    out.push(RawInteraction { user: user.clone(), item: item.clone(), time: t, kind: Kind::Cart });
                    if rng.next_f32() < 0.6 {
                        t += 5.0 + rng.below(60) as f64;
                        out.push(RawInteraction { user: user.clone(), item, time: t, kind: Kind::Purchase });
                    }
                }
            }
            t += 3600.0 * (6 + rng.below(24 * 10)) as f64;
        }
    }
    (out, items)
}
