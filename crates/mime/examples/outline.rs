//! Prints the MIME outline of each file given (a debugging aid).
fn main() {
    for path in std::env::args().skip(1) {
        let Ok(data) = std::fs::read(&path) else {
            eprintln!("cannot read {path}");
            continue;
        };
        let msg = mailwire_mime::Message::parse(&data);
        println!("== {path}\n{}", mailwire_mime::summary::outline(&msg));
    }
}
