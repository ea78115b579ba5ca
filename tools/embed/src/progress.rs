//! A progress line on stderr, as command-line tools show one: rewritten in
//! place on a terminal, absent otherwise (logs stay as they were).
//! `VECSTORE_PROGRESS=1` forces it on (one line per second when stderr is not
//! a terminal; also on/true/yes), `VECSTORE_PROGRESS=0` off (also off/false/no).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Off,
    /// `\r`-rewritten line on a terminal.
    Live,
    /// A full line at most once a second (forced, not a terminal).
    Lines,
}

/// Progress of `total` items of some `unit`.
pub struct Progress {
    label: &'static str,
    unit: &'static str,
    total: usize,
    start: Instant,
    last: Option<Instant>,
    mode: Mode,
}

impl Progress {
    /// Starts counting; the mode comes from the terminal and `VECSTORE_PROGRESS`.
    pub fn new(label: &'static str, unit: &'static str, total: usize) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let mode = match std::env::var("VECSTORE_PROGRESS").as_deref() {
            Ok("0" | "off" | "false" | "no") => Mode::Off,
            Ok("1" | "on" | "true" | "yes") if !tty => Mode::Lines,
            _ if tty => Mode::Live,
            _ => Mode::Off,
        };
        Progress { label, unit, total, start: Instant::now(), last: None, mode }
    }

    /// Reports `done` items (redrawn at most every 100 ms, or every second as lines).
    pub fn update(&mut self, done: usize) {
        let every = if self.mode == Mode::Lines { Duration::from_secs(1) } else { Duration::from_millis(100) };
        if self.mode == Mode::Off || self.last.is_some_and(|t| t.elapsed() < every) && done < self.total {
            return;
        }
        self.last = Some(Instant::now());
        let text = line(self.label, self.unit, done, self.total, self.start.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = match self.mode {
            Mode::Live => write!(err, "\r\x1b[K{text}"),
            _ => writeln!(err, "{text}"),
        };
        let _ = err.flush();
    }

    /// Clears a live line (the caller prints its own summary).
    pub fn finish(&mut self) {
        if self.mode == Mode::Live && self.last.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// `embedding: 1,024/3,000 sentences (34%), 118 sentences/s, about 17 s left`.
pub fn line(label: &str, unit: &str, done: usize, total: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let pct = if total == 0 { 100 } else { done * 100 / total };
    let mut s = format!("{label}: {}/{} {unit} ({pct}%)", grouped(done), grouped(total));
    if secs > 0.0 && done > 0 {
        let rate = done as f64 / secs;
        s += &format!(", {rate:.0} {unit}/s");
        if done < total {
            s += &format!(", about {:.0} s left", (total - done) as f64 / rate);
        }
    }
    s
}

fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_rate_and_time_left() {
        let l = line("embedding", "sentences", 1024, 3000, Duration::from_secs(8));
        assert_eq!(l, "embedding: 1,024/3,000 sentences (34%), 128 sentences/s, about 15 s left");
        assert_eq!(line("embedding", "sentences", 0, 3000, Duration::ZERO), "embedding: 0/3,000 sentences (0%)");
        assert_eq!(line("x", "rows", 10, 10, Duration::from_secs(2)), "x: 10/10 rows (100%), 5 rows/s");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(999), "999");
    }
}
