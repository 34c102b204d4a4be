//! The two things the soak reads and writes on the wire: the chat server's JSON events
//! (`wschat.v1.json`, see the README's "Wire format") and the text of the soak's own messages.
//!
//! Every message the soak sends has a unique text `c<client>#<n> t=<micros>`: the client index,
//! the client's message counter (across its reconnects) and the send time in microseconds since
//! the soak started (one `Instant` base for the whole process). Receivers take the delivery
//! latency and the sender's identity from the text alone.

use std::borrow::Cow;

use serde::Deserialize;

/// One server event, parsed without copying (unless a string holds escapes): only the fields
/// the checks use. Unknown fields (`ts`, `to`, `users`) are skipped.
#[derive(Debug, Deserialize)]
pub struct ServerEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub from: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub text: Option<Cow<'a, str>>,
    /// Only in the greeting: the name this connection was given.
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub you: Option<Cow<'a, str>>,
}

/// serde borrows a `Cow<str>` field, but not one inside an `Option`: this one does.
fn optional_str<'de: 'a, 'a, D>(deserializer: D) -> Result<Option<Cow<'a, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'a>>::deserialize(deserializer)?.map(|borrowed| borrowed.0))
}

impl<'a> ServerEvent<'a> {
    /// Parses one text message from the server.
    pub fn parse(json: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The greeting: a `system` event with a `seq` (that of the connection's own join) and `you`.
    pub fn greeting_name(&self) -> Option<&str> {
        match (&*self.kind, self.seq, &self.you) {
            ("system", Some(_), Some(you)) => Some(you),
            _ => None,
        }
    }

    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

/// Identifies a message the soak sent, as carried in its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SentId {
    pub client: u32,
    pub n: u64,
}

/// The text of message `n` of `client`, sent `sent_micros` after the soak started.
pub fn message_text(client: u32, n: u64, sent_micros: u64) -> String {
    format!("c{client}#{n} t={sent_micros}")
}

/// The JSON a client sends for a chat message with `text` (which needs no escaping).
pub fn message_json(text: &str) -> String {
    debug_assert!(!text.contains(['"', '\\']));
    format!(r#"{{"type":"message","text":"{text}"}}"#)
}

/// The sender and send time carried by a soak message text; `None` for any other text.
pub fn parse_message_text(text: &str) -> Option<(SentId, u64)> {
    let rest = text.strip_prefix('c')?;
    let (client, rest) = rest.split_once('#')?;
    let (n, sent) = rest.split_once(" t=")?;
    let id = SentId {
        client: client.parse().ok()?,
        n: n.parse().ok()?,
    };
    Some((id, sent.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_texts_round_trip() {
        let text = message_text(17, 342, 123_456);
        assert_eq!(text, "c17#342 t=123456");
        assert_eq!(
            parse_message_text(&text),
            Some((SentId { client: 17, n: 342 }, 123_456))
        );
        assert_eq!(parse_message_text("hello"), None);
        assert_eq!(parse_message_text("c1#x t=3"), None);
        assert_eq!(
            message_json(&text),
            r#"{"type":"message","text":"c17#342 t=123456"}"#
        );
    }

    #[test]
    fn events_parse_with_and_without_seq() {
        let event = ServerEvent::parse(
            r#"{"type":"message","seq":42,"ts":1,"from":"alice","text":"hello"}"#,
        )
        .unwrap();
        assert_eq!(
            (&*event.kind, event.seq, event.from.as_deref(), event.text()),
            ("message", Some(42), Some("alice"), "hello")
        );
        assert!(matches!(event.from, Some(Cow::Borrowed(_))));
        assert!(matches!(event.text, Some(Cow::Borrowed(_))));
        assert_eq!(event.greeting_name(), None);

        let greeting = ServerEvent::parse(
            r#"{"type":"system","seq":47,"ts":2,"text":"You are connected!","you":"user4","users":["bob","user4"]}"#,
        )
        .unwrap();
        assert_eq!(greeting.greeting_name(), Some("user4"));

        let users =
            ServerEvent::parse(r#"{"type":"users","ts":3,"text":"1 user here: a","users":["a"]}"#)
                .unwrap();
        assert_eq!((users.seq, users.greeting_name()), (None, None));

        let escaped = ServerEvent::parse(r#"{"type":"error","ts":4,"text":"say \"hi\""}"#).unwrap();
        assert_eq!(escaped.text(), "say \"hi\"");
    }
}
