//! User names: the rules a nick must follow, and the roster that keeps names unique.
//!
//! Names are 1-32 ASCII letters, digits, `_` or `-`. Uniqueness ignores ASCII case, so `Bob` and
//! `bob` cannot both be present (they would be indistinguishable in a busy room); the spelling a
//! user chose is kept for display. Fresh connections get `user0`, `user1`, ... in connection
//! order, skipping any that a user has claimed with `/nick` meanwhile.

use std::collections::HashMap;
use std::fmt;

/// Longest nick, in bytes (all characters are ASCII).
pub const MAX_NAME_LEN: usize = 32;

/// Why a requested name cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    TooLong(usize),
    /// The name contains a character other than ASCII letters, digits, `_` and `-`.
    InvalidChar(char),
    /// Someone else already uses this name (compared ignoring case).
    Taken(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("a name needs at least one character"),
            Self::TooLong(len) => write!(
                f,
                "a name can have at most {MAX_NAME_LEN} characters (this one has {len})"
            ),
            Self::InvalidChar(c) => write!(
                f,
                "a name may only contain letters, digits, _ and - (not {c:?})"
            ),
            Self::Taken(name) => write!(f, "the name {name} is already taken"),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a requested name against the syntax rules (not uniqueness).
///
/// # Errors
/// The first rule the name breaks.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(NameError::InvalidChar(c));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    Ok(())
}

/// The key under which a name is unique: its ASCII lowercase form.
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The names in use, mapped to their holders, plus the counter for `userN` names.
///
/// Not synchronised: the hub keeps it under its lock, which is what makes allocation unique
/// under concurrency.
#[derive(Debug)]
pub struct Roster<Id> {
    by_key: HashMap<String, (String, Id)>,
    next_guest: u64,
}

impl<Id> Default for Roster<Id> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
            next_guest: 0,
        }
    }
}

impl<Id: Copy + PartialEq> Roster<Id> {
    /// An empty roster; the first guest name is `user0`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `holder` the next free `userN` name.
    pub fn allocate(&mut self, holder: Id) -> String {
        loop {
            let name = format!("user{}", self.next_guest);
            self.next_guest += 1;
            if let std::collections::hash_map::Entry::Vacant(slot) = self.by_key.entry(key(&name)) {
                slot.insert((name.clone(), holder));
                return name;
            }
        }
    }

    /// Moves `holder` from `old` to `new`. Changing only the case of one's own name is allowed.
    ///
    /// # Errors
    /// [`NameError`] when `new` is not a valid name or belongs to someone else.
    pub fn rename(&mut self, holder: Id, old: &str, new: &str) -> Result<(), NameError> {
        validate_name(new)?;
        if let Some((taken, other)) = self.by_key.get(&key(new)) {
            if *other != holder {
                return Err(NameError::Taken(taken.clone()));
            }
        }
        self.by_key.remove(&key(old));
        self.by_key.insert(key(new), (new.to_owned(), holder));
        Ok(())
    }

    /// Frees `name`.
    pub fn release(&mut self, name: &str) {
        self.by_key.remove(&key(name));
    }

    /// Who holds `name` (ignoring case), and its spelling.
    #[must_use]
    pub fn lookup(&self, name: &str) -> Option<(&str, Id)> {
        self.by_key
            .get(&key(name))
            .map(|(spelling, id)| (spelling.as_str(), *id))
    }

    /// Every name in use, sorted ignoring case.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<(&String, &String)> = self
            .by_key
            .iter()
            .map(|(key, (name, _))| (key, name))
            .collect();
        names.sort_unstable();
        names.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// How many names are in use.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when nobody holds a name.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_1_to_32_letters_digits_underscore_dash() {
        assert_eq!(validate_name("bob"), Ok(()));
        assert_eq!(validate_name("B0b_the-builder"), Ok(()));
        assert_eq!(validate_name(&"x".repeat(32)), Ok(()));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name(&"x".repeat(33)), Err(NameError::TooLong(33)));
        assert_eq!(validate_name("bo b"), Err(NameError::InvalidChar(' ')));
        assert_eq!(validate_name("zoë"), Err(NameError::InvalidChar('ë')));
        assert_eq!(validate_name("<b>"), Err(NameError::InvalidChar('<')));
    }

    #[test]
    fn guests_are_numbered_in_order_skipping_claimed_names() {
        let mut roster = Roster::new();
        assert_eq!(roster.allocate(1), "user0");
        roster.rename(1, "user0", "User1").unwrap();
        assert_eq!(roster.allocate(2), "user2");
        assert_eq!(roster.len(), 2);
    }

    #[test]
    fn names_are_unique_ignoring_case_but_keep_their_spelling() {
        let mut roster = Roster::new();
        let a = roster.allocate(1);
        let b = roster.allocate(2);
        roster.rename(1, &a, "Alice").unwrap();
        assert_eq!(
            roster.rename(2, &b, "alice"),
            Err(NameError::Taken("Alice".into()))
        );
        assert_eq!(roster.lookup("ALICE"), Some(("Alice", 1)));
        roster.rename(1, "Alice", "alice").unwrap();
        assert_eq!(roster.lookup("Alice"), Some(("alice", 1)));
        assert_eq!(roster.names(), ["alice", "user1"]);
    }

    #[test]
    fn released_names_can_be_claimed_again() {
        let mut roster = Roster::new();
        let a = roster.allocate(1);
        roster.release(&a);
        assert!(roster.is_empty());
        roster.rename(2, "whatever", "user0").unwrap();
        assert_eq!(roster.lookup("user0"), Some(("user0", 2)));
    }
}
