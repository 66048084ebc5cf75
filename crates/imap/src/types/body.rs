//! ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).

use super::core::{IString, NString};
use super::secret::Vec1;

/// An address (`address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`).
/// A group start has `host` NIL and the group name in `mailbox`; a group end has both NIL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address<'a> {
    /// Display name.
    pub name: NString<'a>,
    /// Source route (obsolete).
    pub adl: NString<'a>,
    /// Local part, or group name.
    pub mailbox: NString<'a>,
    /// Domain.
    pub host: NString<'a>,
}

/// `envelope` (RFC 3501 §7.4.2). Address lists are empty where the server sent `NIL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Envelope<'a> {
    /// Date header.
    pub date: NString<'a>,
    /// Subject header.
    pub subject: NString<'a>,
    /// From.
    pub from: Vec<Address<'a>>,
    /// Sender.
    pub sender: Vec<Address<'a>>,
    /// Reply-To.
    pub reply_to: Vec<Address<'a>>,
    /// To.
    pub to: Vec<Address<'a>>,
    /// Cc.
    pub cc: Vec<Address<'a>>,
    /// Bcc.
    pub bcc: Vec<Address<'a>>,
    /// In-Reply-To.
    pub in_reply_to: NString<'a>,
    /// Message-ID.
    pub message_id: NString<'a>,
}

/// `body-fields`: what every non-multipart part has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BasicFields<'a> {
    /// `body-fld-param`: attribute/value pairs (empty for NIL).
    pub params: Vec<(IString<'a>, IString<'a>)>,
    /// Content-ID.
    pub id: NString<'a>,
    /// Content-Description.
    pub description: NString<'a>,
    /// Content-Transfer-Encoding (lenient: NIL is kept as `None`).
    pub encoding: NString<'a>,
    /// Size in octets of the encoded body.
    pub size: u32,
}

/// The kind-specific part of a single-part body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpecificFields<'a> {
    /// `body-type-basic`: any type but text and message/rfc822.
    Basic {
        /// Media type.
        media_type: IString<'a>,
        /// Media subtype.
        subtype: IString<'a>,
    },
    /// `body-type-text`: `text/*` with its line count.
    Text {
        /// Media subtype.
        subtype: IString<'a>,
        /// Lines of text.
        lines: u32,
    },
    /// `body-type-msg`: `message/rfc822` (and `message/global`) with the inner message.
    Message {
        /// Media subtype (`RFC822` or `GLOBAL`).
        subtype: IString<'a>,
        /// Envelope of the inner message.
        envelope: Box<Envelope<'a>>,
        /// Structure of the inner message.
        body: Box<BodyStructure<'a>>,
        /// Lines of the encapsulated message.
        lines: u32,
    },
}

/// `body-fld-dsp`: Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Disposition<'a> {
    /// The disposition type, e.g. `attachment`.
    pub kind: IString<'a>,
    /// Its parameters.
    pub params: Vec<(IString<'a>, IString<'a>)>,
}

/// `body-extension`: a future extension value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyExtension<'a> {
    /// nstring.
    NString(NString<'a>),
    /// number.
    Number(u32),
    /// A parenthesized list (`"(" body-extension *(SP body-extension) ")"`).
    List(Vec1<BodyExtension<'a>>),
}

/// Extension data (`body-ext-1part` / `body-ext-mpart` past the first field).
/// The encoder writes fields up to the last one that is not NIL/empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ExtensionData<'a> {
    /// `body-fld-dsp`.
    pub disposition: Option<Disposition<'a>>,
    /// `body-fld-lang`: languages (empty for NIL).
    pub language: Vec<IString<'a>>,
    /// `body-fld-loc`: Content-Location.
    pub location: NString<'a>,
    /// Further extension values.
    pub extensions: Vec<BodyExtension<'a>>,
}

/// `body-ext-1part`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePartExtension<'a> {
    /// `body-fld-md5`.
    pub md5: NString<'a>,
    /// The rest.
    pub data: ExtensionData<'a>,
}

/// `body-ext-mpart`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartExtension<'a> {
    /// `body-fld-param`: Content-Type parameters (empty for NIL).
    pub params: Vec<(IString<'a>, IString<'a>)>,
    /// The rest.
    pub data: ExtensionData<'a>,
}

/// `body` (RFC 3501 §7.4.2 BODY and BODYSTRUCTURE). The non-extensible BODY
/// form is the same value with the extension fields `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyStructure<'a> {
    /// `body-type-1part`.
    Single {
        /// Common fields.
        fields: BasicFields<'a>,
        /// Type-specific fields.
        specific: SpecificFields<'a>,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<SinglePartExtension<'a>>,
    },
    /// `body-type-mpart`.
    Multi {
        /// The parts, at least one.
        bodies: Vec1<BodyStructure<'a>>,
        /// Multipart subtype, e.g. `MIXED`.
        subtype: IString<'a>,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<MultipartExtension<'a>>,
    },
}
