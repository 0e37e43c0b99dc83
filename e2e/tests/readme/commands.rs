//! The shell commands a Markdown file gives, as a reader types them: every ```bash block, lines
//! joined at a trailing backslash, comments dropped, cut into simple commands at `&&`, `||`,
//! `|`, `;` and `$( )`, each split into words as the shell splits them (shlex), leading
//! `NAME=value` words (and `export`'s) taken as the variables it sets, redirections left out.

use std::fmt;

/// One simple command of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `README.md:123`, for messages.
    pub place: String,
    /// The variables it sets, in order.
    pub assignments: Vec<(String, String)>,
    /// The program and its arguments.
    pub words: Vec<String>,
}

impl Command {
    pub fn program(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// Whether the program and its first arguments are `prefix` (`["helm", "template"]`).
    pub fn starts_with(&self, prefix: &[&str]) -> bool {
        self.words.len() >= prefix.len() && self.words.iter().zip(prefix).all(|(w, p)| w == p)
    }

    /// The values of an option given as `--name value` or `--name=value` (or its short form).
    pub fn option_values(&self, names: &[&str]) -> Vec<&str> {
        let mut values = Vec::new();
        let mut words = self.args().iter();
        while let Some(word) = words.next() {
            if names.contains(&word.as_str()) {
                if let Some(value) = words.next() {
                    values.push(value.as_str());
                }
            } else if let Some((name, value)) = word.split_once('=')
                && names.contains(&name)
            {
                values.push(value);
            }
        }
        values
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let assignments = self
            .assignments
            .iter()
            .map(|(name, value)| format!("{name}={value}"));
        let words: Vec<String> = assignments.chain(self.words.iter().cloned()).collect();
        write!(f, "{}: {}", self.place, words.join(" "))
    }
}

/// Every simple command of the ```bash (or sh, shell) blocks of `markdown`; `file` names it in
/// [`Command::place`].
pub fn commands(file: &str, markdown: &str) -> Vec<Command> {
    let mut found = Vec::new();
    let mut block: Option<Vec<(usize, String)>> = None;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        let fence = line.trim_start().strip_prefix("```");
        match (&mut block, fence) {
            (None, Some(language)) if ["bash", "sh", "shell"].contains(&language.trim()) => {
                block = Some(Vec::new());
            }
            (Some(lines), Some(_)) => {
                lines.extend(pending.take());
                for (start, text) in lines.drain(..) {
                    found.extend(simple_commands(&format!("{file}:{start}"), &text));
                }
                block = None;
            }
            (Some(lines), None) => {
                let (start, mut text) = pending.take().unwrap_or((number, String::new()));
                match line.strip_suffix('\\') {
                    Some(continued) => {
                        text.push_str(continued);
                        pending = Some((start, text));
                    }
                    None => {
                        text.push_str(line);
                        lines.push((start, text));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The simple commands of one command line (continuations joined).
pub fn simple_commands(place: &str, line: &str) -> Vec<Command> {
    let mut pieces = Vec::new();
    cut(line, &mut pieces);
    pieces
        .into_iter()
        .filter_map(|piece| shlex::split(&piece))
        .filter_map(|words| command(place, words))
        .collect()
}

/// Cuts `text` at the shell's list and pipe operators outside quotes, taking each `$( )` out as
/// a command of its own (its place in the outer command keeps a stand-in word), and drops
/// comments.
fn cut(text: &str, pieces: &mut Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        match (quote, c) {
            (Some(open), c) if c == open => {
                quote = None;
                current.push(c);
            }
            (Some('\''), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (_, '$') if next == Some('(') => {
                let (inner, end) = substitution(&chars, index + 2);
                cut(&inner, pieces);
                current.push_str("SUBSTITUTED");
                index = end;
            }
            (None, '#') if current.is_empty() || current.ends_with(char::is_whitespace) => break,
            (None, '&') if next == Some('&') => {
                pieces.push(std::mem::take(&mut current));
                index += 1;
            }
            (None, '|') => {
                pieces.push(std::mem::take(&mut current));
                if next == Some('|') {
                    index += 1;
                }
            }
            (None, ';') => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
        index += 1;
    }
    pieces.push(current);
}

/// The text of a `$(` starting at `start`, up to its matching `)`, and the index of that `)`.
fn substitution(chars: &[char], start: usize) -> (String, usize) {
    let mut depth = 1;
    let mut index = start;
    while index < chars.len() {
        match chars[index] {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        index += 1;
    }
    (chars[start..index.min(chars.len())].iter().collect(), index)
}

fn command(place: &str, words: Vec<String>) -> Option<Command> {
    let mut words = words.into_iter().peekable();
    let mut assignments = Vec::new();
    let mut rest = Vec::new();
    let mut exporting = false;
    while let Some(word) = words.next() {
        if matches!(word.as_str(), ">" | ">>" | "<" | "2>" | "2>>") {
            words.next();
            continue;
        }
        if word.starts_with('>') || word.starts_with("2>") {
            continue;
        }
        if rest.is_empty() || exporting {
            if let Some(assignment) = assignment(&word) {
                assignments.push(assignment);
                continue;
            }
            if rest.is_empty() && word == "export" {
                exporting = true;
                continue;
            }
        }
        rest.push(word);
    }
    (!rest.is_empty() || !assignments.is_empty()).then(|| Command {
        place: place.to_owned(),
        assignments,
        words: rest,
    })
}

/// `NAME=value` with a shell variable name.
pub fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then(|| (name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &Command) -> Vec<&str> {
        command.words.iter().map(String::as_str).collect()
    }

    #[test]
    fn blocks_are_joined_at_backslashes_cut_at_operators_and_stripped_of_comments() {
        let markdown = "text\n```bash\nmake kind-up   # cluster; image (and chart)\n\
            DATABASE_URL=postgres://x \\\n  BETTER_AUTH_SECRET='a b' \\\n  cargo run -p backend\n\
            mkdir -p /tmp/r && helm template a charts/x > /tmp/r/d.yaml && trivy config /tmp/r\n\
            ```\n```yaml\nnot: a command\n```\n";
        let found = commands("R.md", markdown);
        let listed: Vec<Vec<&str>> = found.iter().map(words).collect();
        assert_eq!(
            listed,
            [
                vec!["make", "kind-up"],
                vec!["cargo", "run", "-p", "backend"],
                vec!["mkdir", "-p", "/tmp/r"],
                vec!["helm", "template", "a", "charts/x"],
                vec!["trivy", "config", "/tmp/r"],
            ]
        );
        assert_eq!(found[1].place, "R.md:4");
        assert_eq!(
            found[1].assignments,
            [
                ("DATABASE_URL".to_owned(), "postgres://x".to_owned()),
                ("BETTER_AUTH_SECRET".to_owned(), "a b".to_owned()),
            ]
        );
    }

    #[test]
    fn substitutions_are_commands_of_their_own_and_quotes_keep_operators() {
        let found = simple_commands(
            "R.md:1",
            r#"TOKEN=$(make -s token SUB=me); curl -H "a | b" -d '{"x": 1; }' url"#,
        );
        let listed: Vec<Vec<&str>> = found.iter().map(words).collect();
        assert_eq!(
            listed,
            [
                vec!["make", "-s", "token", "SUB=me"],
                vec![],
                vec!["curl", "-H", "a | b", "-d", r#"{"x": 1; }"#, "url"],
            ]
        );
        assert_eq!(found[1].assignments[0].0, "TOKEN");
    }

    #[test]
    fn export_sets_variables_and_options_are_read_both_ways() {
        let found = simple_commands("R.md:1", "export A=1 B=2");
        assert_eq!(found[0].assignments.len(), 2);
        assert!(found[0].words.is_empty());
        let helm = &simple_commands("R.md:1", "helm template t c -f one.yaml --values=two.yaml")[0];
        assert_eq!(
            helm.option_values(&["-f", "--values"]),
            ["one.yaml", "two.yaml"]
        );
        assert!(helm.starts_with(&["helm", "template"]));
    }
}
