//! A user's own sessions, listed at `/account`: which browsers are signed in, from where, and
//! when last seen; any of them, or all but the current one, can be signed out. Every call
//! takes the user from the caller, so another user's session can be neither seen nor ended.

use super::{Governed, Manager};
use crate::ServiceError;
use crate::model::{AuditAction, Caller};
use crate::store::{SessionStore, UserStore};
use serde_json::json;

/// A session's last-seen time is written at most this often (seconds): busy pages read the
/// session on every request and must not write it every time too.
pub const LAST_SEEN_EVERY: i64 = 60;
/// How many sessions `/account` lists; "sign out everywhere else" reaches the rest.
pub const SESSIONS_LISTED: u32 = 50;
/// The longest User-Agent kept (characters).
pub const USER_AGENT_MAX: usize = 200;

/// A User-Agent as it may be stored and shown: without control characters (they could forge
/// a line in a page or a log) and at most [`USER_AGENT_MAX`] characters.
pub fn clean_user_agent(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX)
        .collect::<String>()
        .trim()
        .to_string()
}

/// "Chrome on Linux" when the User-Agent names a common browser and system, else `None`
/// (the page then shows the User-Agent itself). Order matters: Edge and Chrome also say
/// "Safari", Chrome on Android also says "Linux".
pub fn describe_browser(user_agent: &str) -> Option<String> {
    let has = |s: &str| user_agent.contains(s);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chromium/") {
        "Chromium"
    } else if has("Chrome/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else {
        return None;
    };
    let system = if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") {
        "iOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Linux") {
        "Linux"
    } else {
        return Some(browser.to_string());
    };
    Some(format!("{browser} on {system}"))
}

/// One session as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub handle: String,
    /// "Chrome on Linux", or the User-Agent itself, or "Unknown browser".
    pub browser: String,
    pub user_agent: String,
    pub address: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// The browser asking.
    pub current: bool,
}

impl<S: Governed + UserStore + SessionStore> Manager<S> {
    /// The caller's live sessions, the newest first; `current` is the hash of the asking one.
    pub async fn sessions(
        &self,
        actor: &Caller,
        current: &str,
    ) -> Result<Vec<SessionView>, ServiceError> {
        let user = self.own_account(actor).await?;
        let now = self.clock.now();
        let records = self
            .store
            .sessions_of_user(&user.id, now, SESSIONS_LISTED)
            .await?;
        Ok(records
            .into_iter()
            .map(|s| SessionView {
                browser: describe_browser(&s.user_agent).unwrap_or_else(|| {
                    if s.user_agent.is_empty() {
                        "Unknown browser".into()
                    } else {
                        s.user_agent.clone()
                    }
                }),
                current: s.id_hash == current,
                handle: s.handle,
                user_agent: s.user_agent,
                address: s.address,
                signed_in_at: s.auth_time,
                last_seen_at: s.last_seen_at,
            })
            .collect())
    }

    /// Signs out the caller's session named `handle`, never `current` (the asking one, which
    /// signs out the usual way). A handle that names no session of theirs changes nothing
    /// and answers the same, so it tells nothing about other users' sessions.
    pub async fn end_session(
        &self,
        actor: &Caller,
        handle: &str,
        current: &str,
    ) -> Result<(), ServiceError> {
        let user = self.own_account(actor).await?;
        // An empty handle would mean "every session" to the store.
        if handle.is_empty() {
            return Ok(());
        }
        let audit = self.audit(
            actor,
            AuditAction::UserEndSession,
            &user.id,
            None,
            json!({"session": handle}),
        )?;
        self.store
            .end_sessions(&user.id, Some(handle), current, &audit)
            .await?;
        Ok(())
    }

