//! The opening handshake answered by hand, for the fastwebsockets peers: fastwebsockets' own
//! upgrade needs hyper, which the benchmarks leave out.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads the request head and answers 101 (a client sends nothing after its head until it has
/// the answer, so nothing read here belongs to the WebSocket).
pub async fn upgrade(stream: &mut TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || head.len() > 8192 {
            return Err("bad request".into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let key = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .ok_or("no Sec-WebSocket-Key")?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wschat::handshake::accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).await?;
    Ok(())
}
