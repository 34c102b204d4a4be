//! The browser client in a real headless Chromium, driven over WebDriver (ChromeDriver +
//! fantoccini), against a real server: two browser windows and a terminal-style client chat
//! both ways, a whisper shows only in the right window, user text stays text, and the page
//! reconnects after the server restarts. Writes target/chat-screenshot.png.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium` and
//! `chromium-driver`; `./scripts/test.sh` installs them). Without them this test fails: it
//! never skips. `CHROMIUM` and `CHROMEDRIVER` override the paths.
#![cfg(unix)]

mod chat_common;
#[cfg(feature = "tls")]
mod tls_common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chat_common::*;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Browsers are slow on a busy machine; every wait is still bounded by this.
const BROWSER_LIMIT: Duration = Duration::from_secs(30);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn chromedriver_path() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned())
}

/// A ChromeDriver process and the browser profiles it used; killed and removed on drop, also
/// when the test fails.
struct ChromeDriver {
    child: Child,
    port: u16,
    profiles: Vec<PathBuf>,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // ChromeDriver runs in its own process group, which the browsers it started inherit:
        // killing the group leaves no Chromium behind, even when the test failed before it
        // could close its sessions.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

impl ChromeDriver {
    /// Starts ChromeDriver on a free loopback port, retrying with another port if it loses
    /// the race for the one picked.
    async fn start() -> Self {
        let driver = chromedriver_path();
        assert!(
            std::path::Path::new(&driver).exists() && std::path::Path::new(&chromium()).exists(),
            "the browser test needs {driver} and {}: run ./scripts/test.sh, or \
             apt-get install chromium chromium-driver",
            chromium()
        );
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .map(|addr| addr.port())
                .expect("a free port");
            let child = Command::new(&driver)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {driver}: {e}"));
            let mut started = Self {
                child,
                port,
                profiles: Vec::new(),
            };
            let deadline = Instant::now() + BROWSER_LIMIT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = started.child.try_wait() {
                    break; // Exited: most likely the port was taken meanwhile.
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return started;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("ChromeDriver did not start");
    }

    /// A new browser session with a fresh profile.
    async fn browser(&mut self) -> Client {
        self.browser_with(&[]).await
    }

    /// A new browser session with a fresh profile and extra Chromium switches.
    async fn browser_with(&mut self, extra: &[&str]) -> Client {
        // Unique across the tests of this process, which run in parallel: two browsers on one
        // profile would hand their windows to each other.
        static PROFILES: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "wschat-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        self.profiles.push(profile);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": chromium(), "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{}", self.port);
        tokio::time::timeout(BROWSER_LIMIT, builder.connect(&url))
            .await
            .expect("browser session started in time")
            .expect("browser session")
    }
}

/// Evaluates `script` (a function body that returns a value) in the page.
async fn eval(browser: &Client, script: &str) -> Value {
    tokio::time::timeout(BROWSER_LIMIT, browser.execute(script, vec![]))
        .await
        .expect("script answered in time")
        .expect("script ran")
}

/// Polls `script` until it returns something truthy; returns that value.
async fn wait_for(browser: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + BROWSER_LIMIT;
    loop {
        let value = eval(browser, script).await;
        let truthy = !matches!(&value, Value::Null | Value::Bool(false))
            && value != json!("")
            && value != json!(0);
        if truthy {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page is connected and returns its user name.
async fn wait_online(browser: &Client) -> String {
    wait_for(
        browser,
        "the page to connect",
        "return document.getElementById('status').dataset.state === 'online' \
         && document.getElementById('me-name').textContent",
    )
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

/// Every line in the message list as `kind|text content`.
async fn lines(browser: &Client) -> Vec<String> {
    let value = eval(
        browser,
        "return [...document.querySelectorAll('#messages .msg, #messages .sys')]\
         .map(e => (e.classList.contains('msg') ? 'msg ' : 'sys ') + e.classList[1] + '|' \
         + (e.querySelector('.text, .sys-text') || e).textContent)",
    )
    .await;
    serde_json::from_value(value).unwrap()
}

/// Waits until a line `line` is shown.
async fn wait_line(browser: &Client, line: &str) {
    let deadline = Instant::now() + BROWSER_LIMIT;
    loop {
        let shown = lines(browser).await;
        if shown.iter().any(|l| l == line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {line:?}; shown: {shown:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `text` into the message box and presses Enter.
async fn type_line(browser: &Client, text: &str) {
    let input = tokio::time::timeout(BROWSER_LIMIT, browser.find(Locator::Css("#input")))
        .await
        .expect("input found in time")
        .expect("input");
    let typed = format!("{text}{}", char::from(Key::Enter));
    tokio::time::timeout(BROWSER_LIMIT, input.send_keys(&typed))
        .await
        .expect("typed in time")
        .expect("typed");
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_and_a_terminal_client_chat_and_whispers_stay_private() {
    let server = TestServer::start(&[]).await;
    let mut driver = ChromeDriver::start().await;
    let alice = driver.browser().await;
    let bob = driver.browser().await;
    let page = format!("http://{}/", server.addr);

    let run = async {
        alice.goto(&page).await.expect("page loads");
        assert_eq!(wait_online(&alice).await, "user0");
        bob.goto(&page).await.expect("page loads");
        assert_eq!(wait_online(&bob).await, "user1");
        wait_line(&alice, "sys join|user1 joined").await;
        let (mut carol, _, _) = join(&server).await; // user2, plain text
        wait_line(&bob, "sys join|user2 joined").await;

        // Both ways between the browsers, and to the terminal client.
        type_line(&alice, "/nick alice").await;
        wait_line(&bob, "sys nick|user0 is now known as alice").await;
        type_line(&bob, "/nick bob").await;
        wait_line(&alice, "sys nick|user1 is now known as bob").await;
        type_line(
            &alice,
            "Hello bob! The release is out: https://example.com/notes",
        )
        .await;
        wait_line(
            &bob,
            "msg message|Hello bob! The release is out: https://example.com/notes",
        )
        .await;
        type_line(&bob, "Nice, thanks alice! À bientôt").await;
        wait_line(&alice, "msg message|Nice, thanks alice! À bientôt").await;
        recv_until(&mut carol, "[bob]: Nice, thanks alice! À bientôt").await;
        send(&mut carol, "hi from the terminal").await;
        wait_line(&alice, "msg message|hi from the terminal").await;
        wait_line(&bob, "msg message|hi from the terminal").await;

        // User text is text: markup is shown, never interpreted.
        type_line(&bob, "<b>bold?</b> <img src=x onerror=alert(1)>").await;
        wait_line(
            &alice,
            "msg message|<b>bold?</b> <img src=x onerror=alert(1)>",
        )
        .await;
        let injected = eval(
            &alice,
            "return document.querySelectorAll('#messages b, #messages img').length",
        )
        .await;
        assert_eq!(injected, json!(0));

        // A whisper from the terminal to alice: in alice's window only.
        send(&mut carol, "/whisper alice psst, lunch at noon?").await;
        recv_until(
            &mut carol,
            "[user2 -> alice] (private): psst, lunch at noon?",
        )
        .await;
        wait_line(&alice, "msg whisper|psst, lunch at noon?").await;
        // One global order: once bob sees this, he would have seen the whisper before it.
        send(&mut carol, "a public line after the whisper").await;
        wait_line(&bob, "msg message|a public line after the whisper").await;
        assert!(
            !lines(&bob).await.iter().any(|l| l.contains("lunch")),
            "the whisper must not reach bob"
        );
        // A whisper from alice's window to bob's: in both windows, not at the terminal.
        type_line(&alice, "/w bob see you there").await;
        wait_line(&bob, "msg whisper|see you there").await;
        wait_line(&alice, "msg whisper|see you there").await;
        type_line(&alice, "ok").await;
        let after = recv_until(&mut carol, "[alice]: ok").await;
        assert!(
            !after.iter().any(|l| l.contains("see you there")),
            "{after:?}"
        );
        // Errors go to the one who made them, styled as errors.
        type_line(&bob, "/nick alice").await;
        wait_line(&bob, "sys error|the name alice is already taken").await;
        let users = eval(
            &alice,
            "return [...document.querySelectorAll('#users li')].map(li => li.dataset.name)",
        )
        .await;
        assert_eq!(users, json!(["alice", "bob", "user2"]));
        type_line(&alice, "@bob are you coming to the demo?").await;
        wait_line(&bob, "msg message|@bob are you coming to the demo?").await;

        // The picture of the conversation, from alice's side.
        tokio::time::sleep(Duration::from_millis(300)).await; // let the entry animation finish
        let png = tokio::time::timeout(BROWSER_LIMIT, alice.screenshot())
            .await
            .expect("screenshot in time")
            .expect("screenshot");
        let path = target_dir().join("chat-screenshot.png");
        std::fs::create_dir_all(target_dir()).unwrap();
        std::fs::write(&path, png).unwrap();
        drop(carol);
    };
    tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser scenario finishes in time");

    // Close the sessions (the driver itself is killed on drop, also on failure).
    for browser in [alice, bob] {
        let _ = tokio::time::timeout(BROWSER_LIMIT, browser.close()).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reconnects_with_backoff_after_the_server_restarts() {
    let server = TestServer::start(&[]).await;
    let addr = server.addr;
    let mut driver = ChromeDriver::start().await;
    let browser = driver.browser().await;
    let run = async {
        browser
            .goto(&format!("http://{addr}/"))
            .await
            .expect("page loads");
        wait_online(&browser).await;
        type_line(&browser, "/nick phoenix").await;
        wait_line(&browser, "sys nick|user0 is now known as phoenix").await;
        type_line(&browser, "still here?").await;
        wait_line(&browser, "msg message|still here?").await;

        server.shutdown().await;
        let offline = wait_for(
            &browser,
            "the page to notice the drop",
            "return document.getElementById('status').dataset.state === 'offline' \
             && document.getElementById('status').textContent",
        )
        .await;
        assert!(
            offline.as_str().unwrap().contains("reconnecting in"),
            "{offline}"
        );
        wait_line(
            &browser,
            "sys connection|Disconnected: server shutting down (1001). Reconnecting…",
        )
        .await;

        // The same address again: the page finds it on its own and takes its name back.
        let restarted = TestServer::start_at(addr).await;
        wait_for(
            &browser,
            "the page to reconnect",
            "return document.getElementById('status').dataset.state === 'online'",
        )
        .await;
        wait_line(&browser, "sys nick|user0 is now known as phoenix").await;
        let shown = lines(&browser).await;
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with("sys system|Reconnected.")),
            "{shown:#?}"
        );
        assert_eq!(
            shown
                .iter()
                .filter(|l| *l == "msg message|still here?")
                .count(),
            1,
            "nothing shown twice"
        );
        restarted.shutdown().await;
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the reconnect scenario finishes in time");
    let _ = tokio::time::timeout(BROWSER_LIMIT, browser.close()).await;
}

/// Opens a WebSocket to `url` from the page shown in `browser`; returns `open` or
/// `refused CODE` (a refused upgrade is a close with 1006 to the page).
async fn probe_websocket(browser: &Client, url: &str) -> String {
    eval(
        browser,
        &format!(
            "window.__probe = null; const ws = new WebSocket({url:?}); \
             ws.onopen = () => {{ window.__probe = 'open'; ws.close(1000); }}; \
             ws.onclose = (e) => {{ if (window.__probe === null) window.__probe = 'refused ' + e.code; }}; \
             return true;"
        ),
    )
    .await;
    wait_for(browser, "the probe's outcome", "return window.__probe")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// Cross-site WebSocket hijacking, in a real browser: a page served from another origin (here
/// another server's port) cannot open the chat's WebSocket, while the chat's own page can; an
/// allow-list lets exactly the listed origin in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_cannot_open_the_chat_websocket() {
    let chat = TestServer::start(&[]).await;
    let other_site = TestServer::start(&[]).await;
    let other_origin = format!("http://{}", other_site.addr);
    let partner = TestServer::start(&["--allowed-origin", &other_origin]).await;
    let mut driver = ChromeDriver::start().await;
    let browser = driver.browser().await;
    let run = async {
        browser
            .goto(&format!("http://{}/", chat.addr))
            .await
            .expect("page loads");
        assert_eq!(probe_websocket(&browser, &chat.url()).await, "open");

        browser
            .goto(&format!("{other_origin}/"))
            .await
            .expect("page loads");
        wait_online(&browser).await;
        assert_eq!(
            probe_websocket(&browser, &chat.url()).await,
            "refused 1006",
            "a page from {other_origin} must not reach {}",
            chat.url()
        );
        assert_eq!(
            probe_websocket(&browser, &partner.url()).await,
            "open",
            "the allow-listed origin is let in"
        );
    };
    tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the probes finish in time");
    let _ = tokio::time::timeout(BROWSER_LIMIT, browser.close()).await;
    for server in [chat, other_site, partner] {
        server.shutdown().await;
    }
}

/// The page over https: it connects with wss: and chats both ways with a terminal-style client
/// on wss (the browser is told to accept the test certificate; the client trusts the test CA).
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_over_https_chats_over_wss() {
    let pki = tls_common::TestPki::new();
    let files = pki.server_cert("server");
    let server =
        TestServer::start(&["--tls-cert", files.cert_arg(), "--tls-key", files.key_arg()]).await;
    let mut driver = ChromeDriver::start().await;
    let browser = driver.browser_with(&["--ignore-certificate-errors"]).await;
    let run = async {
        browser
            .goto(&format!("https://localhost:{}/", server.addr.port()))
            .await
            .expect("page loads");
        let name = wait_online(&browser).await;
        let scheme = eval(&browser, "return location.protocol").await;
        assert_eq!(scheme, json!("https:"));
        let request = wschat::handshake::ClientRequest::from_url(&server.wss_url()).unwrap();
        let (mut terminal, _) = within(
            "wss connect",
            wschat::ws::connect_tls_with(request, wschat::Config::default(), pki.client_config()),
        )
        .await
        .unwrap();
        recv_until(&mut terminal, "You are connected! There are 2 users here.").await;
        type_line(&browser, "hello from https").await;
        let line = format!("[{name}]: hello from https");
        recv_until(&mut terminal, &line).await;
        send(&mut terminal, "hello back over wss").await;
        wait_line(&browser, "msg message|hello back over wss").await;
    };
    tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the https scenario finishes in time");
    let _ = tokio::time::timeout(BROWSER_LIMIT, browser.close()).await;
    server.shutdown().await;
}
