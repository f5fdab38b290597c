//! An OpenAI-compatible embeddings endpoint (`POST {base}/embeddings`),
//! the operator's to configure (`UPIVIA_EMBEDDINGS_*`), for knowledge
//! retrieval. Without one the platform makes no vectors at all: retrieval
//! stays lexical and says so.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::ProviderError;
use super::hosts::Reach;
use super::http::{HttpClient, Retry};

const UPSTREAM: &str = "the embeddings endpoint";
/// Inputs per request: few enough that the answer stays within the
/// outbound client's response limit at common dimensions.
pub const BATCH: usize = 16;

#[derive(Clone)]
pub struct EmbeddingsSettings {
    pub base_url: url::Url,
    pub model: String,
    pub api_key: Option<SecretString>,
}

impl std::fmt::Debug for EmbeddingsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingsSettings")
            .field("base_url", &self.base_url.as_str())
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl EmbeddingsSettings {
    pub fn new(
        base_url: &str,
        model: Option<&str>,
        api_key: Option<SecretString>,
    ) -> Result<EmbeddingsSettings, String> {
        let base_url = url::Url::parse(base_url.trim().trim_end_matches('/'))
            .map_err(|e| format!("UPIVIA_EMBEDDINGS_BASE_URL: {e}"))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err("UPIVIA_EMBEDDINGS_BASE_URL must be an http(s) URL".into());
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(
                "UPIVIA_EMBEDDINGS_BASE_URL must not carry credentials; use \
                        UPIVIA_EMBEDDINGS_API_KEY"
                    .into(),
            );
        }
        let model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or("UPIVIA_EMBEDDINGS_MODEL is required with UPIVIA_EMBEDDINGS_BASE_URL")?
            .to_owned();
        Ok(EmbeddingsSettings {
            base_url,
            model,
            api_key: api_key.filter(|k| !k.expose_secret().is_empty()),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Embedder {
    settings: EmbeddingsSettings,
    endpoint: url::Url,
    http: HttpClient,
}

impl Embedder {
    pub fn new(settings: EmbeddingsSettings, http: HttpClient) -> Result<Embedder, String> {
        let endpoint = url::Url::parse(&format!(
            "{}/embeddings",
            settings.base_url.as_str().trim_end_matches('/')
        ))
        .map_err(|e| format!("UPIVIA_EMBEDDINGS_BASE_URL: {e}"))?;
        Ok(Embedder {
            settings,
            endpoint,
            http,
        })
    }

    pub fn endpoint(&self) -> &url::Url {
        &self.endpoint
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// One vector per input, in order.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut out = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(BATCH) {
            out.extend(self.embed_batch(batch).await?);
        }
        Ok(out)
    }

    async fn embed_batch(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let body = json!({"model": self.settings.model, "input": inputs});
        let reply = self
            .http
            .send(Reach::Trusted, UPSTREAM, Retry::RateLimited, |client, _| {
                let mut req = client.post(self.endpoint.clone()).json(&body);
                if let Some(key) = &self.settings.api_key {
                    req = req.bearer_auth(key.expose_secret());
                }
                req
            })
            .await?;
        let bytes = reply.body(UPSTREAM).await?;
        let parsed: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::Adapter(format!("{UPSTREAM} answered non-JSON: {e}")))?;
        let data = parsed["data"]
            .as_array()
            .ok_or_else(|| ProviderError::Adapter(format!("{UPSTREAM} answered without data")))?;
        if data.len() != inputs.len() {
            return Err(ProviderError::Adapter(format!(
                "{UPSTREAM} answered {} vectors for {} inputs",
                data.len(),
                inputs.len()
            )));
        }
        let mut vectors: Vec<(usize, Vec<f32>)> = Vec::with_capacity(data.len());
        for (i, item) in data.iter().enumerate() {
            let index = item["index"].as_u64().map_or(i, |n| n as usize);
            let vector: Vec<f32> = item["embedding"]
                .as_array()
                .ok_or_else(|| {
                    ProviderError::Adapter(format!("{UPSTREAM} answered an item without embedding"))
                })?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    ProviderError::Adapter(format!("{UPSTREAM} answered a non-numeric vector"))
                })?;
            vectors.push((index, vector));
        }
        vectors.sort_by_key(|(i, _)| *i);
        Ok(vectors.into_iter().map(|(_, v)| v).collect())
    }
}
