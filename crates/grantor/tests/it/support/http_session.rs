//! An HTTP client with a cookie jar: one user's session with Grantor's pages over plain HTTP.
//! It follows no redirect by itself, and knows how to fill in the sign-in and approval forms.
//! (It runs no script and lays nothing out: the tests of real pages use [`super::chrome`].)

use std::collections::BTreeMap;

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of a hidden or text input, HTML-unescaped.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// Where the page's form with the `decision` buttons (the approval form) posts to.
    pub fn decision_action(&self) -> Option<String> {
        let form = self.body.rfind("<form method=\"post\" action=\"")?;
        let start = form + "<form method=\"post\" action=\"".len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// All values of the inputs called `name`.
    pub fn fields(&self, name: &str) -> Vec<String> {
        let marker = format!("name=\"{name}\" value=\"");
        self.body
            .match_indices(&marker)
            .filter_map(|(i, _)| {
                let start = i + marker.len();
                let end = self.body[start..].find('"')? + start;
                Some(unescape(&self.body[start..end]))
            })
            .collect()
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
}

/// One user agent's cookies and the base URL its relative paths go to.
pub struct HttpSession {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl HttpSession {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: base.to_string(),
            http,
            cookies: BTreeMap::new(),
        }
    }

    /// A browser that sends `headers` (a User-Agent, a forwarded-for address) on every request.
    pub fn with_headers(base: &str, headers: &[(&'static str, &str)]) -> Self {
        let mut default = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            default.insert(*name, value.parse().unwrap());
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(default)
            .build()
            .unwrap();
        Self {
            base: base.to_string(),
            http,
            cookies: BTreeMap::new(),
        }
    }

    /// Sends the following requests to another node behind the same issuer, keeping the
    /// cookies, as a load balancer might.
    pub fn switch_to(&mut self, base: &str) {
        self.base = base.to_string();
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let resp = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        Page {
            status,
            location,
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let req = self.http.get(self.absolute(url));
        self.send(req).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.absolute(url)).form(form);
        self.send(req).await
    }

    /// The `Cookie` header this session sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    /// Follows Grantor-internal redirects until one leaves Grantor (or a page is shown).
    pub async fn follow(&mut self, mut page: Page) -> Page {
        while let Some(loc) = page.location.clone() {
            if !(loc.starts_with('/') || loc.starts_with(&self.base)) {
                break;
            }
            page = self.get(&loc).await;
        }
        page
    }

    /// Submits the sign-in form shown on `page`.
    pub async fn sign_in(&mut self, page: &Page, email: &str, password: &str) -> Page {
        let csrf = page.field("csrf").expect("sign-in form has a CSRF token");
        let return_to = page.field("return_to").unwrap_or_default();
        let answer = self
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("return_to", &return_to),
                    ("email", email),
                    ("password", password),
                ],
            )
            .await;
        self.follow(answer).await
    }

    /// Answers the approval page on `page` (the code flow's, or a device's), granting only
    /// `scopes` (and choosing `org`).
    pub async fn decide(
        &mut self,
        page: &Page,
        allow: bool,
        scopes: &[&str],
        org: Option<&str>,
    ) -> Page {
        let csrf = page.field("csrf").expect("approval form has a CSRF token");
        let action = page.decision_action().expect("an approval form");
        // What the form resubmits: the authorization request, or a device's user code.
        let (carried, value) = ["request", "user_code"]
            .into_iter()
            .find_map(|name| page.field(name).map(|v| (name, v)))
            .expect("approval form carries the request or the user code");
        let default_org = page.fields("org").into_iter().next().unwrap_or_default();
        let org = org.map(str::to_string).unwrap_or(default_org);
        let mut form = vec![
            ("csrf", csrf.as_str()),
            (carried, value.as_str()),
            ("org", org.as_str()),
            ("decision", if allow { "allow" } else { "deny" }),
        ];
        form.extend(scopes.iter().map(|s| ("scope", *s)));
        self.post(&action, &form).await
    }

    /// Starts at an authorization URL, signs in, approves `scopes`; returns the redirect to
    /// the app.
    pub async fn authorize(
        &mut self,
        auth_url: &str,
        email: &str,
        password: &str,
        scopes: &[&str],
    ) -> String {
        let page = self.get(auth_url).await;
        let mut page = self.follow(page).await;
        if page.body.contains("action=\"/login\"") {
            page = self.sign_in(&page, email, password).await;
        }
        if page.body.contains("action=\"/consent\"") {
            page = self.decide(&page, true, scopes, None).await;
        }
        page.location
            .unwrap_or_else(|| panic!("no redirect back to the app: {} {}", page.status, page.body))
    }
}
