//! The chat server's input side, as one session sees it: a client's text message decoded in its
//! wire format, parsed as a command or message, a requested name validated; and what comes back
//! out, the same text encoded for every client.
//!
//! Input: `[format: low bit 0 plain, 1 JSON] [UTF-8 text ..]` (a WebSocket text message is
//! always valid UTF-8; other bytes are skipped).
//!
//! Asserts: nothing panics; a decoded submission's text is a part of the input (plain) or what
//! the JSON said; parsing is pure (twice gives the same result); a valid `/nick` name is 1-32
//! ASCII characters; the plain line of a message never lets user text start a line of its own
//! (every line break is followed by the two-space indent); the JSON object of a message parses
//! back to the same text and sender.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wschat::chat::commands::{self, Command};
use wschat::chat::event::{Event, EventKind};
use wschat::chat::names::validate_name;
use wschat::chat::wire::{self, Submission, WireFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if selector & 1 == 0 {
        WireFormat::Plain
    } else {
        WireFormat::Json
    };

    if let Ok(submission) = wire::decode(text, format) {
        if format == WireFormat::Plain {
            assert_eq!(submission.text(), text);
        }
        let parse = || match &submission {
            Submission::Line(line) => commands::parse_line(line).map(|input| format!("{input:?}")),
            Submission::Message(message) => Ok(format!("{message:?}")),
            Submission::Command(command) => {
                commands::parse_command(command).map(|command| format!("{command:?}"))
            }
        };
        let (parsed, again) = (parse(), parse());
        assert_eq!(parsed, again, "parsing is pure");
        let command = match &submission {
            Submission::Command(command) => commands::parse_command(command).ok(),
            Submission::Line(line) => match commands::parse_line(line) {
                Ok(commands::Input::Command(command)) => Some(command),
                _ => None,
            },
            Submission::Message(_) => None,
        };
        if let Some(Command::Nick(name)) = command {
            if validate_name(name).is_ok() {
                assert!((1..=32).contains(&name.len()) && name.is_ascii(), "{name:?}");
            }
        }
    }

    // Whatever a user sends comes back to everyone encoded; it must stay inside its message.
    let event = Event {
        seq: Some(1),
        ts: 0,
        kind: EventKind::Message {
            from: "user0".to_owned(),
            text: text.to_owned(),
        },
    };
    let line = wire::encode(&event, WireFormat::Plain);
    assert!(line.starts_with("[user0]: "));
    for (at, _) in line.match_indices('\n') {
        assert!(line[at + 1..].starts_with("  "), "a bare line in {line:?}");
    }
    assert!(!line.contains('\r'), "{line:?}");
    let json = wire::encode(&event, WireFormat::Json);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["text"].as_str(), Some(text));
    assert_eq!(value["from"].as_str(), Some("user0"));
    assert_eq!(value["type"].as_str(), Some("message"));
});
