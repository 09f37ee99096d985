//! A view's own state, as a component: its selection, its scroll, its
//! filter, its sort order and whether its detail is open. The view's pane
//! takes the keys it understands and passes the rest on to the app (view
//! switching, pause, export, quit), as gitui's components do.

use crossterm::event::{KeyCode, KeyEvent};

/// What a view can do with its pane.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// `/` filters its rows.
    pub filter: bool,
    /// Enter opens a detail of the selected row.
    pub detail: bool,
    /// A text view: the keys scroll it instead of moving a selection.
    pub text: bool,
    /// Its sort orders (`s` cycles through them), the first the default.
    pub sorts: &'static [&'static str],
}

/// What the pane did with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken: nothing else sees it.
    Consumed,
    /// Taken, with a line for the status bar.
    Status(String),
    /// Not for the pane.
    Passed,
}

#[derive(Debug, Clone)]
pub struct Pane {
    pub caps: Caps,
    /// Selected row.
    pub selected: usize,
    /// Lines scrolled in its detail or text.
    pub scroll: u16,
    /// Columns its long text (summaries, histories, the detail) is
    /// scrolled left by: ← and → in every view.
    pub hscroll: u16,
    /// Every word must match (case-insensitive).
    pub filter: String,
    /// The filter is being typed.
    pub editing: bool,
    pub detail: bool,
    /// Index into `caps.sorts`.
    pub sort: usize,
}

/// Columns one ← or → scrolls.
const HSTEP: u16 = 8;
/// The furthest a view scrolls sideways.
const MAX_HSCROLL: u16 = 4096;

/// The longest filter accepted.
const MAX_FILTER: usize = 80;

impl Pane {
    pub fn new(caps: Caps) -> Pane {
        Pane {
            caps,
            selected: 0,
            scroll: 0,
            hscroll: 0,
            filter: String::new(),
            editing: false,
            detail: false,
            sort: 0,
        }
    }

    /// Whether `text` holds every word of the filter.
    pub fn matches(&self, text: &str) -> bool {
        let t = text.to_ascii_lowercase();
        self.filter
            .split_whitespace()
            .all(|w| t.contains(&w.to_ascii_lowercase()))
    }

