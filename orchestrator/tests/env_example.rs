//! `.env.example` lists exactly the settings the code reads: every variable read through
//! `Env` (and `LOG`) is in the file, and every variable in the file is read somewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Names passed to the readers of settings, outside test modules.
fn read_by_code() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // A call broken over lines by rustfmt reads as one: `(` then the name's quote.
        let code = join_calls(text.split("#[cfg(test)]").next().unwrap());
        let code = code.as_str();
        for reader in [
            "env.get(\"",
            "env.number(\"",
            "env.number_in(\"",
            "env.secret(\"",
            "secs(\"",
            "try_from_env(\"",
            "url_setting(\"",
            "std::env::var(\"",
        ] {
            for piece in code.split(reader).skip(1) {
                let name: String =
                    piece.chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
                if !name.is_empty() && piece[name.len()..].starts_with('"') {
                    names.insert(name);
                }
            }
        }
    }
    names
}

fn in_example() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.env.example")).unwrap();
    text.lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn every_setting_the_code_reads_is_in_env_example_and_nothing_else() {
    let code = read_by_code();
    let example = in_example();
    assert!(code.len() > 30, "the scan found the settings ({code:?})");
    let missing: Vec<&String> = code.difference(&example).collect();
    let unused: Vec<&String> = example.difference(&code).collect();
    assert!(missing.is_empty(), "read by the code but not in .env.example: {missing:?}");
    assert!(unused.is_empty(), "in .env.example but read nowhere: {unused:?}");
}

/// `code` with the whitespace between an opening parenthesis and a string removed.
fn join_calls(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find('(') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let trimmed = rest.trim_start();
        if trimmed.starts_with('"') {
            rest = trimmed;
        }
    }
    out.push_str(rest);
    out
}
