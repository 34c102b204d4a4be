//! wss:// and https:// over real TLS on loopback, with certificates made at test time: our
//! client and the chat server in both directions, interop with tokio-tungstenite over rustls in
//! both roles, and the failures a user meets (an untrusted or expired certificate, a wrong name,
//! plain HTTP or silence on the TLS port).
#![cfg(feature = "tls")]

mod chat_common;
mod tls_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_common::*;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tls_common::TestPki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wschat::handshake::ClientRequest;
use wschat::{CloseCode, Config, Error};

/// A chat server on TLS with a fresh certificate; returns it and the PKI (kept alive).
async fn tls_server(args: &[&str]) -> (TestServer, TestPki) {
    let pki = TestPki::new();
    let files = pki.server_cert("server");
    let mut all = vec!["--tls-cert", files.cert_arg(), "--tls-key", files.key_arg()];
    all.extend_from_slice(args);
    (TestServer::start(&all).await, pki)
}

/// Connects our client to `url`, trusting the test CA.
async fn connect_trusting(pki: &TestPki, url: &str) -> Result<Ws, Error> {
    let request = ClientRequest::from_url(url).unwrap();
    within(
        "wss connect",
        wschat::ws::connect_tls_with(request, Config::default(), pki.client_config()),
    )
    .await
    .map(|(ws, _)| ws)
}

/// A raw TLS connection to `addr` as `name`, trusting the test CA.
async fn tls_to(
    pki: &TestPki,
    addr: std::net::SocketAddr,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(pki.client_config());
    connector
        .connect(ServerName::try_from(name.to_owned()).unwrap(), tcp)
        .await
}

#[tokio::test]
async fn our_client_chats_with_the_chat_server_over_wss() {
    let (server, pki) = tls_server(&[]).await;
    let mut alice = connect_trusting(&pki, &server.wss_url()).await.unwrap();
    assert!(alice.get_ref().is_tls());
    expect_text(&mut alice, "You are connected! There are 1 users here.").await;
    let by_name = format!("wss://localhost:{}/chat", server.addr.port());
    let mut bob = connect_trusting(&pki, &by_name).await.unwrap();
    expect_text(&mut bob, "You are connected! There are 2 users here.").await;
    expect_text(&mut alice, "user1 joined").await;
    send(&mut bob, "over TLS").await;
    expect_text(&mut alice, "[user1]: over TLS").await;
    expect_text(&mut bob, "[user1]: over TLS").await;
    within("close", alice.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap();
    expect_text(&mut bob, "user0 left").await;
    drop(bob);
    server.shutdown().await;
}

#[tokio::test]
async fn the_page_is_served_over_https_with_alpn_http11() {
    let (server, pki) = tls_server(&[]).await;
    let mut tls = within("tls", tls_to(&pki, server.addr, "localhost"))
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut page = Vec::new();
    within("the page", tls.read_to_end(&mut page))
        .await
        .unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{}", &page[..80]);
    assert!(page.contains("wss"), "the page picks wss: on https:");
    server.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_clear_tls_error() {
    let (server, _pki) = tls_server(&[]).await;
    // The default roots are Mozilla's: the test CA is not among them.
    let error = within("connect", wschat::connect(&server.wss_url()))
        .await
        .unwrap_err();
    match &error {
        Error::Tls(tls) => assert!(
            matches!(
                **tls,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            ),
            "{tls:?}"
        ),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert!(error.to_string().contains("TLS error"), "{error}");
    // A CA of someone else's does not help either.
    let other = TestPki::new();
    let error = connect_trusting(&other, &server.wss_url())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let pki = TestPki::new();
    let expired = pki.expired_cert("old");
    let server = TestServer::start(&[
        "--tls-cert",
        expired.cert_arg(),
        "--tls-key",
        expired.key_arg(),
    ])
    .await;
    let error = connect_trusting(&pki, &server.wss_url()).await.unwrap_err();
    match &error {
        Error::Tls(tls) => assert!(
            matches!(
                **tls,
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. }
                )
            ),
            "{tls:?}"
        ),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let pki = TestPki::new();
    let elsewhere = pki.cert_for("elsewhere", &["chat.example.com"]);
    let server = TestServer::start(&[
        "--tls-cert",
        elsewhere.cert_arg(),
        "--tls-key",
        elsewhere.key_arg(),
    ])
    .await;
    let error = connect_trusting(&pki, &server.wss_url()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Tls(tls) if matches!(
                **tls,
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                )
            )
        ),
        "{error:?}"
    );
    server.shutdown().await;
}

