//! The visitor's session: the one owner of everything that answers one visitor.
//!
//! A [`Session`] holds the model in use ([`Model`]: the recommender and the items' titles and
//! categories), the visitor's history and dismissals ([`History`], bounded by one [`Bounds`]), the
//! merged business rules (the manifest's and the app's, validated once), the experiment's
//! assignment and its shadow variant. The browser binding (`src/wasm/session.rs`) wraps one
//! `Session`; JS holds one handle and keeps nothing in step by hand.
//!
//! The recommender reads the session's history: after every change of the history (a record, a
//! reload, an import, a clear, a new model) the recommender is rebuilt from the kept events, so the
//! answer depends on the stored history alone. The same history gives the same answer whether it
//! was recorded in this page or read back after a reload.
//!
//! Everything here is plain Rust, tested natively over the in-memory history store
//! (`tests/session.rs`). Store I/O is split in two halves, as in [`History`]: the session changes
//! memory at once and hands back what to store, so a click never waits for the disk and no borrow
//! is held across an await in the browser.

use std::rc::Rc;

use crate::catalog::meta::ItemMeta;
use crate::error::{Error, Result};
use crate::history::{Bounds, History, HistoryEvent, HistoryStore, ImportReport, LoadReport, SkipReason, StoreKey};
use crate::kind::Kind;
use crate::manifest::{Manifest, ManifestRules};
use crate::recommender::{Explanation, Reason, RecommendOptions, Recommendation, Recommender, Rules, MAX_K};
use crate::rerank::RankingStage;

/// How far in the future an interaction's time may be (clock skew between devices), in seconds.
/// Further is a caller's mistake, most often milliseconds given for seconds.
pub const MAX_CLOCK_SKEW_SECS: f64 = 86_400.0;

/// How many results a shadow variant is scored on: a hit is the next interaction in its top 10.
pub const SHADOW_K: usize = 10;

/// The model a session answers with: the recommender (item table, user tower, optional ranking
/// stage) and the items' metadata in one shape, whichever file it came from.
#[derive(Debug)]
pub struct Model {
    recommender: Recommender,
    items: ItemMeta,
}

impl Model {
    /// A model from a recommender and its metadata file: `items.meta.lrc` (binary, first byte
    /// 0x89) or `items.json`. The metadata is checked against the recommender's catalog (the same
    /// rows, a name for every category code, popular items it has) and its popular list becomes the
    /// cold-start answer.
    pub fn new(recommender: Recommender, metadata: &[u8]) -> Result<Model> {
        let catalog = recommender.catalog();
        let items = if metadata.first() == Some(&0x89) {
            ItemMeta::decode(metadata)?
        } else {
            let json = crate::manifest::ItemsJson::parse(metadata)?;
            crate::manifest::check_popular_and_categories(catalog, &json.popular, json.categories.len())?;
            ItemMeta::from_json(&json, catalog)?
        };
        Model::from_parts(recommender, items)
    }

    /// A model from a recommender and decoded metadata (checked as in [`Model::new`]).
    pub fn from_parts(mut recommender: Recommender, items: ItemMeta) -> Result<Model> {
        items.check_against(recommender.catalog())?;
        recommender.set_popular(items.popular())?;
        Ok(Model { recommender, items })
    }

    pub fn recommender(&self) -> &Recommender {
        &self.recommender
    }

    pub fn recommender_mut(&mut self) -> &mut Recommender {
        &mut self.recommender
    }