    /// Signs out every session of the caller but `current`; returns how many ended.
    pub async fn end_other_sessions(
        &self,
        actor: &Caller,
        current: &str,
    ) -> Result<u64, ServiceError> {
        let user = self.own_account(actor).await?;
        let audit = self.audit(
            actor,
            AuditAction::UserEndSession,
            &user.id,
            None,
            json!({"session": "all others"}),
        )?;
        Ok(self
            .store
            .end_sessions(&user.id, None, current, &audit)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::model::User;
    use crate::store::SessionRecord;
    use crate::testing::{World, ok};

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/131.0.0.0 Safari/537.36";

    async fn session(w: &World, user: &User, id: &str, user_agent: &str) {
        let now = w.clock.now();
        let record = SessionRecord {
            id_hash: id.into(),
            user_id: user.id.clone(),
            auth_time: now,
            method: Default::default(),
            expires_at: now + 3600,
            handle: format!("ses_{id}"),
            user_agent: user_agent.into(),
            address: "192.0.2.1".into(),
            last_seen_at: now,
        };
        ok(w.store.create_session(&record).await);
        w.clock.advance(1);
    }

    async fn three(w: &World) {
        session(w, &w.member, "laptop", CHROME).await;
        session(w, &w.member, "phone", "curl/8.0").await;
        session(w, &w.owner, "owner's", CHROME).await;
        session(w, &w.member, "here", "").await;
    }

    #[tokio::test]
    async fn the_list_shows_the_callers_live_sessions_newest_first() {
        let w = World::new().await;
        three(&w).await;
        let me = World::signed_in(&w.member);
        let list = ok(w.manager.sessions(&me, "here").await);
        let seen: Vec<_> = list
            .iter()
            .map(|s| (s.handle.as_str(), s.browser.as_str(), s.current))
            .collect();
        assert_eq!(
            seen,
            [
                ("ses_here", "Unknown browser", true),
                ("ses_phone", "curl/8.0", false),
                ("ses_laptop", "Chrome on Linux", false),
            ]
        );
        // Expired sessions are not listed: the first two expire an hour after they started.
        w.clock.advance(3600 - 2);
        let list = ok(w.manager.sessions(&me, "here").await);
        assert_eq!(list.len(), 1);
    }

    #[tokio::test]
    async fn ending_one_session_ends_only_that_one_and_is_audited() {
        let w = World::new().await;
        three(&w).await;
        let me = World::signed_in(&w.member);
        ok(w.manager.end_session(&me, "ses_phone", "here").await);
        assert_eq!(w.store.sessions_of(&w.member.id), ["laptop", "here"]);
        let event = w.store.audit_trail().pop().unwrap();
        assert_eq!(
            (event.action.as_str(), event.target.as_str()),
            ("user.end_session", w.member.id.as_str())
        );
    }

    #[tokio::test]
    async fn another_users_session_or_the_current_one_cannot_be_ended_this_way() {
        let w = World::new().await;
        three(&w).await;
        let me = World::signed_in(&w.member);
        let before = w.store.audit_trail().len();
        for handle in ["ses_owner's", "ses_here", "", "ses_nothing"] {
            ok(w.manager.end_session(&me, handle, "here").await);
        }
        assert_eq!(w.store.sessions_of(&w.owner.id), ["owner's"]);
        assert_eq!(
            w.store.sessions_of(&w.member.id),
            ["laptop", "phone", "here"]
        );
        // Nothing ended, so nothing is recorded.
        assert_eq!(w.store.audit_trail().len(), before);
    }

    #[tokio::test]
    async fn everywhere_else_keeps_the_current_session_and_other_users() {
        let w = World::new().await;
        three(&w).await;
        let me = World::signed_in(&w.member);
        assert_eq!(ok(w.manager.end_other_sessions(&me, "here").await), 2);
        assert_eq!(w.store.sessions_of(&w.member.id), ["here"]);
        assert_eq!(w.store.sessions_of(&w.owner.id), ["owner's"]);
        assert_eq!(ok(w.manager.end_other_sessions(&me, "here").await), 0);
    }

    #[test]
    fn user_agents_are_bounded_cleaned_and_summarised() {
        let long = "x".repeat(500);
        assert_eq!(clean_user_agent(&long).chars().count(), USER_AGENT_MAX);
        assert_eq!(clean_user_agent("a\r\nb\u{0}c\t"), "abc");
        assert_eq!(describe_browser(CHROME).as_deref(), Some("Chrome on Linux"));
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 \
                       Firefox/133.0";
        assert_eq!(
            describe_browser(firefox).as_deref(),
            Some("Firefox on Windows")
        );
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_browser(safari).as_deref(), Some("Safari on iOS"));
        assert_eq!(describe_browser("curl/8.0"), None);
    }
}
