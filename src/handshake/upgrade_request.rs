//! Server-side validation of a WebSocket opening handshake (RFC 6455 §4.2.1) and the 101 answer
//! (§4.2.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::response::{is_token, write_header, write_status_line};
use super::{accept_key, Rejection, Request};

/// Length of a `Sec-WebSocket-Key` value: 16 bytes in padded base64.
const ENCODED_KEY_LEN: usize = 24;

/// A request that passed [`Request::validate_upgrade`]: the server may now answer 101.
#[derive(Clone, Copy, Debug)]
pub struct UpgradeRequest<'a> {
    request: &'a Request,
    key: &'a str,
}

impl Request {
    /// Checks the request against RFC 6455 §4.2.1, in this order:
    ///
    /// 1. method `GET`, else 405 with `Allow: GET`;
    /// 2. HTTP/1.1, else 400;
    /// 3. exactly one non-empty `Host`, else 400;
    /// 4. an `Upgrade` field listing `websocket` (any case), else 400 — except that a request
    ///    with neither `Upgrade` nor `Sec-WebSocket-Key` is a plain HTTP request that reached a
    ///    WebSocket endpoint (a browser tab, a curl), and gets 426 Upgrade Required with
    ///    `Upgrade: websocket` and `Connection: Upgrade`, telling it what this resource speaks;
    /// 5. a `Connection` field listing `upgrade` (any case, so `keep-alive, Upgrade` works),
    ///    else 400;
    /// 6. exactly one `Sec-WebSocket-Key` that is padded standard base64 of 16 bytes, else 400;
    /// 7. exactly one `Sec-WebSocket-Version: 13`, else 426 with `Sec-WebSocket-Version: 13`,
    ///    so the client can retry with a version this server speaks (§4.4).
    ///
    /// Origin, path and subprotocol policy are the application's: inspect the request and
    /// refuse with its own [`Rejection`] (403, 404) before answering.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] to write back before closing, as listed above.
    pub fn validate_upgrade(&self) -> Result<UpgradeRequest<'_>, Rejection> {
        if self.method() != "GET" {
            return Err(Rejection::new(
                405,
                format!("method {} cannot open a WebSocket; use GET", self.method()),
            )
            .with_header("Allow", "GET"));
        }
        if self.version() != 1 {
            return Err(bad_request("a WebSocket handshake requires HTTP/1.1"));
        }
        let headers = &self.headers;
        if headers.count("Host") != 1 || headers.get("Host").is_some_and(<[u8]>::is_empty) {
            return Err(bad_request(
                "the request needs exactly one non-empty Host header",
            ));
        }
        if !self.is_websocket_upgrade() {
            if headers.count("Upgrade") == 0 && headers.count("Sec-WebSocket-Key") == 0 {
                return Err(Rejection::new(
                    426,
                    "this resource only speaks WebSocket; send a WebSocket upgrade request",
                )
                // No `Connection: Upgrade`: every refusal already says `Connection: close`.
                .with_header("Upgrade", "websocket"));
            }
            return Err(bad_request("the Upgrade header must include `websocket`"));
        }
        if !headers.has_token("Connection", "upgrade") {
            return Err(bad_request("the Connection header must include `Upgrade`"));
        }
        let key = match single_value(self, "Sec-WebSocket-Key") {
            Some(key) if is_valid_key(key) => key,
            _ => {
                return Err(bad_request(
                    "Sec-WebSocket-Key must appear once, as base64 of 16 bytes",
                ))
            }
        };
        if single_value(self, "Sec-WebSocket-Version") != Some("13") {
            return Err(
                Rejection::new(426, "this server speaks WebSocket version 13 only")
                    .with_header("Sec-WebSocket-Version", "13"),
            );
        }
        Ok(UpgradeRequest { request: self, key })
    }
}

