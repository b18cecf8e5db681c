//! Property tests for the parsers and rules an attacker reaches first: form and query
//! parameters, Basic client credentials, scope strings, PKCE and redirect URIs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use grantor_core::client_auth;
use grantor_core::manage::validate_redirect_uri;
use grantor_core::model::AppType;
use grantor_core::params::{self, InputError, MAX_FORM_BYTES, MAX_PARAMS, Params};
use grantor_core::pkce;
use grantor_core::scope::{self, ScopeSet};
use proptest::prelude::*;

fn form_encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes at all: an answer (pairs or a refusal), never a panic, and the limits hold.
    #[test]
    fn parameters_from_any_bytes_are_bounded(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        match params::decode(&raw, 1024) {
            Ok(pairs) => {
                prop_assert!(raw.len() <= 1024);
                prop_assert!(pairs.len() <= MAX_PARAMS);
            }
            Err(InputError::TooLarge { .. }) => prop_assert!(raw.len() > 1024),
            Err(InputError::TooMany { .. }) => prop_assert!(
                raw.split(|b| *b == b'&').filter(|p| !p.is_empty()).count() > MAX_PARAMS
            ),
            Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
        }
        let _ = Params::parse(&raw, MAX_FORM_BYTES);
    }

    /// Encoding then decoding gives the same pairs, whatever they hold.
    #[test]
    fn parameters_round_trip(pairs in proptest::collection::vec((".{1,20}", ".{0,40}"), 0..20)) {
        let encoded = form_encode(&pairs);
        prop_assert_eq!(params::decode(encoded.as_bytes(), MAX_FORM_BYTES).unwrap(), pairs);
    }

    /// A name given twice with values is refused, wherever the repeat sits.
    #[test]
    fn a_repeated_parameter_is_refused(
        names in proptest::collection::hash_set("[a-z_]{1,12}", 1..20),
        index in any::<prop::sample::Index>(),
    ) {
        // `resource` is the one name that may repeat.
        let names: Vec<String> = names.into_iter().filter(|n| n != "resource").collect();
        prop_assume!(!names.is_empty());
        let repeated = index.get(&names).clone();
        let mut pairs: Vec<(String, String)> =
            names.iter().map(|n| (n.clone(), "v".into())).collect();
        pairs.push((repeated.clone(), "w".into()));
        prop_assert_eq!(Params::new(pairs).err(), Some(InputError::Repeated(repeated)));
    }

    /// Whatever an Authorization header holds, extracting credentials never panics; Basic
    /// credentials built from any id and secret come back as they were.
    #[test]
    fn basic_credentials_round_trip(id in "[ -~]{1,40}", secret in "[ -~]{1,60}", junk in ".{0,200}") {
        let empty = Params::default();
        let _ = client_auth::extract(Some(&junk), &empty);
        let header = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", url_encode(&id), url_encode(&secret)))
        );
        let creds = client_auth::extract(Some(&header), &empty).unwrap();
        prop_assert_eq!(creds.client_id, id);
        prop_assert_eq!(creds.secret.unwrap_or_default(), secret);
    }

    /// A scope string parses to a set that prints back to the same set; only RFC 6749
    /// scope-token characters get in.
    #[test]
    fn scope_strings(s in ".{0,80}") {
        match ScopeSet::parse(&s) {
            Ok(set) => {
                prop_assert!(set.iter().all(scope::is_valid_token));
                prop_assert!(set.iter().all(|t| t.bytes().all(|b| b == 0x21
                    || (0x23..=0x5b).contains(&b)
                    || (0x5d..=0x7e).contains(&b))));
                prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
            }
            Err(_) => prop_assert!(s.split(' ').any(|t| !t.is_empty() && !scope::is_valid_token(t))),
        }
    }

    /// Intersections and subsets obey set laws, so narrowing never widens.
    #[test]
    fn scope_intersection_narrows(
        a in proptest::collection::vec("[a-z:]{1,8}", 0..8),
        b in proptest::collection::vec("[a-z:]{1,8}", 0..8),
    ) {
        let a = ScopeSet::parse(&a.join(" ")).unwrap();
        let b = ScopeSet::parse(&b.join(" ")).unwrap();
        let both = a.intersection(&b);
        prop_assert!(both.is_subset(&a) && both.is_subset(&b));
        prop_assert_eq!(both, b.intersection(&a));
        prop_assert_eq!(a.is_subset(&b), a.intersection(&b) == a);
    }

    /// The right verifier passes; any other string, or any one-byte change, fails.
    #[test]
    fn pkce_accepts_only_its_verifier(
        verifier in "[A-Za-z0-9._~-]{43,128}",
        other in ".{0,130}",
        flip in any::<prop::sample::Index>(),
    ) {
        let challenge = pkce::challenge(&verifier);
        prop_assert!(pkce::verify(&verifier, &challenge));
        if other != verifier {
            prop_assert!(!pkce::verify(&other, &challenge));
        }
        let mut changed = verifier.clone().into_bytes();
        let i = flip.index(changed.len());
        changed[i] = if changed[i] == b'a' { b'b' } else { b'a' };
        prop_assert!(!pkce::verify(&String::from_utf8(changed).unwrap(), &challenge));
    }

    /// Registered redirect URIs: absolute, never a fragment, never plain http away from
    /// loopback for web apps.
    #[test]
    fn redirect_uri_rules(uri in ".{0,100}", host in "[a-z]{1,10}\\.example", path in "[a-z/]{0,20}") {
        for app_type in [AppType::Web, AppType::Native] {
            if validate_redirect_uri(app_type, &uri).is_ok() {
                let parsed = url::Url::parse(&uri);
                prop_assert!(parsed.as_ref().is_ok_and(|u| u.fragment().is_none()), "{}", uri);
            }
        }
        let https = format!("https://{host}/{path}");
        prop_assert!(validate_redirect_uri(AppType::Web, &https).is_ok(), "{}", https);
        let with_fragment = format!("{https}#x");
        prop_assert!(validate_redirect_uri(AppType::Web, &with_fragment).is_err());
        let plain = format!("http://{host}/{path}");
        prop_assert!(validate_redirect_uri(AppType::Web, &plain).is_err(), "{}", plain);
    }
}
