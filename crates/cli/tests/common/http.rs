//! A browser without a screen, for the portal's HTTP tests: it keeps its cookies, follows no
//! redirect by itself, and logs in through the provider's pages as a person would.

use std::collections::BTreeMap;

/// What a request got back.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

pub struct Client {
    pub base: String,
    cookies: BTreeMap<String, String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            cookies: BTreeMap::new(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, result: Result<ureq::Response, ureq::Error>) -> Page {
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("the server did not answer: {e}"),
        };
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || set.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Page {
            status: response.status(),
            location: response.header("location").map(str::to_owned),
            body: response.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let r = self
            .agent
            .get(&self.url(path))
            .set("cookie", &self.cookie_header())
            .call();
        self.take(r)
    }

    /// Posts a form as a page of this site would.
    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .agent
            .post(&self.url(path))
            .set("cookie", &self.cookie_header())
            .set("origin", &self.base.clone())
            .send_form(form);
        self.take(r)
    }

    /// Posts a `multipart/form-data` form, as a page's file upload does: `fields` as text,
    /// then `file` (its field name, file name and bytes).
    pub fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> Page {
        let boundary = "----errandless-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        let (name, file_name, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/xml\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .agent
            .post(&self.url(path))
            .set("cookie", &self.cookie_header())
            .set("origin", &self.base.clone())
            .set(
                "content-type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_bytes(&body);
        self.take(r)
    }

    /// Follows redirects from `page` to the end.
    pub fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            match page.location.clone() {
                Some(to) if (300..400).contains(&page.status) => page = self.get(&to),
                _ => return page,
            }
        }
        panic!("too many redirects");
    }

    /// Logs in through the portal's login, the provider's login page and, the first time,
    /// its consent page; ends on the portal's home page.
    pub fn log_in(&mut self, phone: &str, password: &str) -> Page {
        let start = self.get("/login?next=%2F");
        let login = self.follow(start);
        assert_eq!(
            login.status, 200,
            "the provider's login page: {}",
            login.body
        );
        let request = input_value(&login.body, "request").expect("the login form's request");
        let token = input_value(&login.body, "form_token").expect("the login form's token");
        let mut next = self.post(
            "/oauth/login",
            &[
                ("request", &request),
                ("form_token", &token),
                ("phone", phone),
                ("password", password),
                ("totp", ""),
            ],
        );
        if next
            .location
            .as_deref()
            .is_some_and(|l| l.contains("/oauth/consent"))
        {
            let consent = self.follow(next);
            let token = input_value(&consent.body, "form_token").expect("the consent token");
            next = self.post(
                "/oauth/consent",
                &[
                    ("request", &request),
                    ("form_token", &token),
                    ("decision", "allow"),
                ],
            );
        }
        self.follow(next)
    }
}

/// The value of the first `<input name="NAME" … value="…">` of a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let v = tag.find("value=\"")? + 7;
    let value = &tag[v..];
    Some(
        value[..value.find('"')?]
            .replace("&amp;", "&")
            .replace("&#39;", "'")
            .replace("&quot;", "\""),
    )
}
