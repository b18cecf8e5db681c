//! Property tests for the parsers and rules an outsider reaches before being authenticated:
//! request parameters, Basic client credentials, scope strings, redirect URI matching, PKCE and
//! the shape check on opaque values (session cookies, codes, refresh tokens).
//!
//! Each property states what an attacker could otherwise exploit: a panic is a crashed
//! request, a parser that accepts more than it should is a bypass, and a parser that refuses
//! what it produced itself is an outage.

// Test helpers outside `#[test]` functions fail loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use grantor_core::ErrorCode;
use grantor_core::authorize::redirect_uri_allowed;
use grantor_core::client_auth::{self, AuthMethod};
use grantor_core::model::{App, AppType, is_app_id};
use grantor_core::params::{self, InputError, MAX_PARAMS, Params};
use grantor_core::pkce;
use grantor_core::scope::ScopeSet;
use grantor_core::secret::{self, Kind};
use proptest::prelude::*;
use std::collections::HashMap;
use url::form_urlencoded;

// ---------------------------------------------------------------------------------------------
// Request parameters

/// Names the protocol reads, so that generated requests collide on them often.
fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "client_id", "scope", "state", "redirect_uri", "resource", "code", "",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), any::<String>()]
}

fn form(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The rule of RFC 6749 3.1 written the slow, obvious way: a name other than `resource` may
/// carry a non-empty value at most once. Answers the first name seen twice.
fn first_repeat(pairs: &[(String, String)]) -> Option<String> {
    for (i, (name, value)) in pairs.iter().enumerate() {
        if value.is_empty() || name == "resource" {
            continue;
        }
        if pairs[..i].iter().any(|(n, v)| n == name && !v.is_empty()) {
            return Some(name.clone());
        }
    }
    None
}

proptest! {
    /// Whatever bytes arrive, decoding answers (never panics), and what it accepts is within
    /// the advertised caps: the cap is what keeps every later pass over the pairs cheap.
    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_respects_the_caps(
        raw in prop::collection::vec(any::<u8>(), 0..2048),
        max in 0usize..2048,
    ) {
        match params::decode(&raw, max) {
            Ok(pairs) => {
                prop_assert!(raw.len() <= max);
                prop_assert!(pairs.len() <= MAX_PARAMS);
            }
            Err(InputError::TooLarge { limit }) => {
                prop_assert_eq!(limit, max);
                prop_assert!(raw.len() > max);
            }
            Err(InputError::TooMany { limit }) => prop_assert_eq!(limit, MAX_PARAMS),
            // A NUL is refused only when the input carries one, raw or escaped.
            Err(InputError::Nul(_)) => prop_assert!(
                raw.contains(&0) || raw.windows(3).any(|w| w == b"%00")
            ),
            Err(other) => prop_assert!(false, "decode cannot answer {other:?}"),
        }
        // The protocol parser only adds the repeat check; it must not panic either.
        let _ = Params::parse(&raw, max);
        let _ = Params::parse_lenient(&raw, max);
    }

    /// Bytes that are mostly separators and escapes, the shapes that trip hand-written
    /// decoders (`%`, `%4`, `+`, `&&`, `==`).
    #[test]
    fn decoding_escape_heavy_input_never_panics(
        raw in prop::collection::vec(
            prop::sample::select(b"%&=+;4aF\xff\x00 ".to_vec()), 0..512),
    ) {
        if let Ok(pairs) = params::decode(&raw, 4096) {
            prop_assert!(pairs.len() <= MAX_PARAMS);
        }
    }

    /// Any pairs a client encodes (RFC 6749 appendix B) decode to exactly those pairs, in
    /// order: percent-decoding loses nothing and invents nothing.
    #[test]
    fn form_encoding_round_trips(
        pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..MAX_PARAMS),
    ) {
        let encoded = form(&pairs);
        let decoded = params::decode(encoded.as_bytes(), usize::MAX)
            .expect("within the caps");
        // A pair with an empty name and value encodes as `=`, which is still a pair; only
        // the text between two `&` being empty is skipped.
        prop_assert_eq!(decoded, pairs);
    }

    /// Past the parameter cap, input is refused before decoding, whatever else it holds.
    #[test]
    fn one_parameter_too_many_is_refused(
        extra in 1usize..50,
        name in "[a-z]{1,8}",
    ) {
        let raw = vec![format!("{name}=1"); MAX_PARAMS + extra].join("&");
        prop_assert_eq!(
            params::decode(raw.as_bytes(), usize::MAX).unwrap_err(),
            InputError::TooMany { limit: MAX_PARAMS }
        );
    }

    /// A repeated parameter is refused exactly when the RFC says so, and the refusal names
    /// it; when accepted, `get` answers the one non-empty value (so a second `redirect_uri`
    /// or `scope` can never be smuggled past a check that read the first).
    #[test]
    fn repeated_parameters_are_refused_exactly_when_the_rfc_says(
        pairs in prop::collection::vec((param_name(), param_value()), 0..12),
    ) {
        match (Params::new(pairs.clone()), first_repeat(&pairs)) {
            (Ok(params), None) => {
                let mut firsts: HashMap<&str, &str> = HashMap::new();
                for (n, v) in &pairs {
                    if !v.is_empty() {
                        firsts.entry(n).or_insert(v);
                    }
                }
                for (n, _) in &pairs {
                    prop_assert_eq!(params.get(n), firsts.get(n.as_str()).copied());
                    if n != "resource" {
                        prop_assert!(params.all(n).count() <= 1);
                    }
                }
            }
            (Err(InputError::Repeated(name)), Some(expected)) => prop_assert_eq!(name, expected),
            (got, expected) => prop_assert!(false, "got {got:?}, the rule says {expected:?}"),
        }
    }

    /// The same rule holds through the encoded form: whatever encoding tricks a client uses
    /// for the name (`scope` vs `sc%6Fpe`), the decoded name is what is compared.
    #[test]
    fn repeats_are_found_after_decoding(value in "[a-z]{1,8}", escaped in any::<bool>()) {
        let second = if escaped { "sc%6Fpe" } else { "sc%6fpe" };
        let raw = format!("scope=a&{second}={value}");
        prop_assert_eq!(
            Params::parse(raw.as_bytes(), 1024).unwrap_err(),
            InputError::Repeated("scope".into())
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Basic client credentials (RFC 6749 2.3.1)

fn no_params() -> Params {
    Params::default()
}

fn body(pairs: &[(&str, &str)]) -> Params {
    Params::new(
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
    .expect("no repeats")
}

/// `Authorization: Basic` as RFC 6749 2.3.1 says a client builds it: each half
/// form-urlencoded, then joined by `:`, then base64.
fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

proptest! {
    /// Any header value and body: an answer, never a panic.
    #[test]
    fn any_authorization_header_is_answered(
        header in prop_oneof![
            any::<String>(),
            any::<String>().prop_map(|s| format!("Basic {s}")),
            prop::collection::vec(any::<u8>(), 0..64)
                .prop_map(|b| format!("Basic {}", STANDARD.encode(b))),
        ],
        id in proptest::option::of(any::<String>()),
    ) {
        let params = match &id {
            Some(id) => body(&[("client_id", id)]),
            None => no_params(),
        };
        if let Ok(creds) = client_auth::extract(Some(&header), &params) {
            // Accepting a header means it was Basic.
            prop_assert_eq!(creds.method, AuthMethod::Basic);
            prop_assert!(creds.secret.is_some());
        }
    }

    /// Whatever a client ID and secret contain (`:`, `%`, `+`, non-ASCII), the server reads
    /// back exactly what the client encoded: otherwise a valid client cannot authenticate, or
    /// two different IDs read as one.
    #[test]
    fn basic_credentials_round_trip(id in any::<String>(), secret in any::<String>()) {
        let creds = client_auth::extract(Some(&basic(&id, &secret)), &no_params())
            .expect("well-formed credentials");
        prop_assert_eq!(&creds.client_id, &id);
        prop_assert_eq!(creds.secret.as_deref(), Some(secret.as_str()));
        prop_assert_eq!(creds.method, AuthMethod::Basic);
        // The scheme is case-insensitive (RFC 9110 11.1).
        let upper = basic(&id, &secret).replacen("Basic", "BASIC", 1);
        prop_assert_eq!(
            client_auth::extract(Some(&upper), &no_params()).map(|c| c.client_id).ok(),
            Some(id)
        );
    }

    /// Two authentication methods at once, or a body `client_id` naming another client, are
    /// refused: the server must never authenticate one client and act for another.
    #[test]
    fn basic_never_mixes_with_a_second_identity(
        id in "[a-z]{1,8}", other in "[a-z]{1,8}", secret in "[a-z]{1,8}",
    ) {
        let header = basic(&id, &secret);
        let both = client_auth::extract(Some(&header), &body(&[("client_secret", &secret)]));
        prop_assert_eq!(both.unwrap_err().code, ErrorCode::InvalidRequest);
        let named = client_auth::extract(Some(&header), &body(&[("client_id", &other)]));
        if other == id {
            prop_assert!(named.is_ok());
        } else {
            prop_assert_eq!(named.unwrap_err().code, ErrorCode::InvalidRequest);
        }
    }

    /// Another scheme in the header is never read as Basic, even when what follows is valid
    /// Basic credentials.
    #[test]
    fn other_schemes_are_refused(scheme in "[A-Za-z]{1,10}", id in "[a-z]{1,8}") {
        prop_assume!(!scheme.eq_ignore_ascii_case("basic"));
        let header = basic(&id, "s").replacen("Basic", &scheme, 1);
        prop_assert_eq!(
            client_auth::extract(Some(&header), &no_params()).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }

    /// A confidential app authenticates with its secret and nothing else; the previous
    /// secret only inside its grace period.
    #[test]
    fn only_the_right_secret_authenticates(
        current in "[ -~]{1,40}",
        previous in "[ -~]{1,40}",
        presented in "[ -~]{0,40}",
        grace_left in -100i64..100,
    ) {
        let now = 1_000_000;
        let mut app = app(AppType::Web, vec![]);
        app.secret_hash = Some(secret::hash(&current));
        app.previous_secret_hash = Some(secret::hash(&previous));
        app.previous_secret_expires_at = now + grace_left;
        let creds = |s: &str| client_auth::ClientCredentials {
            client_id: app.client_id.clone(),
            secret: Some(s.to_string()),
            assertion: None,
            method: AuthMethod::Basic,
        };
        let ok = client_auth::authenticate(&app, &creds(&presented), now).is_ok();
        let expected = presented == current || (presented == previous && grace_left > 0);
        prop_assert_eq!(ok, expected);
        prop_assert!(client_auth::authenticate(&app, &creds(&current), now).is_ok());
    }
}

// ---------------------------------------------------------------------------------------------
// Scopes (RFC 6749 3.3)

/// The RFC's `scope-token` character class, written independently of the code under test.
fn rfc_scope_char(c: char) -> bool {
    c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c)
}

fn scope_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,4}(:[a-z]{1,4})?",
        prop::collection::vec(prop::char::range('!', '~'), 1..12)
            .prop_map(|cs| cs
                .into_iter()
                .filter(|c| rfc_scope_char(*c))
                .collect::<String>())
            .prop_filter("non-empty", |s| !s.is_empty()),
    ]
}

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    prop::collection::vec(scope_token(), 0..8).prop_map(|ts| ts.into_iter().collect())
}

