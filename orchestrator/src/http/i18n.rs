//! The reader's language on the web: the `lang` cookie (the switch in the page), else
//! `Accept-Language`. The texts themselves are in [`crate::catalogue`].

use std::cell::Cell;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::catalogue::Lang;

tokio::task_local! {
    /// The language of the request being answered, for answers built without sight of it (an
    /// error page made from a handler's error).
    static READER: Cell<Lang>;
}

/// Answers the request knowing its reader's language: the cookie's, else `Accept-Language`'s,
/// until a page learns the signed-in user's own ([`set_reader`]).
pub async fn reader_scope(request: Request, next: Next) -> Response {
    let lang = Lang::of(request.headers());
    READER.scope(Cell::new(lang), next.run(request)).await
}

/// Answers an API call in the language its `Accept-Language` asks for (an API reads no cookie).
pub async fn api_reader_scope(request: Request, next: Next) -> Response {
    let lang = Lang::accepted(request.headers());
    READER.scope(Cell::new(lang), next.run(request)).await
}

/// The request's reader now reads `lang` (a page knows the user's own language).
pub fn set_reader(lang: Lang) {
    let _ = READER.try_with(|reader| reader.set(lang));
}

/// The language of the request being answered; English outside a request.
pub fn reader() -> Lang {
    READER.try_with(Cell::get).unwrap_or(Lang::En)
}

/// The cookie that remembers the switch.
pub const COOKIE: &str = "lang";

