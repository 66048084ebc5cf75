//! Serializers. Encoding cannot fail: every value was validated when it was
//! built, so no CR, LF or NUL can reach the wire inside a field.

use crate::types::*;

impl Command<'_> {
    /// Appends the command line, CRLF included, to `out`.
    ///
    /// ```
    /// use mailwire_smtp::{Command, Host};
    /// let mut out = Vec::new();
    /// Command::Ehlo(Host::try_from("client.example").unwrap()).encode(&mut out);
    /// assert_eq!(out, b"EHLO client.example\r\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.verb().as_bytes());
        match self {
            Command::Helo(h) | Command::Ehlo(h) => {
                out.push(b' ');
                out.extend_from_slice(h.as_str().as_bytes());
            }
            Command::Mail(from, p) => {
                out.extend_from_slice(b" FROM:<");
                if let ReversePath::Mailbox(m) = from {
                    m.write(out);
                }
                out.push(b'>');
                p.encode(out);
            }
            Command::Rcpt(to, p) => {
                out.extend_from_slice(b" TO:<");
                match to {
                    ForwardPath::Postmaster => out.extend_from_slice(b"Postmaster"),
                    ForwardPath::Mailbox(m) => m.write(out),
                }
                out.push(b'>');
                p.encode(out);
            }
            Command::Bdat { size, last } => {
                out.push(b' ');
                out.extend_from_slice(size.to_string().as_bytes());
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Command::Vrfy(t)
            | Command::Expn(t)
            | Command::Help(Some(t))
            | Command::Noop(Some(t)) => {
                out.push(b' ');
                out.extend_from_slice(t.as_str().as_bytes());
            }
            Command::Auth(m, ir) => {
                out.push(b' ');
                out.extend_from_slice(m.as_str().as_bytes());
                if let Some(ir) = ir {
                    out.push(b' ');
                    out.extend_from_slice(ir.expose().as_bytes());
                }
            }
            Command::Data
            | Command::Rset
            | Command::Help(None)
            | Command::Noop(None)
            | Command::Quit
            | Command::StartTls => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded command line as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        self.encode(&mut v);
        v
    }
}

fn param(out: &mut Vec<u8>, k: &str, v: Option<&str>) {
    out.push(b' ');
    out.extend_from_slice(k.as_bytes());
    if let Some(v) = v {
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
    }
}

impl MailParams<'_> {
    /// Appends ` KEY=VALUE` for each parameter that is set.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(s) = self.size {
            param(out, "SIZE", Some(&s.to_string()));
        }
        if let Some(b) = self.body {
            param(out, "BODY", Some(b.as_str()));
        }
        if self.smtputf8 {
            param(out, "SMTPUTF8", None);
        }
        if let Some(r) = self.ret {
            param(
                out,
                "RET",
                Some(if r == Ret::Full { "FULL" } else { "HDRS" }),
            );
        }
        if let Some(e) = &self.envid {
            param(out, "ENVID", Some(e.as_str()));
        }
        if let Some(a) = &self.auth {
            param(out, "AUTH", Some(a.as_str()));
        }
        if self.requiretls {
            param(out, "REQUIRETLS", None);
        }
        if let Some(p) = self.mt_priority {
            param(out, "MT-PRIORITY", Some(&p.to_string()));
        }
        if let Some(by) = self.by {
            let v = format!(
                "{};{}{}",
                by.time,
                if by.ret { 'R' } else { 'N' },
                if by.trace { "T" } else { "" }
            );
            param(out, "BY", Some(&v));
        }
        for p in &self.other {
            param(
                out,
                p.keyword.as_str(),
                p.value.as_ref().map(|v| v.as_str()),
            );
        }
    }
}

impl RcptParams<'_> {
    /// Appends ` KEY=VALUE` for each parameter that is set.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(n) = self.notify {
            let mut v = String::new();
            for (on, name) in [
                (n.success, "SUCCESS"),
                (n.failure, "FAILURE"),
                (n.delay, "DELAY"),
            ] {
                if on {
                    if !v.is_empty() {
                        v.push(',');
                    }
                    v.push_str(name);
                }
            }
            if v.is_empty() {
                v.push_str("NEVER");
            }
            param(out, "NOTIFY", Some(&v));
        }
        if let Some(o) = &self.orcpt {
            param(out, "ORCPT", Some(&format!("{};{}", o.addr_type, o.addr)));
        }
        for p in &self.other {
            param(
                out,
                p.keyword.as_str(),
                p.value.as_ref().map(|v| v.as_str()),
            );
        }
    }
}

impl Reply<'_> {
    /// Appends the reply, CRLF included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl Capabilities<'_> {
    /// The EHLO reply lines after the greeting line: one keyword (with its
    /// parameters) per line.
    pub fn to_lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut flag = |on: bool, s: &str| {
            if on {
                v.push(s.to_owned());
            }
        };
        flag(self.pipelining, "PIPELINING");
        flag(self.eightbitmime, "8BITMIME");
        flag(self.smtputf8, "SMTPUTF8");
        flag(self.starttls, "STARTTLS");
        flag(self.dsn, "DSN");
        flag(self.enhanced_status_codes, "ENHANCEDSTATUSCODES");
        flag(self.chunking, "CHUNKING");
        flag(self.binarymime, "BINARYMIME");
        flag(self.requiretls, "REQUIRETLS");
        // RFC 6710 §3: the keyword and the optional policy name.
        let mt_priority = match &self.mt_priority_policy {
            Some(p) => format!("MT-PRIORITY {p}"),
            None => "MT-PRIORITY".to_owned(),
        };
        flag(self.mt_priority, &mt_priority);
        flag(self.deliverby, "DELIVERBY");
        if let Some(n) = self.size {
            v.push(if n == 0 {
                "SIZE".to_owned()
            } else {
                format!("SIZE {n}")
            });
        }
        if !self.auth.is_empty() {
            let mut s = "AUTH".to_owned();
            for m in self.auth.names() {
                s.push(' ');
                s.push_str(m);
            }
            v.push(s);
        }
        for e in &self.other {
            let mut s = e.keyword.to_string();
            if !e.params.is_empty() {
                s.push(' ');
                s.push_str(&e.params);
            }
            v.push(s);
        }
        v
    }
}
