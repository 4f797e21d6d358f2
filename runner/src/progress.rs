//! Progress bars with rate and ETA on standard error, hidden when standard error is not a
//! terminal or when the user asked for `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar over a known number of steps; cheap to clone and share between threads.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `len` steps labelled `label` (e.g. "models").
    pub fn new(len: u64, label: &str, quiet: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        let style = ProgressStyle::with_template(
            "{msg:>10} [{bar:32.cyan/blue}] {pos}/{len} {per_sec:>12} ETA {eta:>4} (elapsed {elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        Self { bar }
    }

    /// Whether the bar is drawn.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Advances by `n` steps.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Current position.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Marks the work as done and leaves the final state on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_bars_are_hidden_but_count() {
        let p = Progress::new(10, "models", true);
        assert!(!p.is_visible());
        p.inc(3);
        p.clone().inc(2);
        assert_eq!(p.position(), 5);
        p.finish();
    }
}
