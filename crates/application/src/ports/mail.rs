//! Outgoing mail.

use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::Email;

/// A message for one recipient. The application says *what* to tell them; the mail
/// adapter renders the text from its templates.
#[derive(Clone)]
pub struct OutgoingMail {
    pub to: Email,
    pub message: MailMessage,
}

/// Every kind of mail Tessera sends, with the facts its template needs.
#[derive(Clone)]
pub enum MailMessage {
    VerifyEmail {
        token: String,
        valid_for: chrono::Duration,
    },
    PasswordReset {
        token: String,
        valid_for: chrono::Duration,
    },
    Invitation {
        tenant_name: String,
        role_name: String,
        token: String,
        expires_at: DateTime<Utc>,
    },
}

impl MailMessage {
    /// A stable name for logs and template lookup (never the content: mails carry secrets).
    pub fn kind(&self) -> &'static str {
        match self {
            MailMessage::VerifyEmail { .. } => "verify_email",
            MailMessage::PasswordReset { .. } => "password_reset",
            MailMessage::Invitation { .. } => "invitation",
        }
    }
}

/// Sends mail (SMTP in production, the log in development, memory in tests).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>>;
}
