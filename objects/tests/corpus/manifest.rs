//! Reads the expected verdicts out of the corpus folders' MANIFEST.md files: their
//! markdown tables (file column, "expected" column) and the BBN `bad*`/`good*`
//! naming convention. Generic: a new file or folder needs no code change.

use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    /// Decodes, but a later check against an issuer or a time fails.
    DecodeOk,
    /// The manifest gives no usable verdict (reference data, scenarios, prose).
    None,
}

pub struct Row {
    patterns: Vec<String>,
    pub verdict: Verdict,
    pub description: String,
}

/// Parse every table of a MANIFEST.md into rows with expanded file patterns.
pub fn parse(text: &str, folder: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut header: Option<(usize, Option<usize>, Option<usize>)> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            prefixes = line
                .split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')')
                .filter(|t| t.ends_with('/') && t.len() > 1 && folder.join(t).is_dir())
                .map(str::to_string)
                .collect();
            header = None;
            continue;
        }
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells = split_cells(line);
        let Some((file_col, exp_col, desc_col)) = header else {
            let lower: Vec<String> = cells.iter().map(|c| c.to_lowercase()).collect();
            let file_col = lower.iter().position(|c| c.contains("file")).unwrap_or(0);
            let exp_col = lower.iter().position(|c| c.starts_with("expected"));
            let desc_col = lower.iter().position(|c| c.contains("what") || c.contains("content") || c.contains("scenario"));
            header = Some((file_col, exp_col, desc_col));
            continue;
        };
        if cells.iter().all(|c| c.chars().all(|ch| matches!(ch, '-' | ':' | ' '))) {
            continue;
        }
        let cell = cells.get(file_col).cloned().unwrap_or_default();
        let expected = exp_col.and_then(|i| cells.get(i)).cloned().unwrap_or_default();
        let description = desc_col.and_then(|i| cells.get(i)).cloned().unwrap_or_default();
        let scenario = cell.contains(" + ");
        let verdict = if scenario || exp_col.is_none() { Verdict::None } else { verdict(&expected) };
        let mut patterns = Vec::new();
        for p in expand_cell(&cell) {
            patterns.push(p.clone());
            for pre in &prefixes {
                patterns.push(format!("{pre}{p}"));
            }
        }
        // "valid except `x.tal` (INVALID)": the named files get the opposite verdict.
        if let Some(i) = expected.find("valid except") {
            let names: Vec<String> = expected[i..].split('`').skip(1).step_by(2).map(str::to_string).collect();
            rows.push(Row {
                patterns: names.iter().map(|n| format!("*{n}")).collect(),
                verdict: Verdict::Invalid,
                description: description.clone(),
            });
        }
        rows.push(Row { patterns, verdict, description });
    }
    rows
}

fn split_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut prev = ' ';
    for ch in line.trim().trim_start_matches('|').chars() {
        if ch == '|' && prev != '\\' {
            cells.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(ch);
        }
        prev = ch;
    }
    if !cur.trim().is_empty() {
        cells.push(cur.trim().to_string());
    }
    cells
}

/// The verdict words of an "expected" cell (most specific phrasing first).
pub fn verdict(e: &str) -> Verdict {
    let t = e.trim_start();
    if t.starts_with("decodes") || t.starts_with("CMS decodes") {
        if t.contains("strict") {
            return Verdict::Invalid;
        }
        if t.contains("FAIL") || t.contains("INVALID") || t.contains("REJECT") {
            return Verdict::DecodeOk;
        }
        return Verdict::Valid;
    }
    if t.contains("accepted only with") || t.contains("strictly INVALID") {
        return Verdict::Invalid;
    }
    if t.starts_with("valid") && (t.contains("; INVALID with") || t.contains("; INVALID at")) {
        return Verdict::Valid;
    }
    if t.contains("Arguably INVALID") || t.contains("would reject") {
        return Verdict::None;
    }
    if ["INVALID", "MALFORMED", "REJECT", "must reject", "must be reject", "must fail"].iter().any(|w| t.contains(w)) {
        return Verdict::Invalid;
    }
    let lower = t.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if words.iter().any(|w| matches!(*w, "valid" | "parse" | "parses" | "accepted" | "accepts" | "recognised")) {
        return Verdict::Valid;
    }
    Verdict::None
}

