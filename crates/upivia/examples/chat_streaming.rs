//! Stream one chat turn and print the assistant's text as it arrives.
//!
//! ```text
//! UPIVIA_BASE_URL=http://localhost:3000 UPIVIA_PAT=upivia_pat_... \
//!     cargo run -p upivia --example chat_streaming -- "What is my balance?"
//! ```

use std::io::Write;

use futures::StreamExt;
use upivia::models::{ChatTurn, CreateChatSession};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let message = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Hello!".to_owned());
    let client = upivia::Client::from_env()?;

    let session = client
        .chat()
        .sessions()
        .create(CreateChatSession::default())
        .await?;
    let session_id = session["id"]
        .as_str()
        .ok_or("the session reply has no id")?;

    let mut events = client
        .chat()
        .turn(ChatTurn::new(session_id).with_message(message))
        .await?;
    while let Some(event) = events.next().await {
        let event = event?;
        match event.event.as_str() {
            "message_delta" => {
                print!("{}", event.data["delta"].as_str().unwrap_or_default());
                std::io::stdout().flush()?;
            }
            "tool_pending" => println!("\n[approval needed: {}]", event.data["approval_id"]),
            "error" => println!("\n[error: {}]", event.data["message"]),
            "done" => {
                println!();
                break;
            }
            _ => {}
        }
    }
    Ok(())
}
