//! The catalogue of every text a person reads, in English and Spanish: `web/i18n/<lang>.json`,
//! embedded into the binary. Code anywhere names the text it means with a [`Msg`] — a key, which
//! is also the text's stable machine code, plus named arguments — and the edge that knows its
//! reader (a page, an API answer, the CLI) renders it in their language with [`T`].
//!
//! This module must never hold a sentence itself, and nor may the code that builds a [`Msg`]:
//! the sentences are in the JSON files, where tests keep both languages complete and every key
//! used in the code present. A missing text falls back to English, then to its key.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::http::format::escape;
use crate::schedule::describe::{Cadence, cadence};

/// A language of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// Every language.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    /// `en` or `es`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// From a code or locale (`es`, `es-MX`, `es_ES.UTF-8`); unknown ones are `None`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().split(['-', '_', '.']).next()? {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The language of a terminal from its locale variables (`LC_ALL`, `LC_MESSAGES`, `LANG`,
    /// the first one set wins, as in POSIX), else English.
    pub fn of_locale(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .find_map(|name| var(name).filter(|v| !v.is_empty()))
            .and_then(|v| Lang::parse(&v))
            .unwrap_or(Lang::En)
    }
}

fn table(lang: Lang) -> &'static HashMap<String, String> {
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    static ES: OnceLock<HashMap<String, String>> = OnceLock::new();
    let (cell, text) = match lang {
        Lang::En => (&EN, include_str!("../../web/i18n/en.json")),
        Lang::Es => (&ES, include_str!("../../web/i18n/es.json")),
    };
    cell.get_or_init(|| serde_json::from_str(text).expect("web/i18n files are valid JSON maps"))
}

/// The text of `key` in `lang` exactly as the catalogue holds it, without fallback.
pub fn text(lang: Lang, key: &str) -> Option<&'static str> {
    table(lang).get(key).map(String::as_str)
}

/// Every key and text of `lang`.
pub fn entries(lang: Lang) -> impl Iterator<Item = (&'static str, &'static str)> {
    table(lang).iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The code of [`Msg::untranslated`].
pub const UNTRANSLATED: &str = "untranslated";

/// A text of the catalogue to be said to someone: its key and what fills its `{placeholders}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    key: &'static str,
    args: Vec<(Cow<'static, str>, Arg)>,
}

/// What fills a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    /// Said as is: a name, a number, a cron expression.
    Verbatim(String),
    /// Words of another system (an app's answer, Drive's, the network's), said as they came, in
    /// whatever language that system speaks: pages mark them as such.
    Quoted(String),
    /// Another text of the catalogue, said in the same language.
    Msg(Msg),
    /// Several texts of the catalogue, separated by "; ".
    Msgs(Vec<Msg>),
}

impl Msg {
    /// The text `key`, whose placeholders are filled with [`Msg::with`] and [`Msg::with_msg`].
    pub fn new(key: &'static str) -> Msg {
        Msg { key, args: Vec::new() }
    }

    /// Text that is not in the catalogue yet (a domain error still written in English), said as
    /// is under the code `untranslated`. Each use is counted by a test: new ones are refused.
    pub fn untranslated(text: impl fmt::Display) -> Msg {
        Msg::new(UNTRANSLATED).with("text", text)
    }

    /// Fills `{name}` with `value` as is (data, not words: names, numbers, expressions).
    pub fn with(mut self, name: &'static str, value: impl fmt::Display) -> Msg {
        self.args.push((Cow::Borrowed(name), Arg::Verbatim(value.to_string())));
        self
    }

    /// Fills `{name}` with the words of another system, as they came (an app's or Drive's
    /// answer, a transport error): not ours to translate, and marked so on pages.
    pub fn quoting(mut self, name: &'static str, words: impl fmt::Display) -> Msg {
        self.args.push((Cow::Borrowed(name), Arg::Quoted(words.to_string())));
        self
    }

    /// Fills `{name}` with another text, said in the reader's language too.
    pub fn with_msg(mut self, name: &'static str, value: Msg) -> Msg {
        self.args.push((Cow::Borrowed(name), Arg::Msg(value)));
        self
    }

    /// Fills `{name}` with words for a reader: a text of the catalogue in the same language, or
    /// an English sentence quoted as such.
    pub fn with_said(self, name: &'static str, said: Said) -> Msg {
        match said {
            Said::Msg(m) => self.with_msg(name, m),
            Said::English(s) => self.quoting(name, s),
        }
    }

