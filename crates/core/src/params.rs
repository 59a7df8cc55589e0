//! Request parameters as received: a list of pairs, checked for repeats (RFC 6749 §3.1:
//! "Request and response parameters MUST NOT be included more than once").

use std::collections::HashMap;

/// Longest value accepted for any single parameter.
pub const MAX_VALUE_LEN: usize = 2048;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

#[derive(Debug, PartialEq, Eq)]
pub enum ParamsError {
    Repeated(String),
    TooLong(String),
    ControlCharacter(String),
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamsError::Repeated(name) => write!(f, "parameter '{name}' is repeated"),
            ParamsError::TooLong(name) => write!(f, "parameter '{name}' is too long"),
            ParamsError::ControlCharacter(name) => {
                write!(f, "parameter '{name}' contains a control character")
            }
        }
    }
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, ParamsError> {
        Self::from_pairs_up_to(pairs, MAX_VALUE_LEN)
    }

    /// [`from_pairs`](Self::from_pairs) with values up to `max` bytes (pushed authorization
    /// requests carry long `authorization_details`).
    pub fn from_pairs_up_to(
        pairs: Vec<(String, String)>,
        max: usize,
    ) -> Result<Params, ParamsError> {
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if v.len() > max || k.len() > MAX_VALUE_LEN {
                return Err(ParamsError::TooLong(k));
            }
            // No OAuth parameter legitimately carries control characters, and PostgreSQL
            // refuses NUL in text: stop them here rather than as a database error.
            if k.chars().chain(v.chars()).any(char::is_control) {
                return Err(ParamsError::ControlCharacter(k));
            }
            // Empty values are treated as omitted (RFC 6749 §3.1).
            if v.is_empty() {
                continue;
            }
            if map.contains_key(&k) {
                return Err(ParamsError::Repeated(k));
            }
            map.insert(k, v);
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn repeats_and_long_values_are_refused_empty_is_absent() {
        assert_eq!(
            Params::from_pairs(pairs(&[("a", "1"), ("a", "2")])),
            Err(ParamsError::Repeated("a".into()))
        );
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        assert_eq!(
            Params::from_pairs(pairs(&[("a", &long)])),
            Err(ParamsError::TooLong("a".into()))
        );
        assert_eq!(
            Params::from_pairs(pairs(&[("client_id", "a\0b")])),
            Err(ParamsError::ControlCharacter("client_id".into()))
        );
        let p = Params::from_pairs(pairs(&[("a", ""), ("b", "1")])).unwrap_or_default();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("1"));
    }
}
