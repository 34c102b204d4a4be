//! What a user typed: a chat message or a `/command`, parsed without side effects.
//!
//! A line starting with `/` is a command; `//` escapes a message that starts with a slash
//! (`//shrug` sends `/shrug`). Command names ignore case. Every mistake comes back as a
//! [`CommandError`] whose text tells the user what to type instead.

use std::fmt;

/// The one-line summary of every command, sent for `/help` and after an unknown command.
pub const HELP: &str = "commands: /nick NAME (rename yourself), /whisper NAME TEXT (private \
                        message, also /w), /users (who is here), /help; start a message with // \
                        to send a leading /";

/// A parsed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text for everyone.
    Message(&'a str),
    /// A command.
    Command(Command<'a>),
    /// Nothing worth sending (empty or whitespace only).
    Nothing,
}

/// A chat command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`: change one's name.
    Nick(&'a str),
    /// `/whisper NAME TEXT`: a private message.
    Whisper {
        /// The recipient's name as typed.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/users`: who is here.
    Users,
    /// `/help`: the command summary.
    Help,
}

/// A command that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// No such command.
    Unknown(String),
    /// The command exists but its arguments are wrong; holds the usage line.
    Usage(&'static str),
    /// A JSON `command` whose text does not start with `/`.
    NotACommand,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "unknown command /{name}; {HELP}"),
            Self::Usage(usage) => write!(f, "usage: {usage}"),
            Self::NotACommand => f.write_str("a command starts with /; try /help"),
        }
    }
}

impl std::error::Error for CommandError {}

const NICK_USAGE: &str = "/nick NAME (1-32 letters, digits, _ or -)";
const WHISPER_USAGE: &str = "/whisper NAME TEXT";

/// Parses a line typed by a user: a command if it starts with `/`, otherwise a message.
/// Trailing line breaks (as sent by line-oriented tools) are not part of the message.
///
/// # Errors
/// An unknown command, or a command with missing or extra arguments.
pub fn parse_line(line: &str) -> Result<Input<'_>, CommandError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if let Some(escaped) = line.strip_prefix("//") {
        return Ok(message(line.get(1..).unwrap_or(escaped)));
    }
    if line.starts_with('/') {
        return parse_command(line).map(Input::Command);
    }
    Ok(message(line))
}

fn message(text: &str) -> Input<'_> {
    if text.trim().is_empty() {
        Input::Nothing
    } else {
        Input::Message(text)
    }
}

/// Parses a command, which must start with `/`.
///
/// # Errors
/// As [`parse_line`]; [`CommandError::NotACommand`] without the leading `/`.
pub fn parse_command(line: &str) -> Result<Command<'_>, CommandError> {
    let line = line.trim();
    let Some(body) = line.strip_prefix('/') else {
        return Err(CommandError::NotACommand);
    };
    let (name, args) = match body.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (body, ""),
    };
    match name.to_ascii_lowercase().as_str() {
        "nick" | "name" => match args {
            "" => Err(CommandError::Usage(NICK_USAGE)),
            name => Ok(Command::Nick(name)),
        },
        "whisper" | "w" | "msg" => {
            let (to, text) = args
                .split_once(char::is_whitespace)
                .map(|(to, text)| (to, text.trim()))
                .unwrap_or((args, ""));
            if to.is_empty() || text.is_empty() {
                return Err(CommandError::Usage(WHISPER_USAGE));
            }
            Ok(Command::Whisper { to, text })
        }
        "users" | "who" => no_args(args, Command::Users, "/users"),
        "help" | "?" => no_args(args, Command::Help, "/help"),
        _ => Err(CommandError::Unknown(name.to_owned())),
    }
}

fn no_args<'a>(
    args: &str,
    command: Command<'a>,
    usage: &'static str,
) -> Result<Command<'a>, CommandError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Usage(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_a_message_and_blank_text_is_nothing() {
        assert_eq!(parse_line("hello"), Ok(Input::Message("hello")));
        assert_eq!(parse_line("  hi there "), Ok(Input::Message("  hi there ")));
        assert_eq!(parse_line("hello\r\n"), Ok(Input::Message("hello")));
        assert_eq!(parse_line(""), Ok(Input::Nothing));
        assert_eq!(parse_line(" \t "), Ok(Input::Nothing));
    }

    #[test]
    fn double_slash_escapes_a_leading_slash() {
        assert_eq!(parse_line("//shrug"), Ok(Input::Message("/shrug")));
        assert_eq!(parse_line("//"), Ok(Input::Message("/")));
    }

    #[test]
    fn nick_takes_one_argument() {
        assert_eq!(
            parse_line("/nick bob"),
            Ok(Input::Command(Command::Nick("bob")))
        );
        assert_eq!(
            parse_line("/NICK  bob  "),
            Ok(Input::Command(Command::Nick("bob")))
        );
        assert_eq!(parse_line("/nick"), Err(CommandError::Usage(NICK_USAGE)));
        // Spaces inside are left for name validation to explain.
        assert_eq!(
            parse_line("/nick bob smith"),
            Ok(Input::Command(Command::Nick("bob smith")))
        );
    }

    #[test]
    fn whisper_takes_a_name_and_text() {
        assert_eq!(
            parse_command("/whisper bob  hi  there "),
            Ok(Command::Whisper {
                to: "bob",
                text: "hi  there"
            })
        );
        assert_eq!(
            parse_command("/w bob hi"),
            Ok(Command::Whisper {
                to: "bob",
                text: "hi"
            })
        );
        assert_eq!(
            parse_command("/whisper bob"),
            Err(CommandError::Usage(WHISPER_USAGE))
        );
        assert_eq!(
            parse_command("/whisper"),
            Err(CommandError::Usage(WHISPER_USAGE))
        );
    }

    #[test]
    fn users_and_help_take_no_arguments() {
        assert_eq!(parse_command("/users"), Ok(Command::Users));
        assert_eq!(parse_command("/who"), Ok(Command::Users));
        assert_eq!(parse_command("/help"), Ok(Command::Help));
        assert_eq!(
            parse_command("/users now"),
            Err(CommandError::Usage("/users"))
        );
    }

    #[test]
    fn unknown_commands_name_themselves_and_point_to_help() {
        let error = parse_line("/dance wildly").unwrap_err();
        assert_eq!(error, CommandError::Unknown("dance".into()));
        assert!(error
            .to_string()
            .starts_with("unknown command /dance; commands:"));
        assert_eq!(parse_line("/"), Err(CommandError::Unknown(String::new())));
    }

    #[test]
    fn a_json_command_must_start_with_a_slash() {
        assert_eq!(parse_command("nick bob"), Err(CommandError::NotACommand));
    }
}