/// Expand a file cell into glob patterns (R2 of the corpus survey): lists,
/// braces, `[bad|good]`, numeric slash lists, `a .. -4` ranges, ellipses.
fn expand_cell(cell: &str) -> Vec<String> {
    let mut s = cell.replace('`', "");
    while let (Some(a), Some(b)) = (s.find('('), s.find(')')) {
        if b < a {
            break;
        }
        s.replace_range(a..=b, "");
    }
    let mut items = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let sep3 = |pat: &str| chars[i..].iter().take(3).collect::<String>() == pat;
        if c == '{' || c == '[' {
            depth += 1;
        } else if c == '}' || c == ']' {
            depth -= 1;
        }
        if depth == 0 && (c == ',' || sep3(" + ") || sep3(" / ")) {
            items.push(std::mem::take(&mut cur));
            i += if c == ',' { 1 } else { 3 };
            continue;
        }
        cur.push(c);
        i += 1;
    }
    items.push(cur);
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<String> = None;
    for item in items {
        let word = item.split_whitespace().next().unwrap_or("").to_string();
        if word.is_empty() {
            continue;
        }
        let mut word = word.replace("...", "*");
        // Range: "name-1.tal .. -4.tal" is written as one item with "..".
        if let Some((a, b)) = item.split_once(" .. ") {
            out.extend(expand_range(a.trim(), b.trim()));
            continue;
        }
        if word.starts_with('.') {
            if let Some(p) = &prev {
                word = format!("{}{}", p.rsplit_once('.').map(|x| x.0).unwrap_or(p), word);
            }
        } else if !word.contains('/') {
            if let Some(dir) = prev.as_ref().and_then(|p| p.rsplit_once('/')).map(|x| x.0) {
                word = format!("{dir}/{word}");
            }
        }
        prev = Some(word.clone());
        out.extend(expand_alternatives(&word));
    }
    out
}

fn expand_range(a: &str, b: &str) -> Vec<String> {
    let num_end = |s: &str| -> Option<(String, u32, String)> {
        let (stem, ext) = s.rsplit_once('.')?;
        let digits: String = stem.chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
        let n = digits.parse().ok()?;
        Some((stem[..stem.len() - digits.len()].to_string(), n, ext.to_string()))
    };
    match (num_end(a), num_end(b)) {
        (Some((pre, lo, ext)), Some((_, hi, _))) if lo <= hi && hi - lo < 1000 => (lo..=hi).map(|n| format!("{pre}{n}.{ext}")).collect(),
        _ => vec![a.to_string()],
    }
}

fn expand_alternatives(w: &str) -> Vec<String> {
    for (open, close, sep) in [('{', '}', ','), ('[', ']', '|')] {
        if let (Some(a), Some(b)) = (w.find(open), w.find(close)) {
            if a < b {
                let (pre, alts, post) = (&w[..a], &w[a + 1..b], &w[b + 1..]);
                return alts.split(sep).flat_map(|alt| expand_alternatives(&format!("{pre}{alt}{post}"))).collect();
            }
        }
    }
    // "name.170/171/205.der": numeric alternatives separated by slashes.
    if let Some((stem, ext)) = w.rsplit_once('.') {
        if let Some((base, nums)) = stem.split_once('.') {
            if nums.contains('/') && nums.split('/').all(|n| n.chars().all(|c| c.is_ascii_digit())) {
                return nums.split('/').map(|n| format!("{base}.{n}.{ext}")).collect();
            }
        }
    }
    vec![w.to_string()]
}

/// Glob match where `*` does not cross `/`.
pub fn glob(p: &str, s: &str) -> bool {
    let (p, s) = (p.as_bytes(), s.as_bytes());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some(st) = star.filter(|_| s[mark] != b'/') {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// The most specific row matching `rel` (exactly, or as a path suffix).
pub fn lookup<'a>(rows: &'a [Row], rel: &str) -> Option<&'a Row> {
    let mut best: Option<(&Row, usize)> = None;
    for row in rows {
        for p in &row.patterns {
            let hit = glob(p, rel) || rel.char_indices().any(|(i, c)| c == '/' && glob(p, &rel[i + 1..]));
            if hit {
                let spec = p.chars().filter(|c| *c != '*').count();
                if best.is_none_or(|(_, s)| spec > s) {
                    best = Some((row, spec));
                }
            }
        }
    }
    best.map(|(r, _)| r)
}

/// BBN convention: `bad*` must be rejected, `good*` accepted (R6).
pub fn by_name(file_name: &str) -> Option<Verdict> {
    let next_is_upper = |rest: &str| rest.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c == '_' || c == '-');
    if let Some(r) = file_name.strip_prefix("bad").or_else(|| file_name.strip_prefix("BAD")) {
        return next_is_upper(r).then_some(Verdict::Invalid);
    }
    if let Some(r) = file_name.strip_prefix("good").or_else(|| file_name.strip_prefix("GOOD")) {
        return next_is_upper(r).then_some(Verdict::Valid);
    }
    None
}
