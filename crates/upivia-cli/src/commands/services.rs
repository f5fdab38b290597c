//! `upivia services`: the public catalog with prices.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::client::ClientArgs;
use super::output::{self, Table};

/// List the service catalog: operations, prices and pricing types.
#[derive(Args, Debug)]
pub struct ServicesArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: ServicesArgs) -> anyhow::Result<ExitCode> {
    let catalog = args.client.client()?.services().list().await?;
    if args.client.json {
        output::print_json(&catalog)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(["OPERATION", "PRICE", "PRICING", "DESCRIPTION"]);
    let services = catalog["services"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for service in services {
        let id = output::text(&service["id"]);
        let operations = service["operations"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for op in operations {
            let pricing = output::text(&op["pricing_type"]);
            let mut price = output::dollars_of(&op["base_price_cents"]);
            if pricing != "flat" && pricing != "free" && pricing != "-" {
                price.push_str("/unit");
            }
            table.row(vec![
                format!("{id}.{}", output::text(&op["name"])),
                price,
                pricing,
                first_sentence(&op["description"]),
            ]);
        }
    }
    output::print(&table.render())?;
    Ok(ExitCode::SUCCESS)
}

/// The description's first sentence, so a table row stays one line.
fn first_sentence(description: &Value) -> String {
    let text = description.as_str().unwrap_or("");
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    text[..end].replace('\n', " ")
}
