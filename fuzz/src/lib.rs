//! Drivers shared by several fuzz targets.

use core::num::NonZeroU32;

use mailwire_sasl::{
    Mechanism, ScramCredentials, ScramHash, Secret, Server, ServerOptions, ServerStep,
};

fn answer(s: &mut Server, step: ServerStep, accept: bool) {
    let _ = match step {
        ServerStep::NeedPassword { .. } => {
            if accept {
                s.provide_password(Secret::from("tanstaaftanstaaf")).ok()
            } else {
                s.check_password(|p| p.expose().len() == 3).ok()
            }
        }
        ServerStep::NeedScramCredentials { .. } => {
            let hash = if s.mechanism() == Mechanism::ScramSha1 {
                ScramHash::Sha1
            } else {
                ScramHash::Sha256
            };
            ScramCredentials::derive(hash, "pencil", b"salt", NonZeroU32::MIN)
                .ok()
                .and_then(|c| s.provide_scram_credentials(c).ok())
        }
        ServerStep::NeedVerifyToken { .. } => {
            if accept {
                s.accept_token("user".into()).ok()
            } else {
                s.reject_token(None).ok()
            }
        }
        ServerStep::NeedExternal { .. } => {
            if accept {
                s.accept_external("user".into()).ok()
            } else {
                s.reject().ok()
            }
        }
        _ => None,
    };
}

/// Drives a SASL server for one of `mechs` with `nonce`: the input is split
/// at 0xFF bytes (never in UTF-8) into messages; the first byte picks the
/// mechanism, whether the first message is an initial response, whether
/// messages go through the base64 line decoder, and how the application
/// answers. The application answers every question, so every stage of the
/// exchange is reached.
pub fn sasl_server(mechs: &[Mechanism], nonce: &str, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mech = mechs[usize::from(selector >> 4) % mechs.len()];
    let use_ir = selector & 1 != 0;
    let lines = selector & 2 != 0;
    let accept = selector & 4 != 0;
    let mut options = ServerOptions::default();
    options.scram_final_with_success = selector & 8 != 0;
    options.max_response_len = 4096;
    let Ok(mut s) = Server::new(mech, nonce, options) else {
        return;
    };
    let mut msgs = rest.split(|b| *b == 0xFF);
    let first = if use_ir { msgs.next() } else { None };
    let step = if lines {
        s.start_line(first)
    } else {
        s.start(first)
    };
    answer(&mut s, step, accept);
    for m in msgs {
        let step = if lines { s.step_line(m) } else { s.step(m) };
        answer(&mut s, step, accept);
    }
}

/// `text` with every bare LF made CRLF, as the mail server stores what it
/// takes in.
pub fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' && (i == 0 || text[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}
