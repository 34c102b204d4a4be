//! Client-side validation of the server's opening handshake response (RFC 6455 §4.1, the
//! checks after "the client MUST validate the server's response as follows").

use super::header_fields::HeaderFields;
use super::response::reason_phrase;
use super::{accept_key, ClientRequest, HandshakeError};

/// A server's `101 Switching Protocols` that completes the client's handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeResponse {
    protocol: Option<String>,
    headers: HeaderFields,
}

impl UpgradeResponse {
    /// Parses a complete response head (`head` ends with the empty line) and checks it answers
    /// `request`.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::HeadTooLarge`] with more than `max_headers` fields,
    /// [`HandshakeError::MalformedResponse`] for a head that is not HTTP/1.1,
    /// [`HandshakeError::Rejected`] for a status other than 101, and the specific variants for a
    /// 101 that does not complete the handshake.
    pub(crate) fn parse(
        head: &[u8],
        max_headers: usize,
        request: &ClientRequest,
    ) -> Result<Self, HandshakeError> {
        // Every header line takes at least a ':' and a '\n': never the binding cap, but it keeps
        // the allocation proportional to bytes received.
        let slots = max_headers.min(head.len() / 2 + 1);
        let mut header_slots = vec![httparse::EMPTY_HEADER; slots];
        let mut parsed = httparse::Response::new(&mut header_slots);
        match parsed.parse(head) {
            Ok(httparse::Status::Complete(len)) if len == head.len() => {}
            Ok(_) => return Err(malformed("the head does not end where its empty line is")),
            Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::HeadTooLarge),
            Err(error) => return Err(malformed(&error.to_string())),
        }
        let (Some(status), Some(version)) = (parsed.code, parsed.version) else {
            return Err(malformed("incomplete status line"));
        };
        if status != 101 {
            let reason = match parsed.reason {
                Some(reason) if !reason.is_empty() => reason,
                _ => reason_phrase(status),
            };
            return Err(HandshakeError::Rejected {
                status,
                reason: reason.to_owned(),
            });
        }
        if version != 1 {
            return Err(malformed("a 101 response must be HTTP/1.1"));
        }
        let headers = HeaderFields::from_parsed(parsed.headers);
        validate(&headers, request)?;
        let protocol = selected_protocol(&headers, request)?;
        Ok(Self { protocol, headers })
    }

    /// The subprotocol the server selected, one the client offered; `None` if it chose none.
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
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
}

/// The checks of §4.1 items 2–4 and 5 (extensions; this client offers none).
fn validate(headers: &HeaderFields, request: &ClientRequest) -> Result<(), HandshakeError> {
    if !headers.has_token("Upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !headers.has_token("Connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let expected = accept_key(request.key().as_bytes());
    let accept = headers.get_str("Sec-WebSocket-Accept").map(str::trim);
    if headers.count("Sec-WebSocket-Accept") != 1 || accept != Some(expected.as_str()) {
        return Err(HandshakeError::BadAccept);
    }
    if let Some(extension) = headers.tokens("Sec-WebSocket-Extensions").next() {
        let name = extension.split(';').next().unwrap_or(extension).trim();
        return Err(HandshakeError::UnofferedExtension(name.to_owned()));
    }
    Ok(())
}

/// §4.1 item 6: the selected subprotocol, which must be one the client offered.
fn selected_protocol(
    headers: &HeaderFields,
    request: &ClientRequest,
) -> Result<Option<String>, HandshakeError> {
    match headers.count("Sec-WebSocket-Protocol") {
        0 => return Ok(None),
        1 => {}
        _ => return Err(malformed("more than one Sec-WebSocket-Protocol header")),
    }
    let value = headers.get("Sec-WebSocket-Protocol").unwrap_or_default();
    let value = String::from_utf8_lossy(value);
    let value = value.trim();
    if request.protocols().any(|offered| offered == value) {
        Ok(Some(value.to_owned()))
    } else {
        Err(HandshakeError::UnofferedProtocol(value.to_owned()))
    }
}

/// A [`HandshakeError::MalformedResponse`] with `detail`.
fn malformed(detail: &str) -> HandshakeError {
    HandshakeError::MalformedResponse(detail.to_owned())
}
