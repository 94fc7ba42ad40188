//! The routes: the page, the JSON API, the event stream and the actions, behind the `Host`
//! and cookie checks.
//!
//! | route                          | what                                                |
//! |--------------------------------|-----------------------------------------------------|
//! | `GET /?token=…`                | sets the cookie, redirects to `/`                   |
//! | `GET /`                        | the page                                            |
//! | `GET /api/snapshot`            | everything at once (`?sort=&dir=&page=&q=`)         |
//! | `GET /api/process/{id}`        | one process in full (`?state=1`: with its state)    |
//! | `GET /api/supervisor/{id}`     | one supervisor's children (`?q=&limit=`)            |
//! | `GET /api/logs`                | the crash log and the upgrade history               |
//! | `GET /api/stream`              | Server-Sent Events: `logs`, `snapshot`, `event`     |
//! | `POST /api/action`             | an action (when enabled)                            |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::json::{self, TableView};
use crate::server::App;
use crate::{actions, security};

const PAGE: &str = include_str!("page.html");

/// Snapshot intervals a stream may ask for.
const MIN_INTERVAL: Duration = Duration::from_millis(250);
const MAX_INTERVAL: Duration = Duration::from_secs(30);

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/snapshot", get(snapshot))
        .route("/api/process/{id}", get(process))
        .route("/api/supervisor/{id}", get(supervisor))
        .route("/api/logs", get(logs))
        .route("/api/stream", get(stream))
        .route("/api/action", post(action))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Every request: the `Host` check, then the cookie (except for the one request that brings
/// the token), and headers that keep the page out of caches and frames.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if !security::host_allowed(request.headers(), &app.hosts) {
        return (
            StatusCode::FORBIDDEN,
            "403: this observer does not answer to that Host\n",
        )
            .into_response();
    }
    let bringing_token = request.uri().path() == "/"
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=")));
    if !bringing_token && !security::has_cookie(request.headers(), &app.cookie) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "401: open the URL with the token that the application logged when the observer started\n",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("a header value"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        "nosniff".parse().expect("a header value"),
    );
    h.insert(
        header::REFERRER_POLICY,
        "no-referrer".parse().expect("a header value"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'none'"
            .parse()
            .expect("a header value"),
    );
    response
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(given) = q.token {
        if !security::same_secret(&given, security::token()) {
            return (StatusCode::UNAUTHORIZED, "401: wrong token\n").into_response();
        }
        // The token leaves the address bar and the history: it lives on in the cookie.
        let mut r = Redirect::to("/").into_response();
        r.headers_mut().insert(
            header::SET_COOKIE,
            security::set_cookie(&app.cookie)
                .parse()
                .expect("a cookie value"),
        );
        return r;
    }
    if !security::has_cookie(&headers, &app.cookie) {
        return (StatusCode::UNAUTHORIZED, "401\n").into_response();
    }
    // The page sends the token back in a header with each action (the cookie is HttpOnly).
    Html(PAGE.replace("{{TOKEN}}", security::token())).into_response()
}

