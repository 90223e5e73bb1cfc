//! The debugger page: a browser tool to send requests and watch the answers, built from
//! `api.schema`. Every asset is embedded in the binary; nothing loads from another host.

use std::borrow::Cow;

use crate::handshake::HttpResponse;

/// The page's files, by name under the debugger's path.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    ),
    (
        "debugger.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/debugger.js"),
    ),
    (
        "debugger.css",
        "text/css; charset=utf-8",
        include_str!("../assets/debugger.css"),
    ),
    (
        "channels-api.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/channels-api.js"),
    ),
];

/// Only this server's own files and WebSockets; no inline script, nothing from elsewhere.
const POLICY: &str = "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; \
                      img-src 'self' data:; frame-ancestors 'none'\r\n";

/// The asset at `path` below the debugger's `base` path (which ends with `/`), if there is
/// one. The base without its slash redirects to it, so the page's relative links resolve.
pub(crate) fn asset(base: &str, path: &str) -> Option<HttpResponse> {
    if path == base.trim_end_matches('/') {
        return Some(HttpResponse::redirect(base));
    }
    let name = path.strip_prefix(base)?;
    ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .map(|(_, content_type, body)| HttpResponse {
            status: 200,
            content_type,
            body: body.as_bytes(),
            extra_headers: Cow::Borrowed(POLICY),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_assets_below_the_base() {
        assert!(asset("/channels-api/", "/channels-api/").is_some());
        assert_eq!(
            asset("/channels-api/", "/channels-api").unwrap().status,
            308
        );
        assert!(asset("/channels-api/", "/channels-api/channels-api.js").is_some());
        assert!(asset("/channels-api/", "/channels-api/../secret").is_none());
        assert!(asset("/channels-api/", "/other/").is_none());
    }
}
