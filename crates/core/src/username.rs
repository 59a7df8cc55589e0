//! Usernames as stored and looked up.

/// Lower-cased and trimmed; control characters (which no username has, and which PostgreSQL
/// refuses in text) become U+FFFD so that the lookup simply finds no one.
pub fn normalise_username(username: &str) -> String {
    username
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect::<String>()
        .to_lowercase()
}