async fn snapshot(State(app): State<Arc<App>>, Query(view): Query<TableView>) -> Response {
    let body = tokio::task::spawn_blocking(move || json::snapshot(&app, &view)).await;
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct DetailQuery {
    /// `state=1`: also ask the process for its state (opt-in servers only).
    state: Option<u8>,
}

async fn process(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Some(pid) = json::pid_from_key(&id) else {
        return not_found("no such process");
    };
    match json::process_detail(&app, pid, q.state == Some(1)).await {
        Some(v) => Json(v).into_response(),
        None => not_found("no such process (noproc)"),
    }
}

#[derive(Deserialize)]
struct ChildQuery {
    q: Option<String>,
    limit: Option<usize>,
}

async fn supervisor(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ChildQuery>,
) -> Response {
    let Some(pid) = json::pid_from_key(&id) else {
        return not_found("no such supervisor");
    };
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let limit = q.limit.unwrap_or(json::CHILDREN_SHOWN).min(10_000);
    match ferrotp_runtime::observe::supervisor(pid, search, limit) {
        Some(view) => Json(json::supervisor_json(&view, &app.module_versions())).into_response(),
        None => not_found("not a live supervisor"),
    }
}

async fn logs() -> Json<Value> {
    Json(json::logs())
}

fn not_found(why: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": why }))).into_response()
}

/// `?interval=1&sort=&dir=&page=&q=`: written out, because `serde(flatten)` reads numbers in
/// a query string as strings and refuses them.
#[derive(Deserialize)]
struct StreamQuery {
    /// Seconds between snapshots.
    interval: Option<f64>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<usize>,
    q: Option<String>,
    open: Option<String>,
    closed: Option<String>,
}

/// The page's live feed: the logs at once, then a snapshot every `interval` and each event as
/// it happens, until the browser leaves or the observer stops.
async fn stream(
    State(app): State<Arc<App>>,
    Query(q): Query<StreamQuery>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // `NaN` parses as a number, and would make `Duration` panic.
    let seconds = q.interval.filter(|s| s.is_finite()).unwrap_or(1.0);
    let interval = Duration::from_secs_f64(
        seconds.clamp(MIN_INTERVAL.as_secs_f64(), MAX_INTERVAL.as_secs_f64()),
    );
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Feed {
        app: app.clone(),
        view: TableView {
            sort: q.sort,
            dir: q.dir,
            page: q.page,
            q: q.q,
            open: q.open,
            closed: q.closed,
        },
        ticks,
        events: ferrotp_runtime::observe::subscribe(),
        stopping: app.stopping.clone(),
        sent_logs: false,
    };
    let stream = futures_util::stream::unfold(state, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

struct Feed {
    app: Arc<App>,
    view: TableView,
    ticks: tokio::time::Interval,
    events: tokio::sync::broadcast::Receiver<ferrotp_runtime::observe::Event>,
    stopping: tokio::sync::watch::Receiver<bool>,
    sent_logs: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<SseEvent> {
        if *self.stopping.borrow() {
            return None;
        }
        if !self.sent_logs {
            self.sent_logs = true;
            // A browser that lost its connection reconnects after a second.
            return Some(data("logs", &json::logs()).retry(Duration::from_secs(1)));
        }
        tokio::select! {
            _ = self.stopping.changed() => None,
            _ = self.ticks.tick() => {
                let app = self.app.clone();
                let view = self.view.clone();
                // A snapshot of many processes is CPU work: off the async threads.
                let snap = tokio::task::spawn_blocking(move || json::snapshot(&app, &view))
                    .await
                    .ok()?;
                Some(SseEvent::default().event("snapshot").data(snap))
            }
            e = self.events.recv() => match e {
                Ok(e) => Some(data("event", &json::event_json(&e))),
                // Fell behind: the whole logs again, which hold what was missed.
                Err(RecvError::Lagged(_)) => Some(data("logs", &json::logs())),
                Err(RecvError::Closed) => None,
            },
        }
    }
}

fn data(name: &str, v: &Value) -> SseEvent {
    SseEvent::default().event(name).data(v.to_string())
}

async fn action(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(request): Json<actions::ActionRequest>,
) -> Response {
    if !app.allow_actions {
        return (
            StatusCode::FORBIDDEN,
            Json(
                json!({ "error": "actions are off: start the observer with allow_actions(true)" }),
            ),
        )
            .into_response();
    }
    if let Some(why) = security::action_refusal(&headers, &app.hosts) {
        return (StatusCode::FORBIDDEN, Json(json!({ "error": why }))).into_response();
    }
    match actions::run(&app, request).await {
        Ok(done) => Json(json!({ "ok": true, "done": done })).into_response(),
        Err(e) => (
            StatusCode::CONFLICT,
            Json(json!({ "ok": false, "error": e })),
        )
            .into_response(),
    }
}