    pub fn items(&self) -> &ItemMeta {
        &self.items
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.recommender.catalog().len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row of item `id`.
    pub fn row(&self, id: &str) -> Option<u32> {
        self.recommender.catalog().row_of(id)
    }

    /// The id of row `row` (`row` must be a row of this catalog).
    pub fn id(&self, row: u32) -> &str {
        self.recommender.catalog().id(row)
    }

    /// The title of row `row`: the metadata's, or the id where the metadata has none.
    pub fn title(&self, row: u32) -> &str {
        match self.items.title(row as usize) {
            Some(t) if !t.is_empty() => t,
            _ => self.id(row),
        }
    }

    /// The category name of row `row` (`None` without one).
    pub fn category(&self, row: u32) -> Option<&str> {
        let code = *self.recommender.catalog().categories()?.get(row as usize)?;
        self.items.categories().get(code as usize).map(String::as_str)
    }

    /// The category code of a name (`None` if the catalog has no such category).
    pub fn category_code(&self, name: &str) -> Option<u32> {
        self.items.categories().iter().position(|c| c == name).map(|c| c as u32)
    }

    /// Adds the ranking stage (it must cover this catalog).
    pub fn set_ranking_stage(&mut self, stage: Rc<RankingStage>) -> Result<()> {
        self.recommender.set_ranking_stage(Some(stage))
    }

    /// Whether the ranking stage is in use.
    pub fn has_ranking_stage(&self) -> bool {
        self.recommender.ranking_stage().is_some()
    }

    /// Whether the item table is refined (an int8 refine plane, or a pq plane attached).
    pub fn is_refined(&self) -> bool {
        let c = self.recommender.catalog();
        c.refine().is_some() || c.residual().is_some()
    }
}

/// The app's business rules, in its own words: item ids and category names (`setRules`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppRules {
    /// Never recommended.
    pub block: Vec<String>,
    /// Added to the score of every item of a category (negative: bury). The last one given for a
    /// category wins.
    pub boost: Vec<(String, f32)>,
    /// Items at fixed 0-based positions (each below [`MAX_K`]).
    pub pin: Vec<(String, u32)>,
}

impl AppRules {
    /// Checks what does not depend on the catalog: finite boosts, pin positions below
    /// [`MAX_K`], at most [`MAX_K`] pins.
    pub fn validate(&self) -> Result<()> {
        if let Some((name, b)) = self.boost.iter().find(|(_, b)| !b.is_finite()) {
            return Err(Error::InvalidArgument(format!("the boost of {name} must be a finite number, got {b}")));
        }
        if let Some((_, p)) = self.pin.iter().find(|(_, p)| *p as usize >= MAX_K) {
            return Err(Error::InvalidArgument(format!("a pin's position must be an integer in 0..{MAX_K}, got {p}")));
        }
        if self.pin.len() > MAX_K {
            return Err(Error::InvalidArgument(format!("{} pins: at most {MAX_K}", self.pin.len())));
        }
        Ok(())
    }
}

/// The manifest's rules with the app's on top: blocklists add up, the app's boost replaces the
/// manifest's for the same category, the app's pins (when it gives any) replace the manifest's.
/// Ids the catalog lacks and categories it does not name are skipped (an item may have left it);
/// returns the rules in rows and codes and how many ids were skipped.
fn merge_rules(manifest: Option<&ManifestRules>, app: Option<&AppRules>, model: &Model) -> Result<(Rules, usize)> {
    if let Some(a) = app {
        a.validate()?;
    }
    let empty = AppRules::default();
    let a = app.unwrap_or(&empty);
    let m_block: &[String] = manifest.map_or(&[], |m| &m.block);
    let m_boost = manifest.iter().flat_map(|m| m.boost.iter().map(|(c, b)| (c.as_str(), *b)));
    let m_pin: Vec<(&str, u32)> =
        manifest.iter().flat_map(|m| m.pin.iter().map(|p| (p.id.as_str(), p.position))).collect();
    let mut skipped = 0;
    let mut row = |id: &str| {
        let r = model.row(id);
        skipped += usize::from(r.is_none());
        r
    };
    let block: Vec<u32> =
        m_block.iter().map(String::as_str).chain(a.block.iter().map(String::as_str)).filter_map(&mut row).collect();
    let pins: Vec<(&str, u32)> =
        if a.pin.is_empty() { m_pin } else { a.pin.iter().map(|(id, p)| (id.as_str(), *p)).collect() };
    let pins: Vec<(u32, u32)> = pins.into_iter().filter_map(|(id, p)| row(id).map(|r| (r, p))).collect();
    let boosts: Vec<(u32, f32)> = m_boost
        .into_iter()
        .chain(a.boost.iter().map(|(c, b)| (c.as_str(), *b)))
        .filter_map(|(name, b)| model.category_code(name).map(|c| (c, b)))
        .collect();
    Ok((Rules { block, boosts, pins }, skipped))
}

/// The experiment this device takes part in: its name, the variant assigned (or forced), and the
/// shadow variants scored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub experiment: String,
    pub variant: String,
    pub shadows: Vec<String>,
}

