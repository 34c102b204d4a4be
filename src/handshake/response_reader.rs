//! Incremental reading of the server's handshake response on the client side, sans-IO.

use bytes::{Buf as _, BytesMut};

use super::head_scanner::{HeadScanner, HeadStatus};
use super::{ClientRequest, HandshakeError, HeadLimits, UpgradeResponse};

/// Reads the server's response head from bytes as they arrive and checks it against the
/// [`ClientRequest`] that was sent.
///
/// Same rules as [`RequestReader`](super::RequestReader): the IO layer appends to
/// [`ResponseReader::buffer_mut`] and calls [`ResponseReader::poll_response`]; each byte is
/// scanned a bounded number of times and the head is parsed once; past `max_head_bytes` without
/// an end of head the response is refused. Frames the server sent right after its 101 stay in
/// the buffer for [`ResponseReader::take_remaining`].
#[derive(Debug)]
pub struct ResponseReader {
    limits: HeadLimits,
    buffer: BytesMut,
    scanner: HeadScanner,
    state: State,
}

/// Where the reader is in its single head.
#[derive(Debug)]
enum State {
    Reading,
    Done,
    Failed(HandshakeError),
}

impl ResponseReader {
    /// A reader enforcing `limits`.
    #[must_use]
    pub fn new(limits: HeadLimits) -> Self {
        Self {
            limits,
            buffer: BytesMut::new(),
            scanner: HeadScanner::default(),
            state: State::Reading,
        }
    }

    /// The buffer the IO layer reads into directly. Only append to it (then call
    /// [`ResponseReader::poll_response`]); bytes already there must not be changed or removed.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Looks for a complete response head in the buffer and validates it against `request`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (and after the response has been
    /// returned), and the [`UpgradeResponse`] once a valid 101 has arrived: the connection now
    /// speaks WebSocket.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::HeadTooLarge`] as soon as the buffer holds more than `max_head_bytes`
    /// without an end of head, or the head has more than `max_headers` fields;
    /// [`HandshakeError::Rejected`] for a status other than 101; the other variants for a 101
    /// that does not complete the handshake (wrong accept key, unoffered subprotocol, ...).
    /// Once failed, the reader repeats the same error.
    pub fn poll_response(
        &mut self,
        request: &ClientRequest,
    ) -> Result<Option<UpgradeResponse>, HandshakeError> {
        match &self.state {
            State::Reading => {}
            State::Done => return Ok(None),
            State::Failed(error) => return Err(error.clone()),
        }
        let result = match self.scanner.poll(&self.buffer, self.limits.max_head_bytes) {
            HeadStatus::Incomplete => return Ok(None),
            HeadStatus::TooLarge => Err(HandshakeError::HeadTooLarge),
            HeadStatus::Complete(len) => {
                let head = self.buffer.get(..len).unwrap_or_default();
                UpgradeResponse::parse(head, self.limits.max_headers, request)
                    .map(|response| (response, len))
            }
        };
        match result {
            Ok((response, len)) => {
                self.buffer.advance(len);
                self.state = State::Done;
                Ok(Some(response))
            }
            Err(error) => {
                self.state = State::Failed(error.clone());
                Err(error)
            }
        }
    }

    /// Appends `data` to the buffer, then [`polls`](ResponseReader::poll_response).
    ///
    /// # Errors
    ///
    /// As [`ResponseReader::poll_response`]. A failed reader does not buffer `data`.
    pub fn feed(
        &mut self,
        data: &[u8],
        request: &ClientRequest,
    ) -> Result<Option<UpgradeResponse>, HandshakeError> {
        if let State::Failed(error) = &self.state {
            return Err(error.clone());
        }
        self.buffer.extend_from_slice(data);
        self.poll_response(request)
    }