    /// Fills `{name}` with several texts, separated by "; ".
    pub fn with_msgs(mut self, name: &'static str, values: Vec<Msg>) -> Msg {
        self.args.push((Cow::Borrowed(name), Arg::Msgs(values)));
        self
    }

    /// The stable machine code: the key.
    pub fn code(&self) -> &'static str {
        self.key
    }

    /// Whether this text or one it contains is `key` (for tests and for choosing an outcome).
    pub fn mentions(&self, key: &str) -> bool {
        self.key == key
            || self.args.iter().any(|(_, arg)| match arg {
                Arg::Verbatim(_) | Arg::Quoted(_) => false,
                Arg::Msg(m) => m.mentions(key),
                Arg::Msgs(ms) => ms.iter().any(|m| m.mentions(key)),
            })
    }

    /// The message as data, to be stored and said later in another reader's language:
    /// `{"code": key, "args": {name: "verbatim" | {"code": ..} | [{"code": ..}, ..]}}`.
    pub fn to_json(&self) -> String {
        self.value().to_string()
    }

    fn value(&self) -> serde_json::Value {
        let args: serde_json::Map<String, serde_json::Value> = self
            .args
            .iter()
            .map(|(name, arg)| {
                let value = match arg {
                    Arg::Verbatim(v) => serde_json::Value::String(v.clone()),
                    Arg::Quoted(q) => serde_json::json!({ "quote": q }),
                    Arg::Msg(m) => m.value(),
                    Arg::Msgs(ms) => serde_json::Value::Array(ms.iter().map(Msg::value).collect()),
                };
                (name.to_string(), value)
            })
            .collect();
        serde_json::json!({ "code": self.key, "args": args })
    }

    /// A message stored with [`Msg::to_json`]; `None` when the text is not such a message or
    /// names a key this catalogue does not hold (written by another version).
    pub fn from_json(text: &str) -> Option<Msg> {
        Msg::of_value(&serde_json::from_str(text).ok()?)
    }

    fn of_value(value: &serde_json::Value) -> Option<Msg> {
        let code = value.get("code")?.as_str()?;
        let (key, _) = table(Lang::En).get_key_value(code)?;
        let mut msg = Msg { key: key.as_str(), args: Vec::new() };
        for (name, arg) in value.get("args")?.as_object()? {
            let arg = match arg {
                serde_json::Value::String(v) => Arg::Verbatim(v.clone()),
                serde_json::Value::Array(items) => Arg::Msgs(items.iter().map(Msg::of_value).collect::<Option<_>>()?),
                other => match other.get("quote").and_then(serde_json::Value::as_str) {
                    Some(q) => Arg::Quoted(q.to_owned()),
                    None => Arg::Msg(Msg::of_value(other)?),
                },
            };
            msg.args.push((Cow::Owned(name.clone()), arg));
        }
        Some(msg)
    }

    /// The text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        self.said(lang, &|text| text.to_owned(), &|text| text.to_owned())
    }

    /// The text in `lang` as HTML: escaped, and the words of other systems in a
    /// `<q lang="">` (their language is not known: not the page's).
    pub fn render_html(&self, lang: Lang) -> String {
        self.said(lang, &escape, &quote_html)
    }

    fn said(&self, lang: Lang, plain: &dyn Fn(&str) -> String, quote: &dyn Fn(&str) -> String) -> String {
        let t = T { lang };
        // The template's own words are escaped before the arguments go in, so that an
        // argument's text is never read as a placeholder or as markup.
        let mut text = plain(t.get(self.key));
        for (name, arg) in &self.args {
            let value = match arg {
                Arg::Verbatim(v) => plain(v),
                Arg::Quoted(q) => quote(q),
                Arg::Msg(m) => m.said(lang, plain, quote),
                Arg::Msgs(ms) => ms.iter().map(|m| m.said(lang, plain, quote)).collect::<Vec<_>>().join("; "),
            };
            text = text.replace(&format!("{{{name}}}"), &value);
        }
        text
    }
}