/// Plain HTTP, garbage, or silence on the TLS port cost only that connection: the server drops
/// it (silence after the handshake timeout) and serves everyone else meanwhile.
#[tokio::test]
async fn plain_http_garbage_and_silence_on_the_tls_port_cost_only_their_connection() {
    let (server, pki) = tls_server(&["--handshake-timeout", "1s"]).await;
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = within("plain HTTP dropped", plain.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1"),
        "no HTTP answer in the clear"
    );
    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3])
        .await
        .unwrap();
    let _ = within("garbage dropped", garbage.read_to_end(&mut Vec::new())).await;

    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut alice = connect_trusting(&pki, &server.wss_url()).await.unwrap();
    expect_text(&mut alice, "You are connected! There are 1 users here.").await;
    let read = within("silence dropped", silent.read(&mut [0; 16])).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(800)..Duration::from_secs(4)).contains(&waited),
        "dropped after {waited:?}"
    );
    send(&mut alice, "still here").await;
    expect_text(&mut alice, "[user0]: still here").await;
    server.shutdown().await;
}

/// tokio-tungstenite's client over a rustls stream, against our chat server's wss endpoint.
#[tokio::test]
async fn tungstenite_client_over_tls_talks_to_our_server() {
    let (server, pki) = tls_server(&[]).await;
    let tls = within("tls", tls_to(&pki, server.addr, "localhost"))
        .await
        .unwrap();
    let url = format!("wss://localhost:{}/chat", server.addr.port());
    let (mut theirs, response) = within(
        "tungstenite handshake",
        tokio_tungstenite::client_async(url, tls),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    let greeting = within("greeting", theirs.next()).await.unwrap().unwrap();
    assert_eq!(
        greeting.into_text().unwrap().as_str(),
        "You are connected! There are 1 users here."
    );
    theirs
        .send(tokio_tungstenite::tungstenite::Message::text(
            "hi from tungstenite",
        ))
        .await
        .unwrap();
    let echo = within("echo", theirs.next()).await.unwrap().unwrap();
    assert_eq!(
        echo.into_text().unwrap().as_str(),
        "[user0]: hi from tungstenite"
    );
    theirs.close(None).await.unwrap();
    server.shutdown().await;
}

/// Our client over wss against tokio-tungstenite's server behind tokio-rustls.
#[tokio::test]
async fn our_client_over_tls_talks_to_a_tungstenite_server() {
    let pki = TestPki::new();
    let files = pki.server_cert("peer");
    let config = wschat::chat::tls::load_server_config(&files.cert, &files.key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.unwrap();
            }
        }
    });
    let mut ours = connect_trusting(&pki, &format!("wss://localhost:{}/echo", addr.port()))
        .await
        .unwrap();
    let big = "x".repeat(1 << 20);
    for text in ["hello", big.as_str()] {
        send(&mut ours, text).await;
        assert_eq!(recv_text(&mut ours).await, text);
    }
    within("close", ours.close(CloseCode::NORMAL, "done"))
        .await
        .unwrap();
    within("peer ends", peer).await.unwrap();
}

#[tokio::test]
async fn a_tls_configuration_on_a_ws_url_connects_in_the_clear() {
    // connect_tls_with on a ws:// URL connects in the clear (the TLS configuration is unused).
    let server = TestServer::start(&[]).await;
    let pki = TestPki::new();
    let mut plain = connect_trusting(&pki, &server.url()).await.unwrap();
    assert!(!plain.get_ref().is_tls());
    expect_text(&mut plain, "You are connected! There are 1 users here.").await;
    server.shutdown().await;
}