/// The experiment of `manifest` for the device id `device`, or the variant forced by name. A
/// forced variant the experiment lacks is an [`Error::InvalidArgument`]; so is a forced variant
/// without an experiment.
pub fn assign(manifest: &Manifest, device: &str, forced: Option<&str>) -> Result<Option<Assignment>> {
    let Some(x) = &manifest.experiment else {
        return match forced {
            Some(name) => Err(Error::InvalidArgument(format!(
                "variant {name:?} was asked for, but the manifest runs no experiment"
            ))),
            None => Ok(None),
        };
    };
    let variant = match forced {
        Some(name) if x.variants.iter().any(|v| v.name == name) => name.to_owned(),
        Some(name) => {
            return Err(Error::InvalidArgument(format!("variant {name:?} is not one of experiment {:?}'s", x.name)))
        }
        None => x.assign(device).name.clone(),
    };
    let shadows = x.shadows().map(|v| v.name.clone()).filter(|n| *n != variant).collect();
    Ok(Some(Assignment { experiment: x.name.clone(), variant, shadows }))
}

/// What `recommend` is asked, in the app's words: item ids and category names.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// How many results: 1 to [`MAX_K`].
    pub k: usize,
    /// Leave out every item in the history.
    pub exclude_seen: bool,
    /// Item ids to leave out (ids the catalog lacks are ignored).
    pub exclude: Vec<String>,
    /// Only items of these categories (names the catalog lacks match nothing).
    pub categories: Option<Vec<String>>,
    /// At most this many results of one category (0: no limit).
    pub max_per_category: Option<usize>,
}

impl Default for Request {
    fn default() -> Self {
        Request { k: 10, exclude_seen: true, exclude: Vec::new(), categories: None, max_per_category: None }
    }
}

impl Request {
    /// Checks `k`: an integer in 1..=[`MAX_K`].
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_K).contains(&self.k) {
            return Err(Error::InvalidArgument(format!("k must be an integer in 1..={MAX_K}, got {}", self.k)));
        }
        Ok(())
    }
}

/// One answer of [`Session::recommend`].
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub items: Vec<Recommendation>,
    /// Every result is a popular item: the history is empty (or unknown to this catalog).
    pub cold_start: bool,
}

/// Which of a visitor's two histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// What the visitor viewed, carted and bought.
    Events,
    /// What the visitor dismissed ("not interested").
    Dismissed,
}

/// A part of the model that follows the first answer ([`Session::attach_behind`]).
pub enum Behind {
    /// The ranking stage (`ranker.bin`).
    Stage(Rc<RankingStage>),
    /// A pq table's refine plane.
    Refine(crate::catalog::PqResidual),
}

/// The shadow variant of an experiment: scored beside the live one, never shown.
#[derive(Debug)]
struct Shadow {
    name: String,
    model: Model,
    /// Both variants' top [`SHADOW_K`] for the next interaction (live, shadow), once computed.
    next: Option<(Vec<u32>, Vec<u32>)>,
}

/// A variant's score: how many interactions it was scored on and how many were in its top 10.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShadowScore {
    pub events: u32,
    pub hits: u32,
}

/// See the module docs.
#[derive(Debug)]
pub struct Session {
    model: Model,
    /// The manifest of the model in use.
    manifest: Manifest,
    history: History,
    dismissed: History,
    manifest_rules: Option<ManifestRules>,
    app_rules: Option<AppRules>,
    /// Ids of the merged rules the catalog lacks.
    skipped_rule_ids: usize,
    experiment: Option<Assignment>,
    shadow: Option<Shadow>,
    /// (live, shadow) scores.
    scores: (ShadowScore, ShadowScore),
    /// The last record's (live, shadow) hits, when it was scored.
    last_scored: Option<(bool, bool)>,
    /// A newer model and its manifest, offered by a background update and waiting for
    /// [`Session::apply_update`].
    update: Option<(Model, Manifest)>,
}