proptest! {
    /// A scope string is accepted exactly when every space-separated token is a valid
    /// `scope-token` (of at most 200 bytes); a refusal names a token that was really invalid.
    /// Tabs and newlines are not separators, so `a\tb` cannot slip a second scope in.
    #[test]
    fn scope_strings_are_accepted_exactly_when_every_token_is_valid(s in any::<String>()) {
        let valid = |t: &str| t.len() <= 200 && t.chars().all(rfc_scope_char);
        let tokens: Vec<&str> = s.split(' ').filter(|t| !t.is_empty()).collect();
        match ScopeSet::parse(&s) {
            Ok(set) => {
                prop_assert!(tokens.iter().all(|t| valid(t)));
                prop_assert!(tokens.iter().all(|t| set.contains(t)));
                prop_assert!(set.len() <= tokens.len());
            }
            Err(bad) => {
                prop_assert!(tokens.contains(&bad.as_str()));
                prop_assert!(!valid(&bad));
            }
        }
    }

    /// Inserting any character outside the class into any token makes the string refused.
    #[test]
    fn one_invalid_character_refuses_the_whole_string(
        set in scope_set().prop_filter("non-empty", |s| !s.is_empty()),
        bad in any::<char>().prop_filter("outside the class", |c| !rfc_scope_char(*c) && *c != ' '),
        at in any::<prop::sample::Index>(),
    ) {
        let mut tokens: Vec<String> = set.iter().map(str::to_string).collect();
        let i = at.index(tokens.len());
        tokens[i].push(bad);
        prop_assert!(ScopeSet::parse(&tokens.join(" ")).is_err());
    }

    /// Writing a set and reading it back gives the same set, and reading normalises order,
    /// duplicates and extra spaces away: what a token says is what was granted.
    #[test]
    fn scope_sets_round_trip_through_their_string(
        tokens in prop::collection::vec(scope_token(), 0..8),
        spaces in prop::collection::vec(1usize..3, 8),
    ) {
        let set: ScopeSet = tokens.iter().cloned().collect();
        prop_assert_eq!(ScopeSet::parse(&set.to_string()), Ok(set.clone()));
        let mut messy = String::from(" ");
        for (t, n) in tokens.iter().rev().chain(tokens.iter()).zip(spaces.iter().cycle()) {
            messy.push_str(t);
            messy.push_str(&" ".repeat(*n));
        }
        prop_assert_eq!(ScopeSet::parse(&messy), Ok(set));
    }

    /// The set laws the grant code relies on when it narrows what an app asked for to what
    /// it may have: the intersection is within both, subset means nothing is missing, and
    /// what is missing plus what is shared is everything asked for.
    #[test]
    fn subset_and_intersection_laws(a in scope_set(), b in scope_set()) {
        let both = a.intersection(&b);
        prop_assert!(both.is_subset(&a) && both.is_subset(&b));
        prop_assert_eq!(&both, &b.intersection(&a));
        prop_assert_eq!(a.is_subset(&b), both == a);
        prop_assert_eq!(a.is_subset(&b), a.missing_from(&b).is_empty());
        let missing = a.missing_from(&b);
        prop_assert!(missing.iter().all(|s| a.contains(s) && !b.contains(s)));
        prop_assert_eq!(missing.len() + both.len(), a.len());
        prop_assert!(a.is_subset(&a));
    }
}

