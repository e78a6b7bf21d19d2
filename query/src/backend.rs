//! Where searches run: the day indexes on this machine (`Local`), or every indexer of
//! the cluster (`Fanout`), whose answers are merged and marked `partial` naming each
//! indexer that failed.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use logpipe_common::event::{EventId, Timestamp};
use logpipe_store::Catalog;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use logpipe_language::Query;
use logpipe_language::Scope;
use logpipe_store::search::{self, Cursor, Request, SearchError, TimeRange};

use crate::cold::ColdStore;

/// Top values asked of each indexer beyond the requested count, so that merged counts
/// of values near the cut are right more often.
const SHARD_VALUES_FACTOR: usize = 3;

/// A search as the API received it.
#[derive(Debug, Clone)]
pub struct Params {
    /// The query text as given (forwarded to indexers).
    pub q: String,
    pub query: Query,
    pub range: TimeRange,
    pub scope: Scope,
    pub limit: usize,
    pub cursor: Option<Cursor>,
    pub interval: Option<Duration>,
    /// Whether a search counts every match (`total`); an export's pages do not.
    pub count_total: bool,
    /// The caller's `Authorization` header, forwarded to indexers.
    pub authorization: Option<String>,
    pub time_limit: Duration,
    pub max_page_bytes: usize,
}

