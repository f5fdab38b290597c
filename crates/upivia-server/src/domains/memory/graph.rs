//! The memory graph, a pure function of an agent's memories: a node per
//! memory, a node per entity they mention, a `mentions` edge from each
//! memory to each of its entities, and a `shares` edge (weighted by how
//! many entities) between two memories that have one in common.
//!
//! What counts as an entity, read from a memory:
//!
//! - every tag, and every `#hashtag` in the text (both type `tag`);
//! - `@handles`, e-mail addresses, and the hosts of `http(s)://` URLs
//!   (type `entity`);
//! - runs of capitalised words (`Alice Smith`, `Billing Service`, `API`):
//!   a run of one word counts only inside a sentence, since the first word
//!   of a sentence is capitalised anyway; a longer run at the start of a
//!   sentence loses a leading stop word (`The Billing Service` → `Billing
//!   Service`). Words of one letter do not count. Punctuation ends a run.
//!
//! An entity's id is `entity:` and its normalised name (lowercase, spaces
//! collapsed, `#` of a tag dropped), so `Ops`, `#ops` and the tag `ops`
//! are one node; it is a `tag` when any memory has it as one.

use std::collections::HashMap;

use crate::search::terms::is_stop_word;
use crate::store::Memory;

/// Most entities read from one memory.
pub const MAX_ENTITIES_PER_MEMORY: usize = 50;
/// Most `shares` edges in a graph; the heaviest are kept.
pub const MAX_SHARES: usize = 2000;
/// Longest label of a memory node, in characters.
const MEMORY_LABEL_CHARS: usize = 80;
/// Longest entity name kept, in characters (longer ones are not names).
const ENTITY_CHARS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Memory,
    Tag,
    Entity,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Memory => "memory",
            NodeKind::Tag => "tag",
            NodeKind::Entity => "entity",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    Mentions,
    /// How many entities the two memories have in common.
    Shares {
        weight: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub source: String,
    pub target: String,
    pub kind: EdgeKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Whether `shares` edges were left out past [`MAX_SHARES`].
    pub shares_truncated: bool,
}

/// An entity as read from one memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// The normalised name, the node's id without `entity:`.
    pub key: String,
    pub label: String,
    pub kind: NodeKind,
}

fn normalise(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn entity(name: &str, kind: NodeKind) -> Option<Entity> {
    let label = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let key = normalise(&label);
    (!key.is_empty() && key.chars().count() <= ENTITY_CHARS).then_some(Entity { key, label, kind })
}

fn tag(raw: &str) -> Option<Entity> {
    entity(raw.trim().trim_start_matches('#'), NodeKind::Tag)
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let ok = host.contains('.')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then_some(host)
}

fn is_email(word: &str) -> bool {
    let Some((local, domain)) = word.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "._%+-".contains(c))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

fn name_chars(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn is_capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase)
        && word.chars().count() >= 2
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '\'' || c == '’')
}

/// A run of capitalised words, flushed when it ends.
struct Run {
    words: Vec<String>,
    at_sentence_start: bool,
}

impl Run {
    fn flush(&mut self, out: &mut Vec<Entity>) {
        let mut words = std::mem::take(&mut self.words);
        if self.at_sentence_start {
            if words.len() < 2 {
                return;
            }
            if is_stop_word(&words[0].to_lowercase()) {
                words.remove(0);
            }
        }
        if let Some(e) = entity(&words.join(" "), NodeKind::Entity) {
            out.push(e);
        }
    }
}