impl Session {
    /// A session over `model`, its histories empty until loaded ([`Session::apply_loaded`] or
    /// [`Session::load`]). `scope` names the visitor's history in the store (its dismissals are kept
    /// under `{scope}:dismissed`); `device` is the random id that assigns the experiment's variant,
    /// `variant` a forced one. The manifest's and the app's rules are merged and validated here.
    pub fn new(
        model: Model,
        manifest: &Manifest,
        bounds: Bounds,
        scope: &str,
        device: &str,
        variant: Option<&str>,
        rules: Option<AppRules>,
    ) -> Result<Session> {
        if scope.is_empty() {
            return Err(Error::InvalidArgument("historyScope must be a non-empty string".into()));
        }
        check_fits(manifest, &model)?;
        let experiment = assign(manifest, device, variant)?;
        let mut s = Session {
            model,
            manifest: manifest.clone(),
            history: History::new(scope, bounds),
            dismissed: History::new(&format!("{scope}:dismissed"), bounds),
            manifest_rules: manifest.rules.clone(),
            app_rules: rules,
            skipped_rule_ids: 0,
            experiment,
            shadow: None,
            scores: Default::default(),
            update: None,
            last_scored: None,
        };
        s.apply_rules()?;
        Ok(s)
    }

    /// The model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model in use, to add a ranking stage or refine plane loaded behind the first answer.
    /// Its history is re-read from the session's afterwards ([`Session::resync`]).
    pub fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    /// The manifest of the model in use.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Attaches a part loaded behind the first answer, when it belongs to the model in use
    /// (`model_version`) and the model lacks it; `Ok(false)` drops it otherwise (a part of an older or
    /// newer version, or one already in use: an answer never goes backwards). The history is then
    /// read again with it. An error (a stage or plane that does not fit the table) changes nothing.
    pub fn attach_behind(&mut self, model_version: &str, part: Behind) -> Result<bool> {
        if model_version != self.manifest.model_version {
            return Ok(false);
        }
        match part {
            Behind::Stage(_) if self.model.has_ranking_stage() => return Ok(false),
            Behind::Refine(_) if self.model.is_refined() => return Ok(false),
            Behind::Stage(stage) => self.model.set_ranking_stage(stage)?,
            Behind::Refine(plane) => self.model.recommender.attach_residual(plane)?,
        }
        self.resync()?;
        Ok(true)
    }

