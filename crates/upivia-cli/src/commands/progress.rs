//! Progress on stderr for long waits: byte bars for transfers, spinners
//! for polls. indicatif draws only when stderr is a terminal, so scripts
//! and `--json` output see nothing of them.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use upivia::transfer::Progress;

/// A bar over `len` bytes (a spinner with a byte count when `len` is 0,
/// i.e. unknown).
pub fn bytes(len: u64, message: String) -> ProgressBar {
    let bar = if len == 0 {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::new(len)
    };
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
