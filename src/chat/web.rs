//! The HTTP side of the chat port: routing, the embedded browser client, and the plain
//! responses (404, 426).
//!
//! The page is one self-contained HTML document: its style sheet and script are embedded in the
//! binary at build time and inlined into the page, so it works offline and needs no build step.
//! It renders every piece of user text with `textContent`, never as HTML, and is served with a
//! Content-Security-Policy that allows nothing but itself and WebSocket connections.

use std::sync::LazyLock;

use crate::handshake::{http_response, Rejection, Request};

/// The WebSocket endpoint.
pub const CHAT_PATH: &str = "/chat";

const INDEX_HTML: &str = include_str!("web/index.html");
const STYLE_CSS: &str = include_str!("web/style.css");
const APP_JS: &str = include_str!("web/app.js");

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; img-src data:; connect-src 'self' ws: wss:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The page with its style and script inlined.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    INDEX_HTML
        .replacen("/*STYLE*/", STYLE_CSS, 1)
        .replacen("/*SCRIPT*/", APP_JS, 1)
});

static PAGE_RESPONSE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    http_response(
        200,
        &[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ],
        PAGE.as_bytes(),
    )
});

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /`: the browser client.
    Page,
    /// `/chat` with a WebSocket upgrade (or a non-GET method, which the handshake refuses).
    Upgrade,
    /// A plain HTTP `GET /chat`: answered 426 with an explanation.
    PlainChat,
    /// `/` with a method other than GET: 405.
    MethodNotAllowed,
    /// Anything else: 404.
    NotFound,
}

/// Routes a request head.
#[must_use]
pub fn route(request: &Request) -> Route {
    match request.path() {
        "/" | "/index.html" if request.method() == "GET" => Route::Page,
        "/" | "/index.html" => Route::MethodNotAllowed,
        CHAT_PATH if request.method() == "GET" && !request.is_websocket_upgrade() => {
            Route::PlainChat
        }
        CHAT_PATH => Route::Upgrade,
        _ => Route::NotFound,
    }
}

/// The complete `200 OK` response carrying the browser client.
#[must_use]
pub fn page_response() -> &'static [u8] {
    &PAGE_RESPONSE
}

/// The page itself, for tests.
#[must_use]
pub fn page() -> &'static str {
    &PAGE
}

/// The 426 for a plain HTTP request to the WebSocket endpoint.
#[must_use]
pub fn upgrade_required() -> Rejection {
    Rejection::new(
        426,
        "This is the wschat WebSocket endpoint: connect with a WebSocket client (for example \
         `chat-client ws://HOST/chat` or `websocat ws://HOST/chat`), or open http://HOST/ in a \
         browser for the web client.\n",
    )
    .with_header("Upgrade", "websocket")
    .with_header("Sec-WebSocket-Version", "13")
}

/// The 404 for any other path.
#[must_use]
pub fn not_found() -> Rejection {
    Rejection::new(
        404,
        "Not found. The chat is at / (web client) and /chat (WebSocket endpoint).\n",
    )
}

/// The 405 for a method other than GET on the page.
#[must_use]
pub fn method_not_allowed() -> Rejection {
    Rejection::new(405, "Only GET is supported here.\n").with_header("Allow", "GET")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{HeadLimits, RequestReader};

    fn request(head: &str) -> Request {
        RequestReader::new(HeadLimits::default())
            .feed(head.as_bytes())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn routes_page_chat_and_everything_else() {
        let get = |path: &str| request(&format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert_eq!(route(&get("/")), Route::Page);
        assert_eq!(route(&get("/?x=1")), Route::Page);
        assert_eq!(route(&get("/chat")), Route::PlainChat);
        assert_eq!(route(&get("/nope")), Route::NotFound);
        assert_eq!(route(&get("/chat/more")), Route::NotFound);
        let upgrade = request("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(route(&upgrade), Route::Upgrade);
        let post = request("POST / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(route(&post), Route::MethodNotAllowed);
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = page();
        assert!(page.starts_with("<!doctype html>"), "{}", &page[..40]);
        assert!(!page.contains("/*STYLE*/") && !page.contains("/*SCRIPT*/"));
        assert!(page.contains("wschat.v1.json"));
        for external in ["src=", "<link rel=\"stylesheet\"", "@import", "url("] {
            assert!(
                !page.contains(external),
                "loads nothing from elsewhere: {external}"
            );
        }
        assert!(!page.contains("innerHTML"), "user text is rendered as text");
        let response = String::from_utf8_lossy(page_response());
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(response.contains("Content-Security-Policy: default-src 'none'"));
    }
}
