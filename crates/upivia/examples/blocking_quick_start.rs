//! The blocking client: no async runtime in sight.
//!
//! ```text
//! UPIVIA_BASE_URL=http://localhost:3000 UPIVIA_PAT=upivia_pat_... \
//!     cargo run -p upivia --features blocking --example blocking_quick_start
//! ```

use upivia::models::PageQuery;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = upivia::blocking::Client::from_env()?;
    let health = client.platform().health()?;
    println!("health: {health}");
    for trigger in client.triggers().list_all(PageQuery::default()) {
        let trigger = trigger?;
        println!(
            "{} {:?} disabled={}",
            trigger.id, trigger.operation, trigger.disabled
        );
    }
    Ok(())
}
