//! Each mechanism's client talks to its own server in memory, through the
//! base64 line framing, with and without initial responses; then the
//! failure cases.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only #[test]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::num::NonZeroU32;

use mailwire_sasl::framing;
use mailwire_sasl::*;

/// The user database the application consults.
struct App {
    password: &'static str,
    scram_password: &'static str,
    valid_token: &'static str,
    external_identity: Option<&'static str>,
}

impl Default for App {
    fn default() -> Self {
        App {
            password: "pencil",
            scram_password: "pencil",
            valid_token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
            external_identity: Some("cert-user"),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Success {
        authcid: String,
        authzid: Option<String>,
    },
    ServerFailure(FailureReason),
    ClientError(ClientError),
}

/// Runs one exchange the way a protocol crate would: lines in base64,
/// application answers to `Need*` steps.
fn run(client: &mut Client, server: &mut Server, app: &App, use_ir: bool) -> End {
    let ir = if use_ir {
        client
            .initial_response()
            .map(|r| framing::encode_initial_response(&r))
    } else {
        None
    };
    let mut step = server.start_line(ir.as_deref().map(str::as_bytes));
    for _ in 0..20 {
        step = match step {
            ServerStep::Challenge(c) => {
                let line = framing::encode(&c);
                let challenge = framing::decode_challenge(line.as_bytes()).unwrap();
                match client.step(&challenge) {
                    Ok(resp) => server.step_line(framing::encode(&resp).as_bytes()),
                    Err(e) => {
                        // The client cancels.
                        assert!(matches!(
                            server.step_line(b"*"),
                            ServerStep::Failure(FailureReason::Cancelled)
                        ));
                        return End::ClientError(e);
                    }
                }
            }
            ServerStep::NeedPassword { .. } => {
                server.provide_password(Secret::from(app.password)).unwrap()
            }
            ServerStep::NeedScramCredentials { .. } => {
                let hash = if server.mechanism() == Mechanism::ScramSha1 {
                    ScramHash::Sha1
                } else {
                    ScramHash::Sha256
                };
                let creds = ScramCredentials::derive(
                    hash,
                    app.scram_password,
                    b"salt-of-the-user",
                    NonZeroU32::new(4096).unwrap(),
                )
                .unwrap();
                server.provide_scram_credentials(creds).unwrap()
            }
            ServerStep::NeedVerifyToken { user, token, .. } => {
                if token.ct_eq(app.valid_token.as_bytes()) {
                    server
                        .accept_token(user.unwrap_or_else(|| "token-user".into()))
                        .unwrap()
                } else {
                    server.reject_token(None).unwrap()
                }
            }
            ServerStep::NeedExternal { .. } => match app.external_identity {
                Some(id) => server.accept_external(id.to_owned()).unwrap(),
                None => server.reject().unwrap(),
            },
            ServerStep::Success {
                authcid,
                authzid,
                additional_data,
            } => {
                return match client.finish(additional_data.as_deref()) {
                    Ok(()) => End::Success { authcid, authzid },
                    Err(e) => End::ClientError(e),
                };
            }
            ServerStep::Failure(r) => return End::ServerFailure(r),
            other => panic!("unexpected {other:?}"),
        };
    }
    panic!("livelock")
}

fn server(mech: Mechanism) -> Server {
    let nonce = match mech {
        Mechanism::CramMd5 => "<12345.67890@mail.example>",
        _ => "serverNONCE+/=",
    };
    Server::new(mech, nonce, ServerOptions::default()).unwrap()
}

fn client(mech: Mechanism, password: &str) -> Client {
    let creds = match mech {
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => Credentials::token(
            "user@example.com",
            Secret::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
        )
        .with_host_port("server.example.com", 143),
        _ => Credentials::password("user", Secret::from(password)),
    };
    Client::new(mech, &creds, "clientNONCE").unwrap()
}

fn success(authcid: &str) -> End {
    End::Success {
        authcid: authcid.into(),
        authzid: None,
    }
}

#[test]
fn every_mechanism_client_talks_to_its_server() {
    for mech in Mechanism::PREFERENCE {
        for use_ir in [true, false] {
            let mut c = client(mech, "pencil");
            let mut s = server(mech);
            let end = run(&mut c, &mut s, &App::default(), use_ir);
            let expected = match mech {
                Mechanism::External => success("cert-user"),
                Mechanism::XOAuth2 => success("user@example.com"),
                Mechanism::OAuthBearer => End::Success {
                    authcid: "user@example.com".into(),
                    authzid: Some("user@example.com".into()),
                },
                _ => success("user"),
            };
            assert_eq!(end, expected, "{mech} ir={use_ir}");
            assert!(s.is_done(), "{mech}");
        }
    }
}

#[test]
fn scram_final_with_success_for_both_hashes() {
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let mut o = ServerOptions::default();
        o.scram_final_with_success = true;
        let mut s = Server::new(mech, "srv", o).unwrap();
        let mut c = client(mech, "pencil");
        assert_eq!(run(&mut c, &mut s, &App::default(), true), success("user"));
        assert!(c.is_complete());
    }
}

#[test]
fn authzid_is_carried() {
    let creds = Credentials::password("kurt", Secret::from("pencil")).with_authzid("ur,s=el");
    for mech in [
        Mechanism::Plain,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
    ] {
        let mut c = Client::new(mech, &creds, "n1").unwrap();
        let mut s = server(mech);
        assert_eq!(
            run(&mut c, &mut s, &App::default(), true),
            End::Success {
                authcid: "kurt".into(),
                authzid: Some("ur,s=el".into())
            },
            "{mech}"
        );
    }
    let mut c = Client::external(Some("someone")).unwrap();
    let mut s = server(Mechanism::External);
    assert_eq!(
        run(&mut c, &mut s, &App::default(), false),
        End::Success {
            authcid: "cert-user".into(),
            authzid: Some("someone".into())
        }
    );
}

#[test]
fn wrong_password_fails_for_every_password_mechanism() {
    for mech in Mechanism::PREFERENCE
        .into_iter()
        .filter(|m| m.uses_password())
    {
        let mut c = client(mech, "wrong");
        let mut s = server(mech);
        assert_eq!(
            run(&mut c, &mut s, &App::default(), true),
            End::ServerFailure(FailureReason::InvalidCredentials),
            "{mech}"
        );
    }
}

#[test]
fn check_password_with_a_verifier() {
    let mut c = client(Mechanism::Login, "pencil");
    let mut s = server(Mechanism::Login);
    let mut step = s.start(None);
    while let ServerStep::Challenge(ch) = step {
        step = s.step(&c.step(&ch).unwrap());
    }
    assert!(matches!(step, ServerStep::NeedPassword { ref authcid, .. } if authcid == "user"));
    // A wrong-state answer comes back with its value.
    let err = s.accept_token("x".into()).unwrap_err();
    assert_eq!(err.kind(), AnswerErrorKind::WrongState);
    assert_eq!(err.into_value(), "x");
    let step = s
        .check_password(|given| given.expose() == "pencil")
        .unwrap();
    assert!(matches!(step, ServerStep::Success { .. }));
}

#[test]
fn cram_md5_needs_the_plain_password() {
    let mut s = server(Mechanism::CramMd5);
    s.start(None);
    s.step(b"tim b913a602c7eda7a495b4e6e7334d3890");
    let err = s.check_password(|_| true).unwrap_err();
    assert_eq!(err.kind(), AnswerErrorKind::WrongValue);
    // Still waiting: the right answer works.
    assert!(matches!(
        s.provide_password(Secret::from("x")).unwrap(),
        ServerStep::Failure(FailureReason::InvalidCredentials)
    ));
}

#[test]
fn wrong_state_answers_give_the_value_back() {
    let mut s = server(Mechanism::ScramSha256);
    let err = s.provide_password(Secret::from("p")).unwrap_err();
    assert_eq!(err.kind(), AnswerErrorKind::WrongState);
    assert_eq!(err.into_value().expose(), "p");
    assert!(s.reject().is_err());
    assert!(s.reject_token(None).is_err());
    assert!(s.accept_external("x".into()).is_err());
    // Still usable.
    assert!(matches!(
        s.start(Some(b"n,,n=user,r=abc")),
        ServerStep::NeedScramCredentials { .. }
    ));
    // SHA-1 keys for a SHA-256 exchange.
    let sha1 =
        ScramCredentials::derive(ScramHash::Sha1, "p", b"s", NonZeroU32::new(1).unwrap()).unwrap();
    let err = s.provide_scram_credentials(sha1).unwrap_err();
    assert_eq!(err.kind(), AnswerErrorKind::WrongValue);
    assert!(format!("{err:?}").contains("WrongValue"));
}

#[test]
fn invalid_token_gets_error_challenge_then_failure() {
    for mech in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        let mut c = client(mech, "");
        let mut s = server(mech);
        let app = App {
            valid_token: "other",
            ..App::default()
        };
        assert_eq!(
            run(&mut c, &mut s, &app, true),
            End::ServerFailure(FailureReason::InvalidCredentials),
            "{mech}"
        );
        assert_eq!(c.oauth_error(), Some(&br#"{"status":"invalid_token"}"#[..]));
    }
}

#[test]
fn external_rejected() {
    let mut c = Client::external(None).unwrap();
    let mut s = server(Mechanism::External);
    let app = App {
        external_identity: None,
        ..App::default()
    };
    assert_eq!(
        run(&mut c, &mut s, &app, true),
        End::ServerFailure(FailureReason::InvalidCredentials)
    );
}

// ---- SCRAM failure cases -------------------------------------------------

fn scram_to_client_final(mech: Mechanism) -> (Client, Server, Vec<u8>) {
    let mut c = client(mech, "pencil");
    let mut s = server(mech);
    let ServerStep::NeedScramCredentials { .. } = s.start(c.initial_response().as_deref()) else {
        panic!()
    };
    let hash = if mech == Mechanism::ScramSha1 {
        ScramHash::Sha1
    } else {
        ScramHash::Sha256
    };
    let creds =
        ScramCredentials::derive(hash, "pencil", b"salt", NonZeroU32::new(4096).unwrap()).unwrap();
    let ServerStep::Challenge(sf) = s.provide_scram_credentials(creds).unwrap() else {
        panic!()
    };
    let cf = c.step(&sf).unwrap();
    (c, s, cf)
}

#[test]
fn scram_tampered_server_signature_is_rejected() {
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let (mut c, mut s, cf) = scram_to_client_final(mech);
        let ServerStep::Challenge(mut sfinal) = s.step(&cf) else {
            panic!()
        };
        // Flip a bit inside the base64 signature.
        let i = sfinal.len() - 3;
        sfinal[i] = if sfinal[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(c.step(&sfinal), Err(ClientError::ServerSignatureMismatch));
        assert!(!c.is_complete());
        assert_eq!(c.finish(None), Err(ClientError::Aborted));
    }
}

#[test]
fn scram_success_without_server_final_is_not_trusted() {
    let (mut c, _s, _cf) = scram_to_client_final(Mechanism::ScramSha256);
    assert_eq!(c.finish(None), Err(ClientError::MissingServerFinal));
    let (mut c, _s, _cf) = scram_to_client_final(Mechanism::ScramSha256);
    assert_eq!(
        c.finish(Some(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
        Err(ClientError::ServerSignatureMismatch)
    );
    let mut c = client(Mechanism::ScramSha1, "pencil");
    assert_eq!(c.finish(None), Err(ClientError::MissingServerFinal));
}

#[test]
fn scram_server_error_is_reported() {
    let (mut c, _s, _cf) = scram_to_client_final(Mechanism::ScramSha1);
    assert_eq!(
        c.step(b"e=invalid-proof"),
        Err(ClientError::ServerError("invalid-proof".into()))
    );
}

#[test]
fn scram_bad_nonce_client_side() {
    let mut c = client(Mechanism::ScramSha256, "pencil");
    c.step(b"").unwrap();
    assert_eq!(
        c.step(b"r=otherNONCEsrv,s=c2FsdA==,i=4096"),
        Err(ClientError::NonceMismatch)
    );
    // The server must add something to the nonce.
    let mut c = client(Mechanism::ScramSha256, "pencil");
    assert_eq!(
        c.step(b"r=clientNONCE,s=c2FsdA==,i=4096"),
        Err(ClientError::NonceMismatch)
    );
}

#[test]
fn scram_iteration_bounds_client_side() {
    let mut c = client(Mechanism::ScramSha256, "pencil");
    assert_eq!(
        c.step(b"r=clientNONCEx,s=c2FsdA==,i=4294967295"),
        Err(ClientError::IterationCount(u32::MAX))
    );
    let mut c = client(Mechanism::ScramSha256, "pencil");
    assert_eq!(
        c.step(b"r=clientNONCEx,s=c2FsdA==,i=100"),
        Err(ClientError::IterationCount(100))
    );
    let mut c = client(Mechanism::ScramSha256, "pencil")
        .with_iteration_bounds(NonZeroU32::new(1).unwrap(), NonZeroU32::new(10).unwrap());
    assert!(c.step(b"r=clientNONCEx,s=c2FsdA==,i=10").is_ok());
    let mut c = client(Mechanism::ScramSha256, "pencil");
    assert!(matches!(
        c.step(b"r=clientNONCEx,s=c2FsdA==,i=0"),
        Err(ClientError::MalformedChallenge(_))
    ));
    let mut c = client(Mechanism::ScramSha256, "pencil");
    assert_eq!(
        c.step(b"m=x,r=clientNONCEx,s=c2FsdA==,i=4096"),
        Err(ClientError::MandatoryExtension)
    );
}

#[test]
fn scram_bad_nonce_server_side() {
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let (_c, mut s, cf) = scram_to_client_final(mech);
        let tampered = String::from_utf8(cf)
            .unwrap()
            .replace("serverNONCE", "serverNONCF");
        assert_eq!(
            format!("{:?}", s.step(tampered.as_bytes())),
            format!("{:?}", ServerStep::Failure(FailureReason::NonceMismatch))
        );
    }
}

#[test]
fn scram_tampered_proof_and_binding_server_side() {
    let (_c, mut s, cf) = scram_to_client_final(Mechanism::ScramSha256);
    let mut t = cf.clone();
    let i = t.len() - 5;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        s.step(&t),
        ServerStep::Failure(FailureReason::InvalidCredentials)
    ));
    let (_c, mut s, cf) = scram_to_client_final(Mechanism::ScramSha256);
    // c=biws is "n,,"; "eSws" is "y,,": the binding flag was changed.
    let t = String::from_utf8(cf).unwrap().replace("c=biws", "c=eSws");
    assert!(matches!(
        s.step(t.as_bytes()),
        ServerStep::Failure(FailureReason::ChannelBindingMismatch)
    ));
}

#[test]
fn scram_channel_binding_flags_server_side() {
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        // p=: the client requires channel binding, which we do not offer.
        let mut s = server(mech);
        assert!(matches!(
            s.start(Some(b"p=tls-unique,,n=user,r=abc")),
            ServerStep::Failure(FailureReason::ChannelBindingNotSupported)
        ));
        // y: allowed (we advertise no -PLUS), and c= must then be "y,,".
        let mut s = server(mech);
        assert!(matches!(
            s.start(Some(b"y,,n=user,r=abc")),
            ServerStep::NeedScramCredentials { .. }
        ));
        // n with authzid.
        let mut s = server(mech);
        assert!(matches!(
            s.start(Some(b"n,a=adm=3Din,n=us=2Cer,r=abc")),
            ServerStep::NeedScramCredentials { authcid, authzid: Some(a) } if authcid == "us,er" && a == "adm=in"
        ));
        // Mandatory extension.
        let mut s = server(mech);
        assert!(matches!(
            s.start(Some(b"n,,m=foo,n=user,r=abc")),
            ServerStep::Failure(FailureReason::UnsupportedExtension)
        ));
        let mut s = server(mech);
        assert!(matches!(
            s.start(Some(b"q,,n=user,r=abc")),
            ServerStep::Failure(FailureReason::Malformed(_))
        ));
    }
    // The client always sends "n,," (no channel binding support).
    let c = client(Mechanism::ScramSha256, "p");
    assert!(c.initial_response().unwrap().starts_with(b"n,,"));
}

