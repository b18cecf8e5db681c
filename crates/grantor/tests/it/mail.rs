//! Mail settings are checked at start-up with messages that say what to fix (and never repeat
//! a password); mail itself is tested through the password reset (`password_reset.rs`), on a
//! real SMTP server on loopback (`support/smtp.rs`).

use crate::support::{Backend, config, db::TestDatabase};
use grantor_server::Application;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mail_settings_stop_the_server_with_a_clear_message() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    for (smtp_url, mail_from, says) in [
        (
            "smtp://mailer:hunter2@mail.example.com",
            Some("noreply@example.com"),
            "would send its password in plain text",
        ),
        (
            "imap://mail.example.com",
            Some("noreply@example.com"),
            "scheme \"imap\"",
        ),
        (
            "smtp://mail.example.com?tls=maybe",
            Some("noreply@example.com"),
            "tls=\"maybe\"",
        ),
        ("smtp://127.0.0.1:2525", None, "GRANTOR_MAIL_FROM"),
        ("smtp://127.0.0.1:2525", Some("not an address"), "mail_from"),
    ] {
        let mut settings = config(&db.url);
        settings.smtp_url = Some(smtp_url.into());
        settings.mail_from = mail_from.map(String::from);
        let Err(e) = Application::build(settings).await else {
            panic!("{smtp_url} {mail_from:?} was accepted");
        };
        let message = e.to_string();
        assert!(message.contains(says), "{smtp_url}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    let mut settings = config(&db.url);
    settings.smtp_url = Some("smtps://mailer:hunter2@mail.example.com".into());
    settings.mail_from = Some("Grantor <noreply@example.com>".into());
    assert!(Application::build(settings).await.is_ok());
}
