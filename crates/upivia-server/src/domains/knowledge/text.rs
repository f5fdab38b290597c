//! A document's text, and its chunks. Plain text and Markdown are taken
//! as they are (Markdown's marks are punctuation to the tokenizer), HTML
//! is rendered to text (`html2text`), PDF's text layer is read
//! (`pdf-extract`; a scanned page has none), anything else is refused with
//! a message saying so (office formats are not extracted). Chunks
//! are paragraphs packed up to [`CHUNK_CHARS`]; a paragraph longer than
//! that is cut at sentence ends, else at spaces.

/// Largest chunk, in characters: about a paragraph or two, which is what
/// an answer quotes.
pub const CHUNK_CHARS: usize = 1200;
/// Most chunks one document makes.
pub const MAX_CHUNKS: usize = 5000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("{0} files are not extracted; upload text, Markdown, HTML or PDF")]
    Unsupported(String),
    #[error("the PDF could not be read: {0}")]
    BadPdf(String),
    #[error("the file is not UTF-8 text")]
    NotText,
    #[error("the document holds no text")]
    Empty,
    #[error("the document makes more than {MAX_CHUNKS} chunks; split it")]
    TooLong,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Html,
    Pdf,
}

fn kind(content_type: &str, filename: &str) -> Result<Kind, ExtractError> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "text/html" | "application/xhtml+xml" => return Ok(Kind::Html),
        "application/pdf" => return Ok(Kind::Pdf),
        e if e.starts_with("text/") => return Ok(Kind::Text),
        "application/json" | "application/x-ndjson" | "application/xml" => {
            return Ok(Kind::Text);
        }
        _ => {}
    }
    match ext.as_str() {
        "html" | "htm" | "xhtml" => Ok(Kind::Html),
        "pdf" => Ok(Kind::Pdf),
        "txt" | "md" | "markdown" | "rst" | "csv" | "log" | "json" | "yaml" | "yml" | "toml" => {
            Ok(Kind::Text)
        }
        _ => Err(ExtractError::Unsupported(if essence.is_empty() {
            ext
        } else {
            essence
        })),
    }
}

/// The text layer of a PDF. The parser is known to panic on some fonts
/// and malformed files; such a file fails, it does not take the worker
/// down.
fn pdf(bytes: &[u8]) -> Result<String, ExtractError> {
    std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes))
        .map_err(|_| ExtractError::BadPdf("its structure is not supported".into()))?
        .map_err(|e| ExtractError::BadPdf(e.to_string()))
}

fn utf8(bytes: &[u8]) -> Result<&str, ExtractError> {
    let raw = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotText)?;
    Ok(raw.strip_prefix('\u{feff}').unwrap_or(raw))
}

/// The text of a document.
pub fn extract(bytes: &[u8], content_type: &str, filename: &str) -> Result<String, ExtractError> {
    let text = match kind(content_type, filename)? {
        Kind::Text => utf8(bytes)?.replace("\r\n", "\n"),
        // Wide enough that lines are not wrapped mid-paragraph.
        Kind::Html => html2text::from_read(utf8(bytes)?.as_bytes(), 10_000)
            .map_err(|_| ExtractError::NotText)?,
        Kind::Pdf => pdf(bytes)?,
    };
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
}

/// The text's chunks, in order.
pub fn chunks(text: &str) -> Result<Vec<String>, ExtractError> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let paragraphs = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty());
    for paragraph in paragraphs {
        for piece in split_long(&paragraph) {
            let joined = current.chars().count() + piece.chars().count() + 1;
            if !current.is_empty() && joined > CHUNK_CHARS {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&piece);
        }
        if out.len() > MAX_CHUNKS {
            return Err(ExtractError::TooLong);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    if out.is_empty() {
        return Err(ExtractError::Empty);
    }
    if out.len() > MAX_CHUNKS {
        return Err(ExtractError::TooLong);
    }
    Ok(out)
}

/// A paragraph in pieces of at most [`CHUNK_CHARS`].
fn split_long(paragraph: &str) -> Vec<String> {
    if paragraph.chars().count() <= CHUNK_CHARS {
        return vec![paragraph.to_owned()];
    }
    let mut pieces = Vec::new();
    let mut rest = paragraph;
    while rest.chars().count() > CHUNK_CHARS {
        let limit = rest
            .char_indices()
            .nth(CHUNK_CHARS)
            .map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = window
            .rfind(". ")
            .map(|i| i + 1)
            .filter(|i| *i > limit / 2)
            .or_else(|| window.rfind(' ').filter(|i| *i > 0))
            .unwrap_or(limit);
        pieces.push(rest[..cut].trim().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_markdown_and_html_are_extracted_and_others_refused() {
        assert_eq!(extract(b"hello", "text/plain", "a").unwrap(), "hello");
        assert_eq!(
            extract(b"# T\n\nbody", "application/octet-stream", "a.md").unwrap(),
            "# T\n\nbody"
        );
        let html = extract(
            b"<html><body><h1>Runbook</h1><p>Restart the <b>Relay</b> consumer.</p><script>x()</script></body></html>",
            "text/html",
            "r.html",
        )
        .unwrap();
        assert!(
            html.contains("Runbook") && html.contains("Restart the"),
            "{html}"
        );
        assert!(!html.contains("<b>"), "{html}");
        assert!(matches!(
            extract(b"%PDF-1.7", "application/pdf", "a.pdf"),
            Err(ExtractError::BadPdf(_))
        ));
        assert!(matches!(
            extract(b"PK\x03\x04", "application/vnd.ms-excel", "a.xls"),
            Err(ExtractError::Unsupported(_))
        ));
        assert_eq!(
            extract(&[0xff, 0xfe, 0x00], "text/plain", "a"),
            Err(ExtractError::NotText)
        );
        assert_eq!(
            extract(b"  \n ", "text/plain", "a"),
            Err(ExtractError::Empty)
        );
    }

    #[test]
    fn paragraphs_pack_into_chunks_and_long_ones_are_cut() {
        let small = chunks("one\n\ntwo\n\n\nthree").unwrap();
        assert_eq!(small, vec!["one\ntwo\nthree"]);
        let sentence = "The queue backs up when consumers stall. ";
        let long = sentence.repeat(100);
        let cut = chunks(&long).unwrap();
        assert!(cut.len() > 1);
        assert!(
            cut.iter().all(|c| c.chars().count() <= CHUNK_CHARS),
            "{cut:?}"
        );
        assert!(cut[0].ends_with('.'), "cut at a sentence end: {}", cut[0]);
        let joined: String = cut.join(" ");
        assert_eq!(
            joined.split_whitespace().count(),
            long.split_whitespace().count(),
            "nothing lost"
        );
        let unbroken = "x".repeat(3000);
        assert!(
            chunks(&unbroken)
                .unwrap()
                .iter()
                .all(|c| c.chars().count() <= CHUNK_CHARS)
        );
    }
}
