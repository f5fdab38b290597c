//! Sandbox work tools: `github.create_issue` and `notion.create_page`, with
//! the identifier rules and size limits of the real APIs.

use std::collections::HashSet;

use serde_json::json;

use super::{Ctx, Input, slug};
use crate::providers::{Execution, ProviderError};

/// Notion accepts at most 100 blocks per request, each rich text run at most
/// 2000 characters.
const NOTION_MAX_BLOCKS: usize = 100;
const NOTION_MAX_BLOCK_CHARS: usize = 2000;

/// `owner/name` by GitHub's rules: owners are 1-39 alphanumerics or single
/// inner hyphens; names are 1-100 of `[A-Za-z0-9._-]`, never `.` or `..`.
fn split_repo(repo: &str) -> Option<(&str, &str)> {
    let (owner, name) = repo.split_once('/')?;
    let owner_ok = (1..=39).contains(&owner.len())
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !owner.starts_with('-')
        && !owner.ends_with('-')
        && !owner.contains("--");
    let name_ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && name != "."
        && name != "..";
    (owner_ok && name_ok).then_some((owner, name))
}

fn is_login(s: &str) -> bool {
    split_repo(&format!("{s}/x")).is_some()
}

pub(super) fn github_create_issue(
    ctx: &Ctx<'_>,
    input: &Input<'_>,
) -> Result<Execution, ProviderError> {
    let repo = input.str("repo")?;
    let Some((owner, name)) = split_repo(repo) else {
        return Err(input.invalid(format_args!(
            "`repo` must be `owner/name`, for example `acme/website`; got {repo:?}"
        )));
    };
    let title = input.text("title", 1, 256)?;
    input.opt_text("body", 65_536)?;
    let labels = input.opt_strings("labels", 100, |l| (1..=50).contains(&l.chars().count()))?;
    if labels.iter().collect::<HashSet<_>>().len() != labels.len() {
        return Err(input.invalid("`labels` lists a label twice"));
    }
    input.opt_strings("assignees", 10, is_login)?;
    let seed = ctx.seed("issue");
    let number = 1 + seed % 9_999;
    ctx.done(json!({
        "id": 1_000_000_000 + (seed >> 16) % 9_000_000_000,
        "number": number,
        "repo": format!("{owner}/{name}"),
        "title": title,
        "state": "open",
        "labels": labels,
        "html_url": format!("https://github.com/{owner}/{name}/issues/{number}"),
        "created_at": ctx.timestamp()?,
    }))
}

/// A Notion id, with or without dashes, as 32 lowercase hex digits.
fn notion_id(raw: &str) -> Option<String> {
    let ok = match raw.len() {
        32 => raw.bytes().all(|b| b.is_ascii_hexdigit()),
        36 => raw.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        }),
        _ => false,
    };
    ok.then(|| raw.replace('-', "").to_ascii_lowercase())
}

/// `8-4-4-4-12`.
fn dashed(hex32: &str) -> String {
    let parts = [
        &hex32[..8],
        &hex32[8..12],
        &hex32[12..16],
        &hex32[16..20],
        &hex32[20..],
    ];
    parts.join("-")
}

