//! The two wire formats, in one place: plain text lines and JSON objects.
//!
//! A client chooses by subprotocol: offering [`JSON_PROTOCOL`] selects JSON, anything else (or
//! nothing) selects plain text, so any WebSocket tool can chat. Server events are encoded here
//! and only here; the README's "Chat" section documents both formats.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};

/// The subprotocol that selects the JSON format.
pub const JSON_PROTOCOL: &str = "wschat.v1.json";

/// How a connection's messages are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// One human-readable line per message, e.g. `[alice]: hi`.
    Plain,
    /// One JSON object per message, with `type`, `seq` and `ts`.
    Json,
}

impl WireFormat {
    /// The format for a client that offered `offered` subprotocols.
    pub fn negotiate<'a>(mut offered: impl Iterator<Item = &'a str>) -> Self {
        if offered.any(|protocol| protocol == JSON_PROTOCOL) {
            Self::Json
        } else {
            Self::Plain
        }
    }

    /// The subprotocol to answer with.
    #[must_use]
    pub fn protocol(self) -> Option<&'static str> {
        match self {
            Self::Plain => None,
            Self::Json => Some(JSON_PROTOCOL),
        }
    }
}

/// The human-readable line for an event: exactly what plain-text clients receive.
///
/// A message with several lines keeps them, each continuation line indented by two spaces, so
/// that no user text can pass for a line from the server (`hi\nuser5 left`).
#[must_use]
pub fn plain_line(kind: &EventKind) -> String {
    match kind {
        EventKind::Message { from, text } => format!("[{from}]: {}", indent_continuations(text)),
        EventKind::Whisper { from, to, text } => {
            format!("[{from} -> {to}] (private): {}", indent_continuations(text))
        }
        EventKind::Join { name } => format!("{name} joined"),
        EventKind::Leave { name } => format!("{name} left"),
        EventKind::Nick { old, new } => format!("{old} is now known as {new}"),
        EventKind::Welcome { users, .. } => {
            format!("You are connected! There are {} users here.", users.len())
        }
        EventKind::Users { users } => users_line(users),
        EventKind::System { text } => text.clone(),
        EventKind::Error { text } => format!("error: {text}"),
    }
}

fn indent_continuations(text: &str) -> Cow<'_, str> {
    if !text.contains(['\n', '\r']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\n', "\n  "),
    )
}

fn users_line(users: &[String]) -> String {
    match users.len() {
        1 => format!("1 user here: {}", users.join(", ")),
        n => format!("{n} users here: {}", users.join(", ")),
    }
}

/// An event as a JSON object. Field order is fixed; absent fields are omitted.
#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    ts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    text: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    you: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<&'a [String]>,
}

/// The JSON object for an event.
#[must_use]
pub fn json_object(event: &Event) -> String {
    let mut json = JsonEvent {
        kind: "system",
        seq: event.seq,
        ts: event.ts,
        from: None,
        to: None,
        text: Cow::Borrowed(""),
        you: None,
        users: None,
    };
    match &event.kind {
        EventKind::Message { from, text } => {
            json.kind = "message";
            json.from = Some(from);
            json.text = Cow::Borrowed(text);
        }
        EventKind::Whisper { from, to, text } => {
            json.kind = "whisper";
            json.from = Some(from);
            json.to = Some(to);
            json.text = Cow::Borrowed(text);
        }
        EventKind::Join { name } | EventKind::Leave { name } => {
            json.kind = if matches!(event.kind, EventKind::Join { .. }) {
                "join"
            } else {
                "leave"
            };
            json.from = Some(name);
        }
        EventKind::Nick { old, new } => {
            json.kind = "nick";
            json.from = Some(old);
            json.to = Some(new);
        }
        EventKind::Welcome { you, users } => {
            json.you = Some(you);
            json.users = Some(users);
        }
        EventKind::Users { users } => {
            json.kind = "users";
            json.users = Some(users);
        }
        EventKind::System { .. } => {}
        EventKind::Error { text } => {
            json.kind = "error";
            json.text = Cow::Borrowed(text);
        }
    }
    // Kinds without text of their own carry the line plain clients get; a message's or an
    // error's text is kept as it is, even empty.
    let has_own_text = matches!(
        event.kind,
        EventKind::Message { .. } | EventKind::Whisper { .. } | EventKind::Error { .. }
    );
    if !has_own_text {
        json.text = Cow::Owned(plain_line(&event.kind));
    }
    // Serialising strings, numbers and string slices cannot fail.
    serde_json::to_string(&json).unwrap_or_default()
}

