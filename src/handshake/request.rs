//! A parsed HTTP request head, owned so that it outlives the read buffer.

use super::header_fields::HeaderFields;
use super::Rejection;

/// The request line and header fields of an HTTP request.
///
/// Produced by [`RequestReader`](super::RequestReader). It is not yet known to be a WebSocket
/// upgrade: [`Request::is_websocket_upgrade`] tells whether it asks for one and
/// [`Request::validate_upgrade`] checks it against RFC 6455 §4.2.1, so one port can serve plain
/// HTTP and WebSocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    version: u8,
    pub(crate) headers: HeaderFields,
}

impl Request {
    /// Parses a complete head, `head` ending with the empty line.
    ///
    /// # Errors
    ///
    /// 431 with more than `max_headers` header fields; 400 when httparse refuses the head or
    /// finishes it before the end of `head` (a bare-LF empty line hiding bytes after it).
    pub(crate) fn parse(head: &[u8], max_headers: usize) -> Result<Self, Rejection> {
        // Every header line takes at least a ':' and a '\n', so this is never the binding cap;
        // it keeps the allocation proportional to bytes received, whatever the configured limit.
        let slots = max_headers.min(head.len() / 2 + 1);
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(head) {
            Ok(httparse::Status::Complete(len)) if len == head.len() => {}
            Ok(_) => return Err(malformed("the head does not end where its empty line is")),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Rejection::new(
                    431,
                    format!("the request has more than {max_headers} header fields"),
                ))
            }
            Err(error) => return Err(malformed(&error.to_string())),
        }
        let (Some(method), Some(target), Some(version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(malformed("incomplete request line"));
        };
        Ok(Self {
            method: method.to_owned(),
            target: target.to_owned(),
            version,
            headers: HeaderFields::from_parsed(parsed.headers),
        })
    }

    /// The request method, e.g. `GET`.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request-target exactly as sent, e.g. `/chat?room=1`.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path of the request-target, e.g. `/chat`.
    ///
    /// For an absolute-form target (`http://host/chat?x`, which RFC 6455 §4.2.1 allows) this is
    /// the path after the authority, `/` when there is none.
    #[must_use]
    pub fn path(&self) -> &str {
        let resource = self.resource();
        let path = resource.split_once('?').map_or(resource, |(path, _)| path);
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The query of the request-target without the `?`, e.g. `room=1`; `None` without a `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.resource().split_once('?').map(|(_, query)| query)
    }

    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    #[must_use]
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The value of the first header field named `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// The value of the first header field named `name`, if it is valid UTF-8.
    #[must_use]
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// Every header field as `(name, value)`, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter()
    }

    /// The `Origin` header field, which browsers always send: check it against an allow-list to
    /// stop other sites' pages from connecting with the user's cookies (RFC 6455 §10.2).
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.header_str("Origin")
    }

    /// Every subprotocol the client offered: the tokens of all `Sec-WebSocket-Protocol` fields,
    /// comma-separated and trimmed, in the client's order.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &str> {
        self.headers.tokens("Sec-WebSocket-Protocol")
    }

    /// True when the request asks for a WebSocket upgrade at all: an `Upgrade` field lists the
    /// token `websocket` (any case). Lets an application serve plain HTTP on other requests;
    /// whether the upgrade is valid is for [`Request::validate_upgrade`].
    #[must_use]
    pub fn is_websocket_upgrade(&self) -> bool {
        self.headers.has_token("Upgrade", "websocket")
    }

    /// The target with any `scheme://authority` prefix removed.
    fn resource(&self) -> &str {
        let target = self.target.as_str();
        if target.starts_with('/') {
            return target;
        }
        match target.split_once("://") {
            Some((_, rest)) => rest
                .find(['/', '?'])
                .and_then(|at| rest.get(at..))
                .unwrap_or(""),
            None => target,
        }
    }
}

/// A 400 for a head httparse could not make sense of.
fn malformed(detail: &str) -> Rejection {
    Rejection::new(400, format!("malformed HTTP request head: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Request {
        Request::parse(head.as_bytes(), 64).unwrap()
    }

    #[test]
    fn path_and_query_split_the_target() {
        let request = parse("GET /chat?room=1&x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(request.target(), "/chat?room=1&x");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("room=1&x"));
        let request = parse("GET /chat HTTP/1.1\r\n\r\n");
        assert_eq!(request.query(), None);
    }

    #[test]
    fn absolute_form_target_yields_its_path() {
        let request = parse("GET http://example.com:80/chat?a=b HTTP/1.1\r\n\r\n");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("a=b"));
        let request = parse("GET http://example.com HTTP/1.1\r\n\r\n");
        assert_eq!(request.path(), "/");
        assert_eq!(request.query(), None);
    }

    #[test]
    fn method_version_and_headers_are_kept() {
        let request = parse("POST / HTTP/1.0\r\nA: 1\r\nb: 2\r\n\r\n");
        assert_eq!(request.method(), "POST");
        assert_eq!(request.version(), 0);
        let headers: Vec<_> = request.headers().collect();
        assert_eq!(headers, [("A", &b"1"[..]), ("b", &b"2"[..])]);
    }

    #[test]
    fn offered_protocols_span_all_fields() {
        let request = parse(
            "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
             sec-websocket-protocol:  v2 \r\n\r\n",
        );
        let offered: Vec<&str> = request.offered_protocols().collect();
        assert_eq!(offered, ["chat", "superchat", "v2"]);
    }

    #[test]
    fn is_websocket_upgrade_looks_for_the_token_in_any_case() {
        assert!(parse("GET / HTTP/1.1\r\nUpgrade: WebSocket\r\n\r\n").is_websocket_upgrade());
        assert!(parse("GET / HTTP/1.1\r\nUpgrade: h2c, websocket\r\n\r\n").is_websocket_upgrade());
        assert!(!parse("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n").is_websocket_upgrade());
        assert!(!parse("GET / HTTP/1.1\r\n\r\n").is_websocket_upgrade());
    }

    #[test]
    fn head_ending_before_the_scanned_terminator_is_malformed() {
        let error = Request::parse(b"GET / HTTP/1.1\n\nX: y\r\n\r\n", 64).unwrap_err();
        assert_eq!(error.status(), 400);
    }

    #[test]
    fn too_many_header_fields_is_431() {
        let error = Request::parse(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", 1).unwrap_err();
        assert_eq!(error.status(), 431);
    }
}
