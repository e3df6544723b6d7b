//! Routing helpers both emulators' route tables use: the request path as the client sent it
//! ([`RawPath`]), its canonical form the routes match ([`canonical_path`]), extractors for
//! query pairs and path parameters, and a method router that answers every method it does
//! not list the same way ([`otherwise`]).

use std::convert::Infallible;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::routing::{MethodRouter, any};

use super::http::query_pairs;

/// The request path exactly as the client sent it, before [`canonical_path`].
///
/// Error messages ("No route for GET /crm//v3"), fault rules (`path_contains`) and paging
/// links use it, as the emulators did when they matched paths by hand.
#[derive(Clone, Debug)]
pub(crate) struct RawPath(pub(crate) String);

impl RawPath {
    /// Whether the path is an admin route (`/_emulator...`, with or without a slash after it).
    pub(crate) fn is_admin(&self) -> bool {
        self.0.starts_with("/_emulator")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RawPath {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RawPath>()
            .cloned()
            .unwrap_or_else(|| RawPath(parts.uri.path().to_owned())))
    }
}

/// The path the routes match for `raw`, `None` when it is `raw` itself.
///
/// The emulators used to split paths on `/` and ignore empty segments, so `/crm//v3/` was
/// `/crm/v3`; and everything after the `/_emulator` prefix was an admin route, so
/// `/_emulatorstate` was `/_emulator/state`. A path whose first segment is `_emulator`
/// without being that prefix (`//_emulator/state`) was no admin route: it is kept as sent,
/// which no route matches.
pub(crate) fn canonical_path(raw: &str) -> Option<String> {
    let (mut out, rest) = match raw.strip_prefix("/_emulator") {
        Some(rest) => (String::from("/_emulator"), rest),
        None => (String::new(), raw),
    };
    let mut segments = rest.split('/').filter(|s| !s.is_empty()).peekable();
    if out.is_empty() && segments.peek() == Some(&"_emulator") {
        return None;
    }
    for segment in segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    (out != raw).then_some(out)
}

/// The decoded query pairs of the request, in order, repeated keys included.
pub(crate) struct QueryPairs(pub(crate) Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(query_pairs(parts.uri.query())))
    }
}

/// The path parameters of the matched route (`{name}` and `{*name}` segments),
/// percent-decoded as HubSpot and Connec! decode them (`a%40x.io` is `a@x.io`).
///
/// When an escape does not decode to UTF-8 (`%FF`), where axum's `Path` refuses the request,
/// the parameters are taken as sent: the record they name is then simply not found.
#[derive(Debug, Default)]
pub(crate) struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// The value of parameter `name` (`""` if the route has none of that name).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The parameters of `template` (a route such as `/a/{b}/{*c}`) in `path` (canonical, so
    /// segments line up with the template's).
    fn by_position(template: &str, path: &str) -> Self {
        let segments: Vec<&str> = path.split('/').collect();
        let mut params = Vec::new();
        for (i, t) in template.split('/').enumerate() {
            let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
                continue;
            };
            match name.strip_prefix('*') {
                Some(rest) => {
                    params.push((rest.to_owned(), segments.get(i..).unwrap_or(&[]).join("/")));
                    break;
                }
                None => params.push((
                    name.to_owned(),
                    segments.get(i).copied().unwrap_or("").to_owned(),
                )),
            }
        }
        Self(params)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        if let Ok(Path(params)) =
            Path::<Vec<(String, String)>>::from_request_parts(parts, state).await
        {
            return Ok(Self(params));
        }
        Ok(parts
            .extensions
            .get::<MatchedPath>()
            .map(|template| Self::by_position(template.as_str(), parts.uri.path()))
            .unwrap_or_default())
    }
}

/// A method router that answers `handler` for every method not added to it afterwards,
/// `HEAD` included (axum would answer `HEAD` with the `GET` handler, the emulators never
/// did), and without the `Allow` header axum adds to its own method fallbacks.
pub(crate) fn otherwise<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    any(handler.clone()).head(handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_drop_empty_segments_but_keep_the_admin_prefix_rule() {
        assert_eq!(canonical_path("/crm/v3"), None);
        assert_eq!(canonical_path("/crm//v3/").as_deref(), Some("/crm/v3"));
        assert_eq!(canonical_path("/"), None);
        assert_eq!(canonical_path("//").as_deref(), Some("/"));
        assert_eq!(canonical_path("/_emulator"), None);
        assert_eq!(
            canonical_path("/_emulator//stats/").as_deref(),
            Some("/_emulator/stats")
        );
        assert_eq!(
            canonical_path("/_emulatorstate").as_deref(),
            Some("/_emulator/state")
        );
        assert_eq!(canonical_path("//_emulator/state"), None);
    }

    #[test]
    fn parameters_by_position() {
        let p = PathParams::by_position("/a/{b}/c/{d}", "/a/x%20y/c/z");
        assert_eq!((p.get("b"), p.get("d"), p.get("e")), ("x%20y", "z", ""));
        let p = PathParams::by_position("/s/{t}/{*rest}", "/s/u/v/w");
        assert_eq!((p.get("t"), p.get("rest")), ("u", "v/w"));
    }
}
