//! Delivery through an SMTP relay. The relay is named by a URL, as lettre reads it:
//! `smtps://user:pass@smtp.example.com` (TLS from the start, port 465),
//! `smtp://user:pass@smtp.example.com?tls=required` (STARTTLS, port 587) or
//! `smtp://localhost:1025` (plain, for a local catcher).

use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tessera_application::ports::{Mailer, OutgoingMail};

use super::MailRenderer;

/// What the SMTP adapter needs.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub url: String,
    /// The sender, e.g. `Tessera <no-reply@example.com>`.
    pub from: String,
    pub timeout: Duration,
}

/// Sends each mail as plain text through an SMTP relay (pooled connections).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    renderer: MailRenderer,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the relay's password: never print it.
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl SmtpMailer {
    /// Call within the Tokio runtime: the connection pool starts a task.
    pub fn new(settings: &SmtpSettings, renderer: MailRenderer) -> Result<Self, Box<dyn StdError + Send + Sync>> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("MAIL_FROM is not a mailbox: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|e| format!("SMTP_URL is not a usable SMTP URL: {e}"))?
            .timeout(Some(settings.timeout))
            .build();
        Ok(Self {
            transport,
            from,
            renderer,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        let rendered = self.renderer.render(mail)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(rendered.to.parse::<Mailbox>()?)
            .subject(rendered.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(rendered.text)?;
        self.transport.send(message).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration as ChronoDuration;
    use tessera_application::ports::MailMessage;
    use tessera_domain::Email;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-connection SMTP sink: answers the dialogue and hands back the envelope and data.
    async fn sink(listener: TcpListener) -> (Vec<String>, String) {
        let (socket, _) = listener.accept().await.expect("a client connects");
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut envelope = Vec::new();
        let mut data = String::new();
        write.write_all(b"220 sink ESMTP\r\n").await.expect("greets");
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                "MAIL" | "RCPT" => {
                    envelope.push(line.clone());
                    b"250 ok\r\n"
                }
                "DATA" => {
                    write.write_all(b"354 go on\r\n").await.expect("writes");
                    while let Ok(Some(body)) = lines.next_line().await {
                        if body == "." {
                            break;
                        }
                        data.push_str(&body);
                        data.push('\n');
                    }
                    b"250 queued\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.expect("writes");
                    break;
                }
                _ => b"250 ok\r\n",
            };
            write.write_all(reply).await.expect("writes");
        }
        (envelope, data)
    }

    #[tokio::test]
    async fn delivers_a_rendered_mail_through_the_relay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("has an address").port();
        let received = tokio::spawn(sink(listener));
        let mailer = SmtpMailer::new(
            &SmtpSettings {
                url: format!("smtp://127.0.0.1:{port}"),
                from: "Tessera <no-reply@example.com>".into(),
                timeout: Duration::from_secs(5),
            },
            MailRenderer::new(Some("https://app.example.com")),
        )
        .expect("valid settings");
        mailer
            .send(&OutgoingMail {
                to: Email::parse("ada@example.com").expect("valid"),
                message: MailMessage::PasswordReset {
                    token: "pr_secret".into(),
                    valid_for: ChronoDuration::hours(1),
                },
            })
            .await
            .expect("delivered");
        drop(mailer); // closes the pooled connection, so the sink sees QUIT or EOF
        let (envelope, data) = tokio::time::timeout(Duration::from_secs(10), received)
            .await
            .expect("the sink finishes")
            .expect("the sink does not panic");
        assert!(
            envelope.iter().any(|l| l.contains("<no-reply@example.com>")),
            "{envelope:?}"
        );
        assert!(envelope.iter().any(|l| l.contains("<ada@example.com>")), "{envelope:?}");
        assert!(data.contains("Subject: Reset your Tessera password"), "{data}");
        assert!(data.contains("pr_secret"), "{data}");
        assert!(data.contains("text/plain"), "{data}");
    }

    #[tokio::test]
    async fn bad_settings_are_refused_with_the_setting_named() {
        let bad_url = SmtpMailer::new(
            &SmtpSettings {
                url: "http://nope".into(),
                from: "no-reply@example.com".into(),
                timeout: Duration::from_secs(1),
            },
            MailRenderer::default(),
        );
        assert!(bad_url.expect_err("refused").to_string().contains("SMTP_URL"));
        let bad_from = SmtpMailer::new(
            &SmtpSettings {
                url: "smtp://localhost:25".into(),
                from: "not a mailbox".into(),
                timeout: Duration::from_secs(1),
            },
            MailRenderer::default(),
        );
        assert!(bad_from.expect_err("refused").to_string().contains("MAIL_FROM"));
    }
}