    /// The current sort order's name, when the view has several.
    pub fn sort_name(&self) -> Option<&'static str> {
        (self.caps.sorts.len() > 1).then(|| self.caps.sorts[self.sort % self.caps.sorts.len()])
    }

    /// Sets the filter (as if typed) and shows the list from the top.
    pub fn set_filter(&mut self, f: &str) {
        self.filter = f.chars().take(MAX_FILTER).collect();
        self.selected = 0;
        self.detail = false;
        self.scroll = 0;
    }

    /// Handles a key; `rows` is the number of rows of its list as shown.
    pub fn on_key(&mut self, key: KeyEvent, rows: usize) -> Outcome {
        if self.editing {
            match key.code {
                KeyCode::Enter => self.editing = false,
                // Esc while typing: the filter is abandoned (asked for).
                KeyCode::Esc => {
                    self.editing = false;
                    self.set_filter("");
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                    self.selected = 0;
                }
                KeyCode::Char(c) if !c.is_control() && self.filter.len() < MAX_FILTER => {
                    self.filter.push(c);
                    self.selected = 0;
                }
                _ => {}
            }
            return Outcome::Consumed;
        }
        // ← and → scroll long text sideways, in every view and detail.
        match key.code {
            KeyCode::Right | KeyCode::Char('l') => {
                self.hscroll = self.hscroll.saturating_add(HSTEP).min(MAX_HSCROLL);
                return Outcome::Consumed;
            }
            KeyCode::Left | KeyCode::Char('h') => {
                self.hscroll = self.hscroll.saturating_sub(HSTEP);
                return Outcome::Consumed;
            }
            _ => {}
        }
        if self.detail || self.caps.text {
            let s = self.scroll;
            let scrolled = match key.code {
                KeyCode::Down | KeyCode::Char('j') => Some(s.saturating_add(1)),
                KeyCode::Up | KeyCode::Char('k') => Some(s.saturating_sub(1)),
                KeyCode::PageDown => Some(s.saturating_add(10)),
                KeyCode::PageUp => Some(s.saturating_sub(10)),
                KeyCode::Home | KeyCode::Char('g') => Some(0),
                _ => None,
            };
            if let Some(v) = scrolled {
                self.scroll = v;
                return Outcome::Consumed;
            }
        }
        if self.detail {
            // Esc (and Enter) close the detail first, and only that.
            if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                self.detail = false;
                self.scroll = 0;
                self.hscroll = 0;
                return Outcome::Consumed;
            }
            return Outcome::Passed;
        }
        if self.caps.text {
            return Outcome::Passed;
        }
        let last = rows.saturating_sub(1);
        let s = self.selected.min(last);
        self.selected = match key.code {
            KeyCode::Down | KeyCode::Char('j') => (s + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => s.saturating_sub(1),
            KeyCode::PageDown => (s + 10).min(last),
            KeyCode::PageUp => s.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            KeyCode::Enter if self.caps.detail && rows > 0 => {
                self.detail = true;
                self.scroll = 0;
                return Outcome::Consumed;
            }
            KeyCode::Char('/') if self.caps.filter => {
                self.editing = true;
                return Outcome::Consumed;
            }
            KeyCode::Char('s') if self.caps.sorts.len() > 1 => {
                self.sort = (self.sort + 1) % self.caps.sorts.len();
                self.selected = 0;
                return Outcome::Status(format!(
                    "sorted by {}",
                    self.sort_name().unwrap_or_default()
                ));
            }
            KeyCode::Esc if !self.filter.is_empty() => {
                return Outcome::Status(format!(
                    "filter \"{}\" kept: / then Esc clears it",
                    self.filter
                ));
            }
            _ => return Outcome::Passed,
        };
        Outcome::Consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    const LIST: Caps = Caps {
        filter: true,
        detail: true,
        text: false,
        sorts: &["severity", "code"],
    };

    #[test]
    fn esc_closes_the_detail_first_and_never_silently_clears_a_filter() {
        let mut p = Pane::new(LIST);
        p.on_key(key(KeyCode::Char('/')), 5);
        p.on_key(key(KeyCode::Char('x')), 5);
        p.on_key(key(KeyCode::Enter), 5);
        assert_eq!((p.filter.as_str(), p.editing), ("x", false));
        p.on_key(key(KeyCode::Down), 5);
        p.on_key(key(KeyCode::Enter), 5);
        assert!(p.detail);
        assert_eq!(p.on_key(key(KeyCode::Esc), 5), Outcome::Consumed);
        assert!(!p.detail);
        assert_eq!(p.selected, 1, "the selection stays");
        assert!(matches!(p.on_key(key(KeyCode::Esc), 5), Outcome::Status(_)));
        assert_eq!(p.filter, "x", "a filter goes only when asked");
        p.on_key(key(KeyCode::Char('/')), 5);
        p.on_key(key(KeyCode::Esc), 5);
        assert_eq!(p.filter, "");
        assert_eq!(p.on_key(key(KeyCode::Esc), 5), Outcome::Passed);
    }

    #[test]
    fn selection_stays_in_the_rows_and_sort_cycles() {
        let mut p = Pane::new(LIST);
        p.on_key(key(KeyCode::End), 3);
        assert_eq!(p.selected, 2);
        p.on_key(key(KeyCode::PageDown), 3);
        assert_eq!(p.selected, 2);
        p.on_key(key(KeyCode::Down), 1);
        assert_eq!(p.selected, 0, "fewer rows than the old selection");
        assert_eq!(p.sort_name(), Some("severity"));
        assert!(matches!(
            p.on_key(key(KeyCode::Char('s')), 3),
            Outcome::Status(s) if s == "sorted by code"
        ));
        p.on_key(key(KeyCode::Char('s')), 3);
        assert_eq!(p.sort_name(), Some("severity"));
        assert_eq!(p.on_key(key(KeyCode::Char('q')), 3), Outcome::Passed);
    }

    #[test]
    fn left_and_right_scroll_sideways_in_every_view_and_detail() {
        let mut p = Pane::new(LIST);
        assert_eq!(p.on_key(key(KeyCode::Right), 5), Outcome::Consumed);
        assert_eq!(p.hscroll, HSTEP);
        p.on_key(key(KeyCode::Enter), 5);
        assert!(p.detail);
        p.on_key(key(KeyCode::Char('l')), 5);
        assert_eq!(p.hscroll, 2 * HSTEP, "a detail scrolls too");
        p.on_key(key(KeyCode::Left), 5);
        assert!(p.detail, "← no longer closes a detail: Esc does");
        p.on_key(key(KeyCode::Esc), 5);
        assert_eq!((p.detail, p.hscroll), (false, 0));
        p.on_key(key(KeyCode::Left), 5);
        assert_eq!(p.hscroll, 0, "never left of the start");
    }

    #[test]
    fn a_text_view_scrolls_and_passes_the_rest() {
        let mut p = Pane::new(Caps {
            filter: false,
            detail: false,
            text: true,
            sorts: &[],
        });
        p.on_key(key(KeyCode::PageDown), 0);
        p.on_key(key(KeyCode::Up), 0);
        assert_eq!(p.scroll, 9);
        assert_eq!(p.on_key(key(KeyCode::Char('/')), 0), Outcome::Passed);
        assert_eq!(p.on_key(key(KeyCode::Tab), 0), Outcome::Passed);
    }
}
