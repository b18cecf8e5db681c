//! The user sign-in flows through real OAuth and OpenID Connect client libraries.
