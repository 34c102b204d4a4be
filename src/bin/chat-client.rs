//! Terminal chat client: `cargo run --release --bin chat-client -- [URL] [--name NAME]`.
//!
//! Sends each line of standard input as a message (commands such as `/nick bob` included) and
//! prints each incoming message on its own line of standard output, as it arrives; works the
//! same interactively and with pipes. `exit` or the end of input closes the connection with 1000
//! and exits after the closing handshake. Before closing, the client lingers until the server
//! has been quiet for a moment (at most 2 s), so the replies to what was just sent are printed:
//! `echo /users | chat-client` shows who is here.
//!
//! Exit status: 0 after a normal end (we closed, or the server closed with 1000 or 1001, e.g.
//! when it shuts down); 1 when the connection could not be made or ended any other way (the
//! server closed with an error code, or the connection was lost). How the server closed is
//! printed to standard error.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::sync::mpsc;
use wschat::{CloseCode, CloseFrame, Error, Message};

/// How long to wait for the server's half of the closing handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// After `exit` or end of input: close once the server has been quiet this long...
const LINGER_QUIET: Duration = Duration::from_millis(250);

/// ...or this long after the request to leave, whichever comes first.
const LINGER_MAX: Duration = Duration::from_secs(2);

/// Terminal client for the wschat chat server.
///
/// Type a line and press Enter to send it; /help lists the chat commands; `exit` (or Ctrl-D)
/// quits. Incoming messages are printed one per line.
#[derive(Parser, Debug)]
#[command(name = "chat-client", version)]
struct Args {
    /// The chat server's WebSocket URL: ws://HOST:PORT/chat, or wss://HOST:PORT/chat over TLS
    /// (the server's certificate must be valid for HOST and trusted: Mozilla's roots, or --ca).
    #[arg(default_value = "ws://127.0.0.1:8080/chat")]
    url: String,
    /// Choose a name on connect (sends `/nick NAME`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Also trust the certificates in this PEM file (your own CA, or a self-signed server
    /// certificate) for wss:// URLs.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chat-client: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args));
    // The stdin thread may still be blocked in a read; it ends with the process.
    runtime.shutdown_background();
    code
}

/// Connects to the URL, trusting `--ca` too when given.
async fn connect(args: &Args) -> Result<wschat::WebSocket<wschat::ws::ClientStream>, Error> {
    let Some(ca) = &args.ca else {
        return wschat::connect(&args.url).await;
    };
    let pem = std::fs::read(ca).map_err(|error| {
        Error::Io(std::io::Error::new(
            error.kind(),
            format!("cannot read --ca {}: {error}", ca.display()),
        ))
    })?;
    let tls = wschat::ws::tls::client_config_with_extra_roots(&pem)?;
    let request = wschat::handshake::ClientRequest::from_url(&args.url)?;
    wschat::ws::connect_tls_with(request, wschat::Config::default(), tls)
        .await
        .map(|(ws, _)| ws)
}

/// How the conversation ended.
enum End {
    /// We closed (exit, end of input, or stdout gone) and the handshake finished.
    ClosedByUs,
    /// The server sent a close frame.
    ClosedByServer(Option<CloseFrame>),
    /// The connection failed.
    Failed(Error),
}

