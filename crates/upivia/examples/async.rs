//! Concurrency with the async client: one client (cheap to clone), several
//! calls in flight, and a cursor list consumed as a stream.
//!
//! ```text
//! UPIVIA_BASE_URL=http://localhost:3000 UPIVIA_PAT=upivia_pat_... \
//!     cargo run -p upivia --example async
//! ```

use futures::TryStreamExt;
use upivia::ErrorKind;
use upivia::models::ListAuditLogs;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = upivia::Client::from_env()?;

    // Independent reads run concurrently over the same connection pool.
    let (balance, services) = tokio::join!(client.balance().get(None), client.services().list());
    match balance {
        Ok(balance) => println!("balance: {} cents", balance.amount_cents),
        Err(e) if e.kind() == ErrorKind::Unauthorized => {
            println!("set UPIVIA_PAT to read the balance")
        }
        Err(e) => return Err(e.into()),
    }
    let count = services?["services"].as_array().map_or(0, Vec::len);
    println!("{count} services in the catalog");

    // Every email audit row, page after page.
    let mut rows = client
        .audit_logs()
        .list_all(ListAuditLogs::default().with_service("email"));
    while let Some(row) = rows.try_next().await? {
        println!("{} {:?} {:?}", row.id, row.event_type, row.created_at);
    }
    Ok(())
}
