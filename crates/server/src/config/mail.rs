//! Mail settings: the SMTP relay, the sender, and where links in mails point.

use clap::Args;

use super::values::Secret;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mail")]
pub struct MailSection {
    /// The SMTP relay for outgoing mail (`smtps://user:pass@smtp.example.com`,
    /// `smtp://host:587?tls=required`); without it mails are written to the log.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,

    /// The sender of outgoing mail.
    #[arg(long, env = "MAIL_FROM", default_value = "Tessera <no-reply@localhost>")]
    pub mail_from: String,

    /// Where the web app lives (`https://app.example.com`); links in mails point there.
    #[arg(long, env = "APP_URL")]
    pub app_url: Option<String>,
}
