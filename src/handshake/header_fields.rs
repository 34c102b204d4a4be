//! The header fields of a parsed HTTP head, owned, with the lookups a handshake needs.
//!
//! Field names are matched case-insensitively (RFC 7230 §3.2). Values are kept as bytes because
//! HTTP allows obs-text (bytes 0x80–0xFF) in them; `str` views are offered where the value is
//! UTF-8. Several fields with the same name are one comma-separated list (RFC 7230 §3.2.2), which
//! is how [`HeaderFields::tokens`] reads `Connection`, `Upgrade` and `Sec-WebSocket-Protocol`.

/// One `name: value` line of a head.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HeaderField {
    name: String,
    value: Vec<u8>,
}

/// The header fields of a head, in the order they arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderFields {
    fields: Vec<HeaderField>,
}

impl HeaderFields {
    /// Copies httparse's borrowed header fields, so the head outlives the read buffer.
    pub(crate) fn from_parsed(headers: &[httparse::Header<'_>]) -> Self {
        let fields = headers
            .iter()
            .map(|header| HeaderField {
                name: header.name.to_owned(),
                value: header.value.to_vec(),
            })
            .collect();
        Self { fields }
    }

    /// The value of the first field named `name` (case-insensitive).
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value.as_slice())
    }

    /// The value of the first field named `name`, if it is UTF-8.
    pub(crate) fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The values of every field named `name`, in arrival order.
    pub(crate) fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value.as_slice())
    }

    /// How many fields are named `name`.
    pub(crate) fn count(&self, name: &str) -> usize {
        self.fields
            .iter()
            .filter(|field| field.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Every field as `(name, value)`, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields
            .iter()
            .map(|field| (field.name.as_str(), field.value.as_slice()))
    }

    /// The comma-separated list elements of every field named `name`, trimmed, empty ones skipped.
    ///
    /// A field whose value is not UTF-8 contributes nothing: no token this crate looks for could
    /// match it.
    pub(crate) fn tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .filter_map(|value| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|token| !token.is_empty())
    }

    /// True when some list element of a field named `name` equals `token`, ignoring ASCII case.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name)
            .any(|candidate| candidate.eq_ignore_ascii_case(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&'static str, &'static [u8])]) -> HeaderFields {
        let parsed: Vec<httparse::Header<'_>> = list
            .iter()
            .map(|&(name, value)| httparse::Header { name, value })
            .collect();
        HeaderFields::from_parsed(&parsed)
    }

    #[test]
    fn lookup_ignores_name_case_and_returns_first_match() {
        let fields = fields(&[("hOsT", b"a"), ("Host", b"b")]);
        assert_eq!(fields.get("HOST"), Some(&b"a"[..]));
        assert_eq!(fields.count("host"), 2);
        assert_eq!(fields.get("Origin"), None);
    }

    #[test]
    fn tokens_span_repeated_fields_and_are_trimmed() {
        let fields = fields(&[
            ("Connection", b"keep-alive, , Upgrade "),
            ("connection", b"x"),
        ]);
        let tokens: Vec<&str> = fields.tokens("Connection").collect();
        assert_eq!(tokens, ["keep-alive", "Upgrade", "x"]);
        assert!(fields.has_token("connection", "upgrade"));
        assert!(!fields.has_token("connection", "close"));
    }

    #[test]
    fn non_utf8_value_is_kept_as_bytes_but_has_no_str_view() {
        let fields = fields(&[("X-Raw", b"caf\xe9")]);
        assert_eq!(fields.get("x-raw"), Some(&b"caf\xe9"[..]));
        assert_eq!(fields.get_str("x-raw"), None);
        assert_eq!(fields.tokens("x-raw").count(), 0);
    }
}
