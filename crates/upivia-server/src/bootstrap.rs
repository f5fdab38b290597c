//! First start: one organisation, its owner and a personal access token,
//! written once to `<data-dir>/initial-credentials.json` (mode 0600). When
//! the owner changes the password, the file is rewritten once more without
//! its `password` field ([`forget_initial_password`]). Dev mode adds sandbox
//! money and a demo agent whose key is handed back to the caller to print
//! once.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::auth::{self, PasswordWorkError};
use crate::domains::identity::service as identity;
use crate::governance::trail;
use crate::ids::{AgentId, OrgId};
use crate::model::agent::{AgentSetters, BindingSetters};
use crate::model::{Account, AuditEvent, KeyMode, Role};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{AgentCommand, BindingUpsert, BindingWrite, Credit, NewAgent, StoreError};

pub const CREDENTIALS_FILE: &str = "initial-credentials.json";
pub const OWNER_EMAIL: &str = "owner@upivia.local";
const DEV_CREDIT: Cents = Cents::new(10_000);
const DEMO_AGENT: &str = "demo-agent";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not hash the owner's password")]
    Hash(#[from] PasswordWorkError),
    #[error("could not rewrite {path}")]
    Rewrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the first start created.
#[derive(Debug)]
pub struct Bootstrap {
    pub org_id: String,
    pub credentials_path: PathBuf,
}

/// Creates the first organisation unless one exists. Never rewrites an
/// existing credentials file and never creates a second owner.
pub async fn ensure_org(
    platform: &Platform,
    data_dir: &Path,
    base_url: &str,
) -> Result<Option<Bootstrap>, BootstrapError> {
    let (plan, secrets) = identity::new_owner("Default", OWNER_EMAIL, platform.clock.now()).await?;
    let Some(created) = platform.stores.identity.bootstrap(plan).await? else {
        return Ok(None);
    };
    let path = data_dir.join(CREDENTIALS_FILE);
    let contents = json!({
        "base_url": base_url,
        "org_id": created.org_id,
        "email": OWNER_EMAIL,
        "password": secrets.password,
        "pat": secrets.pat,
    });
    write_private(
        &path,
        &serde_json::to_vec_pretty(&contents).unwrap_or_default(),
    )
    .map_err(|source| BootstrapError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Some(Bootstrap {
        org_id: created.org_id,
        credentials_path: path,
    }))
}

/// Drops the plaintext password from the credentials file once `email`
/// (the owner it was written for) has a new one; the rest (`base_url`,
/// `org_id`, `email`, `pat`) stays, because operators and scripts read the
/// PAT from there. The new file is written beside the old one (0600) and
/// renamed over it, so a crash leaves one or the other, whole. Returns
/// whether the file changed: not when it is missing, belongs to another
/// email, or holds no password any more.
pub fn forget_initial_password(data_dir: &Path, email: &str) -> Result<bool, BootstrapError> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let failed = |source| BootstrapError::Rewrite {
        path: path.clone(),
        source,
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(failed(e)),
    };
    let Ok(serde_json::Value::Object(mut creds)) = serde_json::from_slice(&bytes) else {
        // Not ours any more (the operator edited it): leave it alone.
        return Ok(false);
    };
    if creds.get("email").and_then(|v| v.as_str()) != Some(email)
        || creds.remove("password").is_none()
    {
        return Ok(false);
    }
    let contents = serde_json::to_vec_pretty(&creds).map_err(|e| failed(e.into()))?;
    let fresh = data_dir.join(format!("{CREDENTIALS_FILE}.new"));
    match std::fs::remove_file(&fresh) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    write_private(&fresh, &contents).map_err(failed)?;
    std::fs::rename(&fresh, &path).map_err(failed)?;
    #[cfg(unix)]
    std::fs::File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(failed)?;
    Ok(true)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The demo agent of `--dev`, created (and the org credited) once.
#[derive(Debug)]
pub struct DevAgent {
    pub agent_id: String,
    pub api_key: String,
}

pub async fn ensure_dev(
    platform: &Platform,
    org_id: &str,
) -> Result<Option<DevAgent>, BootstrapError> {
    let agents = platform
        .stores
        .agents
        .agents(&OrgId::from(org_id), None)
        .await?;
    if agents.iter().any(|a| a.name == DEMO_AGENT) {
        return Ok(None);
    }
    let now = platform.clock.now();
    platform
        .stores
        .governance
        .credit(Credit {
            account: Account::Org(org_id.to_owned()),
            org_id: OrgId::from(org_id),
            amount: DEV_CREDIT,
            note: "dev mode sandbox balance".into(),
            now,
            audit: AuditEvent::new(org_id, "balance.credited", trail::SYSTEM)
                .with_cost(DEV_CREDIT)
                .with_details(
                    json!({"amount_cents": DEV_CREDIT.get(), "note": "dev mode sandbox balance"}),
                ),
        })
        .await?;
    let key = auth::new_agent_key(KeyMode::Test);
    let agent = platform
        .stores
        .agents
        .create_agent(NewAgent {
            org_id: org_id.to_owned(),
            team_id: None,
            owner_user_id: None,
            name: DEMO_AGENT.into(),
            description: Some("Created by `upivia serve --dev`; reaches the sandbox only.".into()),
            key_hash: auth::hash_token(&key),
            key_mode: KeyMode::Test,
            monthly_budget: Some(Cents::new(5_000)),
            daily_request_limit: None,
            rate_limit_per_minute: None,
            default_model_id: None,
            profile: json!({}),
            // What the system sets counts as an admin's, as for rows older
            // than role recording.
            set_by: AgentSetters::all(Role::Admin),
            now,
            actor: trail::SYSTEM.into(),
        })
        .await?;
    for service in [
        "email",
        "text_generation",
        "web_search",
        "voice_call",
        "platform",
    ] {
        if platform.catalog.service(service).is_none() {
            continue;
        }
        platform
            .stores
            .agents
            .upsert_bindings(AgentCommand {
                org_id: OrgId::from(org_id),
                agent_id: AgentId::from(&agent.id),
                change: BindingUpsert {
                    service_id: service.into(),
                    operations: vec![BindingWrite {
                        operation: None,
                        set_by: BindingSetters::all(Role::Admin),
                        expect: None,
                    }],
                    settings: Default::default(),
                },
                now,
                audit: AuditEvent::new(org_id, "binding.enabled", trail::SYSTEM)
                    .with_agent(&agent.id)
                    .with_details(json!({"service_id": service})),
            })
            .await?;
    }
    Ok(Some(DevAgent {
        agent_id: agent.id,
        api_key: key,
    }))
}
