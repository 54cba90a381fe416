//! Mail adapters and the templates they share. The application says what to tell
//! someone ([`MailMessage`]); [`MailRenderer`] turns that into a subject and a text from
//! the templates in `templates/mail/`; an adapter delivers it:
//! - [`SmtpMailer`]: production, through an SMTP relay (lettre);
//! - [`LogMailer`]: development, the mail is written to the log (token included, so a
//!   developer can follow the link);
//! - [`MemoryMailer`]: tests read what was sent.

mod smtp;

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use tessera_application::ports::{MailMessage, Mailer, OutgoingMail};

pub use smtp::{SmtpMailer, SmtpSettings};

const PRODUCT: &str = "Tessera";

/// The templates, compiled into the binary: `<kind>.subject.txt` and `<kind>.body.txt`.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "verify_email.subject.txt",
        include_str!("../../templates/mail/verify_email.subject.txt"),
    ),
    (
        "verify_email.body.txt",
        include_str!("../../templates/mail/verify_email.body.txt"),
    ),
    (
        "password_reset.subject.txt",
        include_str!("../../templates/mail/password_reset.subject.txt"),
    ),
    (
        "password_reset.body.txt",
        include_str!("../../templates/mail/password_reset.body.txt"),
    ),
    (
        "invitation.subject.txt",
        include_str!("../../templates/mail/invitation.subject.txt"),
    ),
    (
        "invitation.body.txt",
        include_str!("../../templates/mail/invitation.body.txt"),
    ),
];

/// A mail ready to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Renders every [`MailMessage`] from its templates. A template that names a value the
/// message does not provide is an error, never a silently empty gap.
#[derive(Clone)]
pub struct MailRenderer {
    env: Arc<Environment<'static>>,
    app_url: Option<String>,
}

impl std::fmt::Debug for MailRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailRenderer").field("app_url", &self.app_url).finish()
    }
}

impl Default for MailRenderer {
    fn default() -> Self {
        Self::new(None)
    }
}

impl MailRenderer {
    /// `app_url`: where the web app lives (`https://app.example.com`); links in mails
    /// point there. Without it, mails carry only the token.
    pub fn new(app_url: Option<&str>) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("the mail templates are compiled in and checked by the tests");
        }
        Self {
            env: Arc::new(env),
            app_url: app_url
                .map(|url| url.trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty()),
        }
    }

    pub fn render(&self, mail: &OutgoingMail) -> Result<RenderedMail, minijinja::Error> {
        let common = context! {
            product => PRODUCT,
            app_url => Value::from(self.app_url.clone()),
        };
        let values = match &mail.message {
            MailMessage::VerifyEmail { token, valid_for } | MailMessage::PasswordReset { token, valid_for } => {
                context! { token => token.as_str(), valid_for => human_duration(*valid_for), ..common }
            }
            MailMessage::Invitation {
                tenant_name,
                role_name,
                token,
                expires_at,
            } => context! {
                tenant_name => tenant_name.as_str(),
                role_name => role_name.as_str(),
                token => token.as_str(),
                expires_at => expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                ..common
            },
        };
        let kind = mail.message.kind();
        let subject = self.env.get_template(&format!("{kind}.subject.txt"))?.render(&values)?;
        let mut text = self.env.get_template(&format!("{kind}.body.txt"))?.render(&values)?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(RenderedMail {
            to: mail.to.to_string(),
            subject: subject.trim().to_owned(),
            text,
        })
    }
}

/// "24 hours", "1 hour", "30 minutes", "2 days".
fn human_duration(duration: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    let minutes = duration.num_minutes();
    if minutes % (60 * 24) == 0 && minutes >= 60 * 48 {
        plural(minutes / (60 * 24), "day")
    } else if minutes % 60 == 0 && minutes >= 60 {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes.max(1), "minute")
    }
}

/// Writes each mail to the log. For development only: mails carry secrets. The
/// redacted form logs only who would have received what kind of mail.
#[derive(Debug, Default, Clone)]
pub struct LogMailer {
    renderer: MailRenderer,
    redacted: bool,
}