/// An event in `format`.
#[must_use]
pub fn encode(event: &Event, format: WireFormat) -> String {
    match format {
        WireFormat::Plain => plain_line(&event.kind),
        WireFormat::Json => json_object(event),
    }
}

/// What a client sent, before command parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission<'a> {
    /// A plain-text line: a command if it starts with `/`, a message otherwise.
    Line(Cow<'a, str>),
    /// A JSON `message`: sent as is, even if it starts with `/`.
    Message(Cow<'a, str>),
    /// A JSON `command`.
    Command(Cow<'a, str>),
}

impl Submission<'_> {
    /// The text the user typed; the chat's message size limit applies to it.
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Self::Line(text) | Self::Message(text) | Self::Command(text) => text,
        }
    }
}

/// A client message that is not valid in its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not a JSON object with string fields `type` and `text`.
    MalformedJson(String),
    /// A `type` other than `message` and `command`.
    UnknownType(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedJson(detail) => write!(
                f,
                "expected a JSON object like {{\"type\":\"message\",\"text\":\"hi\"}} ({detail})"
            ),
            Self::UnknownType(kind) => write!(
                f,
                "unknown message type {kind:?}; use \"message\" or \"command\""
            ),
        }
    }
}

impl std::error::Error for WireError {}

#[derive(Deserialize)]
struct JsonSubmission<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// Decodes a text message from a client using `format`.
///
/// # Errors
/// For JSON: malformed JSON, or an unknown `type`. Plain text always decodes.
pub fn decode(text: &str, format: WireFormat) -> Result<Submission<'_>, WireError> {
    match format {
        WireFormat::Plain => Ok(Submission::Line(Cow::Borrowed(text))),
        WireFormat::Json => {
            let submission: JsonSubmission<'_> =
                serde_json::from_str(text).map_err(|e| WireError::MalformedJson(e.to_string()))?;
            match submission.kind.as_ref() {
                "message" => Ok(Submission::Message(submission.text)),
                "command" => Ok(Submission::Command(submission.text)),
                other => Err(WireError::UnknownType(other.to_owned())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: Option<u64>, kind: EventKind) -> Event {
        Event {
            seq,
            ts: 1_700_000_000_123,
            kind,
        }
    }

    fn s(text: &str) -> String {
        text.to_owned()
    }

    #[test]
    fn plain_lines_match_the_documented_format() {
        let cases = [
            (
                EventKind::Message {
                    from: s("al"),
                    text: s("hi"),
                },
                "[al]: hi",
            ),
            (
                EventKind::Whisper {
                    from: s("al"),
                    to: s("bo"),
                    text: s("psst"),
                },
                "[al -> bo] (private): psst",
            ),
            (EventKind::Join { name: s("user3") }, "user3 joined"),
            (EventKind::Leave { name: s("user3") }, "user3 left"),
            (
                EventKind::Nick {
                    old: s("user0"),
                    new: s("bob"),
                },
                "user0 is now known as bob",
            ),
            (
                EventKind::Welcome {
                    you: s("c"),
                    users: vec![s("a"), s("b"), s("c")],
                },
                "You are connected! There are 3 users here.",
            ),
            (
                EventKind::Users {
                    users: vec![s("a"), s("b")],
                },
                "2 users here: a, b",
            ),
            (
                EventKind::Users {
                    users: vec![s("a")],
                },
                "1 user here: a",
            ),
            (EventKind::Error { text: s("nope") }, "error: nope"),
            (
                EventKind::Message {
                    from: s("al"),
                    text: s("hi\nuser5 left\r\nok"),
                },
                "[al]: hi\n  user5 left\n  ok",
            ),
        ];
        for (kind, line) in cases {
            assert_eq!(encode(&event(Some(1), kind), WireFormat::Plain), line);
        }
    }

    #[test]
    fn json_objects_carry_type_seq_ts_and_the_fields_of_their_type() {
        let message = event(
            Some(7),
            EventKind::Message {
                from: s("al"),
                text: s("a \"q\""),
            },
        );
        assert_eq!(
            json_object(&message),
            r#"{"type":"message","seq":7,"ts":1700000000123,"from":"al","text":"a \"q\""}"#
        );
        let nick = event(
            Some(8),
            EventKind::Nick {
                old: s("user0"),
                new: s("bob"),
            },
        );
        assert_eq!(
            json_object(&nick),
            r#"{"type":"nick","seq":8,"ts":1700000000123,"from":"user0","to":"bob","text":"user0 is now known as bob"}"#
        );
        let welcome = event(
            Some(9),
            EventKind::Welcome {
                you: s("b"),
                users: vec![s("a"), s("b")],
            },
        );
        assert_eq!(
            json_object(&welcome),
            r#"{"type":"system","seq":9,"ts":1700000000123,"text":"You are connected! There are 2 users here.","you":"b","users":["a","b"]}"#
        );
        let error = event(
            None,
            EventKind::Error {
                text: s("too long"),
            },
        );
        assert_eq!(
            json_object(&error),
            r#"{"type":"error","ts":1700000000123,"text":"too long"}"#
        );
        let whisper = event(
            Some(3),
            EventKind::Whisper {
                from: s("a"),
                to: s("b"),
                text: s("x"),
            },
        );
        let value: serde_json::Value = serde_json::from_str(&json_object(&whisper)).unwrap();
        assert_eq!(value["type"], "whisper");
        assert_eq!(value["to"], "b");
        let users = event(
            None,
            EventKind::Users {
                users: vec![s("a")],
            },
        );
        let value: serde_json::Value = serde_json::from_str(&json_object(&users)).unwrap();
        assert_eq!(value["type"], "users");
        assert_eq!(value["users"][0], "a");
        assert_eq!(value["text"], "1 user here: a");
    }

    #[test]
    fn json_subprotocol_selects_json() {
        assert_eq!(
            WireFormat::negotiate(["x", JSON_PROTOCOL].into_iter()),
            WireFormat::Json
        );
        assert_eq!(
            WireFormat::negotiate(["chat"].into_iter()),
            WireFormat::Plain
        );
        assert_eq!(WireFormat::negotiate(std::iter::empty()), WireFormat::Plain);
        assert_eq!(WireFormat::Json.protocol(), Some(JSON_PROTOCOL));
    }

    #[test]
    fn client_json_is_a_message_or_a_command() {
        assert_eq!(
            decode(
                r#"{"type":"message","text":"/not a command"}"#,
                WireFormat::Json
            ),
            Ok(Submission::Message(Cow::Borrowed("/not a command")))
        );
        assert_eq!(
            decode(
                r#"{"type":"command","text":"/nick bob","extra":1}"#,
                WireFormat::Json
            )
            .unwrap()
            .text(),
            "/nick bob"
        );
        assert_eq!(
            decode(r#"{"type":"dance","text":""}"#, WireFormat::Json),
            Err(WireError::UnknownType(s("dance")))
        );
        let error = decode("hello", WireFormat::Json).unwrap_err();
        assert!(
            error.to_string().starts_with("expected a JSON object"),
            "{error}"
        );
        assert!(decode(r#"{"type":"message"}"#, WireFormat::Json).is_err());
        assert_eq!(
            decode("/nick x", WireFormat::Plain),
            Ok(Submission::Line(Cow::Borrowed("/nick x")))
        );
    }

    /// Found by the chat_input fuzz target: an empty message came out in JSON as the plain line
    /// `[user0]: `, a text the sender never wrote.
    #[test]
    fn an_empty_message_stays_empty_in_json() {
        let message = event(
            Some(1),
            EventKind::Message {
                from: s("user0"),
                text: String::new(),
            },
        );
        let value: serde_json::Value = serde_json::from_str(&json_object(&message)).unwrap();
        assert_eq!(value["text"], "");
        let error = event(
            None,
            EventKind::Error {
                text: String::new(),
            },
        );
        let value: serde_json::Value = serde_json::from_str(&json_object(&error)).unwrap();
        assert_eq!(value["text"], "");
    }
}
