//! Fire a webhook trigger: the payload is signed with the trigger's secret
//! (HMAC-SHA256 over the exact body), and no API credential is needed.
//!
//! ```text
//! UPIVIA_BASE_URL=http://localhost:3000 \
//!     cargo run -p upivia --example trigger_fire -- trg_... whsec_...
//! ```

use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(trigger_id), Some(secret)) = (args.next(), args.next()) else {
        return Err("usage: trigger_fire <trigger_id> <secret>".into());
    };
    let client = upivia::Client::from_env()?;

    let payload = json!({"customer": "ACME", "amount": 42});
    let fired = client
        .triggers()
        .fire(&trigger_id, Some(&payload), &secret)
        .await?;
    // 202 even when the dispatch that followed was refused.
    println!(
        "accepted={} dispatch_status={:?} reason_code={:?}",
        fired.accepted, fired.dispatch_status, fired.reason_code
    );
    Ok(())
}