impl LogMailer {
    pub fn new(renderer: MailRenderer) -> Self {
        Self {
            renderer,
            redacted: false,
        }
    }

    pub fn redacted(renderer: MailRenderer) -> Self {
        Self {
            renderer,
            redacted: true,
        }
    }
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        if self.redacted {
            tracing::warn!(target: "tessera::mail", kind = mail.message.kind(), "mail not delivered: no SMTP_URL");
            return Ok(());
        }
        let mail = self.renderer.render(mail)?;
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
    renderer: MailRenderer,
    sent: Arc<Mutex<Vec<RenderedMail>>>,
}

impl MemoryMailer {
    /// `(to, subject, text)` of every mail so far.
    pub fn sent(&self) -> Vec<(String, String, String)> {
        self.sent
            .lock()
            .map(|sent| {
                sent.iter()
                    .map(|m| (m.to.clone(), m.subject.clone(), m.text.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        let mail = self.renderer.render(mail)?;
        self.sent
            .lock()
            .map_err(|_| "the memory mailer's lock is poisoned")?
            .push(mail);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use tessera_domain::Email;

    use super::*;

    fn mail(message: MailMessage) -> OutgoingMail {
        OutgoingMail {
            to: Email::parse("ada@example.com").expect("valid"),
            message,
        }
    }

    fn every_kind() -> Vec<MailMessage> {
        vec![
            MailMessage::VerifyEmail {
                token: "ev_abc+/=".into(),
                valid_for: Duration::hours(24),
            },
            MailMessage::PasswordReset {
                token: "pr_abc".into(),
                valid_for: Duration::hours(1),
            },
            MailMessage::Invitation {
                tenant_name: "Acme".into(),
                role_name: "Admin".into(),
                token: "inv_abc".into(),
                expires_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).single().expect("valid"),
            },
        ]
    }

    #[test]
    fn every_kind_renders_with_and_without_an_app_url() {
        for renderer in [
            MailRenderer::new(None),
            MailRenderer::new(Some("https://app.example.com/")),
        ] {
            for message in every_kind() {
                let rendered = renderer.render(&mail(message.clone())).expect("renders");
                assert_eq!(rendered.to, "ada@example.com");
                assert!(!rendered.subject.contains('\n') && rendered.subject.contains("Tessera"));
                let token = match &message {
                    MailMessage::VerifyEmail { token, .. }
                    | MailMessage::PasswordReset { token, .. }
                    | MailMessage::Invitation { token, .. } => token,
                };
                assert!(rendered.text.contains(&format!("    {token}\n")), "{}", rendered.text);
                assert_eq!(
                    rendered.text.contains("https://app.example.com/"),
                    renderer.app_url.is_some(),
                    "{}",
                    rendered.text
                );
            }
        }
    }

    #[test]
    fn facts_reach_the_text_and_links_are_encoded() {
        let renderer = MailRenderer::new(Some("https://app.example.com"));
        let [verify, reset, invite]: [MailMessage; 3] = every_kind().try_into().unwrap_or_else(|_| unreachable!());
        let verify = renderer.render(&mail(verify)).expect("renders");
        assert!(verify.text.contains("valid for 24 hours"));
        assert!(
            verify.text.contains("/verify-email?token=ev_abc%2B/%3D"),
            "{}",
            verify.text
        );
        let reset = renderer.render(&mail(reset)).expect("renders");
        assert_eq!(reset.subject, "Reset your Tessera password");
        assert!(reset.text.contains("valid for 1 hour, once"));
        let invite = renderer.render(&mail(invite)).expect("renders");
        assert_eq!(invite.subject, "You are invited to join Acme on Tessera");
        assert!(invite.text.contains("join Acme as Admin"));
        assert!(invite.text.contains("valid until 2026-12-01 09:30 UTC"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::hours(24)), "24 hours");
        assert_eq!(human_duration(Duration::hours(1)), "1 hour");
        assert_eq!(human_duration(Duration::minutes(30)), "30 minutes");
        assert_eq!(human_duration(Duration::days(7)), "7 days");
        assert_eq!(human_duration(Duration::seconds(5)), "1 minute");
    }
}
