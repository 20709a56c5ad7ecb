//! The organisation as stored: every version kept, as a JSON document with where it came
//! from. At start svar stores the configuration's organisation when it differs from the
//! latest version; edits through the API (with the console) add versions the same way,
//! so who belonged where, when, can always be answered.

use std::future::Future;

use jiff::Timestamp;
use policy::org::Organisation;

use crate::StoreError;

/// One stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationVersion {
    /// 1, 2, ...
    pub version: i64,
    /// When it was stored.
    pub at: Timestamp,
    /// `config` or the user who edited it.
    pub source: String,
    /// The organisation.
    pub organisation: Organisation,
}

/// Persistence of the organisation.
pub trait OrganisationStore: Send + Sync + 'static {
    /// The latest version, if any.
    fn latest_organisation(&self) -> impl Future<Output = Result<Option<OrganisationVersion>, StoreError>> + Send;
    /// Store a new version; returns its number.
    fn save_organisation(
        &self,
        organisation: &Organisation,
        source: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

/// The document stored for an organisation.
///
/// # Errors
/// Never in practice: the types serialise to JSON.
pub fn to_document(o: &Organisation) -> Result<String, StoreError> {
    serde_json::to_string(o).map_err(|e| StoreError::Corrupt { table: "organisation_versions", reason: e.to_string() })
}

/// An organisation from its document.
///
/// # Errors
/// A document that does not describe an organisation.
pub fn from_document(s: &str) -> Result<Organisation, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt { table: "organisation_versions", reason: e.to_string() })
}