#[test]
fn oauthbearer_channel_binding_rejected() {
    let mut s = server(Mechanism::OAuthBearer);
    assert!(matches!(
        s.start(Some(b"p=tls-unique,,\x01auth=Bearer abc\x01\x01")),
        ServerStep::Failure(FailureReason::ChannelBindingNotSupported)
    ));
}

#[test]
fn rfc7628_section4_1_example() {
    // RFC 7628 §4.1 (successful bearer token exchange), the decoded message.
    let msg = b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";
    let c = Client::oauthbearer(
        Some("user@example.com"),
        Some("server.example.com"),
        Some(143),
        Secret::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
    )
    .unwrap();
    assert_eq!(c.initial_response().unwrap(), msg);
    let mut s = server(Mechanism::OAuthBearer);
    match s.start(Some(msg)) {
        ServerStep::NeedVerifyToken {
            user,
            token,
            host,
            port,
        } => {
            assert_eq!(user.as_deref(), Some("user@example.com"));
            assert!(token.ct_eq(b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="));
            assert_eq!(host.as_deref(), Some("server.example.com"));
            assert_eq!(port, Some(143));
        }
        other => panic!("{other:?}"),
    }
}

// ---- malformed input and limits -------------------------------------------

#[test]
fn malformed_plain() {
    for bad in [
        &b"no-nuls"[..],
        b"\0only-one",
        b"\0\0pw",
        b"\0user\0",
        b"\0user\0pw\0extra",
        b"\0\xff\0pw",
    ] {
        let mut s = server(Mechanism::Plain);
        assert!(
            matches!(
                s.start(Some(bad)),
                ServerStep::Failure(FailureReason::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn malformed_login() {
    let mut s = server(Mechanism::Login);
    assert!(matches!(s.start(Some(b"user")), ServerStep::Challenge(c) if c == b"Password:"));
    assert!(matches!(
        s.step(b""),
        ServerStep::Failure(FailureReason::Malformed(_))
    ));
    let mut s = server(Mechanism::Login);
    assert!(matches!(s.start(None), ServerStep::Challenge(c) if c == b"Username:"));
    assert!(matches!(
        s.step(b"us\0er"),
        ServerStep::Failure(FailureReason::Malformed(_))
    ));
}

#[test]
fn failure_reasons_map_to_smtp() {
    assert_eq!(FailureReason::Cancelled.smtp_status(), (501, "5.0.0"));
    assert_eq!(FailureReason::BadBase64.smtp_status(), (501, "5.5.2"));
    assert_eq!(FailureReason::TooLong.smtp_status(), (500, "5.5.6"));
    assert_eq!(FailureReason::NonceMismatch.smtp_status(), (535, "5.7.8"));
}

#[test]
fn malformed_cram() {
    for bad in [
        &b"tim"[..],
        b"tim b913a602c7eda7a495b4e6e7334d389",
        b"tim b913a602c7eda7a495b4e6e7334d389g",
        b" b913a602c7eda7a495b4e6e7334d3890",
    ] {
        let mut s = server(Mechanism::CramMd5);
        s.start(None);
        assert!(matches!(
            s.step(bad),
            ServerStep::Failure(FailureReason::Malformed(_))
        ));
    }
    let mut s = server(Mechanism::CramMd5);
    assert!(matches!(
        s.start(Some(b"tim 00")),
        ServerStep::Failure(FailureReason::InitialResponseNotAllowed)
    ));
}

#[test]
fn too_long_and_bad_base64() {
    let mut o = ServerOptions::default();
    o.max_response_len = 16;
    let mut s = Server::new(Mechanism::Plain, "", o.clone()).unwrap();
    assert!(matches!(
        s.start(Some(&[b'a'; 17])),
        ServerStep::Failure(FailureReason::TooLong)
    ));
    let mut s = Server::new(Mechanism::Plain, "", o).unwrap();
    s.start(None);
    assert!(matches!(
        s.step_line(framing::encode(&[0u8; 64]).as_bytes()),
        ServerStep::Failure(FailureReason::TooLong)
    ));
    let mut s = server(Mechanism::Plain);
    assert!(matches!(
        s.start_line(Some(b"!!!!")),
        ServerStep::Failure(FailureReason::BadBase64)
    ));
}

#[test]
fn out_of_order_input_fails() {
    let mut s = server(Mechanism::Plain);
    assert!(matches!(
        s.start(Some(b"\0u\0p")),
        ServerStep::NeedPassword { .. }
    ));
    assert!(matches!(
        s.step(b"\0u\0p"),
        ServerStep::Failure(FailureReason::UnexpectedResponse)
    ));
    assert!(s.provide_password(Secret::from("p")).is_err());
    assert!(matches!(
        s.start(None),
        ServerStep::Failure(FailureReason::UnexpectedResponse)
    ));
}

#[test]
fn client_rejects_bad_inputs() {
    assert_eq!(
        Client::plain(None, "a\0b", Secret::from("p")).unwrap_err(),
        ClientError::InvalidInput { field: "username" }
    );
    assert!(Client::scram_sha256(None, "u", Secret::from("p"), "a,b").is_err());
    assert!(Client::scram_sha256(None, "u\0", Secret::from("p"), "ab").is_err());
    assert!(Client::xoauth2("u", Secret::from("tok en")).is_err());
    assert_eq!(
        Client::new(
            Mechanism::XOAuth2,
            &Credentials::password("u", Secret::from("p")),
            ""
        )
        .unwrap_err(),
        ClientError::MissingCredential("token")
    );
    let mut c = Client::plain(None, "u", Secret::from("p")).unwrap();
    c.step(b"").unwrap();
    assert_eq!(c.step(b"more"), Err(ClientError::AlreadyComplete));
    assert!(Server::new(Mechanism::ScramSha1, "a,b", ServerOptions::default()).is_err());
    assert!(Server::new(Mechanism::CramMd5, "nobrackets", ServerOptions::default()).is_err());
}

#[test]
fn secrets_are_never_in_debug_output() {
    let mut s = server(Mechanism::XOAuth2);
    let step = s.start(Some(b"user=u\x01auth=Bearer SECRETTOKEN\x01\x01"));
    let dbg = format!("{step:?} {s:?}");
    assert!(!dbg.contains("SECRETTOKEN"), "{dbg}");
    let c = Client::plain(None, "u", Secret::from("SECRETPW")).unwrap();
    assert!(!format!("{c:?}").contains("SECRETPW"));
    let creds = Credentials::password("u", Secret::from("SECRETPW"));
    assert!(!format!("{creds:?}").contains("SECRETPW"));
}

#[test]
fn scram_saslprep_applies_on_both_sides() {
    // RFC 4013 §3: U+2168 ROMAN NUMERAL NINE prepares to "IX", U+00AD
    // SOFT HYPHEN to nothing.
    for mech in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let mut c = Client::new(
            mech,
            &Credentials::password("us\u{00AD}er", Secret::from("\u{2168}")),
            "cn",
        )
        .unwrap();
        let mut s = server(mech);
        let app = App {
            scram_password: "I\u{00AD}X",
            ..App::default()
        };
        assert_eq!(run(&mut c, &mut s, &app, true), success("user"));
        // A password SASLprep refuses is used as it is, on both sides.
        let mut c = Client::new(
            mech,
            &Credentials::password("user", Secret::from("p\u{7}")),
            "cn",
        )
        .unwrap();
        let mut s = server(mech);
        let app = App {
            scram_password: "p\u{7}",
            ..App::default()
        };
        assert_eq!(run(&mut c, &mut s, &app, true), success("user"));
    }
}

#[test]
fn rfc7628_section4_3_failed_exchange() {
    let json = r#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;
    let mut c = Client::oauthbearer(
        Some("user@example.com"),
        Some("server.example.com"),
        Some(143),
        Secret::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
    )
    .unwrap();
    let mut s = server(Mechanism::OAuthBearer);
    assert!(matches!(
        s.start(c.initial_response().as_deref()),
        ServerStep::NeedVerifyToken { .. }
    ));
    let ServerStep::Challenge(ch) = s.reject_token(Some(json.to_owned())).unwrap() else {
        panic!()
    };
    assert_eq!(ch, json.as_bytes());
    let ack = c.step(&ch).unwrap();
    assert_eq!(framing::encode(&ack), "AQ==");
    assert_eq!(c.oauth_error(), Some(json.as_bytes()));
    assert!(matches!(
        s.step(&ack),
        ServerStep::Failure(FailureReason::InvalidCredentials)
    ));
}