    /// The ranking stage's role when it should follow the first answer for `request` (the model
    /// answers without one and the manifest ships one; see [`crate::request::FileRequest`]).
    pub fn stage_behind(&self, request: &crate::request::FileRequest) -> Option<&'static str> {
        if self.model.has_ranking_stage() {
            return None;
        }
        request.stage_behind(&self.manifest)
    }

    /// The refine plane's role when it should follow the first answer for `request` (a pq table
    /// not yet refined, a plane the request and the device allow).
    pub fn refine_behind(&self, request: &crate::request::FileRequest) -> Option<&'static str> {
        if self.model.is_refined() {
            return None;
        }
        request.refine_behind(&self.manifest, self.model.recommender().catalog().precision())
    }

    /// The visitor's history (or dismissals).
    pub fn history(&self, scope: Scope) -> &History {
        match scope {
            Scope::Events => &self.history,
            Scope::Dismissed => &self.dismissed,
        }
    }

    fn history_mut(&mut self, scope: Scope) -> &mut History {
        match scope {
            Scope::Events => &mut self.history,
            Scope::Dismissed => &mut self.dismissed,
        }
    }

    /// The experiment's assignment (`None` without an experiment).
    pub fn experiment(&self) -> Option<&Assignment> {
        self.experiment.as_ref()
    }

    /// Ids of the rules in use that the catalog lacks (skipped).
    pub fn skipped_rule_ids(&self) -> usize {
        self.skipped_rule_ids
    }

    /// The recommender (and the shadow's) read the session's history and dismissals again.
    pub fn resync(&mut self) -> Result<()> {
        sync_model(&mut self.model, &self.history, &self.dismissed)?;
        if let Some(sh) = &mut self.shadow {
            sync_model(&mut sh.model, &self.history, &self.dismissed)?;
            sh.next = None;
        }
        Ok(())
    }

    fn apply_rules(&mut self) -> Result<()> {
        let (rules, skipped) = merge_rules(self.manifest_rules.as_ref(), self.app_rules.as_ref(), &self.model)?;
        if let Some(sh) = &mut self.shadow {
            let (r, _) = merge_rules(self.manifest_rules.as_ref(), self.app_rules.as_ref(), &sh.model)?;
            sh.model.recommender.set_rules(r)?;
            sh.next = None;
        }
        self.model.recommender.set_rules(rules)?;
        self.skipped_rule_ids = skipped;
        Ok(())
    }

    /// Replaces the app's rules (the manifest's stay underneath); returns how many ids the
    /// catalog lacks. Invalid rules are an error and change nothing.
    pub fn set_rules(&mut self, rules: AppRules) -> Result<usize> {
        let old = self.app_rules.replace(rules);
        if let Err(e) = self.apply_rules() {
            self.app_rules = old;
            self.apply_rules()?;
            return Err(e);
        }
        Ok(self.skipped_rule_ids)
    }

    /// Switches to a newer model (an update): the history, the dismissals and the app's rules carry
    /// over; the manifest's rules and the experiment's assignment are the new manifest's.
    pub fn replace_model(
        &mut self,
        model: Model,
        manifest: &Manifest,
        device: &str,
        variant: Option<&str>,
    ) -> Result<()> {
        check_fits(manifest, &model)?;
        let experiment = assign(manifest, device, variant)?;
        let (rules, skipped) = merge_rules(manifest.rules.as_ref(), self.app_rules.as_ref(), &model)?;
        let mut model = model;
        model.recommender.set_rules(rules)?;
        sync_model(&mut model, &self.history, &self.dismissed)?;
        self.model = model;
        self.manifest = manifest.clone();
        self.manifest_rules = manifest.rules.clone();
        self.skipped_rule_ids = skipped;
        self.experiment = experiment;
        if let Some(sh) = &mut self.shadow {
            sh.next = None;
        }
        Ok(())
    }

    /// Keeps a newer model (a background update) until [`Session::apply_update`], in place of any
    /// model offered before. It must fit its manifest; the model in use is untouched.
    pub fn offer_update(&mut self, model: Model, manifest: Manifest) -> Result<()> {
        check_fits(&manifest, &model)?;
        self.update = Some((model, manifest));
        Ok(())
    }

    /// The model version of the update waiting, if one is.
    pub fn update_waiting(&self) -> Option<&str> {
        self.update.as_ref().map(|(_, m)| m.model_version.as_str())
    }

    /// Switches to the update waiting ([`Session::replace_model`]); `Ok(false)` when none is.
    pub fn apply_update(&mut self, device: &str, variant: Option<&str>) -> Result<bool> {
        let Some((model, manifest)) = self.update.take() else { return Ok(false) };
        self.replace_model(model, &manifest, device, variant)?;
        Ok(true)
    }

    /// Replaces a history with what a store returned (see [`History::apply_loaded`]) and re-reads
    /// it into the recommender; returns the report and the keys to remove from the store.
    pub fn apply_loaded(
        &mut self,
        scope: Scope,
        records: Vec<(StoreKey, std::result::Result<HistoryEvent, SkipReason>)>,
        now: f64,
    ) -> Result<(LoadReport, Vec<StoreKey>)> {
        let out = self.history_mut(scope).apply_loaded(records, now);
        self.resync()?;
        Ok(out)
    }

    /// Reads both histories from `store` (natively and in tests; the browser binding reads through
    /// [`Session::apply_loaded`] so that no borrow is held across an await).
    pub async fn load<S: HistoryStore>(&mut self, store: &S, now: f64) -> Result<(LoadReport, LoadReport)> {
        let mut reports = Vec::with_capacity(2);
        for scope in [Scope::Events, Scope::Dismissed] {
            let records = store.load(self.history(scope).scope()).await?;
            let (report, remove) = self.apply_loaded(scope, records, now)?;
            if !remove.is_empty() {
                let _ = store.remove(&remove).await;
            }
            reports.push(report);
        }
        let dismissed = reports.pop().unwrap_or_default();
        Ok((reports.pop().unwrap_or_default(), dismissed))
    }

    /// Checks an interaction's time (seconds since the epoch): finite, and not more than
    /// [`MAX_CLOCK_SKEW_SECS`] after `now` (milliseconds given for seconds are 1000 times too far).
    pub fn check_time(time: f64, now: f64) -> Result<()> {
        if !time.is_finite() {
            return Err(Error::NonFiniteTime(time));
        }
        if time > now + MAX_CLOCK_SKEW_SECS || time < 0.0 {
            return Err(Error::InvalidArgument(format!(
                "time must be in seconds since the epoch (now is about {now:.0}), got {time}{}",
                if time > now * 100.0 { ": milliseconds?" } else { "" }
            )));
        }
        Ok(())
    }

    /// Records an interaction: the user vector is updated at once, and the event is returned for
    /// the caller to store ([`History::store_event`] under `self.history(Scope::Events).scope()`).
    /// An unknown item, kind or a bad time is an error and changes nothing. The shadow variant is
    /// scored on it first (was it in each variant's top 10?).
    pub fn record(&mut self, id: &str, kind: Kind, time: f64, now: f64) -> Result<HistoryEvent> {
        if self.model.row(id).is_none() {
            return Err(Error::UnknownItem(id.to_owned()));
        }
        Self::check_time(time, now)?;
        let event = HistoryEvent::new(id, kind.name(), time)?;
        self.score_shadow(id);
        let (before, last) = (self.history.events().len(), self.history.events().last().map(|e| e.time));
        let event = self.history.push(event, now);
        // The common case, the newest event appended and nothing dropped by the bounds: the
        // recommender takes the one event (the same state a full re-read gives, at a fraction of
        // its cost); anything else, it reads the history again.
        let appended = self.history.events().len() == before + 1 && last.is_none_or(|t| time >= t);
        if !appended {
            self.resync()?;
            return Ok(event);
        }
        if let Some(row) = self.model.row(id) {
            self.model.recommender.record(row, kind, time)?;
        }
        if let Some(sh) = &mut self.shadow {
            if let Some(row) = sh.model.row(id) {
                sh.model.recommender.record(row, kind, time)?;
            }
            sh.next = None;
        }
        Ok(event)
    }

    /// "Not interested": the item never comes back and similar ones lose score. Returns the
    /// dismissal for the caller to store (under `self.history(Scope::Dismissed).scope()`).
    pub fn dismiss(&mut self, id: &str, now: f64) -> Result<HistoryEvent> {
        if self.model.row(id).is_none() {
            return Err(Error::UnknownItem(id.to_owned()));
        }
        let event = HistoryEvent::new(id, Kind::View.name(), now)?;
        let event = self.dismissed.push(event, now);
        // The history is unchanged: only the dismissed rows are set again (no tower pass).
        sync_dismissed(&mut self.model, &self.dismissed)?;
        if let Some(sh) = &mut self.shadow {
            sync_dismissed(&mut sh.model, &self.dismissed)?;
            sh.next = None;
        }
        Ok(event)
    }

    /// Forgets both histories in memory (the caller clears the store).
    pub fn forget(&mut self) -> Result<()> {
        self.history.forget();
        self.dismissed.forget();
        self.resync()
    }

    /// Merges an exported history (see [`History::merge_import`]); returns the report and the
    /// events to store.
    pub fn merge_import(&mut self, json: &str, now: f64) -> Result<(ImportReport, Vec<HistoryEvent>)> {
        let out = self.history.merge_import(json, now)?;
        self.resync()?;
        Ok(out)
    }

    /// Runs `f` on the recommender with `request` in rows and codes (checked first).
    fn with_options<T>(
        &mut self,
        request: &Request,
        f: impl FnOnce(&mut Recommender, &RecommendOptions<'_>) -> Result<T>,
    ) -> Result<T> {
        request.validate()?;
        let model = &self.model;
        let exclude: Vec<u32> = request.exclude.iter().filter_map(|id| model.row(id)).collect();
        let categories: Option<Vec<u32>> =
            request.categories.as_ref().map(|names| names.iter().filter_map(|n| model.category_code(n)).collect());
        let options = RecommendOptions {
            k: request.k,
            exclude_seen: request.exclude_seen,
            exclude: &exclude,
            categories: categories.as_deref(),
            max_per_category: request.max_per_category,
        };
        f(&mut self.model.recommender, &options)
    }

    /// The top `k` for the visitor's history, each with its reason (see
    /// [`Recommender::recommend`]).
    pub fn recommend(&mut self, request: &Request) -> Result<Answer> {
        let items = self.with_options(request, |r, o| r.recommend(o))?;
        let cold_start = !items.is_empty() && items.iter().all(|r| r.reason == Reason::Popular);
        Ok(Answer { items, cold_start })
    }

    /// [`Session::recommend`], explained (see [`Recommender::explain`]).
    pub fn explain(&mut self, request: &Request) -> Result<Explanation> {
        self.with_options(request, |r, o| r.explain(o))
    }

    /// Sets the experiment's shadow variant (the model of `self.experiment().shadows[0]`): it reads
    /// the same history and rules and is scored on each next interaction.
    pub fn set_shadow(&mut self, model: Model) -> Result<()> {
        let Some(name) = self.experiment.as_ref().and_then(|x| x.shadows.first()).cloned() else {
            return Err(Error::InvalidArgument("this experiment has no shadow variant".into()));
        };
        let mut model = model;
        let (rules, _) = merge_rules(self.manifest_rules.as_ref(), self.app_rules.as_ref(), &model)?;
        model.recommender.set_rules(rules)?;
        sync_model(&mut model, &self.history, &self.dismissed)?;
        self.shadow = Some(Shadow { name, model, next: None });
        Ok(())
    }

    /// Whether a shadow variant is loaded.
    pub fn has_shadow(&self) -> bool {
        self.shadow.is_some()
    }

    /// Computes both variants' top [`SHADOW_K`] for the next interaction (off the critical path:
    /// the binding calls it after an answer, when the page is idle). Nothing without a shadow or
    /// with an empty history.
    pub fn prepare_shadow(&mut self) -> Result<()> {
        let Some(sh) = &mut self.shadow else { return Ok(()) };
        if self.history.events().is_empty() || sh.next.is_some() {
            return Ok(());
        }
        let options = RecommendOptions { k: SHADOW_K, exclude_seen: true, ..Default::default() };
        let top = |m: &mut Model| -> Result<Vec<u32>> {
            Ok(m.recommender.recommend(&options)?.into_iter().map(|r| r.index).collect())
        };
        sh.next = Some((top(&mut self.model)?, top(&mut sh.model)?));
        Ok(())
    }

    fn score_shadow(&mut self, id: &str) {
        self.last_scored = None;
        let Some(sh) = &mut self.shadow else { return };
        let Some((live, shadow)) = sh.next.take() else { return };
        let hit = (
            self.model.row(id).is_some_and(|r| live.contains(&r)),
            sh.model.row(id).is_some_and(|r| shadow.contains(&r)),
        );
        self.scores.0.events += 1;
        self.scores.0.hits += u32::from(hit.0);
        self.scores.1.events += 1;
        self.scores.1.hits += u32::from(hit.1);
        self.last_scored = Some(hit);
    }

    /// Whether the last recorded interaction was scored against both variants, and if so, whether
    /// it was in (live, shadow)'s top [`SHADOW_K`].
    pub fn last_scored(&self) -> Option<(bool, bool)> {
        self.last_scored
    }

    /// The scores so far, by variant name: `[(live variant, score), (shadow variant, score)]`;
    /// empty before the shadow has been scored.
    pub fn shadow_scores(&self) -> Vec<(&str, ShadowScore)> {
        match (&self.experiment, &self.shadow) {
            (Some(x), Some(sh)) if self.scores.0.events > 0 => {
                vec![(x.variant.as_str(), self.scores.0), (sh.name.as_str(), self.scores.1)]
            }
            _ => Vec::new(),
        }
    }
}