/// Another system's words, quoted, as HTML marked as not in the page's language: their
/// language is not known.
fn quote_html(text: &str) -> String {
    format!(r#"<q lang="" class="quoted">{}</q>"#, escape(text))
}

/// Words that are not in the catalogue (a record older than its message), as HTML marked as
/// not in the page's language.
pub fn foreign_html(text: &str) -> String {
    format!(r#"<span lang="">{}</span>"#, escape(text))
}

/// Words for a reader: a text of the catalogue, said in their language, or a sentence not yet in
/// the catalogue (an error of the domain still written in English), said as is and marked as
/// English where the reader reads another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// A text of the catalogue.
    Msg(Msg),
    /// An English sentence.
    English(String),
}

impl Said {
    /// The words in `lang`, as text.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Said::Msg(m) => m.render(lang),
            Said::English(s) => s.clone(),
        }
    }

    /// The words in `lang`, as HTML: English in a page of another language is marked `lang="en"`.
    pub fn html(&self, lang: Lang) -> String {
        match self {
            Said::Msg(m) => m.render_html(lang),
            Said::English(s) if lang == Lang::En => escape(s),
            Said::English(s) => format!(r#"<span lang="en">{}</span>"#, escape(s)),
        }
    }

    /// The stable machine code, when the words are the catalogue's.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Said::Msg(m) => Some(m.code()),
            Said::English(_) => None,
        }
    }
}

impl From<Msg> for Said {
    fn from(m: Msg) -> Said {
        Said::Msg(m)
    }
}

impl From<String> for Said {
    fn from(s: String) -> Said {
        Said::English(s)
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// English, for logs and errors that reach no reader of another language.
impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
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

    /// A message in this language.
    pub fn msg(&self, msg: &Msg) -> String {
        msg.render(self.lang)
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

    /// A moment in `time_zone` as people of this language read it: `Tue 2026-11-22 04:00 CET
    /// (+01:00)` in English, `mar 2026-11-22 04:00 CET (+01:00)` in Spanish. The date stays in
    /// ISO order, which both read without doubt.
    pub fn moment(&self, at: &jiff::Zoned) -> String {
        let day = self.of("day_short", &at.weekday().to_sunday_zero_offset().to_string());
        format!("{day} {}", at.strftime("%Y-%m-%d %H:%M %Z (%:z)"))
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
        format!("{words} ({time_zone})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_message_reads_back_the_same_and_an_unknown_key_reads_as_none() {
        let msg = Msg::new("field.drill_schedule.invalid")
            .with_msg("problem", Msg::new("cron.empty"))
            .with("name", "ledger \"x\"")
            .with_msgs("all", vec![Msg::new("cron.empty"), Msg::new("cron.empty")]);
        let back = Msg::from_json(&msg.to_json()).expect("reads back");
        assert_eq!(back.render(Lang::Es), msg.render(Lang::Es));
        assert_eq!(back.to_json(), msg.to_json());
        assert_eq!(back.code(), "field.drill_schedule.invalid");
        assert!(Msg::from_json(r#"{"code":"no.such.key","args":{}}"#).is_none());
        assert!(Msg::from_json("the app refused the token").is_none());
        let quoted = Msg::new("field.drill_schedule.invalid").quoting("problem", "<b>cut</b> & {name}");
        let back = Msg::from_json(&quoted.to_json()).expect("reads back");
        assert_eq!(back.render(Lang::En), quoted.render(Lang::En));
        let html = back.render_html(Lang::Es);
        assert!(html.contains(r#"<q lang="" class="quoted">&lt;b&gt;cut&lt;/b&gt; &amp; {name}</q>"#), "{html}");
    }

    #[test]
    fn a_message_renders_with_its_arguments_in_each_language() {
        let inner = Msg::new("cron.empty");
        let msg = Msg::new("field.drill_schedule.invalid").with_msg("problem", inner.clone());
        assert!(msg.mentions("cron.empty"));
        assert_eq!(msg.code(), "field.drill_schedule.invalid");
        for lang in Lang::ALL {
            let said = msg.render(lang);
            assert!(said.contains(&inner.render(lang)), "{said}");
            assert!(!said.contains('{'), "{said}");
        }
    }

    #[test]
    fn a_terminal_speaks_spanish_when_its_locale_is_spanish() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(Lang::of_locale(env(&[])), Lang::En);
        assert_eq!(Lang::of_locale(env(&[("LANG", "es_ES.UTF-8")])), Lang::Es);
        assert_eq!(Lang::of_locale(env(&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "C")])), Lang::En);
        assert_eq!(Lang::of_locale(env(&[("LANG", "es_MX"), ("LC_ALL", "")])), Lang::Es);
    }

    #[test]
    fn moments_name_the_weekday_in_the_reader_s_language() {
        let at: jiff::Zoned = "2026-11-24T04:00:00+01:00[Europe/Madrid]".parse().unwrap();
        assert_eq!(T { lang: Lang::En }.moment(&at), "Tue 2026-11-24 04:00 CET (+01:00)");
        assert_eq!(T { lang: Lang::Es }.moment(&at), "mar 2026-11-24 04:00 CET (+01:00)");
    }
}