/// The entities `content` mentions (without its tags), in order of first
/// appearance; repeats are left to the caller.
pub fn mentions(content: &str) -> Vec<Entity> {
    let mut out = Vec::new();
    for line in content.lines() {
        let mut sentence_start = true;
        let mut run = Run {
            words: Vec::new(),
            at_sentence_start: false,
        };
        for raw in line.split_whitespace() {
            let word = raw.trim_start_matches(|c: char| "([{\"'“‘<".contains(c));
            let core = word.trim_end_matches(|c: char| ".,;:!?)]}\"'”’>".contains(c));
            let tail = &word[core.len()..];
            let ends_sentence = tail.contains(['.', '!', '?']);
            let ends_run = !tail.is_empty();
            let found = if core.starts_with("http://") || core.starts_with("https://") {
                Some(host_of(core).and_then(|h| entity(h, NodeKind::Entity)))
            } else if let Some(handle) = core.strip_prefix('@') {
                Some(
                    name_chars(handle)
                        .then(|| entity(core, NodeKind::Entity))
                        .flatten(),
                )
            } else if let Some(hashtag) = core.strip_prefix('#') {
                Some(
                    name_chars(hashtag)
                        .then(|| entity(hashtag, NodeKind::Tag))
                        .flatten(),
                )
            } else if is_email(core) {
                Some(entity(core, NodeKind::Entity))
            } else {
                None
            };
            match found {
                Some(e) => {
                    run.flush(&mut out);
                    out.extend(e);
                }
                None if is_capitalised(core) => {
                    if run.words.is_empty() {
                        run.at_sentence_start = sentence_start;
                    }
                    run.words.push(core.to_owned());
                    if ends_run {
                        run.flush(&mut out);
                    }
                }
                None => run.flush(&mut out),
            }
            sentence_start = ends_sentence;
        }
        run.flush(&mut out);
    }
    out
}

/// A memory's entities, tags first, each once, at most
/// [`MAX_ENTITIES_PER_MEMORY`].
pub fn entities(memory: &Memory) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let found = memory
        .tags
        .iter()
        .filter_map(|t| tag(t))
        .chain(mentions(&memory.content));
    for e in found {
        if out.len() == MAX_ENTITIES_PER_MEMORY {
            break;
        }
        if !out.iter().any(|o| o.key == e.key) {
            out.push(e);
        }
    }
    out
}

fn memory_label(content: &str) -> String {
    let first = content.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first = first.trim();
    if first.chars().count() <= MEMORY_LABEL_CHARS {
        return first.to_owned();
    }
    let cut: String = first.chars().take(MEMORY_LABEL_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

fn entity_id(key: &str) -> String {
    format!("entity:{key}")
}

/// The graph of `memories` (in the order given: memory nodes keep it).
pub fn build(memories: &[Memory]) -> Graph {
    let mut graph = Graph::default();
    // Entity key → (kind, label, the memories that mention it).
    let mut found: HashMap<String, (NodeKind, String, Vec<usize>)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut mentions = Vec::new();
    for (i, memory) in memories.iter().enumerate() {
        graph.nodes.push(Node {
            id: memory.id.clone(),
            kind: NodeKind::Memory,
            label: memory_label(&memory.content),
        });
        for e in entities(memory) {
            let slot = found.entry(e.key.clone()).or_insert_with(|| {
                order.push(e.key.clone());
                (e.kind, e.label.clone(), Vec::new())
            });
            if e.kind == NodeKind::Tag && slot.0 != NodeKind::Tag {
                slot.0 = NodeKind::Tag;
                slot.1 = e.label.clone();
            }
            slot.2.push(i);
            mentions.push(Edge {
                source: memory.id.clone(),
                target: entity_id(&e.key),
                kind: EdgeKind::Mentions,
            });
        }
    }
    // The most mentioned entities first; ties in order of first mention.
    let mut ranked: Vec<(usize, &String)> = order.iter().enumerate().collect();
    ranked.sort_by_key(|(first, key)| (std::cmp::Reverse(found[*key].2.len()), *first));
    for (_, key) in &ranked {
        let (kind, label, _) = &found[*key];
        graph.nodes.push(Node {
            id: entity_id(key),
            kind: *kind,
            label: label.clone(),
        });
    }
    let mut shared: HashMap<(usize, usize), u32> = HashMap::new();
    for (_, _, holders) in found.values() {
        for (n, &a) in holders.iter().enumerate() {
            for &b in &holders[n + 1..] {
                *shared.entry((a, b)).or_default() += 1;
            }
        }
    }
    let mut shares: Vec<((usize, usize), u32)> = shared.into_iter().collect();
    // Heaviest first, then the newest pair (memories come newest first).
    shares.sort_by_key(|&(pair, weight)| (std::cmp::Reverse(weight), pair));
    graph.shares_truncated = shares.len() > MAX_SHARES;
    shares.truncate(MAX_SHARES);
    graph.edges = mentions;
    graph
        .edges
        .extend(shares.into_iter().map(|((a, b), weight)| Edge {
            source: memories[a].id.clone(),
            target: memories[b].id.clone(),
            kind: EdgeKind::Shares { weight },
        }));
    graph
}

#[cfg(test)]
mod tests;
