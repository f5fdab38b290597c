//! Dispatch one governed service request and react to its outcome.
//!
//! ```text
//! UPIVIA_BASE_URL=http://localhost:3000 UPIVIA_API_KEY=agent_key_... \
//!     cargo run -p upivia --example quick_start
//! ```

use serde_json::json;
use upivia::models::{CreateServiceRequest, ServiceRequestOutcome};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = upivia::Client::from_env()?;

    let request = CreateServiceRequest::new(
        "email",
        "send",
        json!({"to": "someone@example.com", "subject": "Hello", "body": "Sent through Upivia."}),
    );
    // A policy stop or an approval gate is an answer, not an error.
    match client.service_requests().create(request).await? {
        ServiceRequestOutcome::Executed(done) => {
            let cents = done.cost_cents.map_or(0, |c| c.get());
            println!("executed {} for {cents} cents", done.request_id);
        }
        ServiceRequestOutcome::ApprovalRequired(gate) => {
            println!("waiting for a human: approval {}", gate.approval_id);
        }
        ServiceRequestOutcome::Blocked(stop) => {
            println!("blocked: {:?} {:?}", stop.reason_code, stop.message);
        }
        other => println!("outcome: {:?}", other.status()),
    }
    Ok(())
}
