//! The RFC examples as exact-byte vectors, on both sides.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only #[test]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::num::NonZeroU32;

use mailwire_sasl::framing::{self, ClientLine};
use mailwire_sasl::*;

fn n(i: u32) -> NonZeroU32 {
    NonZeroU32::new(i).unwrap()
}

struct ScramVector {
    mech: Mechanism,
    hash: ScramHash,
    cnonce: &'static str,
    snonce: &'static str,
    salt_b64: &'static [u8],
    client_first: &'static [u8],
    server_first: &'static [u8],
    client_final: &'static [u8],
    server_final: &'static [u8],
}

const RFC5802: ScramVector = ScramVector {
    mech: Mechanism::ScramSha1,
    hash: ScramHash::Sha1,
    cnonce: "fyko+d2lbbFgONRv9qkxdawL",
    snonce: "3rfcNHYJY1ZVvWVs7j",
    salt_b64: b"QSXCR+Q6sek8bf92",
    client_first: b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    server_first: b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    client_final:
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    server_final: b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

const RFC7677: ScramVector = ScramVector {
    mech: Mechanism::ScramSha256,
    hash: ScramHash::Sha256,
    cnonce: "rOprNGfwEbeRWgbNEkqO",
    snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    salt_b64: b"W22ZaJ0SNY7soEsUEjb6gQ==",
    client_first: b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    server_final: b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

fn scram_client_side(v: &ScramVector) {
    let creds = Credentials::password("user", Secret::from("pencil"));
    let mut c = Client::new(v.mech, &creds, v.cnonce).unwrap();
    assert_eq!(c.initial_response().unwrap(), v.client_first);
    assert_eq!(c.step(v.server_first).unwrap(), v.client_final);
    assert!(!c.is_complete());
    assert_eq!(c.step(v.server_final).unwrap(), b"");
    assert!(c.is_complete());
    c.finish(None).unwrap();
}

fn scram_server_side(v: &ScramVector, options: ServerOptions) -> ServerStep {
    let mut s = Server::new(v.mech, v.snonce, options).unwrap();
    match s.start(Some(v.client_first)) {
        ServerStep::NeedScramCredentials { authcid, authzid } => {
            assert_eq!(authcid, "user");
            assert_eq!(authzid, None);
        }
        other => panic!("{other:?}"),
    }
    let salt = framing::decode(v.salt_b64).unwrap();
    let creds = ScramCredentials::derive(v.hash, "pencil", &salt, n(4096)).unwrap();
    match s.provide_scram_credentials(creds).unwrap() {
        ServerStep::Challenge(c) => assert_eq!(c, v.server_first),
        other => panic!("{other:?}"),
    }
    s.step(v.client_final)
}

#[test]
fn rfc5802_section5_client() {
    scram_client_side(&RFC5802);
}

#[test]
fn rfc5802_section5_server() {
    match scram_server_side(&RFC5802, ServerOptions::default()) {
        ServerStep::Challenge(c) => assert_eq!(c, RFC5802.server_final),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc7677_section3_client() {
    scram_client_side(&RFC7677);
}

#[test]
fn rfc7677_section3_server() {
    let mut o = ServerOptions::default();
    o.scram_final_with_success = true;
    match scram_server_side(&RFC7677, o) {
        ServerStep::Success {
            authcid,
            additional_data,
            ..
        } => {
            assert_eq!(authcid, "user");
            assert_eq!(additional_data.unwrap(), RFC7677.server_final);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc7677_section3_server_final_as_additional_data() {
    // IMAP-style: the client gets v= with success, not as a challenge.
    let creds = Credentials::password("user", Secret::from("pencil"));
    let mut c = Client::new(RFC7677.mech, &creds, RFC7677.cnonce).unwrap();
    c.step(RFC7677.server_first).unwrap();
    c.finish(Some(RFC7677.server_final)).unwrap();
    assert!(c.is_complete());
}

const CRAM_CHALLENGE: &str = "<1896.697170952@postoffice.reston.mci.net>";

#[test]
fn rfc2195_section2_client() {
    let mut c = Client::cram_md5("tim", Secret::from("tanstaaftanstaaf")).unwrap();
    assert_eq!(c.initial_response(), None);
    let challenge =
        framing::decode_challenge(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
            .unwrap();
    assert_eq!(challenge, CRAM_CHALLENGE.as_bytes());
    let r = c.step(&challenge).unwrap();
    assert_eq!(r, b"tim b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(
        framing::encode(&r),
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    );
}

#[test]
fn rfc2195_section2_server() {
    let mut s = Server::new(Mechanism::CramMd5, CRAM_CHALLENGE, ServerOptions::default()).unwrap();
    match s.start(None) {
        ServerStep::Challenge(c) => assert_eq!(
            framing::encode(&c),
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
        ),
        other => panic!("{other:?}"),
    }
    match s.step_line(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw") {
        ServerStep::NeedPassword { authcid, authzid } => {
            assert_eq!(authcid, "tim");
            assert_eq!(authzid, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.provide_password(Secret::from("tanstaaftanstaaf")).unwrap(),
        ServerStep::Success { authcid, .. } if authcid == "tim"
    ));
}

#[test]
fn rfc4616_section4_example1() {
    // S: + ""   C: <NUL>tim<NUL>tanstaaftanstaaf   S: OK
    let mut c = Client::plain(None, "tim", Secret::from("tanstaaftanstaaf")).unwrap();
    let mut s = Server::new(Mechanism::Plain, "", ServerOptions::default()).unwrap();
    let ServerStep::Challenge(ch) = s.start(None) else {
        panic!()
    };
    assert_eq!(ch, b"");
    let msg = c.step(&ch).unwrap();
    assert_eq!(msg, b"\0tim\0tanstaaftanstaaf");
    assert_eq!(msg.len(), 21);
    match s.step(&msg) {
        ServerStep::NeedPassword { authcid, authzid } => {
            assert_eq!((authcid.as_str(), authzid), ("tim", None));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.provide_password(Secret::from("tanstaaftanstaaf"))
            .unwrap(),
        ServerStep::Success { .. }
    ));
}

#[test]
fn rfc4616_section4_example2() {
    // Initial response; Kurt may not act as Ursel: the application rejects.
    let c = Client::plain(Some("Ursel"), "Kurt", Secret::from("xipj3plmq")).unwrap();
    let ir = c.initial_response().unwrap();
    assert_eq!(ir, b"Ursel\0Kurt\0xipj3plmq");
    assert_eq!(ir.len(), 20);
    let mut s = Server::new(Mechanism::Plain, "", ServerOptions::default()).unwrap();
    match s.start(Some(&ir)) {
        ServerStep::NeedPassword { authcid, authzid } => {
            assert_eq!(authcid, "Kurt");
            assert_eq!(authzid.as_deref(), Some("Ursel"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.reject().unwrap(),
        ServerStep::Failure(FailureReason::InvalidCredentials)
    ));
    assert!(s.is_done());
}

#[test]
fn rfc4954_section4_plain_with_initial_response() {
    // C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
    let mut s = Server::new(Mechanism::Plain, "", ServerOptions::default()).unwrap();
    match s.start_line(Some(b"dGVzdAB0ZXN0ADEyMzQ=")) {
        ServerStep::NeedPassword { authcid, authzid } => {
            assert_eq!(authcid, "test");
            assert_eq!(authzid.as_deref(), Some("test"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.provide_password(Secret::from("1234")).unwrap(),
        ServerStep::Success { .. }
    ));
}

#[test]
fn rfc4954_section4_cancel() {
    let mut s = Server::new(Mechanism::Login, "", ServerOptions::default()).unwrap();
    assert!(matches!(s.start(None), ServerStep::Challenge(_)));
    assert_eq!(framing::decode_client_line(b"*"), Ok(ClientLine::Cancel));
    assert!(matches!(
        s.step_line(b"*"),
        ServerStep::Failure(FailureReason::Cancelled)
    ));
}

#[test]
fn rfc4954_section4_1_plain_without_initial_response() {
    // C: AUTH PLAIN / S: "334 " / C: dGVzdAB0ZXN0ADEyMzQ= / S: 235
    let mut s = Server::new(Mechanism::Plain, "", ServerOptions::default()).unwrap();
    let ServerStep::Challenge(c) = s.start_line(None) else {
        panic!()
    };
    assert_eq!(format!("334 {}", framing::encode(&c)), "334 ");
    let mut client = Client::plain(Some("test"), "test", Secret::from("1234")).unwrap();
    let resp = client
        .step(&framing::decode_challenge(b"").unwrap())
        .unwrap();
    assert_eq!(framing::encode(&resp), "dGVzdAB0ZXN0ADEyMzQ=");
    assert!(matches!(
        s.step_line(b"dGVzdAB0ZXN0ADEyMzQ=\r\n"),
        ServerStep::NeedPassword { authcid, authzid: Some(z) } if authcid == "test" && z == "test"
    ));
    assert!(matches!(
        s.provide_password(Secret::from("1234")).unwrap(),
        ServerStep::Success { .. }
    ));
}

#[test]
fn rfc4954_section4_1_cram_md5() {
    let challenge = "<4192942341.12828472@sourcefour.andrew.cmu.edu>";
    let mut s = Server::new(Mechanism::CramMd5, challenge, ServerOptions::default()).unwrap();
    let ServerStep::Challenge(c) = s.start_line(None) else {
        panic!()
    };
    assert_eq!(
        framing::encode(&c),
        "PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4="
    );
    assert!(matches!(
        s.step_line(b"cmpzMyBlYzNhNTlmZWQzOTVhYmExZWM2MzY3YzRmNGI0MWFjMA=="),
        ServerStep::NeedPassword { authcid, .. } if authcid == "rjs3"
    ));
    // The RFC does not give rjs3's password: a wrong one must fail.
    assert!(matches!(
        s.provide_password(Secret::from("not-it")).unwrap(),
        ServerStep::Failure(FailureReason::InvalidCredentials)
    ));
}

#[test]
fn rfc4954_section4_1_external_empty_initial_response() {
    // C: AUTH EXTERNAL =
    let c = Client::external(None).unwrap();
    let ir = c.initial_response().unwrap();
    assert_eq!(framing::encode_initial_response(&ir), "=");
    let mut s = Server::new(Mechanism::External, "", ServerOptions::default()).unwrap();
    assert!(matches!(
        s.start_line(Some(b"=")),
        ServerStep::NeedExternal { authzid: None }
    ));
    assert!(matches!(
        s.accept_external("cn=client".into()).unwrap(),
        ServerStep::Success { authcid, authzid: None, .. } if authcid == "cn=client"
    ));
}
