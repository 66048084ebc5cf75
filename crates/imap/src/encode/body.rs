//! ENVELOPE and BODYSTRUCTURE.

use super::Encoder;
use crate::types::body::{
    Address, BasicFields, BodyExtension, BodyStructure, Disposition, Envelope, ExtensionData,
    SpecificFields,
};
use crate::types::core::IString;

impl Encoder<'_> {
    fn address(&mut self, a: &Address<'_>) {
        self.out.push(b'(');
        self.nstring(&a.name);
        self.sp();
        self.nstring(&a.adl);
        self.sp();
        self.nstring(&a.mailbox);
        self.sp();
        self.nstring(&a.host);
        self.out.push(b')');
    }

    fn address_list(&mut self, l: &[Address<'_>]) {
        if l.is_empty() {
            self.raw(b"NIL");
        } else {
            self.out.push(b'(');
            for a in l {
                self.address(a);
            }
            self.out.push(b')');
        }
    }

    /// `envelope`.
    pub(crate) fn envelope(&mut self, e: &Envelope<'_>) {
        self.out.push(b'(');
        self.nstring(&e.date);
        self.sp();
        self.nstring(&e.subject);
        for l in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
            self.sp();
            self.address_list(l);
        }
        self.sp();
        self.nstring(&e.in_reply_to);
        self.sp();
        self.nstring(&e.message_id);
        self.out.push(b')');
    }

    fn params(&mut self, p: &[(IString<'_>, IString<'_>)]) {
        if p.is_empty() {
            self.raw(b"NIL");
        } else {
            self.list(p, |e, (k, v)| {
                e.string(k);
                e.sp();
                e.string(v);
            });
        }
    }

    fn fields(&mut self, f: &BasicFields<'_>) {
        self.params(&f.params);
        self.sp();
        self.nstring(&f.id);
        self.sp();
        self.nstring(&f.description);
        self.sp();
        self.nstring(&f.encoding);
        self.sp();
        self.num(u64::from(f.size));
    }

    fn disposition(&mut self, d: &Option<Disposition<'_>>) {
        match d {
            None => self.raw(b"NIL"),
            Some(d) => {
                self.out.push(b'(');
                self.string(&d.kind);
                self.sp();
                self.params(&d.params);
                self.out.push(b')');
            }
        }
    }

    fn body_extension(&mut self, x: &BodyExtension<'_>) {
        match x {
            BodyExtension::NString(s) => self.nstring(s),
            BodyExtension::Number(n) => self.num(u64::from(*n)),
            BodyExtension::List(l) => self.list(l, |e, x| e.body_extension(x)),
        }
    }

    /// Writes the fields up to the last one that carries something.
    fn extension_data(&mut self, d: &ExtensionData<'_>) {
        let last = if !d.extensions.is_empty() {
            4
        } else if d.location.is_some() {
            3
        } else if !d.language.is_empty() {
            2
        } else if d.disposition.is_some() {
            1
        } else {
            0
        };
        if last >= 1 {
            self.sp();
            self.disposition(&d.disposition);
        }
        if last >= 2 {
            self.sp();
            match d.language.as_slice() {
                [] => self.raw(b"NIL"),
                [one] => self.string(one),
                many => self.list(many, |e, s| e.string(s)),
            }
        }
        if last >= 3 {
            self.sp();
            self.nstring(&d.location);
        }
        for x in &d.extensions {
            self.sp();
            self.body_extension(x);
        }
    }

    /// `body`.
    pub(crate) fn body(&mut self, b: &BodyStructure<'_>) {
        self.out.push(b'(');
        match b {
            BodyStructure::Single {
                fields,
                specific,
                extension,
            } => {
                match specific {
                    SpecificFields::Basic {
                        media_type,
                        subtype,
                    } => {
                        self.string(media_type);
                        self.sp();
                        self.string(subtype);
                        self.sp();
                        self.fields(fields);
                    }
                    SpecificFields::Text { subtype, lines } => {
                        self.raw(b"\"TEXT\" ");
                        self.string(subtype);
                        self.sp();
                        self.fields(fields);
                        self.sp();
                        self.num(u64::from(*lines));
                    }
                    SpecificFields::Message {
                        subtype,
                        envelope,
                        body,
                        lines,
                    } => {
                        self.raw(b"\"MESSAGE\" ");
                        self.string(subtype);
                        self.sp();
                        self.fields(fields);
                        self.sp();
                        self.envelope(envelope);
                        self.sp();
                        self.body(body);
                        self.sp();
                        self.num(u64::from(*lines));
                    }
                }
                if let Some(x) = extension {
                    self.sp();
                    self.nstring(&x.md5);
                    self.extension_data(&x.data);
                }
            }
            BodyStructure::Multi {
                bodies,
                subtype,
                extension,
            } => {
                for b in bodies {
                    self.body(b);
                }
                self.sp();
                self.string(subtype);
                if let Some(x) = extension {
                    self.sp();
                    self.params(&x.params);
                    self.extension_data(&x.data);
                }
            }
        }
        self.out.push(b')');
    }
}
