//! Turning engine errors into hako's message style.

use hako_executors::ExecutorError;

/// One line, starting lowercase, without a trailing period: wasmer's
/// messages are sentences ("Validation error: ...") and may span lines.
pub(crate) fn one_line(err: &dyn std::fmt::Display) -> String {
    let line = ExecutorError::one_line(err);
    let mut chars = line.chars();
    match chars.next() {
        // Only lower a capitalised word, not an acronym such as "WASI".
        Some(first) if !chars.next().is_some_and(char::is_uppercase) => first
            .to_lowercase()
            .chain(line[first.len_utf8()..].chars())
            .collect(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_sentences_but_not_acronyms() {
        assert_eq!(
            one_line(&"Validation error: x.\n  at 3"),
            "validation error: x.: at 3"
        );
        assert_eq!(one_line(&"WASI exited"), "WASI exited");
        assert_eq!(one_line(&"already lower."), "already lower");
        assert_eq!(one_line(&""), "");
    }
}
