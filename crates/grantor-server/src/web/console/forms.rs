//! What console forms share: refusals shown beside the fields they are about, the lines of a
//! textarea, and one-time forms, whose key makes a double-submitted form (two clicks, a
//! reload, the back button) act once.

use super::frame::Console;
use crate::AppState;
use crate::error::{PageError, sentence};
use crate::once::{Claim, OnceKey};
use grantor_core::ServiceError;
use grantor_core::params::Params;
use grantor_core::secret;

/// What a form shows after a refusal: each message beside the form field it is about, or
/// at the top of the form (field `""`) when the form has no such field.
#[derive(Debug, Default)]
pub struct FormErrors(Vec<(&'static str, String)>);

impl FormErrors {
    /// What to show beside `field` (`""`: at the top), every message about it in one.
    pub fn get(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .0
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for FormErrors {
    type Item = (&'static str, String);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A refusal a person can fix in the form belongs beside it (returned as the message to
/// show); anything else, a refusal for their role included, gets its own page.
pub fn form_message(e: ServiceError) -> Result<String, PageError> {
    Ok(form_refusals(e, |_| "")?.get("").unwrap_or_default())
}

/// Like [`form_message`], each reason beside the form field `field_of` finds for the name
/// `Manager` gives it (`""`: the top of the form).
pub fn form_refusals(
    e: ServiceError,
    field_of: impl Fn(&str) -> &'static str,
) -> Result<FormErrors, PageError> {
    let mut shown = FormErrors::default();
    match e {
        ServiceError::InvalidFields(errors) => {
            for e in errors {
                shown.add(field_of(&e.field), sentence(&e.message));
            }
        }
        ServiceError::Invalid(_) | ServiceError::Conflict(_) => {
            shown.add("", sentence(&e.to_string()));
        }
        other => return Err(PageError::Console(other)),
    }
    Ok(shown)
}

/// The field map of a form whose `fields` are named as `Manager` names them; a refusal about
/// anything else goes on top of the form.
pub fn named_as(fields: &'static [&'static str]) -> impl Fn(&str) -> &'static str {
    move |name| fields.iter().find(|f| **f == name).copied().unwrap_or("")
}

/// The lines of a textarea, trimmed, without blank ones.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A fresh one-time key for a form that must act once.
pub fn new_once() -> String {
    secret::new_id("once_").unwrap_or_default()
}

/// How a one-time form's submission stands.
pub enum Once {
    /// The first: go ahead, then [`done`] (or [`release`] when refused).
    First(String),
    /// Submitted before, and what it made then (an app ID, a token id...).
    Done(String),
    /// Submitted before, and still being answered.
    Busy,
}

/// Claims a one-time form's key, so a double-submitted form (two clicks, a reload, the back
/// button) makes one app, one secret, one token or one invitation, not two.
pub async fn claim(state: &AppState, console: &Console, form: &Params) -> Result<Once, PageError> {
    let Some(key) = form
        .get("once")
        .filter(|k| k.starts_with("once_") && k.len() <= 64)
    else {
        return Err(PageError::FormExpired(
            "This form is incomplete. Reload the page and try again.",
        ));
    };
    let caller = console.once_caller();
    let claimed = OnceKey::new(state, "console", &caller, key)
        .claim("console")
        .await
        .map_err(|e| PageError::Console(e.into()))?;
    Ok(match claimed {
        Claim::First => Once::First(key.to_string()),
        Claim::InProgress { .. } => Once::Busy,
        Claim::Answered { answer, .. } => Once::Done(
            answer
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .unwrap_or_default(),
        ),
    })
}

/// Records what a one-time form made, so a second submission can point to it.
pub async fn done(state: &AppState, console: &Console, key: &str, made: &str) {
    let caller = console.once_caller();
    OnceKey::new(state, "console", &caller, key)
        .finish(200, made.as_bytes())
        .await;
}

/// Frees a one-time form's key after a refusal, so the corrected form can be sent again.
pub async fn release(state: &AppState, console: &Console, key: &str) {
    let caller = console.once_caller();
    OnceKey::new(state, "console", &caller, key).release().await;
}
