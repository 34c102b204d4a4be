//! The `Origin` check that stops cross-site WebSocket hijacking (RFC 6455 §10.2).
//!
//! Browsers attach the user's cookies to a WebSocket upgrade whatever page opens it, and the
//! same-origin policy does not apply to WebSockets; the one thing a server can trust is the
//! `Origin` header, which a browser always sends and a page cannot forge. Clients that are not
//! browsers (a terminal client, a script) usually send none, and cannot be stopped by this check
//! anyway, so a request without `Origin` passes.
//!
//! [`OriginPolicy::SameHost`] accepts an origin whose host and port are the ones the request was
//! sent to (its `Host` header): the server's own page works behind any name or port, another
//! site's page is refused. [`OriginPolicy::AllowList`] accepts exactly the listed origins.

use std::fmt;
use std::str::FromStr;

use super::{Rejection, Request};

/// A serialized origin, `scheme://host[:port]` (RFC 6454 §6.2), compared by scheme, host
/// (ignoring ASCII case) and port, with the scheme's default port filled in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// Why a string is not an origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginParseError(String);

impl fmt::Display for OriginParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OriginParseError {}

impl Origin {
    /// The scheme, lower case (`https`).
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lower case, with brackets for an IPv6 literal (`[::1]`).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, or the scheme's default (80 for http and ws, 443 for https and wss);
    /// `None` for a scheme without a known default and no explicit port.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }
}

impl FromStr for Origin {
    type Err = OriginParseError;

