//! Diagnostics as data: every problem found in a spec (or a weights file) is collected with its
//! file, byte span, message, label and hint, and rendered rustc-style on demand.

use std::fmt::Write as _;
use std::ops::Range;

/// A source file the compiler read, kept so that diagnostics can be rendered with line and column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user should see it (usually the path given on the command line or
    /// resolved by the macro).
    pub path: String,
    /// The full text of the file.
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The text of the 1-based line `line`, without its line terminator.
    pub fn line_text(&self, line: usize) -> &str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Path of the file the span points into.
    pub file: String,
    /// Byte range in that file (may be empty, e.g. for "missing key" errors pointing at a header).
    pub span: Range<usize>,
    /// The main message, e.g. "unknown key `strides`".
    pub message: String,
    /// A short label printed under the caret, e.g. "not a key of a `conv` layer".
    pub label: Option<String>,
    /// What would be valid, e.g. "valid keys: name, type, channels, ...".
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: file.to_string(),
            span,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Render in rustc's style:
    ///
    /// ```text
    /// error: unknown key `strides`
    ///   --> specs/x.toml:12:1
    ///    |
    /// 12 | strides = 2
    ///    | ^^^^^^^ not a key of a `conv` layer
    ///    |
    ///    = help: did you mean `stride`?
    /// ```
    pub fn render(&self, source: Option<&SourceFile>) -> String {
        let mut out = String::new();
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{kind}: {}", self.message);
        match source {
            Some(src) => {
                let (line, col) = src.line_col(self.span.start);
                let gutter = line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(out, "{pad}--> {}:{line}:{col}", self.file);
                let _ = writeln!(out, "{pad} |");
                let text = src.line_text(line);
                let _ = writeln!(out, "{line} | {text}");
                // Caret under the span, clipped to the first line of the span.
                let (end_line, end_col) = src.line_col(self.span.end);
                let width = if end_line == line && end_col > col {
                    end_col - col
                } else if end_line != line {
                    (text.chars().count() + 1).saturating_sub(col).max(1)
                } else {
                    1
                };
                let _ = write!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(width));
                if let Some(label) = &self.label {
                    let _ = write!(out, " {label}");
                }
                out.push('\n');
                if let Some(help) = &self.help {
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{pad} = help: {help}");
                }
            }
            None => {
                let _ = writeln!(out, "  --> {}", self.file);
                if let Some(label) = &self.label {
                    let _ = writeln!(out, "   = note: {label}");
                }
                if let Some(help) = &self.help {
                    let _ = writeln!(out, "   = help: {help}");
                }
            }
        }
        out
    }

    /// `path:line:col` of the start of the span.
    pub fn location(&self, source: &SourceFile) -> String {
        let (line, col) = source.line_col(self.span.start);
        format!("{}:{line}:{col}", self.file)
    }
}

/// A list of diagnostics plus the sources they point into.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    pub sources: Vec<SourceFile>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn add_source(&mut self, src: SourceFile) {
        if !self.sources.iter().any(|s| s.path == src.path) {
            self.sources.push(src);
        }
    }

    /// Order diagnostics by file and position (stable: equal positions keep their order), so
    /// that they read top to bottom like the file.
    pub fn sort(&mut self) {
        self.items
            .sort_by(|a, b| (a.file.as_str(), a.span.start).cmp(&(b.file.as_str(), b.span.start)));
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for s in other.sources {
            self.add_source(s);
        }
        self.items.extend(other.items);
    }

    fn source_for(&self, d: &Diagnostic) -> Option<&SourceFile> {
        self.sources.iter().find(|s| s.path == d.file)
    }

    /// Render every diagnostic in order, separated by blank lines, followed by a summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render(self.source_for(d)));
            out.push('\n');
        }
        let n = self.error_count();
        if n > 0 {
            let _ = writeln!(
                out,
                "error: aborting due to {n} previous error{}",
                if n == 1 { "" } else { "s" }
            );
        }
        out
    }

    /// `path:line:col: message` lines, one per diagnostic (handy for tests and grep).
    pub fn short(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|d| match self.source_for(d) {
                Some(src) => format!("{}: {}", d.location(src), d.message),
                None => format!("{}: {}", d.file, d.message),
            })
            .collect()
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for &c in candidates {
        let d = edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if d <= (c.len().max(word.len()) / 3).max(1) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_and_render() {
        let src = SourceFile::new("a.toml", "x = 1\n[[layer]]\nstrides = 2\n");
        let off = src.text.find("strides").unwrap();
        assert_eq!(src.line_col(off), (3, 1));
        let d = Diagnostic::error("a.toml", off..off + 7, "unknown key `strides`")
            .with_label("not a key of a `conv` layer")
            .with_help("did you mean `stride`?");
        let r = d.render(Some(&src));
        assert_eq!(
            r,
            "error: unknown key `strides`\n --> a.toml:3:1\n  |\n3 | strides = 2\n  | ^^^^^^^ not a key of a `conv` layer\n  |\n  = help: did you mean `stride`?\n"
        );
    }

    #[test]
    fn typo_suggestions() {
        assert_eq!(
            did_you_mean("strides", &["stride", "kernel"]),
            Some("stride")
        );
        assert_eq!(did_you_mean("zzz", &["stride", "kernel"]), None);
    }
}
