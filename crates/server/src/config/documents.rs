//! Trusted-documents settings: the manifest of documents a deployment vouches for, who
//! may run only those, and how often a running server reloads it. `tessera persisted
//! add|import` use this section alone.

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrustedDocumentsRequired {
    Off,
    ApiKeys,
    Everyone,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Trusted documents")]
pub struct TrustedDocumentsSection {
    /// The trusted-documents manifest (hash → document), loaded at start.
    #[arg(
        id = "trusted_documents_file",
        value_name = "TRUSTED_DOCUMENTS_FILE",
        long = "trusted-documents-file",
        env = "TRUSTED_DOCUMENTS_FILE",
        default_value = "trusted-documents.json"
    )]
    pub file: std::path::PathBuf,

    /// Who may run trusted documents only: off, api-keys or everyone.
    #[arg(
        id = "trusted_documents_required",
        value_name = "TRUSTED_DOCUMENTS_REQUIRED",
        long = "trusted-documents-required",
        env = "TRUSTED_DOCUMENTS_REQUIRED",
        value_enum,
        default_value = "off"
    )]
    pub required: TrustedDocumentsRequired,

    /// How often a running server looks at the manifest file and reloads it when it
    /// changed (0: only on SIGHUP). A file that does not load keeps the previous manifest.
    #[arg(
        id = "trusted_documents_reload_seconds",
        value_name = "TRUSTED_DOCUMENTS_RELOAD_SECONDS",
        long = "trusted-documents-reload-seconds",
        env = "TRUSTED_DOCUMENTS_RELOAD_SECONDS",
        default_value_t = 10
    )]
    pub reload_seconds: u64,
}

impl TrustedDocumentsSection {
    pub fn policy(&self) -> tessera_api::http::TrustedDocuments {
        use tessera_api::http::TrustedDocuments;
        match self.required {
            TrustedDocumentsRequired::Off => TrustedDocuments::Off,
            TrustedDocumentsRequired::ApiKeys => TrustedDocuments::ApiKeys,
            TrustedDocumentsRequired::Everyone => TrustedDocuments::Everyone,
        }
    }
}
