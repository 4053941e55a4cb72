//! An app's group and tags: short labels an operator sorts a fleet by (the database host an app
//! lives on, `odoo`, `prod`). One rule for both: 1 to 40 lowercase letters, digits, `-`, `_` or
//! `.`; at most 20 tags, duplicates folded.
//!
//! Tags are stored in one text column of `apps`, sorted and wrapped in commas (`,odoo,prod,`):
//! an exact tag is then one `LIKE '%,odoo,%'` away, with no join and no second table for the
//! self-backup, the API and the dashboard to keep in step. The comma can never be part of a tag.

use super::input::FieldError;
use crate::catalogue::Msg;

/// The longest label.
pub const MAX_LEN: usize = 40;

/// The most tags an app has.
pub const MAX_TAGS: usize = 20;

/// The code of the rule a label breaks.
pub const RULE_KEY: &str = "field.label.rule";

/// The code of "too many tags".
pub const TOO_MANY_KEY: &str = "field.label.too_many";

/// Whether `text` is a label as typed (already trimmed and lowercased).
fn is_label(text: &str) -> bool {
    (1..=MAX_LEN).contains(&text.len())
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// The error of a label that breaks the rule, naming `field`.
fn broken(field: &str, text: &str) -> FieldError {
    FieldError::new(field, Msg::new(RULE_KEY).with("label", text).with("max", MAX_LEN))
}

/// A group as typed: `None` for blank (no group), else the label, lowercased.
pub fn group(text: &str) -> Result<Option<String>, FieldError> {
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return Ok(None);
    }
    if is_label(&text) { Ok(Some(text)) } else { Err(broken("group", &text)) }
}

/// Tags as typed (each entry may hold several, separated by commas or spaces): sorted,
/// lowercased, duplicates folded; every broken one is reported.
pub fn tags<S: AsRef<str>>(field: &str, given: &[S]) -> Result<Vec<String>, Vec<FieldError>> {
    let mut tags = Vec::new();
    let mut errors = Vec::new();
    for piece in given.iter().flat_map(|g| g.as_ref().split([',', ' ', '\n', '\t'])) {
        let tag = piece.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if is_label(&tag) {
            tags.push(tag);
        } else {
            errors.push(broken(field, &tag));
        }
    }
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        errors.push(FieldError::new(field, Msg::new(TOO_MANY_KEY).with("n", tags.len()).with("max", MAX_TAGS)));
    }
    if errors.is_empty() { Ok(tags) } else { Err(errors) }
}

/// Tags as stored: `,a,b,` (empty text for none).
pub fn stored(tags: &[String]) -> String {
    if tags.is_empty() { String::new() } else { format!(",{},", tags.join(",")) }
}

/// Tags from their stored text.
pub fn parse_stored(text: &str) -> Vec<String> {
    text.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// The `LIKE` pattern that finds apps carrying `tag`, to use with `ESCAPE '\\'`: the `_` a label
/// may hold is escaped, so `a_b` does not find `axb`.
pub fn like_pattern(tag: &str) -> String {
    format!("%,{},%", tag.replace('_', "\\_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lowercased_sorted_and_folded() {
        assert_eq!(tags("tags", &["Prod, odoo", "odoo db-1.a_b"]).unwrap(), ["db-1.a_b", "odoo", "prod"]);
        assert_eq!(tags::<&str>("tags", &[]).unwrap(), Vec::<String>::new());
        assert_eq!(tags("tags", &[" , "]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_broken_tag_names_the_field_and_the_rule() {
        let errors = tags("tags", &["ok", "no/slash", &"x".repeat(41)]).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.field == "tags" && e.code() == RULE_KEY));
        let said = errors[0].msg.to_string();
        assert!(said.contains("\"no/slash\"") && said.contains("1 to 40"), "{said}");
    }

    #[test]
    fn at_most_twenty_tags() {
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let errors = tags("tags", &many).unwrap_err();
        assert_eq!(errors[0].code(), TOO_MANY_KEY);
        assert!(tags("tags", &many[..20]).is_ok());
        // Duplicates fold before counting.
        let repeated: Vec<String> = (0..40).map(|i| format!("t{}", i % 20)).collect();
        assert_eq!(tags("tags", &repeated).unwrap().len(), 20);
    }

    #[test]
    fn groups_are_one_label_or_none() {
        assert_eq!(group("  DB-Host.1 ").unwrap().as_deref(), Some("db-host.1"));
        assert_eq!(group("").unwrap(), None);
        let e = group("two words").unwrap_err();
        assert_eq!((e.field.as_str(), e.code()), ("group", RULE_KEY));
        assert!(group(&"g".repeat(40)).is_ok() && group(&"g".repeat(41)).is_err());
    }

    #[test]
    fn stored_tags_round_trip_and_match_exactly() {
        let t = vec!["odoo".to_owned(), "prod".to_owned()];
        assert_eq!(stored(&t), ",odoo,prod,");
        assert_eq!(parse_stored(&stored(&t)), t);
        assert_eq!(stored(&[]), "");
        assert!(parse_stored("").is_empty());
        assert_eq!(like_pattern("odoo"), "%,odoo,%");
        assert_eq!(like_pattern("a_b"), "%,a\\_b,%");
    }
}