// ---------------------------------------------------------------------------------------------
// Redirect URI matching

fn app(app_type: AppType, redirect_uris: Vec<String>) -> App {
    App {
        client_id: "app_00000000000000000000000000000000".into(),
        org_id: "org_1".into(),
        name: "test".into(),
        app_type,
        secret_hash: None,
        previous_secret_hash: None,
        previous_secret_expires_at: 0,
        redirect_uris,
        post_logout_redirect_uris: vec![],
        scopes: ScopeSet::default(),
        allow_password: false,
        allow_implicit: false,
        allow_device_code: false,
        keys: None,
        require_par: false,
        access_token_ttl: 600,
        created_at: 0,
    }
}

/// A registered web redirect URI: `https://host[:port]/path[?query]`.
fn web_uri() -> impl Strategy<Value = String> {
    (
        "[a-z]{1,8}\\.(com|example)",
        proptest::option::of(1u16..),
        "(/[a-z0-9]{1,6}){1,3}",
        proptest::option::of("[a-z]{1,4}=[a-z0-9]{1,4}"),
    )
        .prop_map(|(host, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("https://{host}{port}{path}{query}")
        })
}

/// The variants attackers try on a registered URI, none of which is the registered URI.
fn tricks(uri: &str, other: &str, port: u16) -> Vec<String> {
    let (scheme_host, rest) = uri.split_at(uri[8..].find('/').map_or(uri.len(), |i| i + 8));
    let host = &scheme_host[8..];
    vec![
        format!("{uri}{other}"),                     // longer path: prefix match
        format!("{uri}/{other}"),                    // sub-path
        format!("{uri}.{other}.com"),                // host suffix when the URI has no path
        uri[..uri.len() - 1].to_string(),            // a prefix of the registered URI
        uri.to_uppercase(),                          // case
        uri.replacen("https://", "HTTPS://", 1),     // scheme case only
        uri.replacen("https://", "http://", 1),      // scheme downgrade
        format!("https://{other}@{host}{rest}"),     // userinfo
        format!("https://{host}@{other}.com{rest}"), // the registered host as userinfo
        format!("{scheme_host}:{port}{rest}"),       // a (different) port
        format!("{uri}#{other}"),                    // fragment
        format!("{uri}?{other}=1"),                  // extra query
        format!("{uri}&{other}=1"),
        format!("{uri}/../{other}"), // dot segments
        format!("{uri}%2F"),
        format!(" {uri}"),
        format!("{uri}\n"),
    ]
}