impl<'a> UpgradeRequest<'a> {
    /// The request that was validated.
    #[must_use]
    pub fn request(&self) -> &'a Request {
        self.request
    }

    /// The client's `Sec-WebSocket-Key`, trimmed, as sent (base64 text).
    #[must_use]
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The subprotocol to answer with: the first of `supported` (the server's preference order)
    /// that the client offered, or `None` when there is no overlap (answer without one and let
    /// the client decide whether to go on, RFC 6455 §4.2.2). Names compare case-sensitively.
    #[must_use]
    pub fn select_protocol<'p>(&self, supported: &[&'p str]) -> Option<&'p str> {
        supported
            .iter()
            .find(|candidate| {
                self.request
                    .offered_protocols()
                    .any(|offered| offered == **candidate)
            })
            .copied()
    }

    /// The `101 Switching Protocols` response accepting the upgrade, with
    /// `Sec-WebSocket-Protocol: protocol` when one is given (it must be one the client offered,
    /// e.g. from [`UpgradeRequest::select_protocol`]).
    ///
    /// # Panics
    ///
    /// If `protocol` is not an HTTP token.
    #[must_use]
    pub fn accept_response(&self, protocol: Option<&str>) -> Vec<u8> {
        self.accept_response_with_headers(protocol, &[])
    }

    /// As [`UpgradeRequest::accept_response`], with extra header fields (`Set-Cookie`, ...)
    /// after the handshake ones.
    ///
    /// # Panics
    ///
    /// If `protocol` is not an HTTP token, a header name is not a token or a header value holds
    /// a control character other than tab.
    #[must_use]
    pub fn accept_response_with_headers(
        &self,
        protocol: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        write_status_line(&mut out, 101);
        write_header(&mut out, "Upgrade", "websocket");
        write_header(&mut out, "Connection", "Upgrade");
        write_header(
            &mut out,
            "Sec-WebSocket-Accept",
            &accept_key(self.key.as_bytes()),
        );
        if let Some(protocol) = protocol {
            assert!(is_token(protocol), "invalid subprotocol name {protocol:?}");
            write_header(&mut out, "Sec-WebSocket-Protocol", protocol);
        }
        for &(name, value) in headers {
            write_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// The trimmed UTF-8 value of the one field named `name`; `None` if absent, repeated or not UTF-8.
fn single_value<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    if request.headers.count(name) != 1 {
        return None;
    }
    request.header_str(name).map(str::trim)
}

/// True for padded standard base64 decoding to exactly 16 bytes (RFC 6455 §4.1, item 7).
fn is_valid_key(key: &str) -> bool {
    key.len() == ENCODED_KEY_LEN && STANDARD.decode(key).is_ok_and(|bytes| bytes.len() == 16)
}

/// A 400 naming what is wrong with the handshake.
fn bad_request(reason: &str) -> Rejection {
    Rejection::new(400, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{HeadLimits, RequestReader};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    /// A valid upgrade request with `replace` substituted into it.
    fn request_with(replace: &[(&str, &str)]) -> Request {
        let mut head = format!(
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        for (from, to) in replace {
            head = head.replace(from, to);
        }
        RequestReader::new(HeadLimits::default())
            .feed(head.as_bytes())
            .unwrap()
            .unwrap()
    }

    fn status_of(replace: &[(&str, &str)]) -> u16 {
        request_with(replace)
            .validate_upgrade()
            .unwrap_err()
            .status()
    }

    #[test]
    fn valid_request_is_accepted_with_rfc_accept_key() {
        let request = request_with(&[]);
        let upgrade = request.validate_upgrade().unwrap();
        assert_eq!(upgrade.key(), KEY);
        assert_eq!(
            upgrade.accept_response(None),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn accept_response_names_the_chosen_protocol() {
        let request = request_with(&[("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n")]);
        let response = request
            .validate_upgrade()
            .unwrap()
            .accept_response(Some("chat"));
        assert!(response.ends_with(b"Sec-WebSocket-Protocol: chat\r\n\r\n"));
    }

    #[test]
    fn connection_keep_alive_upgrade_is_accepted() {
        let request = request_with(&[("Connection: Upgrade", "Connection: keep-alive, Upgrade")]);
        assert!(request.validate_upgrade().is_ok());
    }

    #[test]
    fn header_values_in_any_case_are_accepted() {
        let request = request_with(&[
            ("Upgrade: websocket", "upgrade: WebSocket"),
            ("Connection: Upgrade", "connection: upgrade"),
        ]);
        assert!(request.validate_upgrade().is_ok());
    }

    #[test]
    fn post_is_405_with_allow_get() {
        let rejection = request_with(&[("GET", "POST")])
            .validate_upgrade()
            .unwrap_err();
        assert_eq!(rejection.status(), 405);
        assert_eq!(rejection.header("Allow"), Some("GET"));
    }

    #[test]
    fn method_is_checked_before_version() {
        assert_eq!(status_of(&[("GET", "PUT"), ("HTTP/1.1", "HTTP/1.0")]), 405);
    }

    #[test]
    fn http_1_0_is_400() {
        assert_eq!(status_of(&[("HTTP/1.1", "HTTP/1.0")]), 400);
    }

    #[test]
    fn missing_host_is_400() {
        assert_eq!(status_of(&[("Host: server.example.com\r\n", "")]), 400);
    }

    #[test]
    fn duplicate_host_is_400() {
        assert_eq!(
            status_of(&[("Host: server.example.com", "Host: a\r\nHost: b")]),
            400
        );
    }

    #[test]
    fn key_that_is_not_base64_is_400() {
        assert_eq!(status_of(&[(KEY, "not base64 at all!!!!!!!")]), 400);
    }

    #[test]
    fn key_of_15_bytes_is_400() {
        assert_eq!(status_of(&[(KEY, "AAAAAAAAAAAAAAAAAAAA")]), 400);
    }

    #[test]
    fn key_of_17_bytes_is_400() {
        assert_eq!(status_of(&[(KEY, "AAAAAAAAAAAAAAAAAAAAAAA=")]), 400);
    }

    #[test]
    fn missing_key_is_400() {
        assert_eq!(status_of(&[("Sec-WebSocket-Key", "X-Other")]), 400);
    }

    #[test]
    fn repeated_key_is_400() {
        let twice = format!("Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Key: {KEY}");
        assert_eq!(
            status_of(&[(&format!("Sec-WebSocket-Key: {KEY}"), &twice)]),
            400
        );
    }

    #[test]
    fn connection_without_upgrade_is_400() {
        assert_eq!(
            status_of(&[("Connection: Upgrade", "Connection: keep-alive")]),
            400
        );
        assert_eq!(status_of(&[("Connection: Upgrade\r\n", "")]), 400);
    }

    #[test]
    fn upgrade_h2c_is_400() {
        assert_eq!(status_of(&[("Upgrade: websocket", "Upgrade: h2c")]), 400);
    }

    #[test]
    fn missing_upgrade_with_a_key_is_400() {
        assert_eq!(status_of(&[("Upgrade: websocket\r\n", "")]), 400);
    }

    #[test]
    fn plain_http_get_is_426_naming_websocket() {
        let request = RequestReader::new(HeadLimits::default())
            .feed(b"GET /chat HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n")
            .unwrap()
            .unwrap();
        let rejection = request.validate_upgrade().unwrap_err();
        assert_eq!(rejection.status(), 426);
        assert_eq!(rejection.header("Upgrade"), Some("websocket"));
        let response = String::from_utf8(rejection.to_bytes()).unwrap();
        let connection_headers: Vec<&str> = response
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("connection:"))
            .collect();
        assert_eq!(connection_headers, ["Connection: close"]);
    }

    #[test]
    fn version_8_is_426_with_version_13_header() {
        let rejection = request_with(&[("Version: 13", "Version: 8")])
            .validate_upgrade()
            .unwrap_err();
        assert_eq!(rejection.status(), 426);
        assert_eq!(rejection.header("Sec-WebSocket-Version"), Some("13"));
    }

    #[test]
    fn missing_version_is_426_with_version_13_header() {
        let rejection = request_with(&[("Sec-WebSocket-Version: 13\r\n", "")])
            .validate_upgrade()
            .unwrap_err();
        assert_eq!(rejection.status(), 426);
        assert_eq!(rejection.header("Sec-WebSocket-Version"), Some("13"));
    }

    #[test]
    fn select_protocol_follows_server_preference_among_offered() {
        let request = request_with(&[(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Protocol: v1.chat, v2.chat\r\n\r\n",
        )]);
        let upgrade = request.validate_upgrade().unwrap();
        assert_eq!(
            upgrade.select_protocol(&["v2.chat", "v1.chat"]),
            Some("v2.chat")
        );
        assert_eq!(
            upgrade.select_protocol(&["v3.chat", "v1.chat"]),
            Some("v1.chat")
        );
        assert_eq!(upgrade.select_protocol(&["v3.chat"]), None);
        assert_eq!(upgrade.select_protocol(&["V1.CHAT"]), None);
    }

    #[test]
    fn accept_response_with_headers_appends_them() {
        let request = request_with(&[]);
        let response = request
            .validate_upgrade()
            .unwrap()
            .accept_response_with_headers(None, &[("Set-Cookie", "a=b")]);
        assert!(response.ends_with(b"\r\nSet-Cookie: a=b\r\n\r\n"));
    }
}