    /// Takes the bytes buffered after the response head: WebSocket frames the server sent right
    /// after its 101. Call it once [`ResponseReader::poll_response`] has returned the response.
    pub fn take_remaining(&mut self) -> BytesMut {
        std::mem::take(&mut self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::RequestReader;

    fn client(protocols: &[&str]) -> ClientRequest {
        ClientRequest::from_url("ws://example.com/chat")
            .unwrap()
            .with_protocols(protocols)
    }

    /// The server's answer to `client`, produced by the server half of this module.
    fn server_answer(client: &ClientRequest, protocol: Option<&str>) -> Vec<u8> {
        let request = RequestReader::new(HeadLimits::default())
            .feed(&client.to_bytes())
            .unwrap()
            .unwrap();
        request
            .validate_upgrade()
            .unwrap()
            .accept_response(protocol)
    }

    fn read(
        client: &ClientRequest,
        response: &[u8],
    ) -> Result<Option<UpgradeResponse>, HandshakeError> {
        ResponseReader::new(HeadLimits::default()).feed(response, client)
    }

    /// The RFC 6455 §1.3 example response, with `extra` header lines.
    fn rfc_response(extra: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        )
    }

    fn rfc_client(protocols: &[&str]) -> ClientRequest {
        client(protocols).with_key("dGhlIHNhbXBsZSBub25jZQ==")
    }

    #[test]
    fn accept_response_round_trips_without_protocol() {
        let client = client(&[]);
        let response = read(&client, &server_answer(&client, None))
            .unwrap()
            .unwrap();
        assert_eq!(response.protocol(), None);
        assert_eq!(response.header_str("upgrade"), Some("websocket"));
    }

    #[test]
    fn accept_response_round_trips_with_protocol() {
        let client = client(&["v1", "v2"]);
        let answer = server_answer(&client, Some("v2"));
        let response = read(&client, &answer).unwrap().unwrap();
        assert_eq!(response.protocol(), Some("v2"));
    }

    #[test]
    fn response_split_at_every_point_validates_and_keeps_frames() {
        let client = client(&[]);
        let mut stream = server_answer(&client, None);
        let head_len = stream.len();
        stream.extend_from_slice(b"\x81\x02hi");
        for split in 0..=stream.len() {
            let mut reader = ResponseReader::new(HeadLimits::default());
            let first = reader.feed(&stream[..split], &client).unwrap();
            let second = reader.feed(&stream[split..], &client).unwrap();
            assert_eq!(first.is_some(), split >= head_len, "split at {split}");
            assert!(first.is_some() != second.is_some());
            assert_eq!(&reader.take_remaining()[..], b"\x81\x02hi");
        }
    }

    #[test]
    fn non_101_status_is_rejected_with_status() {
        let client = client(&[]);
        let error = read(
            &client,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            error,
            Err(HandshakeError::Rejected {
                status: 403,
                reason: "Forbidden".into()
            })
        );
    }

    #[test]
    fn rejection_without_reason_phrase_uses_the_standard_one() {
        let error = read(&client(&[]), b"HTTP/1.0 426 \r\n\r\n");
        assert_eq!(
            error,
            Err(HandshakeError::Rejected {
                status: 426,
                reason: "Upgrade Required".into()
            })
        );
    }

    #[test]
    fn wrong_accept_is_bad_accept() {
        let client = client(&[]);
        assert_eq!(
            read(&client, rfc_response("").as_bytes()),
            Err(HandshakeError::BadAccept)
        );
        let missing = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                        Connection: Upgrade\r\n\r\n";
        assert_eq!(read(&client, missing), Err(HandshakeError::BadAccept));
    }

    #[test]
    fn rfc_accept_for_rfc_key_is_accepted() {
        assert!(read(&rfc_client(&[]), rfc_response("").as_bytes())
            .unwrap()
            .is_some());
    }

    #[test]
    fn unoffered_protocol_is_an_error() {
        let response = rfc_response("Sec-WebSocket-Protocol: v3\r\n");
        assert_eq!(
            read(&rfc_client(&["v1", "v2"]), response.as_bytes()),
            Err(HandshakeError::UnofferedProtocol("v3".into()))
        );
    }

    #[test]
    fn protocol_answered_when_none_offered_is_an_error() {
        let response = rfc_response("Sec-WebSocket-Protocol: v1\r\n");
        assert_eq!(
            read(&rfc_client(&[]), response.as_bytes()),
            Err(HandshakeError::UnofferedProtocol("v1".into()))
        );
    }

    #[test]
    fn unoffered_extension_is_an_error() {
        let response = rfc_response("Sec-WebSocket-Extensions: permessage-deflate; x=1\r\n");
        assert_eq!(
            read(&rfc_client(&[]), response.as_bytes()),
            Err(HandshakeError::UnofferedExtension(
                "permessage-deflate".into()
            ))
        );
    }

    #[test]
    fn missing_upgrade_is_an_error() {
        let response = rfc_response("").replace("Upgrade: websocket\r\n", "");
        assert_eq!(
            read(&rfc_client(&[]), response.as_bytes()),
            Err(HandshakeError::MissingUpgrade)
        );
    }

    #[test]
    fn missing_connection_upgrade_is_an_error() {
        let response = rfc_response("").replace("Connection: Upgrade", "Connection: close");
        assert_eq!(
            read(&rfc_client(&[]), response.as_bytes()),
            Err(HandshakeError::MissingConnectionUpgrade)
        );
    }

    #[test]
    fn oversized_response_head_is_head_too_large() {
        let client = client(&[]);
        let mut reader = ResponseReader::new(HeadLimits::default().with_max_head_bytes(64));
        assert_eq!(reader.feed(&[b'a'; 64], &client), Ok(None));
        assert_eq!(
            reader.feed(b"a", &client),
            Err(HandshakeError::HeadTooLarge)
        );
    }

    #[test]
    fn too_many_response_headers_is_head_too_large() {
        let response = rfc_response("A: 1\r\nB: 2\r\n");
        let mut reader = ResponseReader::new(HeadLimits::default().with_max_headers(4));
        assert_eq!(
            reader.feed(response.as_bytes(), &rfc_client(&[])),
            Err(HandshakeError::HeadTooLarge)
        );
    }

    #[test]
    fn garbage_response_is_malformed() {
        assert!(matches!(
            read(&client(&[]), b"\x00\x01garbage\r\n\r\n"),
            Err(HandshakeError::MalformedResponse(_))
        ));
    }
}
