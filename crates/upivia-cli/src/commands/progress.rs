//! Progress on stderr for long waits: byte bars for transfers, spinners
//! for polls, a countdown before a retry. indicatif draws only when stderr
//! is a terminal, so scripts and `--json` output see nothing of them; a
//! retry is announced to them in one line. Every bar is one line of one
//! [`MultiProgress`], so a countdown and the spinner of the call it delays
//! are drawn one above the other instead of over each other.

use std::io::IsTerminal;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use upivia::RetryNotice;
use upivia::transfer::Progress;

/// The lines on stderr the process's bars share.
static LINES: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// `bar`, drawn as a line of its own below those already shown.
pub fn shown(bar: ProgressBar) -> ProgressBar {
    LINES.add(bar)
}

/// A bar over `len` bytes (a spinner with a byte count when `len` is 0,
/// i.e. unknown).
pub fn bytes(len: u64, message: String) -> ProgressBar {
    let bar = shown(if len == 0 {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::new(len)
    });
    let template = if len == 0 {
        "{spinner} {msg} {bytes} ({bytes_per_sec})"
    } else {
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The SDK's progress callback, moving `bar`.
pub fn reporter(bar: &ProgressBar) -> Progress {
    let bar = bar.clone();
    Progress::new(move |sent| bar.set_position(sent))
}

/// A retry the client is waiting to make, as the countdown names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryWait {
    /// Why: "rate limited", "the server answered 503", ….
    pub why: String,
    pub method: &'static str,
    pub path: String,
    /// The retry about to be made (1 for the first).
    pub attempt: u32,
}

impl RetryWait {
    pub fn of(notice: &RetryNotice) -> RetryWait {
        let why = match notice.status {
            Some(429) => "rate limited".to_owned(),
            Some(status) => format!("the server answered {status}"),
            None => "the server could not be reached".to_owned(),
        };
        RetryWait {
            why,
            method: notice.method,
            path: notice.path.clone(),
            attempt: notice.attempt,
        }
    }

    /// The line shown `left` before the retry, in whole seconds rounded up.
    pub fn line(&self, left: Duration) -> String {
        format!(
            "{}: retrying {} {} in {} s (attempt {}; --no-retry fails at once)",
            self.why,
            self.method,
            self.path,
            whole_seconds(left),
            self.attempt
        )
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Which countdown may draw: a newer retry's replaces an older one's.
static CURRENT_COUNTDOWN: AtomicU64 = AtomicU64::new(0);

/// The SDK's `on_retry` callback. On a terminal, one stderr line counts
/// down to the retry, redrawn each second by a thread of its own (the
/// callback runs on the runtime and must not wait); elsewhere one line
/// says it once.
pub fn announce_retry(notice: &RetryNotice) {
    let wait = RetryWait::of(notice);
    if !std::io::stderr().is_terminal() {
        eprintln!("{}", wait.line(notice.delay));
        return;
    }
    let me = CURRENT_COUNTDOWN.fetch_add(1, Ordering::SeqCst) + 1;
    let deadline = Instant::now() + notice.delay;
    let bar = shown(ProgressBar::new_spinner());
    if let Ok(style) = ProgressStyle::with_template("{msg}") {
        bar.set_style(style);
    }
    let ticker = bar.clone();
    let spawned = std::thread::Builder::new()
        .name("retry-countdown".into())
        .spawn(move || {
            count_down(
                &wait,
                deadline,
                Duration::from_secs(1),
                || CURRENT_COUNTDOWN.load(Ordering::SeqCst) == me,
                |line| match line {
                    Some(line) => ticker.set_message(line),
                    None => ticker.finish_and_clear(),
                },
            );
        });
    if spawned.is_err() {
        bar.finish_and_clear();
        eprintln!("{}", RetryWait::of(notice).line(notice.delay));
    }
}

/// How long before the retry the line is cleared, so the answer it brings
/// is not printed below a countdown still on the screen.
const CLEAR_AHEAD: Duration = Duration::from_millis(100);

/// Draws `wait`'s line (`draw(Some(line))`) every `tick` until `deadline`,
/// then clears it (`draw(None)`), also as soon as `current` says a newer
/// countdown took over.
pub fn count_down(
    wait: &RetryWait,
    deadline: Instant,
    tick: Duration,
    current: impl Fn() -> bool,
    mut draw: impl FnMut(Option<String>),
) {
    let clear_at = deadline.checked_sub(CLEAR_AHEAD).unwrap_or(deadline);
    loop {
        let now = Instant::now();
        if now >= clear_at || !current() {
            break;
        }
        draw(Some(wait.line(deadline - now)));
        std::thread::sleep(tick.min(clear_at - now));
    }
    draw(None);
}

#[cfg(test)]
mod tests;
