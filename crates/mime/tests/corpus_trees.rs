//! The tree of every corpus message: part count, types, sections, decoded
//! sizes and filenames, written as one signature per message
//! (`section type [decoded-size "filename"]` per part, `-` for a message's
//! own multipart body). A multipart without any body part has one
//! `text/plain` leaf holding its preamble (Dovecot gives one empty part). The
//! table was produced by this parser and checked
//! by hand against the messages (outline example), e.g. rfc2060.txt gives
//! exactly the numbering of RFC 3501 §6.4.5, and the same PNG attachments
//! decode to the same sizes from every client in hunny-samples.

mod common;

use common::*;
use mailwire_mime::Message;

const EXPECTED: &[(&str, &str)] = &[
    (
        "dovecot-malformed/000.eml",
        "- multipart/mixed; 1 text/plain 0; 2 text/plain 0; 3 text/plain 0; 4 text/html 0",
    ),
    (
        "dovecot-malformed/001.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 0; 2 text/plain 5",
    ),
    (
        "dovecot-malformed/002.eml",
        "- multipart/mixed; 1 text/plain 5",
    ),
    (
        "dovecot-malformed/003.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 5",
    ),
    (
        "dovecot-malformed/004.eml",
        "- multipart/mixed; 1 text/plain 86",
    ),
    (
        "dovecot-malformed/005.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 4",
    ),
    (
        "dovecot-malformed/006.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 5",
    ),
    (
        "dovecot-malformed/007.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 0",
    ),
    (
        "dovecot-malformed/008.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 4; 2 text/html 6",
    ),
    (
        "dovecot-malformed/009.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 1; 1.2 text/plain 2; 2 text/plain 4",
    ),
    (
        "dovecot-malformed/010.eml",
        "1 message/rfc822; 1.1 message/rfc822; 1.1.1 text/plain 2",
    ),
    (
        "dovecot-malformed/011.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 text/plain 1; 1.2 text/plain 2; 2 text/plain 4",
    ),
    (
        "dovecot-malformed/012.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 message/rfc822; 1.1.1 text/plain 1; 1.2 message/rfc822; 1.2.1 text/plain 2; 2 message/rfc822; 2.1 text/plain 4",
    ),
    (
        "dovecot-malformed/013.eml",
        "- multipart/mixed; 1 text/plain 12; 2 multipart/mixed; 2.1 text/plain 12; 2.2 multipart/mixed; 2.2.1 text/plain 12; 2.2.2 multipart/mixed; 2.2.2.1 text/plain 12; 2.2.2.2 text/plain 0",
    ),
    (
        "dovecot-malformed/014.eml",
        "- multipart/mixed; 1 text/plain 12; 2 text/plain 0",
    ),
    (
        "dovecot-malformed/015.eml",
        "- multipart/signed; 1 text/plain 29; 2 application/pgp-signature 8 \"signature.asc\"",
    ),
    (
        "dovecot-malformed/016.eml",
        "- multipart/mixed; 1 multipart/mixed; 1.1 multipart/mixed; 1.1.1 text/plain 1; 2 text/plain 231",
    ),
    (
        "dovecot-malformed/017.eml",
        "- multipart/mixed; 1 image/png 12",
    ),
    ("dovecot-malformed/018.eml", "1 text/plain 232"),
    (
        "dovecot-malformed/019.eml",
        "- multipart/alternative; 1 text/html 327; 2 text/html 139; 3 text/html 292; 4 text/plain 43; 5 text/plain 375; 6 text/html 44; 7 text/plain 375; 8 text/plain 23; 9 text/plain 12",
    ),
    (
        "dovecot-malformed/020.eml",
        "- multipart/related; 1 multipart/alternative; 1.1 text/html 222; 1.2 text/plain 0; 2 image/png 74",
    ),
    (
        "dovecot-malformed/021.eml",
        "- multipart/related; 1 multipart/alternative; 1.1 text/html 272; 1.2 text/plain 0; 2 image/png 74",
    ),
    (
        "dovecot-malformed/022.eml",
        "- multipart/mixed; 1 text/plain 5; 2 message/rfc822; 2.1 text/plain 42",
    ),
    (
        "dovecot-samples/000.eml",
        "- multipart/alternative; 1 text/plain 164; 2 text/plain 2",
    ),
    (
        "dovecot-samples/001.eml",
        "- multipart/alternative; 1 text/plain 224; 2 text/plain 4; 3 text/plain 13",
    ),
    (
        "dovecot-samples/002.eml",
        "- multipart/mixed; 1 text/plain 10; 2 text/plain 18; 3 text/plain 5",
    ),
    (
        "dovecot-samples/003.eml",
        "- multipart/mixed; 1 text/plain 34; 2 text/plain 22; 3 text/plain 22; 4 text/plain 22; 5 text/plain 22",
    ),
    (
        "dovecot-samples/004.eml",
        "- multipart/mixed; 1 text/plain 34; 2 text/plain 22; 3 text/plain 22; 4 text/plain 22; 5 text/plain 22; 6 text/plain 40",
    ),
    (
        "dovecot-samples/005.eml",
        "- multipart/mixed; 1 text/plain 26; 2 text/plain 26; 3 text/plain 26; 4 text/plain 16; 5 text/plain 13",
    ),
    (
        "dovecot-samples/006.eml",
        "- multipart/mixed; 1 multipart/signed; 1.1 multipart/alternative; 1.1.1 text/html 89; 1.1.2 text/plain 27; 1.2 signature/plain 21",
    ),
    (
        "dovecot-samples/007.eml",
        "- multipart/digest; 1 message/rfc822; 1.1 text/plain 18; 2 message/rfc822; 2.1 text/plain 21; 3 message/rfc822; 3 multipart/mixed; 3.1 text/plain 25; 3.2 application/octet-stream 6 \"test.txt\"",
    ),
    (
        "dovecot-samples/008.eml",
        "- multipart/mixed; 1 text/x-myown 6; 2 message/rfc822; 2 multipart/alternative; 2.1 text/html 19; 2.2 multipart/alternative; 2.2.1 multipart/alternative; 2.2.1.1 text/plain 9; 2.2.1.2 text/plain 10; 2.2.2 text/plain 10; 3 text/plain 12",
    ),
    (
        "dovecot-samples/009.eml",
        "- multipart/mixed; 1 text/plain 48; 2 message/partial 241",
    ),
    (
        "dovecot-samples/010.eml",
        "- multipart/mixed; 1 text/plain 18",
    ),
    (
        "dovecot-samples/011.eml",
        "- multipart/alternative; 1 text/plain 0; 2 multipart/related; 2.1 text/html 232; 2.2 image/png 3256 \"01H5HSCoUeEcg6CH.png\"",
    ),
    (
        "dovecot-samples/012.eml",
        "- multipart/mixed; 1 text/x-myown 6; 2 message/rfc822; 2 multipart/alternative; 2.1 text/html 19; 2.2 text/plain 20",
    ),
    (
        "dovecot-samples/013.eml",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 1; 1.2 text/html 1; 2 image/jpeg 1; 3 audio/mp3 1; 4 video/avi 1",
    ),
    (
        "dovecot-samples/014.eml",
        "- multipart/alternative; 1 text/plain 474; 2 text/html 733",
    ),
    (
        "dovecot-samples/015.eml",
        "- multipart/mixed; 1 text/plain 1524; 2 message/rfc822; 2 multipart/alternative; 2.1 text/plain 0; 3 message/rfc822; 3 multipart/alternative; 3.1 text/plain 0; 4 message/rfc822; 4.1 text/plain 2359",
    ),
    (
        "dovecot-samples/016.eml",
        "- multipart/related; 1 text/html 267; 2 image/png 242 \"kigaaldcbanejcbi.png\"",
    ),
    (
        "dovecot-samples/017.eml",
        "- multipart/alternative; 1 text/plain 19; 2 multipart/related; 2.1 text/html 267; 2.2 image/png 242 \"kigaaldcbanejcbi.png\"",
    ),
    (
        "dovecot-samples/018.eml",
        "- multipart/mixed; 1 multipart/related; 1.1 text/html 267; 1.2 image/png 242 \"kigaaldcbanejcbi.png\"; 2 image/png 158 \"attach2.png\"",
    ),
    (
        "dovecot-samples/019.eml",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 17; 1.2 multipart/related; 1.2.1 text/html 272; 1.2.2 image/png 242 \"kigaaldcbanejcbi.png\"; 2 image/png 158 \"attach2.png\"",
    ),
    ("hunny-samples/000.eml", "1 image/png 1453 \"redball.png\""),
    ("hunny-samples/001.eml", "1 text/plain 851"),
    ("hunny-samples/002.eml", "1 text/html 953"),
    (
        "hunny-samples/003.eml",
        "- multipart/alternative; 1 text/plain 747; 2 text/html 951",
    ),
    ("hunny-samples/004.eml", "1 text/plain 766"),
    ("hunny-samples/005.eml", "1 text/plain 857"),
    (
        "hunny-samples/006.eml",
        "- multipart/mixed; 1 image/png 1325 \"blueball.png\"; 2 image/png 1453 \"redball.png\"",
    ),
    ("hunny-samples/007.eml", "1 text/plain 747"),
    (
        "hunny-samples/008.eml",
        "- multipart/mixed; 1 text/plain 762; 2 image/png 1325 \"blueball.png\"; 3 image/png 1298 \"greenball.png\"; 4 image/png 1453 \"redball.png\"",
    ),
    ("hunny-samples/009.eml", "1 text/plain 762"),
    ("hunny-samples/010.eml", "1 text/plain 749"),
    ("hunny-samples/011.eml", "1 text/plain 749"),
    ("hunny-samples/012.eml", "1 text/plain 745"),
    ("hunny-samples/013.eml", "1 text/plain 752"),
    (
        "hunny-samples/014.eml",
        "- multipart/alternative; 1 text/plain 764; 2 text/html 1124",
    ),
    (
        "hunny-samples/015.eml",
        "- multipart/mixed; 1 multipart/related; 1.1 multipart/alternative; 1.1.1 text/plain 771; 1.1.2 text/html 1159; 1.2 image/png 1325 \"2aa3ed95.png\"; 1.3 image/png 1453 \"2aa3edd1.png\"; 2 image/png 1325 \"blueball.png\"; 3 image/png 1298 \"greenball.png\"",
    ),
    (
        "hunny-samples/016.eml",
        "- multipart/mixed; 1 text/plain 747; 2 application/mac-binhex40 1929 \"blueball.png\"; 3 application/mac-binhex40 1131 \"HasenundFrösche.txt\"",
    ),
    (
        "hunny-samples/017.eml",
        "- multipart/mixed; 1 text/plain 764; 2 image/png 1298 \"greenball.png\"; 3 image/png 1325 \"blueball.png\"",
    ),
    (
        "hunny-samples/018.eml",
        "- multipart/related; 1 multipart/alternative; 1.1 text/plain 774; 1.2 text/html 1170; 2 image/png 1325 \"blueball.png\"; 3 image/png 1453 \"redball.png\"",
    ),
    (
        "hunny-samples/019.eml",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 764; 1.2 text/html 1124; 2 image/png 1298 \"greenball.png\"; 3 image/png 1453 \"redball.png\"",
    ),
    ("hunny-samples/020.eml", "1 text/plain 752"),
    (
        "hunny-samples/021.eml",
        "- multipart/mixed; 1 multipart/related; 1.1 multipart/alternative; 1.1.1 text/plain 768; 1.1.2 text/html 1308; 1.2 image/png 1325 \"blueball.png\"; 2 image/png 1298 \"greenball.png\"; 3 image/png 1453 \"redball.png\"",
    ),
    ("hunny-samples/022.eml", "1 text/plain 745"),
    (
        "hunny-samples/023.eml",
        "- multipart/mixed; 1 text/plain 747; 2 image/png 1325 \"blueball.png\"; 3 text/plain 804 \"farmerandstork.txt\"; 4 text/plain 747 \"HasenundFrösche.txt\"",
    ),
    (
        "hunny-samples/024.eml",
        "- multipart/related; 1 text/html 1171; 2 image/png 1325 \"2aa48eb6.png\"; 3 image/png 1453 \"2aa48ec0.png\"",
    ),
    (
        "hunny-samples/025.eml",
        "- multipart/mixed; 1 multipart/related; 1.1 text/html 1159; 1.2 image/png 1325 \"2aa51367.png\"; 1.3 image/png 1453 \"2aa51371.png\"; 2 image/png 1325 \"blueball.png\"; 3 image/png 1298 \"greenball.png\"",
    ),
    (
        "hunny-samples/026.eml",
        "- multipart/mixed; 1 text/plain 747; 2 text/plain 747 \"HasenundFrösche.txt\"; 3 text/plain 804 \"farmerandstork.txt\"",
    ),
    ("hunny-samples/027.eml", "1 text/plain 747"),
    (
        "hunny-samples/028.eml",
        "- multipart/related; 1 multipart/alternative; 1.1 text/plain 772; 1.2 text/html 1465; 2 image/png 1325 \"blueball.png\"; 3 image/png 1453 \"redball.png\"",
    ),
    ("hunny-samples/029.eml", "1 text/plain 769"),
    (
        "hunny-samples/030.eml",
        "- multipart/mixed; 1 text/plain 767; 2 image/png 1325 \"blueball.png\"; 3 image/png 1298 \"greenball.png\"; 4 text/plain 762 \"hareandtoroise.txt\"",
    ),
    (
        "hunny-samples/031.eml",
        "- multipart/mixed; 1 text/plain 41; 2 application/octet-stream 1453 \"redball.png\"; 3 application/octet-stream 1325 \"blueball.png\"",
    ),
    (
        "hunny-samples/032.eml",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 754; 1.2 text/html 949; 2 image/png 1298 \"greenball.png\"; 3 image/png 1325 \"blueball.png\"",
    ),
    ("hunny-samples/033.eml", "1 text/plain 752"),
    ("hunny-samples/034.eml", "1 text/plain 789"),
    (
        "hunny-samples/035.eml",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 780; 1.2 multipart/related; 1.2.1 text/html 1122; 1.2.2 image/png 1325 \"C:TEMPnsmailEG.png\"; 1.2.3 image/png 1453 \"C:TEMPnsmail39.png\"; 2 image/png 1453 \"redball.png\"; 3 image/png 1298 \"greenball.png\"",
    ),
    ("hunny-samples/036.eml", "1 text/plain 749"),
    (
        "hunny-samples/037.eml",
        "- multipart/mixed; 1 text/plain 1; 2 image/png 1325 \"blueball.png\"",
    ),
    ("hunny-samples/038.eml", "1 text/plain 760"),
    (
        "hunny-samples/039.eml",
        "- multipart/mixed; 1 multipart/related; 1.1 text/html 1134; 1.2 image/png 1325 \"C:TEMPnsmailV0.png\"; 1.3 image/png 1453 \"C:TEMPnsmailNM.png\"; 2 image/png 1298 \"greenball.png\"; 3 image/png 1325 \"blueball.png\"",
    ),
    ("hunny-samples/040.eml", "1 text/plain 744"),
    (
        "hunny-samples/041.eml",
        "- multipart/mixed; 1 text/plain 0; 2 application/octet-stream 1453 \"redball.png\"",
    ),
    (
        "hunny-samples/042.eml",
        "- multipart/mixed; 1 text/plain 767; 2 text/plain 804 \"farmerandstork.txt\"",
    ),
    (
        "hunny-samples/043.eml",
        "- multipart/alternative; 1 text/plain 754; 2 text/html 949",
    ),
    (
        "hunny-samples/044.eml",
        "- multipart/mixed; 1 text/plain 754; 2 image/png 1453 \"redball.png\"; 3 image/png 1298 \"greenball.png\"; 4 image/png 1325 \"blueball.png\"",
    ),
    (
        "hunny-samples/045.eml",
        "- multipart/mixed; 1 text/plain 0; 2 text/plain 755 \"HasenundFrösche.txt\"",
    ),
    ("hunny-samples/046.eml", "1 text/plain 754"),
    (
        "hunny-samples/047.eml",
        "- multipart/mixed; 1 text/plain 767; 2 text/plain 747 \"HasenundFrösche.txt\"",
    ),
    (
        "hunny-samples/048.eml",
        "- multipart/mixed; 1 text/plain 767; 2 image/png 1453 \"redball.png\"; 3 image/png 1298 \"greenball.png\"; 4 image/png 1325 \"blueball.png\"",
    ),
    ("hunny-samples/049.eml", "1 text/plain 6584"),
    (
        "hunny-samples/050.eml",
        "- multipart/related; 1 text/html 1171; 2 image/png 1325 \"2aa658b6.png\"; 3 image/png 1453 \"2aa658c0.png\"",
    ),
    (
        "hunny-samples/051.eml",
        "- multipart/mixed; 1 multipart/related; 1.1 text/plain 771; 1.2 image/png 1325 \"2aa5e03a.png\"; 1.3 image/png 1453 \"2aa5e044.png\"; 2 image/png 1325 \"blueball.png\"; 3 image/png 1298 \"greenball.png\"",
    ),
    ("hunny-samples/052.eml", "1 text/plain 752"),
    ("hunny-samples/053.eml", "1 text/plain 761"),
    ("mimekit-messages/body.1.txt", "1 text/plain 22"),
    ("mimekit-messages/body.2.txt", "1 text/html 41"),
    (
        "mimekit-messages/body.3.txt",
        "- multipart/alternative; 1 text/html 41; 2 text/plain 22",
    ),
    (
        "mimekit-messages/body.4.txt",
        "- multipart/related; 1 text/html 41; 2 image/gif 0 \"empty.gif\"; 3 image/jpeg 0 \"empty.jpg\"",
    ),
    (
        "mimekit-messages/body.5.txt",
        "- multipart/alternative; 1 multipart/related; 1.1 text/html 41; 1.2 image/gif 0 \"empty.gif\"; 1.3 image/jpeg 0 \"empty.jpg\"; 2 text/plain 22",
    ),
    (
        "mimekit-messages/body.6.txt",
        "- multipart/mixed; 1 multipart/alternative; 1.1 multipart/related; 1.1.1 text/html 41; 1.1.2 image/gif 0 \"empty.gif\"; 1.1.3 image/jpeg 0 \"empty.jpg\"; 1.2 text/plain 22; 2 text/plain 29 \"document.txt\"",
    ),
    (
        "mimekit-messages/body.7.txt",
        "- multipart/mixed; 1 multipart/related; 1.1 multipart/alternative; 1.1.1 text/html 41; 1.1.2 text/plain 22; 1.2 image/gif 0 \"empty.gif\"; 1.3 image/jpeg 0 \"empty.jpg\"; 2 text/plain 29 \"document.txt\"",
    ),
    (
        "mimekit-messages/body.8.txt",
        "- multipart/mixed; 1 text/plain 22; 2 text/html 63; 3 application/octet-stream 0 \"attachment.dat\"",
    ),
    (
        "mimekit-messages/body.9.txt",
        "- multipart/mixed; 1 text/html 41; 2 text/plain 44; 3 application/octet-stream 0 \"attachment.dat\"",
    ),
    (
        "mimekit-messages/bounce.txt",
        "- multipart/report; 1 text/plain 1365; 2 message/delivery-status 934; 3 message/rfc822; 3 multipart/alternative; 3.1 text/plain 3957; 3.2 text/html 8221",
    ),
    (
        "mimekit-messages/delivery-status-multiple-blank-lines.txt",
        "- multipart/report; 1 text/plain 57; 2 message/delivery-status 151",
    ),
    (
        "mimekit-messages/delivery-status-no-blank-line.txt",
        "- multipart/report; 1 message/delivery-status 189; 2 message/rfc822; 2.1 text/plain 11",
    ),
    (
        "mimekit-messages/delivery-status.txt",
        "- multipart/report; 1 message/delivery-status 188; 2 message/rfc822; 2.1 text/plain 11",
    ),
    (
        "mimekit-messages/delivery-status2.txt",
        "- multipart/report; 1 text/plain 247; 2 message/delivery-status 117; 3 message/rfc822; 3 multipart/alternative; 3.1 text/plain 7; 3.2 text/html 116",
    ),
    (
        "mimekit-messages/disposition-notification.txt",
        "- multipart/report; 1 text/plain 226; 2 message/disposition-notification 264; 3 message/rfc822; 3.1 text/plain 91",
    ),
    (
        "mimekit-messages/empty-multipart.txt",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 0; 2 text/plain 84",
    ),
    (
        "mimekit-messages/epilogue.txt",
        "- multipart/mixed; 1 text/plain 86; 2 application/postscript 0",
    ),
    (
        "mimekit-messages/feedback-report.txt",
        "- multipart/report; 1 text/plain 191; 2 message/feedback-report 462; 3 message/rfc822; 3.1 text/plain 59",
    ),
    ("mimekit-messages/issue1130.txt", "1 text/plain 208"),
    (
        "mimekit-messages/issue358.txt",
        "- multipart/alternative; 1 text/plain 14; 2 text/html 452",
    ),
    ("mimekit-messages/japanese.txt", "1 text/plain 111"),
    ("mimekit-messages/missing-subtype.txt", "1 text/plain 15"),
    (
        "mimekit-messages/multipart-digest.txt",
        "1 message/rfc822; 1 multipart/digest; 1.1 message/rfc822; 1.1.1 text/plain 8; 1.2 message/rfc822; 1.2.1 text/plain 8",
    ),
    (
        "mimekit-messages/multipart-related-mhtml.txt",
        "- multipart/related; 1 image/png 889; 2 text/html 729",
    ),
    (
        "mimekit-messages/rfc2060.txt",
        "- multipart/mixed; 1 text/plain 33; 2 application/octet-stream 33; 3 message/rfc822; 3 multipart/mixed; 3.1 text/plain 35; 3.2 application/octet-stream 35; 4 multipart/mixed; 4.1 image/gif 35; 4.2 message/rfc822; 4.2 multipart/mixed; 4.2.1 text/plain 37; 4.2.2 multipart/alternative; 4.2.2.1 text/plain 39; 4.2.2.2 text/richtext 39",
    ),
    (
        "mimekit-messages/simple-embedded-message.eml",
        "- multipart/mixed; 1 text/plain 26; 2 message/rfc822; 2.1 text/plain 35",
    ),
    (
        "mimekit-messages/simple-multipart.eml",
        "- multipart/mixed; 1 text/plain 26; 2 application/octet-stream 38 \"attachment.txt\"",
    ),
    ("mimekit-messages/stack-overflow.txt", "1 text/plain 14"),
    (
        "mimekit-messages/startrek.eml",
        "- multipart/mixed; 1 multipart/parallel; 1.1 text/plain 715; 1.2 audio/basic 22964; 2 multipart/mixed; 2.1 image/gif 18971; 2.2 image/gif 13619; 2.3 text/plain 43689; 2.4 application/atomicmail 8846; 3 audio/basic 34894",
    ),
    (
        "mimekit-partial/message-partial.0.eml",
        "1 message/partial 61427",
    ),
    (
        "mimekit-partial/message-partial.1.eml",
        "1 message/partial 61393",
    ),
    (
        "mimekit-partial/message-partial.2.eml",
        "1 message/partial 54040",
    ),
    (
        "mimekit-partial/message-partial.eml",
        "- multipart/mixed; 1 text/plain 131; 2 image/jpeg 130292 \"earrings.jpg\"",
    ),
    ("mimekit-partial/rfc2046.0.eml", "1 message/partial 228"),
    ("mimekit-partial/rfc2046.1.eml", "1 message/partial 52"),
    ("mimekit-partial/rfc2046.eml", "1 audio/basic 53"),
    (
        "rfc-examples/000.eml",
        "- multipart/mixed; 1 text/plain 262; 2 text/plain 111; 3 multipart/parallel; 3.1 audio/basic 45; 3.2 image/jpeg 22; 4 text/enriched 140; 5 message/rfc822; 5.1 text/plain 48",
    ),
    (
        "rfc-examples/001.eml",
        "- multipart/alternative; 1 message/external-body 79 \"BodyFormats.ps\"; 2 message/external-body 79 \"/u/nsb/writing/rfcs/RFC-MIME.ps\"; 3 message/external-body 97",
    ),
    (
        "rfc-examples/002.eml",
        "- multipart/mixed; 1 text/plain 61; 2 message/rfc822; 2 multipart/mixed; 2.1 text/plain 355; 2.2 image/gif 288 \"map_of_Argentina.gif\"",
    ),
    (
        "rfc-examples/003.eml",
        "- multipart/alternative; 1 text/plain 48; 2 text/enriched 69; 3 application/x-whatever 51",
    ),
    (
        "rfc-examples/004.eml",
        "- multipart/mixed; 1 text/plain 45; 2 multipart/digest; 2.1 message/rfc822; 2.1.1 text/plain 22; 2.2 message/rfc822; 2.2.1 text/plain 31",
    ),
    (
        "rfc-examples/005.eml",
        "- multipart/mixed; 1 text/plain 79; 2 text/plain 76",
    ),
    (
        "rfc-examples/006.eml",
        "- multipart/alternative; 1 text/plain 87; 2 text/html 93",
    ),
    (
        "rfc-examples/007.eml",
        "- multipart/mixed; 1 text/plain 1; 2 multipart/mixed; 2.1 multipart/alternative; 2.1.1 multipart/mixed; 2.1.1.1 text/plain 1; 2.1.1.2 image/jpeg 1; 2.1.1.3 text/plain 1; 2.1.2 multipart/related; 2.1.2.1 text/html 14; 2.1.2.2 image/jpeg 1; 2.2 image/jpeg 1; 2.3 application/x-excel 1; 2.4 message/rfc822; 2.4.1 text/plain 1; 3 text/plain 1",
    ),
    (
        "rfc-examples/008.eml",
        "- multipart/mixed; 1 text/plain 54; 2 message/rfc822; 2 multipart/alternative; 2.1 text/plain 30; 2.2 text/html 173",
    ),
    (
        "rfc-examples/009.eml",
        "- multipart/mixed; 1 multipart/alternative; 1.1 text/plain 6; 1.2 text/html 32; 2 message/rfc822; 2.1 text/plain 17",
    ),
];

#[test]
fn corpus_trees() {
    let Some(files) = corpus_files() else { return };
    let mut checked = 0;
    for (rel, want) in EXPECTED {
        let path = format!("{CORPUS}/{rel}");
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(signature(&Message::parse(&data)), *want, "{rel}");
        checked += 1;
    }
    assert!(checked >= 40);
    assert_eq!(
        checked,
        files.len(),
        "every corpus message has an expected tree"
    );
}