impl Params {
    fn request(&self) -> Request {
        Request {
            query: self.query.clone(),
            range: self.range,
            scope: self.scope.clone(),
            deadline: Instant::now() + self.time_limit,
            max_page_bytes: self.max_page_bytes,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailedShard {
    pub shard: String,
    pub error: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SearchAnswer {
    pub hits: Vec<Box<RawValue>>,
    pub total: u64,
    pub took_ms: u64,
    pub cursor: Option<String>,
    pub partial: bool,
    #[serde(default)]
    pub failed_shards: Vec<FailedShard>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub ts: String,
    pub count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HistogramAnswer {
    pub buckets: Vec<Bucket>,
    pub interval: String,
    pub interval_ms: u64,
    pub from: String,
    pub to: String,
    pub total: u64,
    pub took_ms: u64,
    pub partial: bool,
    #[serde(default)]
    pub failed_shards: Vec<FailedShard>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: serde_json::Value,
    pub count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ValuesAnswer {
    pub field: String,
    pub values: Vec<ValueCount>,
    pub total: u64,
    pub took_ms: u64,
    pub partial: bool,
    #[serde(default)]
    pub failed_shards: Vec<FailedShard>,
}

/// Why a request failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Engine(#[from] SearchError),
    /// An indexer refused the request (a bad query, a bad token): its status and message.
    #[error("{message}")]
    Refused {
        status: u16,
        message: String,
        position: Option<usize>,
    },
    /// Every indexer failed.
    #[error("no indexer answered: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub enum Backend {
    Local(Catalog),
    Fanout(Fanout),
    /// Either of the above, and the days only object storage holds.
    Tiered(Box<Backend>, ColdStore),
}

impl Backend {
    pub async fn search(&self, params: Params) -> Result<SearchAnswer, BackendError> {
        let started = Instant::now();
        match self {
            Backend::Local(catalog) => local_search(catalog.clone(), params, started).await,
            Backend::Fanout(fanout) => fanout.search(&params, started).await,
            Backend::Tiered(hot, cold) => {
                let (hot, (catalogs, failed)) = tokio::join!(
                    Box::pin(hot.search(params.clone())),
                    cold.catalogs(&params.range)
                );
                let (mut answers, mut failed) = tiered(hot, failed)?;
                for (name, catalog) in catalogs {
                    let answer = local_search(catalog, params.clone(), started).await;
                    cold_part(name, answer, &mut answers, &mut failed)?;
                }
                if answers.is_empty() {
                    return Err(unavailable(&failed));
                }
                Ok(merge_search(answers, failed, &params, started))
            }
        }
    }

    pub async fn histogram(&self, params: Params) -> Result<HistogramAnswer, BackendError> {
        let started = Instant::now();
        match self {
            Backend::Local(catalog) => local_histogram(catalog.clone(), params, started).await,
            Backend::Fanout(fanout) => fanout.histogram(&params, started).await,
            Backend::Tiered(hot, cold) => {
                // One interval for every part, so that their buckets line up.
                let mut params = params;
                params.interval = Some(
                    params
                        .interval
                        .unwrap_or_else(|| search::auto_interval(&params.range)),
                );
                let (hot, (catalogs, failed)) = tokio::join!(
                    Box::pin(hot.histogram(params.clone())),
                    cold.catalogs(&params.range)
                );
                let (mut answers, mut failed) = tiered(hot, failed)?;
                for (name, catalog) in catalogs {
                    let answer = local_histogram(catalog, params.clone(), started).await;
                    cold_part(name, answer, &mut answers, &mut failed)?;
                }
                merge_histograms(answers, failed, started)
            }
        }
    }

    pub async fn values(
        &self,
        field: String,
        params: Params,
    ) -> Result<ValuesAnswer, BackendError> {
        let started = Instant::now();
        search::facet_column(&field)?;
        match self {
            Backend::Local(catalog) => local_values(catalog.clone(), field, params, started).await,
            Backend::Fanout(fanout) => fanout.values(&field, &params, started).await,
            Backend::Tiered(hot, cold) => {
                let mut each = params.clone();
                each.limit = params.limit * SHARD_VALUES_FACTOR;
                let (hot, (catalogs, failed)) = tokio::join!(
                    Box::pin(hot.values(field.clone(), each.clone())),
                    cold.catalogs(&params.range)
                );
                let (mut answers, mut failed) = tiered(hot, failed)?;
                for (name, catalog) in catalogs {
                    let answer = local_values(catalog, field.clone(), each.clone(), started).await;
                    cold_part(name, answer, &mut answers, &mut failed)?;
                }
                Ok(merge_values(&field, answers, failed, &params, started))
            }
        }
    }

    /// The event with `id` when the scope allows it; `partial` lists indexers that failed.
    /// Of the days only object storage holds, those in the search cache are looked in.
    pub async fn event(
        &self,
        id: EventId,
        scope: Scope,
        authorization: Option<String>,
    ) -> Result<(Option<Box<RawValue>>, Vec<FailedShard>), BackendError> {
        match self {
            Backend::Local(catalog) => {
                let catalog = catalog.clone();
                let found = blocking(move || {
                    refresh(&catalog);
                    search::event(&catalog, id, &scope)
                })
                .await?;
                Ok((found.and_then(raw), Vec::new()))
            }
            Backend::Fanout(fanout) => fanout.event(id, authorization).await,
            Backend::Tiered(hot, cold) => {
                let (found, failed) = Box::pin(hot.event(id, scope.clone(), authorization)).await?;
                if found.is_some() {
                    return Ok((found, failed));
                }
                for catalog in cold.cached_catalogs().await {
                    let scope = scope.clone();
                    let found = blocking(move || search::event(&catalog, id, &scope)).await?;
                    if let Some(found) = found.and_then(raw) {
                        return Ok((Some(found), failed));
                    }
                }
                Ok((None, failed))
            }
        }
    }
}

/// One cold part's answer added to `answers`, or its failure to read a day to `failed`;
/// a refusal (a bad query) is the whole request's.
fn cold_part<T>(
    name: String,
    answer: Result<T, BackendError>,
    answers: &mut Vec<(String, T)>,
    failed: &mut Vec<FailedShard>,
) -> Result<(), BackendError> {
    let shard = format!("object storage {name}");
    match answer {
        Ok(answer) => answers.push((shard, answer)),
        Err(BackendError::Engine(error @ SearchError::Index { .. })) => failed.push(FailedShard {
            shard,
            error: error.to_string(),
        }),
        Err(error) => return Err(error),
    }
    Ok(())
}

/// Answers by where they came from, and the parts that failed.
type Parts<T> = (Vec<(String, T)>, Vec<FailedShard>);

/// The hot part's answer (the indexers, or the local index) with the cold part's
/// failures: the answers so far and the failures, or the hot part's refusal.
fn tiered<T>(
    hot: Result<T, BackendError>,
    missing: crate::cold::Missing,
) -> Result<Parts<T>, BackendError> {
    let mut failed: Vec<FailedShard> = missing
        .into_iter()
        .map(|(shard, error)| FailedShard { shard, error })
        .collect();
    match hot {
        Ok(answer) => Ok((vec![("indexers".to_owned(), answer)], failed)),
        Err(BackendError::Unavailable(error)) => {
            failed.push(FailedShard {
                shard: "indexers".to_owned(),
                error,
            });
            Ok((Vec::new(), failed))
        }
        Err(error) => Err(error),
    }
}

fn unavailable(failed: &[FailedShard]) -> BackendError {
    BackendError::Unavailable(
        failed
            .iter()
            .map(|f| format!("{}: {}", f.shard, f.error))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

async fn local_search(
    catalog: Catalog,
    params: Params,
    started: Instant,
) -> Result<SearchAnswer, BackendError> {
    let page = blocking(move || {
        refresh(&catalog);
        search::search_page(
            &catalog,
            &params.request(),
            params.limit,
            params.cursor.as_ref(),
            params.count_total,
        )
    })
    .await?;
    Ok(SearchAnswer {
        hits: page.hits.into_iter().filter_map(raw).collect(),
        total: page.total,
        took_ms: started.elapsed().as_millis() as u64,
        cursor: page.cursor.map(|c| c.to_string()),
        partial: false,
        failed_shards: Vec::new(),
    })
}

async fn local_histogram(
    catalog: Catalog,
    params: Params,
    started: Instant,
) -> Result<HistogramAnswer, BackendError> {
    let range = params.range;
    let histogram = blocking(move || {
        refresh(&catalog);
        search::histogram(&catalog, &params.request(), params.interval)
    })
    .await?;
    Ok(HistogramAnswer {
        buckets: histogram
            .buckets
            .iter()
            .map(|(ts, count)| Bucket {
                ts: seconds(Timestamp::from_unix_nanos(*ts)),
                count: *count,
            })
            .collect(),
        interval: humantime::format_duration(histogram.interval).to_string(),
        interval_ms: histogram.interval.as_millis() as u64,
        from: seconds(range.from),
        to: seconds(range.to),
        total: histogram.total,
        took_ms: started.elapsed().as_millis() as u64,
        partial: false,
        failed_shards: Vec::new(),
    })
}

async fn local_values(
    catalog: Catalog,
    field: String,
    params: Params,
    started: Instant,
) -> Result<ValuesAnswer, BackendError> {
    let name = field.clone();
    let top = blocking(move || {
        refresh(&catalog);
        search::top_values(&catalog, &params.request(), &name, params.limit)
    })
    .await?;
    Ok(ValuesAnswer {
        field,
        values: top
            .values
            .into_iter()
            .map(|(value, count)| ValueCount { value, count })
            .collect(),
        total: top.total,
        took_ms: started.elapsed().as_millis() as u64,
        partial: false,
        failed_shards: Vec::new(),
    })
}

fn refresh(catalog: &Catalog) {
    if let Err(error) = catalog.refresh() {
        tracing::warn!(%error, "listing the day indexes failed");
    }
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SearchError::Index {
            day: "any".into(),
            detail: format!("the search task failed: {error}"),
        })?
}

fn raw(bytes: Vec<u8>) -> Option<Box<RawValue>> {
    String::from_utf8(bytes)
        .ok()
        .and_then(|text| RawValue::from_string(text).ok())
}

/// RFC 3339 with whole seconds when the instant has no fraction.
pub fn seconds(ts: Timestamp) -> String {
    let text = ts.to_string();
    text.replace(".000000000Z", "Z")
}

// ---- fan-out ----

/// Every indexer in `LOGPIPE_QUERY_INDEXERS`; a single URL with a DNS name stands for
/// every address it resolves to (a headless service names every indexer pod).
#[derive(Debug, Clone)]
pub struct Fanout {
    indexers: Vec<url::Url>,
    client: reqwest::Client,
}

impl Fanout {
    pub fn new(indexers: Vec<url::Url>, time_limit: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(time_limit + Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Fanout { indexers, client })
    }

    /// The indexers to ask now, names resolved.
    async fn shards(&self) -> Vec<Result<url::Url, FailedShard>> {
        let mut shards = Vec::new();
        for url in &self.indexers {
            let host = match url.host() {
                Some(url::Host::Domain(name)) if name != "localhost" => name.to_string(),
                _ => {
                    shards.push(Ok(url.clone()));
                    continue;
                }
            };
            let port = url.port_or_known_default().unwrap_or(80);
            match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(addresses) => {
                    let addresses: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
                    let v4: Vec<IpAddr> =
                        addresses.iter().copied().filter(IpAddr::is_ipv4).collect();
                    let mut chosen = if v4.is_empty() { addresses } else { v4 };
                    chosen.sort();
                    chosen.dedup();
                    for ip in chosen {
                        let mut shard = url.clone();
                        if shard.set_ip_host(ip).is_ok() {
                            shards.push(Ok(shard));
                        }
                    }
                }
                Err(error) => shards.push(Err(FailedShard {
                    shard: url.to_string(),
                    error: format!("resolving {host}: {error}"),
                })),
            }
        }
        shards
    }

    /// Sends `path?query` to every indexer; answers and failures.
    async fn ask<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        query: &[(&str, String)],
        authorization: Option<&str>,
    ) -> Result<(Vec<(String, T)>, Vec<FailedShard>), BackendError> {
        // An indexer that does not hold an event answers 404: not a failure.
        let missing_ok = path.starts_with("/api/v1/events/");
        let mut failed = Vec::new();
        let mut pending = Vec::new();
        for shard in self.shards().await {
            let url = match shard {
                Ok(url) => url,
                Err(failure) => {
                    failed.push(failure);
                    continue;
                }
            };
            let endpoint = match url.join(path.trim_start_matches('/')) {
                Ok(endpoint) => endpoint,
                Err(error) => {
                    failed.push(FailedShard {
                        shard: url.to_string(),
                        error: error.to_string(),
                    });
                    continue;
                }
            };
            let mut request = self.client.get(endpoint).query(query);
            if let Some(authorization) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, authorization);
            }
            let name = url.to_string();
            pending.push(tokio::spawn(async move {
                let result = async {
                    let response = request.send().await.map_err(|e| Err(e.to_string()))?;
                    let status = response.status();
                    let bytes = response.bytes().await.map_err(|e| Err(e.to_string()))?;
                    if missing_ok && status == reqwest::StatusCode::NOT_FOUND {
                        return Ok(None);
                    }
                    if status.is_client_error() {
                        let body: serde_json::Value =
                            serde_json::from_slice(&bytes).unwrap_or_default();
                        return Err(Ok(BackendError::Refused {
                            status: status.as_u16(),
                            message: body["error"]
                                .as_str()
                                .unwrap_or("the indexer refused the request")
                                .to_string(),
                            position: body["position"].as_u64().map(|p| p as usize),
                        }));
                    }
                    if !status.is_success() {
                        let body: serde_json::Value =
                            serde_json::from_slice(&bytes).unwrap_or_default();
                        return Err(Err(format!(
                            "{status}: {}",
                            body["error"].as_str().unwrap_or("no reason given")
                        )));
                    }
                    serde_json::from_slice::<T>(&bytes)
                        .map(Some)
                        .map_err(|e| Err(format!("unreadable answer: {e}")))
                }
                .await;
                (name, result)
            }));
        }
        let mut answers = Vec::new();
        for task in pending {
            let Ok((name, result)) = task.await else {
                continue;
            };
            match result {
                Ok(Some(answer)) => answers.push((name, answer)),
                Ok(None) => {}
                Err(Ok(refused)) => return Err(refused),
                Err(Err(error)) => {
                    tracing::warn!(shard = %name, %error, "indexer failed to answer");
                    failed.push(FailedShard { shard: name, error });
                }
            }
        }
        if answers.is_empty() && !failed.is_empty() {
            let summary = failed
                .iter()
                .map(|f| format!("{}: {}", f.shard, f.error))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(BackendError::Unavailable(summary));
        }
        if !failed.is_empty() {
            crate::telemetry::partial_answer(path);
        }
        Ok((answers, failed))
    }

    fn range_query(params: &Params) -> Vec<(&'static str, String)> {
        vec![
            ("q", params.q.clone()),
            ("from", params.range.from.to_string()),
            ("to", params.range.to.to_string()),
        ]
    }

    async fn search(
        &self,
        params: &Params,
        started: Instant,
    ) -> Result<SearchAnswer, BackendError> {
        let mut query = Self::range_query(params);
        query.push(("limit", params.limit.to_string()));
        if !params.count_total {
            query.push(("total", "false".to_string()));
        }
        if let Some(cursor) = &params.cursor {
            query.push(("cursor", cursor.to_string()));
        }
        let (answers, failed) = self
            .ask::<SearchAnswer>("/api/v1/search", &query, params.authorization.as_deref())
            .await?;
        Ok(merge_search(answers, failed, params, started))
    }

    async fn histogram(
        &self,
        params: &Params,
        started: Instant,
    ) -> Result<HistogramAnswer, BackendError> {
        let interval = params
            .interval
            .unwrap_or_else(|| search::auto_interval(&params.range));
        let mut query = Self::range_query(params);
        query.push(("interval", humantime::format_duration(interval).to_string()));
        let (answers, failed) = self
            .ask::<HistogramAnswer>("/api/v1/histogram", &query, params.authorization.as_deref())
            .await?;
        merge_histograms(answers, failed, started)
    }

    async fn values(
        &self,
        field: &str,
        params: &Params,
        started: Instant,
    ) -> Result<ValuesAnswer, BackendError> {
        let mut query = Self::range_query(params);
        query.push(("limit", (params.limit * SHARD_VALUES_FACTOR).to_string()));
        let path = format!("/api/v1/fields/{}/values", urlencode(field));
        let (answers, failed) = self
            .ask::<ValuesAnswer>(&path, &query, params.authorization.as_deref())
            .await?;
        Ok(merge_values(field, answers, failed, params, started))
    }

    async fn event(
        &self,
        id: EventId,
        authorization: Option<String>,
    ) -> Result<(Option<Box<RawValue>>, Vec<FailedShard>), BackendError> {
        let path = format!("/api/v1/events/{id}");
        match self
            .ask::<Box<RawValue>>(&path, &[], authorization.as_deref())
            .await
        {
            Ok((answers, failed)) => Ok((answers.into_iter().next().map(|(_, e)| e), failed)),
            Err(error) => Err(error),
        }
    }
}

/// Shards' pages of one search merged into one page: newest first, each event once, no
/// further than any shard's page reached.
fn merge_search(
    answers: Vec<(String, SearchAnswer)>,
    failed: Vec<FailedShard>,
    params: &Params,
    started: Instant,
) -> SearchAnswer {
    let mut total = 0;
    let mut hits: Vec<(i64, String, Box<RawValue>)> = Vec::new();
    let mut failed = failed;
    // An indexer whose page ended before the limit (at its byte bound) has more hits
    // below its last one: the merged page may not reach past it.
    let mut cut: Option<(i64, String)> = None;
    for (shard, answer) in answers {
        total += answer.total;
        failed.extend(answer.failed_shards.into_iter().map(|f| FailedShard {
            shard: format!("{shard} → {}", f.shard),
            error: f.error,
        }));
        if answer.cursor.is_some() && answer.hits.len() < params.limit {
            let last = answer.hits.last().map(|hit| hit_key(hit));
            cut = cut.max(last);
        }
        for hit in answer.hits {
            let (ts, id) = hit_key(&hit);
            hits.push((ts, id, hit));
        }
    }
    hits.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    hits.dedup_by(|a, b| a.1 == b.1);
    if let Some((ts, id)) = &cut {
        hits.retain(|hit| (hit.0, &hit.1) >= (*ts, id));
    }
    let mut bytes = 0usize;
    let within = hits
        .iter()
        .position(|hit| {
            bytes += hit.2.get().len();
            bytes > params.max_page_bytes
        })
        .map_or(hits.len(), |at| at.max(1));
    let ended_early = cut.is_some() || within < hits.len().min(params.limit);
    hits.truncate(within.min(params.limit));
    let cursor = match hits.last() {
        Some((ts, id, _)) if hits.len() == params.limit || ended_early => Some(
            Cursor {
                ts: *ts,
                id: id.clone(),
            }
            .to_string(),
        ),
        _ => None,
    };
    SearchAnswer {
        hits: hits.into_iter().map(|(_, _, hit)| hit).collect(),
        total,
        took_ms: started.elapsed().as_millis() as u64,
        cursor,
        partial: !failed.is_empty(),
        failed_shards: failed,
    }
}

/// Shards' histograms of one range and interval summed bucket by bucket.
fn merge_histograms(
    answers: Vec<(String, HistogramAnswer)>,
    failed: Vec<FailedShard>,
    started: Instant,
) -> Result<HistogramAnswer, BackendError> {
    let mut merged: Option<HistogramAnswer> = None;
    for (_, answer) in answers {
        match &mut merged {
            None => merged = Some(answer),
            Some(total) => {
                total.total += answer.total;
                for (bucket, add) in total.buckets.iter_mut().zip(answer.buckets) {
                    bucket.count += add.count;
                }
            }
        }
    }
    let mut merged = merged.ok_or_else(|| unavailable(&failed))?;
    merged.took_ms = started.elapsed().as_millis() as u64;
    merged.partial = !failed.is_empty();
    merged.failed_shards = failed;
    Ok(merged)
}

/// Shards' top values summed, the `params.limit` most frequent kept.
fn merge_values(
    field: &str,
    answers: Vec<(String, ValuesAnswer)>,
    failed: Vec<FailedShard>,
    params: &Params,
    started: Instant,
) -> ValuesAnswer {
    let mut counts: Vec<(serde_json::Value, u64)> = Vec::new();
    let mut total = 0;
    for (_, answer) in answers {
        total += answer.total;
        for value in answer.values {
            match counts.iter_mut().find(|(v, _)| *v == value.value) {
                Some((_, count)) => *count += value.count,
                None => counts.push((value.value, value.count)),
            }
        }
    }
    counts.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
    });
    counts.truncate(params.limit);
    ValuesAnswer {
        field: field.to_string(),
        values: counts
            .into_iter()
            .map(|(value, count)| ValueCount { value, count })
            .collect(),
        total,
        took_ms: started.elapsed().as_millis() as u64,
        partial: !failed.is_empty(),
        failed_shards: failed,
    }
}

/// The time and id a hit is ordered by.
pub fn hit_key(hit: &RawValue) -> (i64, String) {
    #[derive(Deserialize)]
    struct Key {
        ts: Option<String>,
        id: Option<String>,
    }
    match serde_json::from_str::<Key>(hit.get()) {
        Ok(key) => (
            key.ts
                .as_deref()
                .and_then(Timestamp::parse_rfc3339)
                .map(Timestamp::unix_nanos)
                .unwrap_or(i64::MIN),
            key.id.unwrap_or_default(),
        ),
        Err(_) => (i64::MIN, String::new()),
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
