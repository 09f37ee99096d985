//! keepalived.conf's words and blocks: lines split into words (quotes,
//! comments, `@ID` conditionals), `include` globs followed within the
//! bounds, and `{ … }` nested into a tree of nodes.

use super::*;

/// One word of the configuration, with where it stands.
#[derive(Debug, Clone)]
pub(super) struct Word {
    pub(super) text: String,
    pub(super) file: usize,
    pub(super) line: u32,
}

/// A statement: a keyword, its arguments and, for a block, its statements.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) word: Word,
    pub(super) args: Vec<String>,
    pub(super) block: Option<Vec<Node>>,
}

pub(super) struct Reader<'a> {
    /// `-i ID` of keepalived: which `@ID` lines apply.
    pub(super) config_id: Option<&'a str>,
    pub(super) files: Vec<String>,
    pub(super) words: Vec<Word>,
    /// Canonical paths of the files being read (include loop detection).
    pub(super) stack: Vec<PathBuf>,
    pub(super) skipped_conditional: std::collections::BTreeSet<String>,
}

impl Reader<'_> {
    pub(super) fn read_file(&mut self, path: &Path, from: Option<&At>) -> Result<(), Error> {
        let shown = crate::text::sanitize(&path.display().to_string());
        let whence = from.map_or(String::new(), |a| format!(" (included at {a})"));
        if self.files.len() >= MAX_FILES {
            return Err(Error(format!("{shown}{whence}: more than {MAX_FILES} files included; is an include pattern too wide?")));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error(format!(
                "{shown}{whence}: includes nested more than {MAX_DEPTH} deep"
            )));
        }
        let canon = std::fs::canonicalize(path).map_err(|e| {
            Error(format!(
                "{shown}{whence}: cannot read keepalived configuration: {e}"
            ))
        })?;
        if self.stack.contains(&canon) {
            return Err(Error(format!(
                "{shown}{whence}: include loop: the file includes itself"
            )));
        }
        let meta = std::fs::metadata(&canon).map_err(|e| {
            Error(format!(
                "{shown}{whence}: cannot read keepalived configuration: {e}"
            ))
        })?;
        if !meta.is_file() {
            return Err(Error(format!("{shown}{whence}: not a file")));
        }
        if meta.len() > MAX_FILE {
            return Err(Error(format!(
                "{shown}{whence}: {} bytes is not a keepalived configuration (at most {} MiB)",
                meta.len(),
                MAX_FILE >> 20
            )));
        }
        let bytes = std::fs::read(&canon).map_err(|e| {
            Error(format!(
                "{shown}{whence}: cannot read keepalived configuration: {e}"
            ))
        })?;
        if bytes.iter().take(4096).any(|&b| b == 0) {
            return Err(Error(format!(
                "{shown}{whence}: binary data, not a keepalived configuration"
            )));
        }
        let text = String::from_utf8_lossy(&bytes);
        self.files.push(path.display().to_string());
        let idx = self.files.len() - 1;
        self.stack.push(canon);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let r = self.words_of(&text, idx, Some(&dir));
        self.stack.pop();
        r
    }

    /// Splits `text` into words, applying conditionals and includes.
    pub(super) fn words_of(
        &mut self,
        text: &str,
        file: usize,
        dir: Option<&Path>,
    ) -> Result<(), Error> {
        for (n, raw) in text.lines().enumerate() {
            let line = u32::try_from(n + 1).unwrap_or(u32::MAX);
            let mut l = raw.trim_start();
            // @ID / @^ID conditional lines.
            if let Some(rest) = l.strip_prefix('@') {
                let (cond, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let (negate, id) = match cond.strip_prefix('^') {
                    Some(id) => (true, id),
                    None => (false, cond),
                };
                let matches = self.config_id == Some(id);
                if matches == negate {
                    if !negate && self.config_id.is_none() {
                        self.skipped_conditional.insert(crate::text::sanitize(id));
                    }
                    continue;
                }
                l = body.trim_start();
            }
            let words = split_words(l);
            if words.first().map(String::as_str) == Some("include") {
                let at = At {
                    file: self.files[file].clone(),
                    line,
                };
                let Some(pattern) = words.get(1) else {
                    continue;
                };
                let Some(dir) = dir else {
                    continue;
                };
                self.include(dir, pattern, &at)?;
                continue;
            }
            for w in words {
                if self.words.len() >= MAX_WORDS {
                    return Err(Error(format!(
                        "{}:{line}: more than {MAX_WORDS} words: not a keepalived configuration",
                        crate::text::sanitize(&self.files[file])
                    )));
                }
                self.words.push(Word {
                    text: w,
                    file,
                    line,
                });
            }
        }
        Ok(())
    }

    pub(super) fn include(&mut self, dir: &Path, pattern: &str, at: &At) -> Result<(), Error> {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            dir.join(pattern)
        };
        let Some(pat) = full.to_str() else {
            return Err(Error(format!(
                "{at}: include {}: not a UTF-8 path",
                crate::text::sanitize(pattern)
            )));
        };
        let paths = glob::glob(pat).map_err(|e| {
            Error(format!(
                "{at}: include {}: {e}",
                crate::text::sanitize(pattern)
            ))
        })?;
        let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        found.sort();
        for p in found {
            self.read_file(&p, Some(at))?;
        }
        Ok(())
    }

    /// Builds the statement tree; braces must balance.
    pub(super) fn tree(&self) -> Result<Vec<Node>, Error> {
        let at = |w: &Word| At {
            file: self.files[w.file].clone(),
            line: w.line,
        };
        // Stack of open blocks: (the statement that opened it, its children).
        let mut stack: Vec<(Option<Node>, Vec<Node>)> = vec![(None, Vec::new())];
        let mut i = 0;
        let words = &self.words;
        while i < words.len() {
            let w = &words[i];
            match w.text.as_str() {
                "{" => {
                    // A block with no keyword of its own (`{ a b }` lists):
                    // attached to the previous statement.
                    let (_, children) = stack.last_mut().expect("root");
                    let owner = children.pop().unwrap_or(Node {
                        word: w.clone(),
                        args: Vec::new(),
                        block: None,
                    });
                    stack.push((Some(owner), Vec::new()));
                    i += 1;
                }
                "}" => {
                    if stack.len() == 1 {
                        return Err(Error(format!("{}: '}}' closes no block", at(w))));
                    }
                    let (owner, children) = stack.pop().expect("open block");
                    let mut owner = owner.expect("block owner");
                    owner.block = Some(children);
                    stack.last_mut().expect("root").1.push(owner);
                    i += 1;
                }
                _ => {
                    // A statement: the keyword and the words up to the end
                    // of its line (or a brace).
                    let line = (w.file, w.line);
                    let mut args = Vec::new();
                    let mut j = i + 1;
                    while j < words.len()
                        && (words[j].file, words[j].line) == line
                        && words[j].text != "{"
                        && words[j].text != "}"
                    {
                        args.push(words[j].text.clone());
                        j += 1;
                    }
                    stack.last_mut().expect("root").1.push(Node {
                        word: w.clone(),
                        args,
                        block: None,
                    });
                    i = j;
                }
            }
        }
        if stack.len() > 1 {
            let (owner, _) = stack.pop().expect("open block");
            let w = owner.expect("block owner").word;
            return Err(Error(format!(
                "{}: '{{' of {} is never closed",
                at(&w),
                crate::text::sanitize(&w.text)
            )));
        }
        Ok(stack.pop().expect("root").1)
    }
}

/// Words of one line: blanks separate them, `{` and `}` are words of their
/// own, `"…"` keeps blanks, `#` and `!` start a comment.
pub(super) fn split_words(l: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in l.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                if !quoted {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ if quoted => cur.push(c),
            '#' | '!' => break,
            '{' | '}' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
