//! English and Spanish. The language comes from the `lang` cookie (the switch in the page), else
//! from `Accept-Language`. Texts live in `web/i18n/<lang>.json`, embedded into the binary; a
//! missing text falls back to English, then to its key, and a test keeps both files complete.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;

use crate::schedule::describe::{Cadence, cadence};

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Spanish.
    Es,
}

/// The cookie that remembers the switch.
pub const COOKIE: &str = "lang";

impl Lang {
    /// `en` or `es`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// From a code; unknown codes are `None`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().split(['-', '_']).next()? {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The cookie's choice, else the best match of `Accept-Language` (by q), else English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = crate::http::auth::cookie(headers, COOKIE).and_then(Lang::parse) {
            return lang;
        }
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

fn table(lang: Lang) -> &'static HashMap<String, String> {
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    static ES: OnceLock<HashMap<String, String>> = OnceLock::new();
    let (cell, text) = match lang {
        Lang::En => (&EN, include_str!("../../../web/i18n/en.json")),
        Lang::Es => (&ES, include_str!("../../../web/i18n/es.json")),
    };
    cell.get_or_init(|| serde_json::from_str(text).expect("web/i18n files are valid JSON maps"))
}

/// The texts of one language, handed to every template as `t`.
#[derive(Debug, Clone, Copy)]
pub struct T {
    /// The language.
    pub lang: Lang,
}

impl T {
    /// The text for `key`.
    pub fn get<'a>(&self, key: &'a str) -> &'a str {
        table(self.lang).get(key).or_else(|| table(Lang::En).get(key)).map_or(key, String::as_str)
    }

    /// The text for `key` with `{name}` placeholders filled.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// A size, its decimal separator the language's: "1.5 GiB", "1,5 GiB".
    pub fn bytes(&self, n: i64) -> String {
        let text = crate::http::format::bytes(n);
        match self.lang {
            Lang::En => text,
            Lang::Es => text.replace('.', ","),
        }
    }

    /// A run's or restore's status in words.
    pub fn status(&self, status: &str) -> String {
        self.of("status", status)
    }

    /// The text of `prefix.value` (statuses, priorities, phases, triggers).
    pub fn of(&self, prefix: &str, value: &str) -> String {
        self.get(&format!("{prefix}.{value}")).to_owned()
    }

    /// A schedule in words, e.g. "every day at 03:00 (Europe/Madrid)".
    pub fn schedule(&self, expression: &str, time_zone: &str) -> String {
        let hm = |h: u32, m: u32| format!("{h:02}:{m:02}");
        let words = match cadence(expression) {
            Cadence::EveryMinutes(1) => self.get("cadence.every_minute").to_owned(),
            Cadence::EveryMinutes(n) => self.fill("cadence.every_minutes", &[("n", &n.to_string())]),
            Cadence::Hourly { minute } => self.fill("cadence.hourly", &[("m", &format!("{minute:02}"))]),
            Cadence::EveryHours { hours, minute } => {
                self.fill("cadence.every_hours", &[("n", &hours.to_string()), ("m", &format!("{minute:02}"))])
            }
            Cadence::Daily { hour, minute } => self.fill("cadence.daily", &[("time", &hm(hour, minute))]),
            Cadence::Weekly { days, hour, minute } => {
                let names: Vec<String> = days.iter().map(|d| self.of("day", &d.to_string())).collect();
                self.fill("cadence.weekly", &[("days", &names.join(", ")), ("time", &hm(hour, minute))])
            }
            Cadence::Monthly { day, hour, minute } => {
                self.fill("cadence.monthly", &[("day", &day.to_string()), ("time", &hm(hour, minute))])
            }
            Cadence::Custom => format!("cron {expression}"),
        };
        if time_zone == "UTC" { format!("{words} (UTC)") } else { format!("{words} ({time_zone})") }
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

    #[test]
    fn both_languages_have_every_text() {
        let (en, es) = (table(Lang::En), table(Lang::Es));
        let missing_es: Vec<&String> = en.keys().filter(|k| !es.contains_key(*k)).collect();
        let missing_en: Vec<&String> = es.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing_es.is_empty(), "missing in es.json: {missing_es:?}");
        assert!(missing_en.is_empty(), "missing in en.json: {missing_en:?}");
    }

    #[test]
    fn every_text_the_templates_and_code_use_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = Vec::new();
        for dir in ["web/templates", "orchestrator/src/http/ui", "orchestrator/src/http", "orchestrator/src/notify"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                if entry.path().is_file() {
                    sources.push((entry.path(), std::fs::read_to_string(entry.path()).unwrap()));
                }
            }
        }
        let en = table(Lang::En);
        let mut missing = Vec::new();
        for (path, text) in &sources {
            for marker in ["t.get(\"", "t.fill(\""] {
                for piece in text.split(marker).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    if !key.contains('{') && !en.contains_key(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "texts missing from web/i18n/en.json:\n{}", missing.join("\n"));
    }

    #[test]
    fn every_status_priority_and_trigger_has_a_text() {
        let en = table(Lang::En);
        use sea_orm::Iterable;
        let restores = crate::backup::restore::RestoreStatus::iter().map(|s| format!("status.{s}"));
        let keys = crate::backup::lifecycle::Status::iter()
            .map(|s| format!("status.{s}"))
            .chain(restores)
            .chain(["high", "normal", "low"].iter().map(|p| format!("priority.{p}")))
            .chain(crate::backup::lifecycle::Trigger::iter().map(|t| format!("trigger.{t}")))
            .chain((0..7).map(|d| format!("day.{d}")));
        for key in keys {
            assert!(en.contains_key(&key), "missing {key}");
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
