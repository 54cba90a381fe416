//! Mailers: the log (development: the mail is written to the log, token included,
//! so a developer can follow the link) and memory (tests read what was sent).
//! An SMTP adapter is planned with the identity work.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tessera_application::ports::{Mailer, OutgoingMail};

/// Writes each mail to the log. For development only: mails carry secrets.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        tracing::info!(
            target: "tessera::mail",
            to = %mail.to,
            subject = %mail.subject,
            "development mailer (not delivered):\n{}",
            mail.text
        );
        Ok(())
    }
}

/// Keeps every mail in memory, for tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl MemoryMailer {
    /// `(to, subject, text)` of every mail so far.
    pub fn sent(&self) -> Vec<(String, String, String)> {
        self.sent.lock().map(|sent| sent.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        self.sent
            .lock()
            .map_err(|_| "the memory mailer's lock is poisoned")?
            .push((mail.to.to_string(), mail.subject.clone(), mail.text.clone()));
        Ok(())
    }
}
