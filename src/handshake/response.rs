//! Serialising HTTP/1.1 responses and header lines.
//!
//! Every response written here carries `Connection: close` (except the 101, which hands the
//! connection over to WebSocket): a WebSocket endpoint that refuses or answers a plain HTTP request
//! closes afterwards rather than implementing keep-alive. Header names and values are checked
//! before they are written so that no caller-supplied string can inject a header line.

/// The reason phrase for the status codes a WebSocket server is likely to send, or `""`.
///
/// The phrase is informational only (RFC 7230 §3.1.2): an unknown code gets an empty phrase,
/// which is valid on the wire.
#[must_use]
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// A complete HTTP/1.1 response, for applications serving plain HTTP on the WebSocket port (an
/// HTML page, a health check).
///
/// Adds `Content-Length` and `Connection: close` after `headers`, so `headers` must not contain
/// either. The reason phrase comes from [`reason_phrase`].
///
/// # Panics
///
/// If `status` is not a three-digit code (100–999), a header name is not an HTTP token, or a
/// header value contains a control character other than tab (CR/LF would inject header lines).
#[must_use]
pub fn http_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    write_status_line(&mut out, status);
    for &(name, value) in headers {
        write_header(&mut out, name, value);
    }
    write_header(&mut out, "Content-Length", &body.len().to_string());
    write_header(&mut out, "Connection", "close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Writes `HTTP/1.1 <status> <phrase>\r\n`.
///
/// # Panics
///
/// If `status` is not a three-digit code.
pub(crate) fn write_status_line(out: &mut Vec<u8>, status: u16) {
    assert_status_code(status);
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
}

/// Writes `name: value\r\n`.
///
/// # Panics
///
/// If `name` is not a token or `value` is not a valid field value (see [`assert_header`]).
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    assert_header(name, value);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Checks that a caller-supplied status code fits the three-digit status-line syntax.
///
/// # Panics
///
/// If it does not: that is a bug in the caller, not something a peer can cause.
pub(crate) fn assert_status_code(status: u16) {
    assert!(
        (100..=999).contains(&status),
        "HTTP status code {status} is not three digits"
    );
}

/// Checks a caller-supplied header before it is stored or written.
///
/// # Panics
///
/// If `name` is not an HTTP token or `value` holds a control character other than tab or
/// leading/trailing whitespace: writing it would corrupt the head or inject header lines.
pub(crate) fn assert_header(name: &str, value: &str) {
    assert!(is_token(name), "invalid HTTP header name {name:?}");
    assert!(is_field_value(value), "invalid HTTP header value {value:?}");
}

/// True for a non-empty RFC 7230 `token` (header names, protocol names).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// True for an RFC 7230 `field-value` without obs-fold: visible characters, spaces and tabs,
/// not starting or ending with whitespace.
pub(crate) fn is_field_value(s: &str) -> bool {
    s.trim_matches([' ', '\t']).len() == s.len() && s.chars().all(|c| c == '\t' || !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_response_adds_length_and_close() {
        let bytes = http_response(200, &[("Content-Type", "text/html")], b"<p>hi</p>");
        assert_eq!(
            bytes,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\
              Connection: close\r\n\r\n<p>hi</p>"
        );
    }

    #[test]
    fn unknown_status_has_empty_reason_phrase() {
        let bytes = http_response(299, &[], b"");
        assert!(bytes.starts_with(b"HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn reason_phrases_cover_handshake_statuses() {
        for (status, phrase) in [
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (426, "Upgrade Required"),
            (431, "Request Header Fields Too Large"),
            (503, "Service Unavailable"),
        ] {
            assert_eq!(reason_phrase(status), phrase);
        }
    }

    #[test]
    #[should_panic(expected = "invalid HTTP header value")]
    fn header_value_with_crlf_is_refused() {
        let _ = http_response(200, &[("X-A", "1\r\nSet-Cookie: evil")], b"");
    }

    #[test]
    #[should_panic(expected = "invalid HTTP header name")]
    fn header_name_with_colon_is_refused() {
        let _ = http_response(200, &[("X:A", "1")], b"");
    }

    #[test]
    #[should_panic(expected = "not three digits")]
    fn two_digit_status_is_refused() {
        let _ = http_response(99, &[], b"");
    }

    #[test]
    fn tokens_and_field_values() {
        assert!(is_token("Sec-WebSocket-Protocol"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(is_field_value("text/plain; charset=utf-8"));
        assert!(is_field_value(""));
        assert!(!is_field_value(" padded"));
        assert!(!is_field_value("nul\0"));
    }
}
