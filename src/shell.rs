//! Quoting for the shell commands ocpvault prints (yum lines, etcd restore steps), so a
//! printed command can be pasted as is.

/// `word` unchanged when a shell reads it literally, else single-quoted.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && !word.starts_with('~')
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-:~@%,/=".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("/var/lib/etcd"), "/var/lib/etcd");
        assert_eq!(quote("gamma-0.9~rc1-1.noarch"), "gamma-0.9~rc1-1.noarch");
        assert_eq!(quote("~root"), "'~root'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
