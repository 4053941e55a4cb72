//! The `q` search language of files.list ("Search for files and folders"), the part a backup tool uses:
//! `'<id>' in parents`, `'<email>' in owners`, `trashed = false`, `starred = false`, `name = / != / contains`,
//! `mimeType = / != / contains`, `fullText contains`, `createdTime` / `modifiedTime` comparisons,
//! `appProperties has { key='k' and value='v' }` (and `properties has`), joined by `and`, `or`, `not`, parentheses.

use crate::clock::parse_rfc3339;
use crate::state::Item;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    InParents(String),
    InOwners(String),
    Text { field: TextField, op: Op, value: String },
    Flag { field: FlagField, op: Op, value: bool },
    Time { field: TimeField, op: Op, ms: i64 },
    Has { app: bool, key: String, value: String },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TextField {
    Name,
    MimeType,
    FullText,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FlagField {
    Trashed,
    Starred,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TimeField {
    Created,
    Modified,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

/// What an expression is evaluated against: the item and its effective trashed state.
pub(crate) struct Candidate<'a> {
    pub(crate) item: &'a Item,
    pub(crate) trashed: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Word(String),
    Op(Op),
    Open,
    Close,
    OpenBrace,
    CloseBrace,
}

/// Any syntax or term the double does not know is refused, as Google refuses what it does not support.
pub(crate) fn parse(text: &str) -> Result<Expr, ()> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err(());
    }
    Ok(expr)
}

fn tokenize(text: &str) -> Result<Vec<Token>, ()> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(()),
                        Some('\\') => {
                            // `\'` and `\\` are the documented escapes.
                            value.push(*chars.get(i + 1).ok_or(())?);
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(value));
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '{' => {
                tokens.push(Token::OpenBrace);
                i += 1;
            }
            '}' => {
                tokens.push(Token::CloseBrace);
                i += 1;
            }
            '=' => {
                tokens.push(Token::Op(Op::Eq));
                i += 1;
            }
            '!' | '<' | '>' => {
                let next_is_eq = chars.get(i + 1) == Some(&'=');
                let op = match (c, next_is_eq) {
                    ('!', true) => Op::Ne,
                    ('<', true) => Op::Le,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    ('>', false) => Op::Gt,
                    _ => return Err(()),
                };
                tokens.push(Token::Op(op));
                i += if next_is_eq { 2 } else { 1 };
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let start = i;
                while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(()),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), ()> {
        if self.peek_keyword(keyword) {
            self.pos += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    fn expect(&mut self, token: Token) -> Result<(), ()> {
        if self.next() == Some(token) { Ok(()) } else { Err(()) }
    }

    fn string(&mut self) -> Result<String, ()> {
        match self.next() {
            Some(Token::Str(s)) => Ok(s),
            _ => Err(()),
        }
    }

    fn or(&mut self) -> Result<Expr, ()> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ()> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ()> {
        if self.peek_keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.tokens.get(self.pos) == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            self.expect(Token::Close)?;
            return Ok(inner);
        }
        self.term()
    }

    fn term(&mut self) -> Result<Expr, ()> {
        match self.next().ok_or(())? {
            Token::Str(value) => {
                self.expect_keyword("in")?;
                match self.next() {
                    Some(Token::Word(w)) if w == "parents" => Ok(Expr::InParents(value)),
                    Some(Token::Word(w)) if w == "owners" => Ok(Expr::InOwners(value)),
                    _ => Err(()),
                }
            }
            Token::Word(field) => match field.as_str() {
                "appProperties" | "properties" => {
                    self.expect_keyword("has")?;
                    self.expect(Token::OpenBrace)?;
                    self.expect_keyword("key")?;
                    self.expect(Token::Op(Op::Eq))?;
                    let key = self.string()?;
                    self.expect_keyword("and")?;
                    self.expect_keyword("value")?;
                    self.expect(Token::Op(Op::Eq))?;
                    let value = self.string()?;
                    self.expect(Token::CloseBrace)?;
                    Ok(Expr::Has { app: field == "appProperties", key, value })
                }
                "name" | "mimeType" | "fullText" => {
                    let op = self.operator()?;
                    let field = match field.as_str() {
                        "name" => TextField::Name,
                        "mimeType" => TextField::MimeType,
                        _ => TextField::FullText,
                    };
                    let allowed = match field {
                        TextField::FullText => matches!(op, Op::Contains),
                        _ => matches!(op, Op::Eq | Op::Ne | Op::Contains),
                    };
                    if !allowed {
                        return Err(());
                    }
                    Ok(Expr::Text { field, op, value: self.string()? })
                }
                "trashed" | "starred" => {
                    let op = self.operator()?;
                    if !matches!(op, Op::Eq | Op::Ne) {
                        return Err(());
                    }
                    let value = match self.next() {
                        Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => true,
                        Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => false,
                        _ => return Err(()),
                    };
                    let field = if field == "trashed" { FlagField::Trashed } else { FlagField::Starred };
                    Ok(Expr::Flag { field, op, value })
                }
                "createdTime" | "modifiedTime" => {
                    let op = self.operator()?;
                    if op == Op::Contains {
                        return Err(());
                    }
                    let ms = parse_rfc3339(&self.string()?).ok_or(())?;
                    let field = if field == "createdTime" { TimeField::Created } else { TimeField::Modified };
                    Ok(Expr::Time { field, op, ms })
                }
                _ => Err(()),
            },
            _ => Err(()),
        }
    }

    fn operator(&mut self) -> Result<Op, ()> {
        match self.next() {
            Some(Token::Op(op)) => Ok(op),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("contains") => Ok(Op::Contains),
            _ => Err(()),
        }
    }
}