// The catalogue knows languages; only the web knows cookies and headers, so reading a request
// is added here.
impl Lang {
    /// The cookie's choice, else the best match of `Accept-Language` (by q), else English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = crate::http::auth::cookie(headers, COOKIE).and_then(Lang::parse) {
            return lang;
        }
        Lang::accepted(headers)
    }

    /// The best match of `Accept-Language` (by q), else English: the language of API answers,
    /// which carry no cookie of the pages.
    pub fn accepted(headers: &HeaderMap) -> Lang {
        let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("");
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_language_follows_the_cookie_then_accept_language() {
        assert_eq!(Lang::of(&headers(&[])), Lang::En);
        assert_eq!(Lang::of(&headers(&[("accept-language", "es-ES,es;q=0.9,en;q=0.8")])), Lang::Es);
        assert_eq!(Lang::of(&headers(&[("accept-language", "fr-FR,en;q=0.5,es;q=0.7")])), Lang::Es);
        assert_eq!(Lang::of(&headers(&[("accept-language", "de")])), Lang::En);
        assert_eq!(Lang::of(&headers(&[("accept-language", "es"), ("cookie", "lang=en")])), Lang::En);
    }

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use crate::catalogue::{self, T, UNTRANSLATED};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Every file under `dir` whose name ends with `ext`, with its text, by path from the root.
    fn files(dir: &str, ext: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root().join(dir)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.to_string_lossy().ends_with(ext) {
                    let name = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
                    out.push((name, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    /// A Rust file without its comments and without its tests: what ships.
    fn shipped(text: &str) -> String {
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
    }

    /// The string literals of Rust code (plain ones; raw strings are not used for texts).
    fn literals(code: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut chars = code.chars().peekable();
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            if c == '\'' && prev != '\\' {
                // A char literal such as '"' must not open a string; a lifetime has no closing quote.
                let ahead: String = chars.clone().take(3).collect();
                if ahead.starts_with("\"'") || ahead.starts_with("\\\"'") {
                    chars.nth(if ahead.starts_with('\\') { 2 } else { 1 });
                }
            } else if c == '"' && prev != 'r' && prev != '#' {
                let mut lit = String::new();
                let mut escaped = false;
                for c in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        (_, c) => {
                            lit.push(c);
                            escaped = false;
                        }
                    }
                }
                out.push(lit);
            }
            prev = c;
        }
        out
    }

    fn is_key(text: &str) -> bool {
        !text.is_empty()
            && text
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    }

    #[test]
    fn both_languages_have_every_text_with_the_same_placeholders() {
        let en: BTreeMap<_, _> = catalogue::entries(Lang::En).collect();
        let es: BTreeMap<_, _> = catalogue::entries(Lang::Es).collect();
        let missing_es: Vec<&&str> = en.keys().filter(|k| !es.contains_key(*k)).collect();
        let missing_en: Vec<&&str> = es.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing_es.is_empty(), "missing in es.json: {missing_es:?}");
        assert!(missing_en.is_empty(), "missing in en.json: {missing_en:?}");
        let placeholders = |text: &str| -> BTreeSet<String> {
            text.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}'))
                .map(|(name, _)| name.to_owned())
                .filter(|n| is_key(n))
                .collect()
        };
        let mut wrong = Vec::new();
        for (key, text) in &es {
            let extra: Vec<String> = placeholders(text).difference(&placeholders(en[key])).cloned().collect();
            if !extra.is_empty() {
                wrong.push(format!("{key}: {extra:?}"));
            }
        }
        assert!(wrong.is_empty(), "es.json fills placeholders en.json does not have:\n{}", wrong.join("\n"));
    }

    #[test]
    fn every_text_is_words_not_only_a_placeholder() {
        // A text of nothing but "{detail}" would let code hand any English sentence through the
        // catalogue; the one such text is the counted `untranslated`.
        let hollow: Vec<&str> = catalogue::entries(Lang::En)
            .filter(|(key, text)| {
                *key != UNTRANSLATED
                    && !text.replace(['{', '}'], " ").split_whitespace().any(|w| {
                        w.chars().filter(|c| c.is_alphabetic()).count() >= 2 && !text.contains(&format!("{{{w}}}"))
                    })
            })
            .map(|(key, _)| key)
            .collect();
        assert!(hollow.is_empty(), "texts with no words of their own: {hollow:?}");
    }

    #[test]
    fn every_text_the_templates_and_code_use_exists() {
        let en: BTreeMap<_, _> = catalogue::entries(Lang::En).collect();
        let sources: Vec<(String, String)> =
            files("web/templates", ".html").into_iter().chain(files("orchestrator/src", ".rs")).collect();
        // The namespaces of messages (`field.`, `cron.`): a literal in one of them is a key.
        let namespaces: BTreeSet<String> = sources
            .iter()
            .flat_map(|(_, text)| {
                text.split("Msg::new(\"").skip(1).filter_map(|p| p.split_once('.').map(|(ns, _)| ns.to_owned()))
            })
            .filter(|ns| is_key(ns))
            .collect();
        let mut missing = Vec::new();
        for (path, text) in sources {
            for marker in ["t.get(\"", "t.fill(\"", "Msg::new(\""] {
                for piece in text.split(marker).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    if !key.contains('{') && !en.contains_key(key) {
                        missing.push(format!("{path}: {key}"));
                    }
                }
            }
            if path.ends_with(".rs") {
                // Keys kept in constants and tables (`Field { one: "cron.unit.hour", .. }`).
                for lit in literals(&shipped(&text)) {
                    let namespaced = lit.split_once('.').is_some_and(|(ns, _)| namespaces.contains(ns));
                    let a_prefix = en.keys().any(|k| k.starts_with(&format!("{lit}.")));
                    // `#[template(path = "login.html")]` names a file, not a text.
                    let a_template = lit.ends_with(".html");
                    if is_key(&lit) && namespaced && !en.contains_key(lit.as_str()) && !a_prefix && !a_template {
                        missing.push(format!("{path}: {lit}"));
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "texts missing from web/i18n/en.json:\n{}", missing.join("\n"));
    }

    #[test]
    fn a_message_is_built_from_a_key_never_from_a_sentence() {
        let mut wrong = Vec::new();
        for (path, text) in files("orchestrator/src", ".rs") {
            for piece in shipped(&text).split("Msg::new(").skip(1) {
                let arg = piece.split([')', ',']).next().unwrap_or("").trim();
                if let Some(lit) = arg.strip_prefix('"') {
                    let lit = lit.trim_end_matches('"');
                    if !is_key(lit) {
                        wrong.push(format!("{path}: Msg::new({arg})"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "a Msg takes a catalogue key, not a sentence:\n{}", wrong.join("\n"));
    }

    #[test]
    fn untranslated_texts_only_shrink() {
        // No text reaches a field untranslated any more: a new one fails here; give it a key.
        let allowed: BTreeMap<&str, usize> = BTreeMap::new();
        let mut found = BTreeMap::new();
        for (path, text) in files("orchestrator/src", ".rs") {
            let n = shipped(&text).matches("Msg::untranslated(").count();
            if n > 0 && path != "orchestrator/src/catalogue.rs" {
                found.insert(path, n);
            }
        }
        for (path, n) in &found {
            let limit = allowed.get(path.as_str()).copied().unwrap_or(0);
            assert!(*n <= limit, "{path} says {n} untranslated text(s), at most {limit}: put them in the catalogue");
        }
    }

    /// Words a page may show outside the catalogue: names of products, protocols, formats and
    /// languages (each in its own language), units, and the examples of machine input
    /// placeholders show.
    const NOT_ENGLISH: &[&str] = &[
        "age", "api", "app", "bearer", "billing", "english", "español", "gib", "json", "kib", "mib", "ms", "odoo",
        "openapi", "prod", "sha256", "smtp", "starttls", "tib", "tls", "utc", "webhook", "yaml", "zstd",
    ];

    /// Whether a token is machine text: a path, URL, address, pattern, variable or example value.
    fn is_machine(token: &str) -> bool {
        token.chars().any(|c| matches!(c, '.' | '/' | '@' | ':' | '*' | '_' | '=' | '-') || c.is_ascii_digit())
    }

    /// The visible text a template writes itself: text nodes and the attributes a person reads,
    /// with every `{{ expression }}`, `{% tag %}`, script, style and code block taken out.
    fn template_text(html: &str) -> Vec<String> {
        let mut text = html.to_owned();
        let blocks = [
            ("{#", "#}"),
            ("<script", "</script>"),
            ("<style", "</style>"),
            ("<code", "</code>"),
            ("{{", "}}"),
            ("{%", "%}"),
        ];
        for (open, close) in blocks {
            while let Some(start) = text.find(open) {
                let end = text[start..].find(close).map_or(text.len(), |e| start + e + close.len());
                text.replace_range(start..end, " ");
            }
        }
        let mut said = Vec::new();
        let mut rest = text.as_str();
        let mut nodes = String::new();
        while let Some(open) = rest.find('<') {
            nodes.push_str(&rest[..open]);
            nodes.push('\n');
            let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
            let tag = &rest[open..close];
            let shown_value = tag.starts_with("<input")
                && !["radio", "checkbox", "hidden", "submit"].iter().any(|t| tag.contains(&format!("type=\"{t}\"")));
            for attr in ["title", "placeholder", "aria-label", "alt", "data-confirm", "value"] {
                if attr == "value" && !shown_value {
                    continue;
                }
                for piece in tag.split(&format!(" {attr}=\"")).skip(1) {
                    said.push(piece.split('"').next().unwrap_or("").to_owned());
                }
            }
            rest = &rest[close..];
        }
        nodes.push_str(rest);
        said.extend(nodes.lines().map(str::to_owned));
        said.into_iter()
            .map(|s| {
                let mut s = s;
                while let Some(start) = s.find('&') {
                    let end = s[start..].find(';').map_or(s.len(), |e| start + e + 1);
                    s.replace_range(start..end, " ");
                }
                s.trim().to_owned()
            })
            .filter(|s| !s.is_empty())
            .collect()
    }

    #[test]
    fn templates_write_no_words_of_their_own() {
        let mut wrong = Vec::new();
        for (path, html) in files("web/templates", ".html") {
            for text in template_text(&html) {
                let words: Vec<String> = text
                    .split_whitespace()
                    .filter(|token| !is_machine(token))
                    .flat_map(|token| token.split(|c: char| !c.is_alphanumeric()))
                    .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
                    .map(str::to_lowercase)
                    .filter(|w| !NOT_ENGLISH.contains(&w.as_str()))
                    .collect();
                if !words.is_empty() {
                    wrong.push(format!("{path}: {text:?}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "templates write words outside the catalogue (use page.t.get):\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn the_guard_sees_literal_words_and_lets_expressions_pass() {
        let said = template_text(
            r#"<p title="Open it">{{ page.t.get("form.save") }} Saved</p>{% if a %}<input placeholder="db-1" value="Backups"><input type="radio" value="off">{% endif %}<script>let a = "no";</script>"#,
        );
        assert_eq!(said, ["Open it", "db-1", "Backups", "Saved"]);
        assert_eq!(literals(r#"let a = "one"; let b = '"'; f("two\"s")"#), ["one", "two\"s"]);
    }

    #[test]
    fn spanish_speaks_to_the_reader_as_usted() {
        // The informal "tú" has words of its own; the catalogue addresses every reader as "usted".
        let tu = [
            "tu",
            "tus",
            "te",
            "ti",
            "contigo",
            "puedes",
            "tienes",
            "quieres",
            "debes",
            "haz",
            "pulsa",
            "elige",
            "escribe",
            "añade",
            "escríbela",
            "escríbelo",
            "déjalo",
            "déjala",
            "pega",
            "sube",
            "revisa",
            "corrige",
            "asegúrate",
            "usa",
        ];
        let mut wrong = Vec::new();
        for (key, text) in catalogue::entries(Lang::Es) {
            let lower = text.to_lowercase();
            let words: Vec<&str> = lower.split(|c: char| !c.is_alphabetic()).collect();
            // "usa" is also "it uses" ("se escribe", "it is written"): these count only where an
            // imperative stands, at the start of a sentence.
            let starts = |w: &str| {
                lower.starts_with(w) || lower.contains(&format!(": {w} ")) || lower.contains(&format!(". {w} "))
            };
            if let Some(w) = tu
                .iter()
                .find(|w| if ["usa", "pega", "sube", "escribe"].contains(*w) { starts(w) } else { words.contains(w) })
            {
                wrong.push(format!("{key}: \"{w}\" in {text:?}"));
            }
        }
        assert!(wrong.is_empty(), "es.json says tú:\n{}", wrong.join("\n"));
    }

    #[test]
    fn every_status_priority_trigger_day_and_phase_has_a_text() {
        use sea_orm::Iterable;
        let en: BTreeMap<_, _> = catalogue::entries(Lang::En).collect();
        let restores = crate::backup::restore::RestoreStatus::iter().map(|s| format!("status.{s}"));
        let keys = crate::backup::lifecycle::Status::iter()
            .map(|s| format!("status.{s}"))
            .chain(restores)
            .chain(["high", "normal", "low"].iter().map(|p| format!("priority.{p}")))
            .chain(crate::backup::lifecycle::Trigger::iter().map(|t| format!("trigger.{t}")))
            .chain((0..7).map(|d| format!("day.{d}")))
            .chain((0..7).map(|d| format!("day_short.{d}")));
        for key in keys {
            assert!(en.contains_key(key.as_str()), "missing {key}");
        }
    }

    #[test]
    fn schedules_read_in_both_languages() {
        let en = T { lang: Lang::En };
        let es = T { lang: Lang::Es };
        assert_eq!(en.schedule("0 3 * * *", "UTC"), "every day at 03:00 (UTC)");
        assert_eq!(es.schedule("0 3 * * *", "Europe/Madrid"), "todos los días a las 03:00 (Europe/Madrid)");
        assert_eq!(en.schedule("*/15 * * * *", "UTC"), "every 15 minutes (UTC)");
        assert_eq!(en.schedule("0 1 * 6 *", "UTC"), "cron 0 1 * 6 * (UTC)");
    }
}
