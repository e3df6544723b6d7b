//! The gate of the counted API routes, the one place where both emulators count calls,
//! check credentials, enforce the rate limit and inject call faults ([`guard`]).
//!
//! In order, for a call to a gated route:
//! 1. count it in [`CallStats`](super::CallStats) under `"METHOD /route/{param}"` (refused
//!    calls included), as a read or a write ([`Reads`]; by its body for a Connec! `/batch`);
//! 2. check the credentials ([`Gatekeeper::admit`]): a refusal is the answer;
//! 3. count it against the caller's rate limit: over it, `429` ([`Gatekeeper::too_many_requests`]);
//! 4. a call fault for this call ([`Gatekeeper::fault_before`]) is the answer, and the call is
//!    not processed; otherwise the route's handler runs;
//! 5. a fault replacing the answer of the processed call ([`Gatekeeper::fault_after`]) is the
//!    answer instead;
//! 6. the answer gets the vendor's rate-limit headers ([`Gatekeeper::rate_headers`]).
//!
//! Refusals in steps 2 to 5 are also counted as `rejected`.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::app::Emulator;
use super::routing::{PathParams, RawPath};
use super::{FaultKind, MAX_BODY, RateLimit, lock};

/// What the gate needs from an emulator on top of [`Emulator`].
pub(crate) trait Gatekeeper: Emulator {
    /// Families of routes checked differently (HubSpot: the CRM API and the webhooks API).
    type Family: Copy + Send + Sync + 'static;

    /// Why a call was refused at the gate; it renders as the refusal's answer.
    type Refusal: IntoResponse;

    /// Checks the caller's credentials for a route of `family`. On success it may leave what
    /// the handlers need in `parts`' extensions, and returns the credential whose calls share
    /// a rate limit (`None`: not rate limited).
    fn admit(
        &self,
        family: Self::Family,
        parts: &mut Parts,
    ) -> Result<Option<String>, Self::Refusal>;

    /// The configured rate limit, if any.
    fn rate_limit(&self) -> Option<RateLimit>;

    /// The answer to a call over the rate limit.
    fn too_many_requests(limit: RateLimit, retry_after_secs: u64) -> Response;

    /// Adds the headers the vendor sends with every answer to a rate-limited caller.
    fn rate_headers(_answer: &mut Response, _limit: RateLimit, _remaining: u32) {}

    /// Consumes the fault, if any, that fails this call before it is processed.
    fn fault_before(&self, _family: Self::Family, method: &str, path: &str) -> Option<FaultKind> {
        self.instruments().faults.take_call(method, path)
    }

    /// Consumes the fault, if any, that replaces the answer of this processed call.
    fn fault_after(&self, _family: Self::Family, _method: &str, _path: &str) -> Option<FaultKind> {
        None
    }
}

/// Whether a call counts as a read in [`CallStats`](super::CallStats).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reads {
    /// `GET` calls read, the others write.
    IfGet,
    /// Every call reads (HubSpot's search and batch read are `POST`s).
    Always,
    /// Every call writes.
    Never,
    /// `GET` calls read; another call reads when this says its body only reads (a Connec!
    /// `/batch` of `get` ops). The gate then buffers the body before counting.
    ByBody(fn(&[u8]) -> bool),
}

impl Reads {
    /// Whether the call reads, and its body (read into memory when it had to be looked at).
    async fn of(self, method: &Method, body: Body) -> (bool, Body) {
        match self {
            Self::IfGet => (method == Method::GET, body),
            Self::Always => (true, body),
            Self::Never => (false, body),
            Self::ByBody(_) if method == Method::GET => (true, body),
            // The body is already in memory, read whole within `MAX_BODY` before routing
            // (`app::prepare`): this takes it back without another limit or copy of its own.
            Self::ByBody(only_reads) => match to_bytes(body, MAX_BODY).await {
                Ok(bytes) => (only_reads(&bytes), Body::from(bytes)),
                Err(_) => (false, Body::empty()),
            },
        }
    }
}

/// How the calls of one route are gated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gate<F> {
    family: F,
    reads: Reads,
    /// A path parameter spelled out in the statistics key instead of `{name}`.
    spelled: Option<&'static str>,
}

impl<F: Copy + Send + Sync + 'static> Gate<F> {
    /// Calls of `family` counted as `reads` says.
    pub(crate) fn new(family: F, reads: Reads) -> Self {
        Self {
            family,
            reads,
            spelled: None,
        }
    }

    /// Counts calls under their route with the value of path parameter `param` in place of
    /// `{param}` (`/batch/{op}` is counted as `/batch/frob`).
    pub(crate) fn spelling(self, param: &'static str) -> Self {
        Self {
            spelled: Some(param),
            ..self
        }
    }

    /// Gates every method of `methods`, its fallback (unlisted methods) included.
    pub(crate) fn all<E: Gatekeeper<Family = F>>(
        self,
        emulator: &Arc<E>,
        methods: MethodRouter<Arc<E>>,
    ) -> MethodRouter<Arc<E>> {
        methods.layer(from_fn_with_state((emulator.clone(), self), guard::<E>))
    }

    /// Gates the methods added to `methods` so far, not its fallback nor methods added later.
    pub(crate) fn listed<E: Gatekeeper<Family = F>>(
        self,
        emulator: &Arc<E>,
        methods: MethodRouter<Arc<E>>,
    ) -> MethodRouter<Arc<E>> {
        methods.route_layer(from_fn_with_state((emulator.clone(), self), guard::<E>))
    }
}

/// The gate itself: the steps of the [module docs](self).
async fn guard<E: Gatekeeper>(
    State((emu, gate)): State<(Arc<E>, Gate<E::Family>)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let method = parts.method.clone();
    let Ok(RawPath(path)) = RawPath::from_request_parts(&mut parts, &()).await;
    let stats = &emu.instruments().stats;
    let route = route_key(&mut parts, gate).await;
    let (reads, body) = gate.reads.of(&method, body).await;
    lock(stats).count(&route, reads);

    let bucket = match emu.admit(gate.family, &mut parts) {
        Ok(bucket) => bucket,
        Err(refused) => {
            lock(stats).rejected += 1;
            return refused.into_response();
        }
    };
    let limited = emu.rate_limit().zip(bucket);
    let mut remaining = None;
    if let Some((limit, bucket)) = &limited {
        match lock(&emu.instruments().limiter).check(bucket, *limit) {
            Ok(left) => remaining = Some(left),
            Err(retry_after_secs) => {
                lock(stats).rejected += 1;
                return E::too_many_requests(*limit, retry_after_secs);
            }
        }
    }
    let mut answer = match emu.fault_before(gate.family, method.as_str(), &path) {
        Some(kind) => {
            lock(stats).rejected += 1;
            E::fault_response(kind).await
        }
        None => next.run(Request::from_parts(parts, body)).await,
    };
    if let Some(kind) = emu.fault_after(gate.family, method.as_str(), &path) {
        lock(stats).rejected += 1;
        answer = E::fault_response(kind).await;
    }
    if let (Some((limit, _)), Some(left)) = (limited, remaining) {
        E::rate_headers(&mut answer, limit, left);
    }
    answer
}

/// `"METHOD /route/{param}"`, the statistics key of a call.
async fn route_key<F>(parts: &mut Parts, gate: Gate<F>) -> String {
    let mut route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    if let Some(name) = gate.spelled {
        let Ok(params) = PathParams::from_request_parts(parts, &()).await;
        route = route.replace(&format!("{{{name}}}"), params.get(name));
    }
    format!("{} {route}", parts.method)
}