    /// Parses `scheme://host[:port]`; a trailing `/` is tolerated (people paste URLs), a path,
    /// query, user info or the opaque origin `null` is not.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |why: &str| OriginParseError(format!("{text:?} is not an origin: {why}"));
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| error("expected scheme://host[:port]"))?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(error("the scheme is not valid"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(error("an origin has no path, query, fragment or user"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| error("bad host or port"))?;
        Ok(Self {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// Which browser origins may open a WebSocket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Any origin, or none: no protection against cross-site use.
    Any,
    /// An origin must name the host and port of the request's `Host` header (the site that
    /// served the page is the site it connects to). A `Host` without a port matches an origin
    /// on its scheme's default port, since a proxy in front may speak either http or https.
    #[default]
    SameHost,
    /// An origin must be one of these.
    AllowList(Vec<Origin>),
}

impl OriginPolicy {
    /// Checks `request`'s `Origin`. A request without one passes (it does not come from a
    /// browser page); `Origin: null` and unparsable values are refused unless the policy is
    /// [`OriginPolicy::Any`].
    ///
    /// # Errors
    /// A 403 [`Rejection`] naming the refused origin.
    pub fn check(&self, request: &Request) -> Result<(), Rejection> {
        let Some(raw) = request.header("Origin") else {
            return Ok(());
        };
        if *self == Self::Any {
            return Ok(());
        }
        let shown = String::from_utf8_lossy(raw);
        let origin = std::str::from_utf8(raw)
            .ok()
            .and_then(|text| text.trim().parse::<Origin>().ok());
        let allowed = match (self, &origin) {
            (_, None) => false,
            (Self::AllowList(list), Some(origin)) => list.iter().any(|entry| same(entry, origin)),
            (Self::SameHost, Some(origin)) => request
                .header_str("Host")
                .is_some_and(|host| matches_host(origin, host)),
            (Self::Any, Some(_)) => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(Rejection::new(
                403,
                format!(
                    "WebSocket connections from pages at {shown} are not allowed here \
                     (Origin check against cross-site WebSocket hijacking).\n"
                ),
            ))
        }
    }
}

fn same(a: &Origin, b: &Origin) -> bool {
    a.scheme == b.scheme && a.host == b.host && a.port() == b.port()
}

/// Whether `origin` points at the authority in a `Host` header value.
fn matches_host(origin: &Origin, host_header: &str) -> bool {
    let Some((host, port)) = split_host_port(host_header.trim()) else {
        return false;
    };
    if !host.eq_ignore_ascii_case(&origin.host) {
        return false;
    }
    match port {
        Some(port) => origin.port() == Some(port),
        None => matches!(origin.port(), Some(80 | 443)),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits `host[:port]` or `[v6]:port`; `None` when the host is empty or the port not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let port = match port {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse().ok()?)
        }
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{HeadLimits, RequestReader};

    fn request(host: &str, origin: Option<&str>) -> Request {
        let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        let head = format!("GET /chat HTTP/1.1\r\nHost: {host}\r\n{origin}\r\n");
        RequestReader::new(HeadLimits::default())
            .feed(head.as_bytes())
            .unwrap()
            .unwrap()
    }

    fn origin(text: &str) -> Origin {
        text.parse().unwrap()
    }

    #[test]
    fn origins_parse_with_default_ports_and_any_case_host() {
        let o = origin("HTTPS://Chat.Example.COM");
        assert_eq!(
            (o.scheme(), o.host(), o.port()),
            ("https", "chat.example.com", Some(443))
        );
        assert_eq!(origin("http://a:8080/").port(), Some(8080));
        assert_eq!(origin("http://[::1]:9").host(), "[::1]");
        assert_eq!(origin("http://[::1]").port(), Some(80));
        assert_eq!(origin("http://a:8080").to_string(), "http://a:8080");
        for bad in [
            "null",
            "example.com",
            "http://",
            "http://a:x",
            "http://a/b",
            "http://u@a",
            "://a",
            "http://a:99999",
            "http://[::1",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn same_host_accepts_the_servers_own_page_and_refuses_other_sites() {
        let policy = OriginPolicy::SameHost;
        assert!(policy
            .check(&request("127.0.0.1:8080", Some("http://127.0.0.1:8080")))
            .is_ok());
        assert!(policy
            .check(&request(
                "Chat.Example.com",
                Some("https://chat.example.com")
            ))
            .is_ok());
        assert!(policy
            .check(&request(
                "chat.example.com",
                Some("http://chat.example.com")
            ))
            .is_ok());
        assert!(policy
            .check(&request("[::1]:8080", Some("http://[::1]:8080")))
            .is_ok());
        assert!(
            policy.check(&request("127.0.0.1:8080", None)).is_ok(),
            "no Origin: not a browser"
        );
        for (host, refused) in [
            ("127.0.0.1:8080", "http://evil.example"),
            ("127.0.0.1:8080", "http://127.0.0.1:8081"),
            ("127.0.0.1:8080", "http://127.0.0.1"),
            ("chat.example.com", "https://chat.example.com:8443"),
            ("chat.example.com", "https://chat.example.com.evil.example"),
            ("127.0.0.1:8080", "null"),
            ("127.0.0.1:8080", "garbage"),
        ] {
            let rejection = policy.check(&request(host, Some(refused))).unwrap_err();
            assert_eq!(rejection.status(), 403, "{refused} for {host}");
            assert!(
                rejection.reason().contains(refused),
                "{}",
                rejection.reason()
            );
        }
    }

    #[test]
    fn an_allow_list_accepts_exactly_its_origins() {
        let policy = OriginPolicy::AllowList(vec![
            origin("https://chat.example.com"),
            origin("http://localhost:3000"),
        ]);
        for allowed in [
            "https://chat.example.com",
            "https://CHAT.example.com:443",
            "http://localhost:3000",
        ] {
            assert!(
                policy.check(&request("anything", Some(allowed))).is_ok(),
                "{allowed}"
            );
        }
        for refused in [
            "http://chat.example.com",
            "https://chat.example.com:444",
            "http://localhost:3001",
            "http://anything",
        ] {
            assert_eq!(
                policy
                    .check(&request("anything", Some(refused)))
                    .unwrap_err()
                    .status(),
                403,
                "{refused}"
            );
        }
        assert!(policy.check(&request("anything", None)).is_ok());
    }

    #[test]
    fn any_accepts_everything() {
        assert!(OriginPolicy::Any.check(&request("a", Some("null"))).is_ok());
        assert!(OriginPolicy::Any
            .check(&request("a", Some("http://evil.example")))
            .is_ok());
    }
}
