//! The façade the browser binding and the tests call: a catalogue, a user tower and the visitor's
//! history; record an interaction, get fresh recommendations.
//!
//! Work is reused across interactions: the user embedding is recomputed once per recorded
//! interaction (not per `recommend`), the ranker keeps its scratch buffers, and the set of seen
//! items is kept sorted for the exclusion filter.

use std::rc::Rc;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{Event, Kind, UserModel};
use crate::rank::{Hit, Query, TopK};

/// How many raw events the recommender keeps in memory (oldest dropped first). The tower reads
/// only the newest `max_len` distinct items; the rest is for "exclude what was seen".
pub const MAX_EVENTS: usize = 2000;

/// Options of [`Recommender::recommend`].
#[derive(Debug, Clone, Default)]
pub struct RecommendOptions<'a> {
    pub k: usize,
    /// Leave out every item in the history.
    pub exclude_seen: bool,
    /// Further rows to leave out.
    pub exclude: &'a [u32],
    /// Only these category codes, when given.
    pub categories: Option<&'a [u32]>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Recommender {
    catalog: Rc<Catalog>,
    model: UserModel,
    topk: TopK,
    events: Vec<Event>,
    seen: Vec<u32>,
    embedding: Option<Vec<f32>>,
    exclude: Vec<u32>,
}

impl Recommender {
    /// Checks that the tower reads vectors of the catalogue's dimension.
    pub fn new(catalog: Rc<Catalog>, model: UserModel) -> Result<Recommender> {
        if model.config().dim != catalog.dim() {
            return Err(Error::TowerCatalogMismatch { tower: model.config().dim, catalogue: catalog.dim() });
        }
        Ok(Recommender {
            catalog,
            model,
            topk: TopK::new(),
            events: Vec::new(),
            seen: Vec::new(),
            embedding: None,
            exclude: Vec::new(),
        })
    }

    pub fn catalog(&self) -> &Rc<Catalog> {
        &self.catalog
    }

    pub fn model_mut(&mut self) -> &mut UserModel {
        &mut self.model
    }

    /// The recorded events, oldest first (catalogue rows).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The current user embedding (`None` before the first interaction).
    pub fn embedding(&self) -> Option<&[f32]> {
        self.embedding.as_deref()
    }

    /// Records an interaction with catalogue row `item` and updates the embedding at once.
    pub fn record(&mut self, item: u32, kind: Kind, time: f64) -> Result<()> {
        if item as usize >= self.catalog.len() {
            return Err(Error::IndexOutOfRange { index: item, len: self.catalog.len() });
        }
        if !time.is_finite() {
            return Err(Error::NonFiniteTime(time));
        }
        self.events.push(Event { item, kind, time });
        if self.events.len() > MAX_EVENTS {
            let drop = self.events.len() - MAX_EVENTS;
            self.events.drain(..drop);
        }
        if let Err(pos) = self.seen.binary_search(&item) {
            self.seen.insert(pos, item);
        }
        self.refresh()
    }

    /// Replaces the whole history (a returning visitor's stored events) and recomputes once.
    pub fn set_history(&mut self, events: &[Event]) -> Result<()> {
        if let Some(e) = events.iter().find(|e| e.item as usize >= self.catalog.len()) {
            return Err(Error::IndexOutOfRange { index: e.item, len: self.catalog.len() });
        }
        if let Some(e) = events.iter().find(|e| !e.time.is_finite()) {
            return Err(Error::NonFiniteTime(e.time));
        }
        let start = events.len().saturating_sub(MAX_EVENTS);
        self.events = events[start..].to_vec();
        self.seen = self.events.iter().map(|e| e.item).collect();
        self.seen.sort_unstable();
        self.seen.dedup();
        self.refresh()
    }

    /// Forgets the history.
    pub fn clear(&mut self) {
        self.events.clear();
        self.seen.clear();
        self.embedding = None;
    }

    fn refresh(&mut self) -> Result<()> {
        self.embedding =
            if self.events.is_empty() { None } else { Some(self.model.embed(&self.catalog, &self.events)?) };
        Ok(())
    }

    /// The top `k` items for the current embedding. With no history there is nothing to embed:
    /// [`Error::EmptyHistory`] (the caller shows its cold-start list).
    pub fn recommend(&mut self, options: &RecommendOptions<'_>) -> Result<&[Hit]> {
        let Some(embedding) = self.embedding.as_deref() else { return Err(Error::EmptyHistory) };
        self.exclude.clear();
        if options.exclude_seen {
            self.exclude.extend_from_slice(&self.seen);
        }
        self.exclude.extend_from_slice(options.exclude);
        let mut query = Query::new(embedding, options.k).exclude(&self.exclude);
        if let Some(c) = options.categories {
            query = query.categories(c);
        }
        self.topk.search(&self.catalog, &query)
    }
}