/// The manifest's item count and dimension (where it states them) are the item table's: a manifest
/// that says otherwise describes another export ([`Error::InvalidManifest`]).
fn check_fits(manifest: &Manifest, model: &Model) -> Result<()> {
    let catalog = model.recommender().catalog();
    if manifest.items != 0 && manifest.items != catalog.len() {
        return Err(Error::InvalidManifest(format!(
            "the manifest says {} items, its item table has {}",
            manifest.items,
            catalog.len()
        )));
    }
    if manifest.dim != 0 && manifest.dim != catalog.dim() {
        return Err(Error::InvalidManifest(format!(
            "the manifest says {} dimensions, its item table has {}",
            manifest.dim,
            catalog.dim()
        )));
    }
    Ok(())
}

/// The recommender of `model` reads `history` and `dismissed` (ids the catalog lacks skipped).
fn sync_model(model: &mut Model, history: &History, dismissed: &History) -> Result<()> {
    sync_dismissed(model, dismissed)?;
    model.recommender.set_history_events(history.events())?;
    Ok(())
}

/// The recommender's dismissed rows, from the session's dismissals.
fn sync_dismissed(model: &mut Model, dismissed: &History) -> Result<()> {
    let rows: Vec<u32> = dismissed.events().iter().filter_map(|e| model.row(&e.id)).collect();
    model.recommender.set_dismissed(&rows)
}