/// Drive documents `name contains` as prefix matching; in practice it matches a prefix of the name or of any
/// word in it, ignoring case, which is what is implemented here.
fn name_contains(name: &str, needle: &str) -> bool {
    let name = name.to_lowercase();
    let needle = needle.to_lowercase();
    if name.starts_with(&needle) {
        return true;
    }
    name.char_indices()
        .any(|(i, c)| !c.is_alphanumeric() && name[i + c.len_utf8()..].starts_with(&needle) && !needle.is_empty())
}

fn compare<T: PartialOrd>(left: T, op: Op, right: T) -> bool {
    match op {
        Op::Eq => left == right,
        Op::Ne => left != right,
        Op::Lt => left < right,
        Op::Le => left <= right,
        Op::Gt => left > right,
        Op::Ge => left >= right,
        Op::Contains => false,
    }
}

pub(crate) fn matches(expr: &Expr, candidate: &Candidate<'_>) -> bool {
    let item = candidate.item;
    match expr {
        Expr::And(a, b) => matches(a, candidate) && matches(b, candidate),
        Expr::Or(a, b) => matches(a, candidate) || matches(b, candidate),
        Expr::Not(inner) => !matches(inner, candidate),
        Expr::InParents(id) => item.parents.iter().any(|p| p == id),
        Expr::InOwners(email) => item.drive_id.is_none() && item.owner == *email,
        Expr::Text { field: TextField::FullText, value, .. } => {
            let needle = value.to_lowercase();
            item.name.to_lowercase().contains(&needle)
                || item.description.as_deref().is_some_and(|d| d.to_lowercase().contains(&needle))
        }
        Expr::Text { field, op, value } => {
            let subject = if *field == TextField::Name { &item.name } else { &item.mime_type };
            match op {
                Op::Contains if *field == TextField::Name => name_contains(subject, value),
                Op::Contains => subject.contains(value.as_str()),
                op => compare(subject.as_str(), *op, value.as_str()),
            }
        }
        Expr::Flag { field, op, value } => {
            let actual = match field {
                FlagField::Trashed => candidate.trashed,
                FlagField::Starred => false,
            };
            compare(actual, *op, *value)
        }
        Expr::Time { field, op, ms } => {
            let actual = if *field == TimeField::Created { item.created_ms } else { item.modified_ms };
            compare(actual, *op, *ms)
        }
        Expr::Has { app, key, value } => {
            let map = if *app { &item.app_properties } else { &item.properties };
            map.get(key).is_some_and(|v| v == value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typical_queries() {
        let q = concat!(
            r"'abc' in parents and trashed = false and name contains 'it\'s' and ",
            r"appProperties has { key='app' and value='billing' } and mimeType != 'application/vnd.google-apps.folder'"
        );
        assert!(parse(q).is_ok());
        assert!(parse("not (name = 'a' or name = 'b') and createdTime > '2024-01-01T00:00:00Z'").is_ok());
    }

    #[test]
    fn refuses_unknown_syntax() {
        for q in ["name == 'a'", "'a' in children", "trashed = 'false'", "size > 3", "name = \"a\"", "name = 'a"] {
            assert!(parse(q).is_err(), "{q}");
        }
    }

    #[test]
    fn name_contains_matches_word_prefixes() {
        assert!(name_contains("billing-2024-05-01.sql.gz", "billing"));
        assert!(name_contains("Hello World", "wor"));
        assert!(!name_contains("HelloWorld", "World"));
    }
}