proptest! {
    /// A web app is redirected only to a registered URI, byte for byte.
    #[test]
    fn web_redirects_match_exactly(
        registered in web_uri(),
        other in "[a-z]{1,6}",
        port in 1u16..,
    ) {
        let app = app(AppType::Web, vec![registered.clone()]);
        prop_assert!(redirect_uri_allowed(&app, &registered));
        for trick in tricks(&registered, &other, port) {
            if trick != registered {
                prop_assert!(!redirect_uri_allowed(&app, &trick), "{trick:?} was accepted for {registered:?}");
            }
        }
    }

    /// A native app's loopback redirect may change its port (RFC 8252 7.3) and nothing else:
    /// not the host, path, query, scheme, userinfo, nor add a fragment.
    #[test]
    fn native_loopback_redirects_may_change_only_the_port(
        host in prop::sample::select(vec!["127.0.0.1", "[::1]"]),
        path in "(/[a-z0-9]{1,6}){1,3}",
        query in proptest::option::of("[a-z]{1,4}=[a-z0-9]{1,4}"),
        port in 1u16..,
        other in "[a-z]{1,6}",
    ) {
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let registered = format!("http://{host}{path}{query}");
        let app = app(AppType::Native, vec![registered.clone()]);
        let other_port = format!("http://{host}:{port}{path}{query}");
        prop_assert!(redirect_uri_allowed(&app, &other_port));
        let refused = [
            format!("http://{other}:{port}{path}{query}"),
            format!("http://localhost:{port}{path}{query}"),
            format!("http://{host}:{port}{path}/{other}{query}"),
            format!("http://{host}:{port}{path}{other}{query}"),
            format!("http://{host}:{port}{path}?{other}=1"),
            format!("https://{host}:{port}{path}{query}"),
            format!("http://{other}@{host}:{port}{path}{query}"),
            format!("http://{other}:{other}@{host}:{port}{path}{query}"),
            format!("http://{host}:{port}{path}{query}#{other}"),
            format!("http://{host}:{port}@{other}.com{path}{query}"),
        ];
        for uri in refused {
            prop_assert!(!redirect_uri_allowed(&app, &uri), "{uri:?} was accepted for {registered:?}");
        }
        // The loopback exception is for native apps only.
        let web = self::app(AppType::Web, vec![registered.clone()]);
        prop_assert!(!redirect_uri_allowed(&web, &other_port));
    }

    /// Whatever string is requested, matching answers without panicking, and a web app
    /// accepts it only if it is registered.
    #[test]
    fn arbitrary_requested_uris_are_answered(requested in any::<String>(), native in any::<bool>()) {
        let registered = vec!["http://127.0.0.1/cb".to_string(), "https://a.example/cb".to_string()];
        let app_type = if native { AppType::Native } else { AppType::Web };
        let ok = redirect_uri_allowed(&app(app_type, registered.clone()), &requested);
        if !native {
            prop_assert_eq!(ok, registered.contains(&requested));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PKCE (RFC 7636, S256)

/// A verifier as RFC 7636 4.1 defines it: 43 to 128 unreserved characters.
fn verifier() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{43,128}"
}

proptest! {
    /// The right verifier is accepted; its challenge has the shape of a verifier (43
    /// base64url characters), so it passes the same check at the authorization endpoint.
    #[test]
    fn the_right_verifier_is_accepted(v in verifier()) {
        let challenge = pkce::challenge(&v);
        prop_assert!(pkce::is_valid(&v));
        prop_assert!(pkce::verify(&v, &challenge));
        prop_assert_eq!(challenge.len(), 43);
        prop_assert!(pkce::is_valid(&challenge));
    }

    /// Any other verifier is refused, whether it differs in one character, is a prefix or
    /// an extension, or is the challenge itself (the `plain` method is not offered).
    #[test]
    fn any_other_verifier_is_refused(
        v in verifier(),
        other in any::<String>(),
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(b"A0a-._~Z".to_vec()),
    ) {
        let challenge = pkce::challenge(&v);
        prop_assert!(!pkce::verify(&challenge, &challenge));
        if other != v {
            prop_assert!(!pkce::verify(&other, &challenge));
        }
        let i = at.index(v.len());
        let mut changed = v.clone().into_bytes();
        if changed[i] != replacement {
            changed[i] = replacement;
            let changed = String::from_utf8(changed).expect("ASCII");
            prop_assert!(!pkce::verify(&changed, &challenge));
        }
        prop_assert!(!pkce::verify(&v[..v.len() - 1], &challenge));
        let longer = format!("{v}A");
        prop_assert!(!pkce::verify(&longer, &challenge));
        // A changed challenge refuses the right verifier.
        let mut bent = challenge.clone().into_bytes();
        let j = at.index(bent.len());
        bent[j] ^= 1;
        let bent = String::from_utf8(bent).expect("ASCII");
        prop_assert!(!pkce::verify(&v, &bent));
    }

    /// A verifier of the wrong length or with a character outside the unreserved set is
    /// refused even when the challenge was computed from it: the length is what gives the
    /// verifier its entropy.
    #[test]
    fn verifiers_outside_rfc7636_are_refused(s in any::<String>()) {
        let rfc = (43..=128).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        prop_assert_eq!(pkce::is_valid(&s), rfc);
        prop_assert_eq!(pkce::verify(&s, &pkce::challenge(&s)), rfc);
    }

    #[test]
    fn short_and_long_verifiers_are_refused(len in prop_oneof![0usize..43, 129usize..300]) {
        let s = "a".repeat(len);
        prop_assert!(!pkce::verify(&s, &pkce::challenge(&s)));
    }
}

#[test]
fn fresh_verifiers_are_valid() {
    for _ in 0..32 {
        let v = pkce::new_verifier().unwrap();
        assert!(pkce::verify(&v, &pkce::challenge(&v)));
    }
}

// ---------------------------------------------------------------------------------------------
// Opaque values: the session cookie, codes, refresh tokens and API tokens are checked for
// shape before any lookup.

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(vec![
        Kind::AppSecret,
        Kind::AuthorizationCode,
        Kind::RefreshToken,
        Kind::ApiToken,
        Kind::Session,
        Kind::Csrf,
    ])
}

proptest! {
    /// Only a prefix of the right kind followed by exactly 43 base64url characters has the
    /// shape: a refresh token is never taken for a session, and arbitrary cookie text never
    /// reaches the store.
    #[test]
    fn shape_check_matches_what_is_generated(k in kind(), other in kind(), s in any::<String>()) {
        let fresh = secret::generate(k).unwrap();
        prop_assert!(secret::has_shape(&fresh, k));
        if other != k {
            prop_assert!(!secret::has_shape(&fresh, other));
        }
        let expected = s.strip_prefix(k.prefix()).is_some_and(|rest| {
            rest.len() == 43
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        prop_assert_eq!(secret::has_shape(&s, k), expected);
        let with_prefix = format!("{}{}", k.prefix(), s);
        let rest_ok = s.len() == 43
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(secret::has_shape(&with_prefix, k), rest_ok);
    }

    /// A `client_id` is checked for shape before the store is asked (so arbitrary text never
    /// reaches a query or the cache): exactly `app_` and 32 lowercase hex digits, as IDs are
    /// made.
    #[test]
    fn client_ids_have_exactly_the_shape_ids_are_made_with(s in any::<String>(), hex in "[0-9a-f]{32}") {
        let made = secret::new_id("app_").unwrap();
        prop_assert!(is_app_id(&made));
        let expected = s.strip_prefix("app_").is_some_and(|h| {
            h.len() == 32 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        prop_assert_eq!(is_app_id(&s), expected);
        let id = format!("app_{hex}");
        prop_assert!(is_app_id(&id));
        let upper = id.to_uppercase();
        prop_assert!(!is_app_id(&upper));
        let longer = format!("{id}0");
        prop_assert!(!is_app_id(&longer));
    }

    /// A stored hash matches only the value it was made from.
    #[test]
    fn hashes_match_only_their_value(a in any::<String>(), b in any::<String>()) {
        let h = secret::hash(&a);
        prop_assert!(secret::matches(&a, &h));
        prop_assert_eq!(secret::matches(&b, &h), a == b);
    }
}
