//! Typed parse errors. The status code a server answers with is decided in one place,
//! [`ParseError::status`], so every edge maps the same error to the same response.

use thiserror::Error;

/// Why a SIP message or one of its parts could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The bytes are not UTF-8 where RFC 3261 requires UTF-8 text (start line, headers).
    #[error("message head is not valid UTF-8")]
    NotUtf8,
    /// No CRLF CRLF separates the header section from the body.
    #[error("message has no end of headers (CRLF CRLF)")]
    NoHeaderEnd,
    /// The message head is larger than we accept.
    #[error("message too large: {found} bytes (max {max})")]
    TooLarge { max: usize, found: usize },
    /// More header fields than we accept.
    #[error("too many header fields: {found} (max {max})")]
    TooManyHeaders { max: usize, found: usize },
    /// The start line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// The SIP version is not SIP/2.0 (answered with 505).
    #[error("unsupported SIP version {0:?}")]
    UnsupportedVersion(String),
    /// A status code outside 100..=699.
    #[error("status code out of range: {0}")]
    StatusCode(String),
    /// A header line without a colon, or with an empty or non-token name.
    #[error("malformed header line")]
    HeaderLine,
    /// A header that must appear once appears with several values.
    #[error("header {0} must have exactly one value")]
    MultipleValues(&'static str),
    /// A header required in every request or response is missing (RFC 3261 §8.1.1).
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// A header's value does not match its grammar.
    #[error("invalid {header} header: {reason}")]
    InvalidHeader { header: &'static str, reason: &'static str },
    /// Content-Length values disagree, are negative or not a number.
    #[error("invalid Content-Length: {0}")]
    ContentLength(&'static str),
    /// Content-Length promises more body than the datagram carries.
    #[error("Content-Length {declared} larger than body {available}")]
    BodyTruncated { declared: usize, available: usize },
    /// A URI that does not match RFC 3261 §19.1 / RFC 3966 grammar.
    #[error("invalid URI: {0}")]
    Uri(&'static str),
    /// The method in the start line and in CSeq differ (RFC 3261 §8.2 / RFC 4475 §3.1.2.17).
    #[error("CSeq method {cseq} does not match request method {start_line}")]
    MethodMismatch { start_line: String, cseq: String },
}

impl ParseError {
    /// The response status a server sends for a request that failed with this error.
    /// 505 for an unknown version, 400 for everything else (RFC 3261 §8.2, §21.4.1).
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::UnsupportedVersion(_) => 505,
            Self::TooLarge { .. } => 513,
            _ => 400,
        }
    }

    /// A short, stable code for metrics and call records.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::NoHeaderEnd => "no_header_end",
            Self::TooLarge { .. } => "too_large",
            Self::TooManyHeaders { .. } => "too_many_headers",
            Self::StartLine(_) => "start_line",
            Self::UnsupportedVersion(_) => "version",
            Self::StatusCode(_) => "status_code",
            Self::HeaderLine => "header_line",
            Self::MultipleValues(_) => "multiple_values",
            Self::MissingHeader(_) => "missing_header",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::ContentLength(_) => "content_length",
            Self::BodyTruncated { .. } => "body_truncated",
            Self::Uri(_) => "uri",
            Self::MethodMismatch { .. } => "method_mismatch",
        }
    }
}
