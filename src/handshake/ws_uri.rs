//! Parsing `ws://` and `wss://` URLs (RFC 6455 §3) into what a client needs: where to connect,
//! whether over TLS, what to put in `Host`, and the resource name for the request line.

use std::net::Ipv6Addr;

use super::HandshakeError;

/// The port a `ws://` URL means when it names none.
const DEFAULT_PORT: u16 = 80;

/// The port a `wss://` URL means when it names none.
const DEFAULT_SECURE_PORT: u16 = 443;

/// A parsed `ws[s]://host[:port][/path][?query]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsUri {
    /// Host name or IP address to connect to, IPv6 without brackets.
    pub(crate) host: String,
    /// Port to connect to.
    pub(crate) port: u16,
    /// `wss://`: the connection runs over TLS.
    pub(crate) secure: bool,
    /// The `Host` header value: host (IPv6 bracketed) plus `:port` unless it is the scheme's
    /// default.
    pub(crate) host_header: String,
    /// Path and query for the request line; `/` when the URL has no path.
    pub(crate) resource_name: String,
}

impl WsUri {
    /// Parses `url`.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnsupportedScheme`] for a well-formed scheme other than `ws` and
    /// `wss`; [`HandshakeError::InvalidUrl`] for anything else this client cannot use:
    /// no scheme, user info, a fragment (forbidden by §3), a bad host or port, or characters
    /// in the path that must be percent-encoded.
    pub(crate) fn parse(url: &str) -> Result<Self, HandshakeError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid(url, "expected ws://host[:port]/path"))?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(invalid(url, "malformed scheme"));
        }
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(HandshakeError::UnsupportedScheme(
                scheme.to_ascii_lowercase(),
            ));
        };
        let default_port = if secure {
            DEFAULT_SECURE_PORT
        } else {
            DEFAULT_PORT
        };
        if rest.contains('#') {
            return Err(invalid(url, "WebSocket URLs cannot have a #fragment"));
        }
        let (authority, resource) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(invalid(
                url,
                "user information (user@host) is not supported",
            ));
        }
        let (host, bracketed, port) = split_authority(url, authority)?;
        let port = match port {
            None => default_port,
            Some(port) => parse_port(url, port)?,
        };
        if !resource.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                url,
                "the path contains spaces, control or non-ASCII characters; percent-encode them",
            ));
        }
        let resource_name = if resource.starts_with('/') {
            resource.to_owned()
        } else {
            format!("/{resource}")
        };
        let host_name = if bracketed {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let host_header = if port == default_port {
            host_name
        } else {
            format!("{host_name}:{port}")
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            secure,
            host_header,
            resource_name,
        })
    }
}

/// Splits `host[:port]` or `[ipv6][:port]` into the host, whether it was bracketed, and the
/// port text if any.
fn split_authority<'a>(
    url: &str,
    authority: &'a str,
) -> Result<(&'a str, bool, Option<&'a str>), HandshakeError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid(url, "unclosed [ in IPv6 address"))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(url, "malformed IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| invalid(url, "unexpected text after the IPv6 address"))?,
            ),
        };
        return Ok((host, true, port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(invalid(url, "missing host"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err(invalid(
            url,
            "the host name contains characters a host name cannot have",
        ));
    }
    Ok((host, false, port))
}

/// Parses a port: 1 to 65535, digits only.
fn parse_port(url: &str, port: &str) -> Result<u16, HandshakeError> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(url, "the port must be a number"));
    }
    match port.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(invalid(url, "the port must be between 1 and 65535")),
    }
}

/// An [`HandshakeError::InvalidUrl`] quoting the URL.
fn invalid(url: &str, detail: &str) -> HandshakeError {
    HandshakeError::InvalidUrl(format!("{url:?}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> WsUri {
        WsUri::parse(url).unwrap()
    }

    fn is_invalid(url: &str) -> bool {
        matches!(WsUri::parse(url), Err(HandshakeError::InvalidUrl(_)))
    }

    #[test]
    fn default_port_and_path() {
        let uri = parse("ws://example.com");
        assert_eq!((uri.host.as_str(), uri.port), ("example.com", 80));
        assert_eq!(uri.host_header, "example.com");
        assert_eq!(uri.resource_name, "/");
    }

    #[test]
    fn explicit_port_goes_into_host_header_unless_80() {
        let uri = parse("ws://example.com:9001/chat");
        assert_eq!(
            (uri.port, uri.host_header.as_str()),
            (9001, "example.com:9001")
        );
        assert_eq!(parse("ws://example.com:80/").host_header, "example.com");
    }

    #[test]
    fn query_is_kept_in_resource_name() {
        assert_eq!(
            parse("ws://h/chat?room=1&a=b").resource_name,
            "/chat?room=1&a=b"
        );
        assert_eq!(parse("ws://h?room=1").resource_name, "/?room=1");
    }

    #[test]
    fn ipv6_literal_is_bracketed_only_in_host_header() {
        let uri = parse("ws://[::1]:9001/x");
        assert_eq!((uri.host.as_str(), uri.port), ("::1", 9001));
        assert_eq!(uri.host_header, "[::1]:9001");
        assert_eq!(uri.resource_name, "/x");
        assert_eq!(parse("ws://[::1]").host_header, "[::1]");
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(parse("WS://h/").host, "h");
    }

    #[test]
    fn wss_means_tls_and_port_443() {
        let uri = parse("WSS://example.com/chat");
        assert!(uri.secure);
        assert_eq!((uri.port, uri.host_header.as_str()), (443, "example.com"));
        let uri = parse("wss://example.com:8443/");
        assert_eq!(uri.host_header, "example.com:8443");
        assert_eq!(parse("wss://example.com:80/").host_header, "example.com:80");
        assert!(!parse("ws://example.com/").secure);
    }

    #[test]
    fn other_schemes_are_unsupported() {
        assert_eq!(
            WsUri::parse("http://example.com/"),
            Err(HandshakeError::UnsupportedScheme("http".into()))
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for url in [
            "",
            "example.com",
            "ws://",
            "ws:///path",
            "ws://:80/",
            "ws://host:/",
            "ws://host:0/",
            "ws://host:65536/",
            "ws://host:12a/",
            "ws://user@host/",
            "ws://host/a#frag",
            "ws://host/a b",
            "ws://[::1/",
            "ws://[nonsense]/",
            "ws://[::1]x/",
            "ws://ho st/",
            "ws://h\u{e9}/",
            "://host",
        ] {
            assert!(is_invalid(url), "{url:?} should be invalid");
        }
    }
}
