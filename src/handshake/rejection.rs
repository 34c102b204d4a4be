//! A server's refusal of an HTTP request, ready to be written back to the client.

use std::fmt;

use super::response::{
    assert_header, assert_status_code, reason_phrase, write_header, write_status_line,
};

/// An HTTP refusal: status code, a short human-readable reason, and extra header fields.
///
/// The handshake produces these for malformed or non-conforming requests (400, 405, 426, 431);
/// applications build their own for policy decisions (403 for a disallowed `Origin`, 404 for an
/// unknown path). [`Rejection::to_bytes`] gives the complete response to write before closing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

impl Rejection {
    /// A refusal with `status` and `reason`, which becomes the plain-text response body.
    ///
    /// # Panics
    ///
    /// If `status` is not a three-digit code (100–999).
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        assert_status_code(status);
        Self {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a header field to the response (`Allow` for 405, `Sec-WebSocket-Version` for 426).
    ///
    /// # Panics
    ///
    /// If `name` is not an HTTP token or `value` contains a control character other than tab,
    /// which would corrupt the response or inject header lines.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        assert_header(name, value);
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The HTTP status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The human-readable reason, sent as the response body.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The value of the first extra header field named `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The complete HTTP/1.1 response: status line, the extra header fields, `Connection: close`,
    /// `Content-Type: text/plain; charset=utf-8`, `Content-Length`, and the reason as body.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.reason.len());
        write_status_line(&mut out, self.status);
        for (name, value) in &self.headers {
            write_header(&mut out, name, value);
        }
        write_header(&mut out, "Connection", "close");
        write_header(&mut out, "Content-Type", "text/plain; charset=utf-8");
        write_header(&mut out, "Content-Length", &self.reason.len().to_string());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.reason.as_bytes());
        out
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {}: {}",
            self.status,
            reason_phrase(self.status),
            self.reason
        )
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_bytes_is_a_complete_plain_text_response() {
        let rejection = Rejection::new(405, "only GET can be upgraded").with_header("Allow", "GET");
        assert_eq!(
            String::from_utf8(rejection.to_bytes()).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nConnection: close\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\n\r\n\
             only GET can be upgraded"
        );
    }

    #[test]
    fn accessors_and_display() {
        let rejection = Rejection::new(403, "origin not allowed").with_header("X-A", "b");
        assert_eq!(rejection.status(), 403);
        assert_eq!(rejection.reason(), "origin not allowed");
        assert_eq!(rejection.header("x-a"), Some("b"));
        assert_eq!(
            rejection.to_string(),
            "HTTP 403 Forbidden: origin not allowed"
        );
    }

    #[test]
    fn content_length_counts_utf8_bytes() {
        let bytes = Rejection::new(400, "é").to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("Content-Length: 2\r\n"), "{text}");
    }
}