async fn run(args: Args) -> ExitCode {
    let ws = match connect(&args).await {
        Ok(ws) => ws,
        Err(error) => {
            eprintln!("chat-client: cannot connect to {}: {error}", args.url);
            return ExitCode::FAILURE;
        }
    };
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "connected to {}; type a message and press Enter (/help for commands, exit to quit)",
            args.url
        );
    }
    let (mut reader, mut writer) = ws.split();
    let mut lines = stdin_lines();
    let mut stdout = std::io::stdout();
    let mut closing: Option<tokio::time::Instant> = None;
    // When leaving was asked for: (close when quiet after this, close at the latest at this).
    let mut lingering: Option<(tokio::time::Instant, tokio::time::Instant)> = None;
    let mut end: Option<End> = None;

    if let Some(name) = &args.name {
        if let Err(error) = writer.send(Message::text(format!("/nick {name}"))).await {
            eprintln!("chat-client: {error}");
            return ExitCode::FAILURE;
        }
    }

    loop {
        let deadline = async move {
            match closing {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let linger = async move {
            match lingering {
                Some((quiet, latest)) => tokio::time::sleep_until(quiet.min(latest)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = lines.recv(), if closing.is_none() && lingering.is_none() => {
                let line = line.unwrap_or_else(|| "exit".to_owned());
                let line = line.trim_end_matches(['\r', '\n']);
                if line.trim() == "exit" {
                    let now = tokio::time::Instant::now();
                    lingering = Some((now + LINGER_QUIET, now + LINGER_MAX));
                } else if !line.trim().is_empty() {
                    if let Err(error) = writer.send(Message::text(line.to_owned())).await {
                        end.get_or_insert(End::Failed(error));
                        closing = Some(tokio::time::Instant::now() + CLOSE_TIMEOUT);
                    }
                }
            }
            message = reader.recv() => match message {
                None => break,
                Some(Ok(Message::Text(text))) => {
                    if let Some((quiet, _)) = &mut lingering {
                        *quiet = tokio::time::Instant::now() + LINGER_QUIET;
                    }
                    let printed = writeln!(stdout, "{}", printable(text.as_str()))
                        .and_then(|()| stdout.flush());
                    if printed.is_err() && closing.is_none() {
                        // Nobody reads our output any more: leave politely.
                        let _ = writer.close(CloseCode::NORMAL, "bye").await;
                        closing = Some(tokio::time::Instant::now() + CLOSE_TIMEOUT);
                        end.get_or_insert(End::ClosedByUs);
                    }
                }
                Some(Ok(Message::Binary(data))) => {
                    eprintln!("chat-client: ignored a binary message of {} bytes", data.len());
                }
                Some(Ok(Message::Close(frame))) => {
                    end.get_or_insert(End::ClosedByServer(frame));
                    closing.get_or_insert(tokio::time::Instant::now() + CLOSE_TIMEOUT);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    end.get_or_insert(End::Failed(error));
                    closing.get_or_insert(tokio::time::Instant::now() + CLOSE_TIMEOUT);
                }
            },
            () = linger, if closing.is_none() => {
                lingering = None;
                // Keep printing what arrives until the server answers the close.
                let _ = writer.close(CloseCode::NORMAL, "bye").await;
                closing = Some(tokio::time::Instant::now() + CLOSE_TIMEOUT);
                end.get_or_insert(End::ClosedByUs);
            }
            () = deadline => break,
        }
    }

    match end {
        Some(End::ClosedByUs) => ExitCode::SUCCESS,
        Some(End::ClosedByServer(Some(frame))) => {
            eprintln!(
                "chat-client: the server closed the connection: {} {}",
                frame.code, frame.reason
            );
            if matches!(frame.code, CloseCode::NORMAL | CloseCode::GOING_AWAY) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some(End::ClosedByServer(None)) => {
            eprintln!("chat-client: the server closed the connection without a status code");
            ExitCode::SUCCESS
        }
        Some(End::Failed(error)) => {
            eprintln!("chat-client: connection failed: {error}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("chat-client: connection lost");
            ExitCode::FAILURE
        }
    }
}

/// `text` with control characters other than line breaks and tabs replaced by U+FFFD, so that
/// what others type cannot move the cursor, recolour or retitle the terminal.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if text.contains(unsafe_char) {
        text.replace(unsafe_char, "\u{FFFD}").into()
    } else {
        text.into()
    }
}

/// Standard input, line by line, read on its own thread (a blocking read must not hold up the
/// runtime). The channel closes at end of input.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}