pub(super) fn notion_create_page(
    ctx: &Ctx<'_>,
    input: &Input<'_>,
) -> Result<Execution, ProviderError> {
    let raw_parent = input.str("parent_id")?;
    let Some(parent) = notion_id(raw_parent) else {
        return Err(input.invalid(format_args!(
            "`parent_id` must be a Notion page id (32 hex digits, dashes optional); got {raw_parent:?}"
        )));
    };
    let title = input.text("title", 1, 2000)?;
    let content = input.opt_text("content", 200_000)?.unwrap_or("");
    let paragraphs: Vec<&str> = content
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if paragraphs.len() > NOTION_MAX_BLOCKS {
        return Err(input.invalid(format_args!(
            "`content` has {} paragraphs; Notion takes at most {NOTION_MAX_BLOCKS} per page creation",
            paragraphs.len()
        )));
    }
    if let Some(long) = paragraphs
        .iter()
        .position(|p| p.chars().count() > NOTION_MAX_BLOCK_CHARS)
    {
        return Err(input.invalid(format_args!(
            "paragraph {} of `content` exceeds {NOTION_MAX_BLOCK_CHARS} characters",
            long + 1
        )));
    }
    // A version-4 UUID from the request digest.
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&ctx.digest("page")[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let page = hex::encode(bytes);
    let title_slug = slug(title, '-', 60);
    let url = if title_slug.is_empty() {
        format!("https://www.notion.so/{page}")
    } else {
        format!("https://www.notion.so/{title_slug}-{page}")
    };
    ctx.done(json!({
        "id": dashed(&page),
        "url": url,
        "parent_id": dashed(&parent),
        "title": title,
        "blocks_created": paragraphs.len(),
        "created_time": ctx.timestamp()?,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{notion_id, split_repo};
    use crate::providers::ProviderError;
    use crate::providers::sandbox::tests::{completed, run};

    #[test]
    fn repo_names_follow_github_rules() {
        assert_eq!(split_repo("acme/website"), Some(("acme", "website")));
        assert_eq!(split_repo("a-b/x.y_z-1"), Some(("a-b", "x.y_z-1")));
        for bad in [
            "acme",
            "acme/",
            "/web",
            "a/b/c",
            "-acme/web",
            "acme-/web",
            "ac--me/web",
            "acme/..",
            "acme/we b",
            "ac_me/web",
        ] {
            assert_eq!(split_repo(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn github_issue_points_at_the_repo() {
        let exec = run(
            "github",
            "create_issue",
            json!({"repo": "acme/website", "title": "Bug", "labels": ["bug"]}),
        )
        .await
        .unwrap();
        let (result, _) = completed(&exec);
        let number = result["number"].as_u64().unwrap();
        assert!((1..=9_999).contains(&number));
        assert_eq!(
            result["html_url"],
            format!("https://github.com/acme/website/issues/{number}")
        );
        assert_eq!(result["labels"], json!(["bug"]));
        for bad in [
            json!({"repo": "acme/website/extra", "title": "t"}),
            json!({"repo": "acme/website", "title": ""}),
            json!({"repo": "acme/website", "title": "t", "labels": ["a", "a"]}),
            json!({"repo": "acme/website", "title": "t", "assignees": ["bad login"]}),
        ] {
            let outcome = run("github", "create_issue", bad.clone()).await;
            match outcome {
                Err(ProviderError::Adapter(m)) => {
                    assert!(m.starts_with("github.create_issue: "), "{m}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn notion_ids_accept_both_spellings() {
        let plain = "5c6a28216bb14a7eb6e1c50111515c3d";
        assert_eq!(notion_id(plain).as_deref(), Some(plain));
        assert_eq!(
            notion_id("5C6A2821-6BB1-4A7E-B6E1-C50111515C3D").as_deref(),
            Some(plain)
        );
        assert_eq!(notion_id("5c6a2821-6bb14a7e-b6e1-c50111515c3d-"), None);
        assert_eq!(notion_id("5c6a28216bb14a7eb6e1c50111515c3z"), None);
    }

    #[tokio::test]
    async fn notion_page_counts_blocks_and_enforces_limits() {
        let exec = run(
            "notion",
            "create_page",
            json!({"parent_id": "5c6a2821-6bb1-4a7e-b6e1-c50111515c3d", "title": "Weekly digest", "content": "one\n\ntwo\n\n\n\nthree"}),
        )
        .await
        .unwrap();
        let (result, _) = completed(&exec);
        assert_eq!(result["blocks_created"], 3);
        assert_eq!(result["parent_id"], "5c6a2821-6bb1-4a7e-b6e1-c50111515c3d");
        let id = result["id"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version-4 UUID: {id}");
        assert!(
            result["url"]
                .as_str()
                .unwrap()
                .starts_with("https://www.notion.so/weekly-digest-")
        );
        let too_many = vec!["p"; 101].join("\n\n");
        let too_long = "x".repeat(2001);
        for content in [too_many, too_long] {
            let outcome = run("notion", "create_page", json!({"parent_id": "5c6a28216bb14a7eb6e1c50111515c3d", "title": "t", "content": content})).await;
            assert!(
                matches!(outcome, Err(ProviderError::Adapter(_))),
                "{outcome:?}"
            );
        }
    }
}
